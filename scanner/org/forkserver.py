"""One long-lived scan process per Dask worker that forks a child per repository (POSIX).

Starting `python -m scanner.org.scan_one` per repository costs an interpreter start, the scanner's
imports and the rules (about 0.25 CPU seconds, as much as scanning a small repository). The server
pays that once: `python -m scanner.org.forkserver DIR` imports the scanner, loads the rules, listens
on DIR/scan.sock (DIR is the worker's private 0700 directory) and forks one child per connection.
The child is what the subprocess was: its own session and process group (a task's timeout kills the
group, git included), its memory ends with it, and it writes the same JSON to a file in the task's
scratch directory; only "pid" and "code" lines cross the socket. The server is single-threaded
(forking is safe), lives in its own session (a Ctrl-C at the terminal reaches the client, not a
scan) and ends, killing its children, when its stdin (a pipe from the worker) closes — also when the
worker is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from scanner.runtime import collect_garbage_less_often

SOCKET_NAME = "scan.sock"


def _preload() -> Any:
    """Everything a scan imports, and the rules, loaded once before any fork (no threads started)."""
    import scanner.aws_session
    import scanner.org.scan_one
    import scanner.pipeline
    import scanner.reports.json_report
    import scanner.reports.sarif
    import scanner.sources.git.history  # noqa: F401
    from scanner.detection.rules import load_ruleset

    with contextlib.suppress(ImportError):  # where it is installed (not by building a prefilter: that starts a thread)
        import hyperscan  # noqa: F401
    return load_ruleset(())


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


def _redirect(fd: int, path: str) -> None:
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(target, fd)
    os.close(target)


def _child(conn: socket.socket, listener: socket.socket, rules: Any) -> None:
    """In the forked child: one repository's scan, then `os._exit` (never returns)."""
    code = 1
    try:
        listener.close()
        os.setsid()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        request = json.loads(conn.makefile("rb").readline())
        _send(conn, {"pid": os.getpid()})
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        _redirect(1, request["stdout"])
        _redirect(2, request["stderr"])
        from scanner.org.scan_one import main

        code = main(request["job"], rules)
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            _send(conn, {"code": code})
        finally:
            os._exit(0)


def _reap(children: set[int], block: bool = False) -> None:
    for pid in list(children):
        try:
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            children.discard(pid)


def _kill_all(children: set[int]) -> None:
    for pid in children:
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(OSError):
                kill(pid, signal.SIGKILL)
    _reap(children, block=True)


def serve(directory: Path) -> None:
    rules = _preload()
    collect_garbage_less_often()  # as the CLI scans (its children inherit it; what is loaded is frozen)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker ends the server (stdin closes), not a Ctrl-C
    path = directory / SOCKET_NAME
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    children: set[int] = set()
    try:
        while True:
            ready, _, _ = select.select([listener, sys.stdin], [], [], 1.0)
            _reap(children)
            if sys.stdin in ready and not os.read(sys.stdin.fileno(), 4096):
                return  # the worker closed the pipe, or died
            if listener in ready:
                conn, _ = listener.accept()
                pid = os.fork()
                if pid == 0:
                    _child(conn, listener, rules)
                children.add(pid)
                conn.close()
    finally:
        listener.close()
        _kill_all(children)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # a worker killed outright never runs its plugin's teardown
            directory.rmdir()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
