"""A bounded subprocess for one repository's scan (`python -m scanner.org.scan_one`, never git itself):
its own process group, killed whole when the task's time runs out."""

from __future__ import annotations

import subprocess

from scanner.sources.git.run import finish_within


def run_bounded(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    if timeout <= 0:
        raise TimeoutError("timed out")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    return finish_within(proc, timeout)
