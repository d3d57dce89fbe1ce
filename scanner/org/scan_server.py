"""The worker's side of the fork server (scanner/org/forkserver.py): a Dask worker plugin that starts
one server per worker, and the call a task makes to have one repository scanned by a forked child.

Without the plugin (an old client, a platform without fork) or when the server is gone, a task
falls back to a fresh `python -m scanner.org.scan_one` subprocess: same output, same bounds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin

from scanner.org.forkserver import SOCKET_NAME
from scanner.org.process import start_scan_server
from scanner.org.scan_one import ScanJob, write_job

PLUGIN_NAME = "stsleak-scan-server"
_READY_TIMEOUT = 120.0


class ServerGone(Exception):
    """The fork server cannot take the scan (not started, died): the task uses a subprocess instead."""


class ScanServerPlugin(WorkerPlugin):
    """Registered with `client.register_plugin`: on each worker, one fork server for its tasks."""

    def __init__(self) -> None:
        self.directory: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._ready: bool | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {}  # sent to workers before setup: nothing of the client's side

    def __setstate__(self, _state: dict[str, Any]) -> None:
        ScanServerPlugin.__init__(self)

    def setup(self, worker: Any = None) -> None:
        if not hasattr(os, "fork"):
            return
        self.directory = Path(tempfile.mkdtemp(prefix="stsleak-scan-"))  # 0700; short enough for a socket path
        self.proc = start_scan_server(self.directory)

    def address(self) -> str:
        """The server's socket once it has said it is ready (the first task waits for its imports)."""
        with self._lock:
            if self._ready is None:
                self._ready = self._wait_ready()
        if not self._ready or self.proc is None or self.proc.poll() is not None or self.directory is None:
            raise ServerGone("no scan server")
        return str(self.directory / SOCKET_NAME)

    def _wait_ready(self) -> bool:
        if self.proc is None or self.proc.stdout is None:
            return False
        import select

        ready, _, _ = select.select([self.proc.stdout], [], [], _READY_TIMEOUT)
        return bool(ready) and self.proc.stdout.readline() == b"ready\n"

    def teardown(self, worker: Any = None) -> None:
        if self.proc is not None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()  # the server kills its children and ends
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


def server_address() -> str:
    """The fork server of the worker this task runs on; ServerGone when there is none."""
    try:
        from distributed import get_worker

        plugin = get_worker().plugins.get(PLUGIN_NAME)
    except (ImportError, ValueError):
        plugin = None
    if not isinstance(plugin, ScanServerPlugin):
        raise ServerGone("no scan server")
    return plugin.address()


def run_forked(address: str, job: ScanJob, scratch: Path, timeout: float) -> subprocess.CompletedProcess[bytes]:
    """`scan_one` of `job` in a child forked by the server; past `timeout` its process group is killed."""
    if timeout <= 0:
        raise TimeoutError("timed out")
    deadline = time.monotonic() + timeout
    out, err = scratch / "scan.out", scratch / "scan.err"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        try:
            conn.settimeout(min(timeout, 30.0))
            conn.connect(address)
            request = {"job": str(write_job(job, scratch)), "stdout": str(out), "stderr": str(err)}
            conn.sendall(json.dumps(request).encode() + b"\n")
            lines = conn.makefile("rb")
            pid = int(json.loads(lines.readline())["pid"])
        except (OSError, ValueError, KeyError) as exc:
            raise ServerGone(str(exc)) from None
        try:
            conn.settimeout(max(deadline - time.monotonic(), 0.001))
            line = lines.readline()
        except TimeoutError:
            _kill_group(pid)
            raise TimeoutError(f"timed out after {timeout:.0f} s") from None
    code = int(json.loads(line)["code"]) if line else -int(signal.SIGKILL)  # no code: the child was killed
    return subprocess.CompletedProcess(["scan_one", job.repository], code, _read(out), _read(err))


def _kill_group(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
