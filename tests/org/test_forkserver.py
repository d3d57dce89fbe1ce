"""The worker's fork server (scanner/org/forkserver.py): a forked child scans as the subprocess did, a
task's timeout kills the child's process group, and the server's end (its worker gone) ends its scans."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from scanner.org.scan_one import ScanJob, write_job
from scanner.org.scan_server import ScanServerPlugin, run_forked
from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.programs import ini


@pytest.fixture
def server() -> Iterator[ScanServerPlugin]:
    plugin = ScanServerPlugin()
    plugin.setup()
    try:
        yield plugin
    finally:
        plugin.teardown()


@pytest.fixture
def leaky(tmp_path: Path, rng: random.Random) -> tuple[Path, fakes.FakeCredentials]:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("init", {"README.md": "x\n"})
    creds = fakes.temporary(rng)
    repo.commit("config", {"aws.ini": ini(creds)})
    return repo.path, creds


@pytest.fixture
def stalled() -> Iterator[str]:
    """An endpoint that takes connections and never answers (the kernel accepts them: no accept())."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def _scratch(tmp_path: Path) -> Path:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return scratch


def _children(plugin: ScanServerPlugin) -> list[psutil.Process]:
    assert plugin.proc is not None
    return psutil.Process(plugin.proc.pid).children()


def test_a_forked_child_reports_what_the_subprocess_reports(server: ScanServerPlugin, leaky, tmp_path: Path) -> None:
    repo, creds = leaky
    job = ScanJob(str(repo), "r", list_tips=True)
    forked = run_forked(server.address(), job, _scratch(tmp_path), 60)
    alone = subprocess.run([sys.executable, "-m", "scanner.org.scan_one", str(write_job(job, tmp_path))],
                           capture_output=True, check=True)
    assert forked.returncode == 0, forked.stderr
    ours, theirs = json.loads(forked.stdout), json.loads(alone.stdout)
    assert ours["findings"] == theirs["findings"] and ours["tips"] == theirs["tips"]
    assert [f["access_key_id"] for f in ours["findings"]] == [creds.access_key_id]
    assert creds.secret_access_key not in forked.stdout.decode() and creds.session_token not in forked.stdout.decode()


def test_a_bad_repository_is_one_error_line(server: ScanServerPlugin, tmp_path: Path) -> None:
    forked = run_forked(server.address(), ScanJob(str(tmp_path), "r", list_tips=True), _scratch(tmp_path), 60)
    assert forked.returncode == 2 and forked.stderr.decode().startswith("stsleak: error: "), forked.stderr
    assert b"Traceback" not in forked.stderr


def test_the_timeout_kills_the_child(server: ScanServerPlugin, leaky, stalled: str, tmp_path: Path) -> None:
    repo, _ = leaky
    job = ScanJob(str(repo), "r", verify=True, aws={"region": "us-east-1", "endpoint_url": stalled})
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        run_forked(server.address(), job, _scratch(tmp_path), 2)
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 5
    while _children(server) and time.monotonic() < deadline:  # the server reaps the killed child
        time.sleep(0.05)
    assert not _children(server)


def test_the_servers_end_ends_its_scans(server: ScanServerPlugin, leaky, stalled: str, tmp_path: Path) -> None:
    repo, _ = leaky
    job = ScanJob(str(repo), "r", verify=True, aws={"region": "us-east-1", "endpoint_url": stalled})
    results: list[subprocess.CompletedProcess[bytes]] = []
    scratch = _scratch(tmp_path)
    scan = threading.Thread(target=lambda: results.append(run_forked(server.address(), job, scratch, 60)))
    scan.start()
    deadline = time.monotonic() + 10
    # the scan has begun once the child has read its request and said its pid (then it opens scan.err);
    # a child killed before reading its request resets the connection, and the task falls back to a subprocess
    while not (scratch / "scan.err").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    child = _children(server)[0]
    server.teardown()  # what a worker's end (or death: its pipe closes) does
    scan.join(10)
    assert not scan.is_alive() and results[0].returncode < 0  # killed: no exit code came back
    assert not child.is_running()
    assert server.proc is not None and server.proc.poll() is not None
