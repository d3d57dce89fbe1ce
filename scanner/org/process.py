"""The Python processes an organisation scan starts on a worker (never git itself, whose calls go through
scanner/sources/git/run.py): a bounded `python -m scanner.org.scan_one` for one repository (its own
process group, killed whole when the task's time runs out), and the worker's fork server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scanner.sources.git.run import finish_within


def run_bounded(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    if timeout <= 0:
        raise TimeoutError("timed out")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    return finish_within(proc, timeout)


def start_scan_server(directory: Path) -> subprocess.Popen[bytes]:
    """`python -m scanner.org.forkserver DIR` in its own session; it ends when its stdin closes."""
    return subprocess.Popen([sys.executable, "-m", "scanner.org.forkserver", str(directory)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
