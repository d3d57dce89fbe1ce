"""Shared test helpers: real git repos in temp dirs, the real CLI as a subprocess (`stsleak`) or called
in this process (`stsleak_in_process`, for the fast tier)."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


# False while a fast-tier test runs (tests/conftest.py): the fast tier starts no CLI child.
CHILD_ALLOWED = True


def stsleak(*args: str, cwd: Path | None = None, input_text: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """Run the installed CLI exactly as a user would (python -m scanner == the console script)."""
    if not CHILD_ALLOWED:
        raise AssertionError("a fast-tier test started the CLI as a child process: import stsleak_in_process "
                             "(as stsleak) from tests.support.cli, or move the file to an e2e folder "
                             "(E2E_FOLDERS in tests/conftest.py)")
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", *args], cwd=cwd, input=input_text, capture_output=True,
        text=True, env=full_env, timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


class _TimedOut(BaseException):
    """Raised by the alarm of `stsleak_in_process` (a BaseException: the CLI's `except Exception` lets it by)."""


def stsleak_in_process(*args: str, cwd: Path | None = None, input_text: str | None = None,
                       env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """`stsleak(*args)` without the process: `scanner.cli.main(argv)` called here, with the same
    working directory, environment (NO_COLOR=1 + env), stdin, output decoding and exit code as the
    child would have; writes to file descriptors 1 and 2 (programs it starts) are captured too.

    Each call starts fresh: the scanner's caches are emptied and the collector's setting restored.
    For tests of parsing, output and exit codes; what needs a process of its own (what a process
    imports, interpreter variables such as PYTHONIOENCODING, signals, a TTY) uses `stsleak()`.
    """
    from scanner.cli import main

    if any(name.startswith("PYTHON") for name in env or {}):
        raise ValueError("PYTHON* variables act on a new interpreter only: use stsleak(), not stsleak_in_process()")
    encoding = getattr(sys.__stdout__, "encoding", None) or "utf-8"
    errors = getattr(sys.__stdout__, "errors", None) or "strict"
    out = io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors=errors)
    err = io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors="backslashreplace")
    stdin = io.TextIOWrapper(io.BytesIO((input_text or "").encode(encoding)), encoding=encoding)
    with _fresh_process_state(), _environment({"NO_COLOR": "1", **(env or {})}), _working_directory(cwd), \
            _fd_capture() as fd_output, _alarm(timeout, args), contextlib.ExitStack() as streams:
        for name, stream in (("stdin", stdin), ("stdout", out), ("stderr", err)):
            streams.enter_context(_replaced(name, stream))
        code = _call(main, list(args), err)
    stdout, stderr = (_decoded(stream, encoding) for stream in (out, err))
    return Run(code, stdout + _decoded_bytes(fd_output[1], encoding), stderr + _decoded_bytes(fd_output[2], encoding))


def _call(main: Any, argv: list[str], err: io.TextIOWrapper) -> int:
    try:
        return int(main(argv))
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=err)
        return 1
    except Exception:  # what the interpreter would print on the way out
        traceback.print_exc(file=err)
        return 1


def _decoded(stream: io.TextIOWrapper, encoding: str) -> str:
    stream.flush()
    return _decoded_bytes(stream.buffer.getvalue(), encoding)  # type: ignore[attr-defined]


def _decoded_bytes(data: bytes, encoding: str) -> str:
    """As subprocess.run(text=True) decodes a child's output: strict, universal newlines."""
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline=None).read()


@contextlib.contextmanager
def _replaced(name: str, stream: io.TextIOWrapper) -> Iterator[None]:
    saved = getattr(sys, name)
    setattr(sys, name, stream)
    try:
        yield
    finally:
        setattr(sys, name, saved)


@contextlib.contextmanager
def _environment(extra: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(extra)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _working_directory(cwd: Path | None) -> Iterator[None]:
    saved = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved)


@contextlib.contextmanager
def _fd_capture() -> Iterator[dict[int, bytes]]:
    """What programs started by the CLI write to this process's stdout and stderr."""
    captured: dict[int, bytes] = {1: b"", 2: b""}
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    with tempfile.TemporaryFile() as fd1, tempfile.TemporaryFile() as fd2:
        saved = {1: os.dup(1), 2: os.dup(2)}
        os.dup2(fd1.fileno(), 1)
        os.dup2(fd2.fileno(), 2)
        try:
            yield captured
        finally:
            for fd, target in saved.items():
                os.dup2(target, fd)
                os.close(target)
            for fd, file in ((1, fd1), (2, fd2)):
                file.seek(0)
                captured[fd] = file.read()


@contextlib.contextmanager
def _alarm(timeout: float, args: tuple[str, ...]) -> Iterator[None]:
    """subprocess.run's timeout: the call is interrupted and TimeoutExpired raised."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(*_: object) -> None:
        raise _TimedOut

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    except _TimedOut:
        raise subprocess.TimeoutExpired(["stsleak", *args], timeout) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _fresh_process_state() -> Iterator[None]:
    """A new process's start: no memoised results (e.g. a repository's config read by an earlier
    call), and the collector as it was (the CLI sets a process-wide threshold and freezes)."""
    threshold = gc.get_threshold()
    _clear_scanner_caches()
    try:
        yield
    finally:
        _clear_scanner_caches()
        gc.unfreeze()
        gc.set_threshold(*threshold)


def _clear_scanner_caches() -> None:
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "scanner" or name.startswith("scanner.")):
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)) and hasattr(value, "__wrapped__"):
                value.cache_clear()


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "commit.gpgsign", "false")
        self._tick = 0

    def git(self, *args: str, input_text: str | None = None, date: str | None = None) -> str:
        """git in the repository; author and committer dates tick from 2026-01-01 unless `date` is given."""
        self._tick = getattr(self, "_tick", 0) + 1
        stamp = date or f"2026-01-01T00:{self._tick // 60:02d}:{self._tick % 60:02d}+00:00"
        env = {**os.environ, **GIT_ENV, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp,
               "HOME": str(self.path)}
        proc = subprocess.run(["git", *args], cwd=self.path, input=input_text, capture_output=True,
                              text=True, env=env, check=True)
        return proc.stdout

    def write(self, name: str, content: str | bytes) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
        return target

    def commit(self, message: str, files: dict[str, str | bytes] | None = None, date: str | None = None) -> str:
        for name, content in (files or {}).items():
            self.write(name, content)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message, date=date)
        return self.git("rev-parse", "HEAD").strip()
