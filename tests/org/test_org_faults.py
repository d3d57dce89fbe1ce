"""Faults an organisation scan survives: a killed worker, an interrupted client, moved refs; a real scheduler."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from scanner.testing import fakes
from tests.org.conftest import Fleet, _wait_for_port, build_fleet, free_port
from tests.support.cli import GIT_ENV, GitRepo, stsleak
from tests.support.programs import ini, venv_program


@pytest.fixture
def fleet(tmp_path: Path, git_daemon: tuple[Path, str], request: pytest.FixtureRequest) -> Fleet:
    base, url = git_daemon
    served = base / request.node.name[:40]
    served.mkdir()
    return build_fleet(tmp_path, served, f"{url}/{served.name}", random.Random(request.node.nodeid))


def _start(fleet: Fleet, state: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "scanner", "org", "scan", *fleet.specs, "--workers", "2",
                             "--state", str(state), "--format", "json", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"})


def _recorded(state: Path) -> dict[str, float]:
    """Repositories recorded so far and when."""
    if not state.exists():
        return {}
    try:
        with sqlite3.connect(state, timeout=5) as db:
            return dict(db.execute("SELECT url, finished FROM repositories WHERE finished IS NOT NULL").fetchall())
    except sqlite3.OperationalError:
        return {}


def _wait_until(predicate, timeout: float = 120, client: subprocess.Popen | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if client is not None and client.poll() is not None:
            raise AssertionError(f"the scan ended (exit {client.returncode}) before the moment the test waits for")
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _cmdline(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # a short-lived git or scan process that just ended
        return ""


def _workers(client: subprocess.Popen) -> list[psutil.Process]:
    """The Dask worker processes the client's LocalCluster spawned: not multiprocessing's resource
    tracker (whose command line names multiprocessing too), nor their scans or git."""
    try:
        children = psutil.Process(client.pid).children(recursive=True)
    except psutil.Error:
        return []
    return [child for child in children if "multiprocessing.spawn" in _cmdline(child)]


def _is_scan(process: psutil.Process) -> bool:
    """A repository's scan: a child the worker's fork server forked, or a `scan_one` subprocess."""
    if "scanner.org.scan_one" in _cmdline(process):
        return True
    try:
        parent = process.parent()
    except psutil.Error:
        return False
    return parent is not None and all("scanner.org.forkserver" in _cmdline(p) for p in (process, parent))


def _busy_worker(client: subprocess.Popen) -> psutil.Process | None:
    """A worker that is running a repository's scan right now (it has a live scan below it)."""
    for worker in _workers(client):
        try:
            children = worker.children(recursive=True)
        except psutil.Error:
            continue
        if any(_is_scan(child) for child in children):
            return worker
    return None


def _wait_for_busy_worker(client: subprocess.Popen, timeout: float = 120) -> psutil.Process:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        worker = _busy_worker(client)
        if worker is not None:
            return worker
        if client.poll() is not None:
            raise AssertionError(f"the scan ended (exit {client.returncode}) before a worker was seen mid-task")
        time.sleep(0.02)
    raise AssertionError("timed out waiting for a worker mid-task")


def _assert_complete(fleet: Fleet, report: dict) -> None:
    rows = [(f["repository"], f["path"], f["commit"], f["fingerprint"]) for f in report["findings"]]
    assert len(rows) == len(set(rows)), "a finding is reported twice"
    found = {(f["repository"], f["access_key_id"]) for f in report["findings"]}
    assert all((p.repository, p.creds.access_key_id) in found for p in fleet.plants)
    repos = [r["repository"] for r in report["repositories"]]
    assert len(repos) == len(set(repos)) == 21


def _scans(state: Path) -> dict[str, int]:
    with sqlite3.connect(state) as db:
        return dict(db.execute("SELECT url, scans FROM repositories WHERE status != 'failed'").fetchall())


def test_killed_worker_every_repository_still_scanned_once(fleet: Fleet, tmp_path: Path) -> None:
    state = tmp_path / "org.sqlite"
    client = _start(fleet, state)
    _wait_until(lambda: len(_recorded(state)) >= 1 and len(_workers(client)) == 2, client=client)
    worker = _wait_for_busy_worker(client)
    worker.kill()  # SIGKILL mid-task: Dask reruns its task on the other worker
    out, err = client.communicate(timeout=300)
    assert client.returncode == 1, err.decode()
    report = json.loads(out)
    _assert_complete(fleet, report)
    assert set(_scans(state).values()) == {1}


def test_interrupted_client_resumes_without_rescanning_or_losing(fleet: Fleet, tmp_path: Path) -> None:
    state = tmp_path / "org.sqlite"
    client = _start(fleet, state)
    _wait_until(lambda: len(_recorded(state)) >= 3, client=client)
    client.send_signal(signal.SIGINT)
    client.communicate(timeout=120)
    assert client.returncode == 130
    before = _recorded(state)
    assert 3 <= len(before) < 21
    run = stsleak("org", "scan", *fleet.specs, "--workers", "2", "--state", str(state), "--format", "json",
                  timeout=300)
    assert run.code == 1, run.stderr
    _assert_complete(fleet, run.json())
    after = _recorded(state)
    assert all(after[url] == stamp for url, stamp in before.items())  # recorded before: not scanned again
    assert set(_scans(state).values()) == {1}


def _push_new_credential(bare: Path, tmp: Path, creds: fakes.FakeCredentials) -> str:
    work = tmp / f"push-{bare.name}"
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True, env=env)
    repo = GitRepo(work)
    commit = repo.commit("new config", {"new.env": ini(creds)})
    repo.git("push", "-q", "origin", "HEAD")
    return commit


def test_since_last_scans_only_the_new_commits_of_repositories_that_moved(fleet: Fleet, tmp_path: Path,
                                                                          rng: random.Random) -> None:
    state = tmp_path / "org.sqlite"
    first = stsleak("org", "scan", *fleet.specs, "--state", str(state), "--format", "json", timeout=300)
    assert first.code == 1, first.stderr
    local = next(url for url in fleet.sources if url.startswith("/"))
    served = next(url for url in fleet.sources if url.startswith("git://"))
    new = {local: fakes.temporary(rng), served: fakes.temporary(rng)}
    GitRepo(fleet.sources[local]).commit("new config", {"new.env": ini(new[local])})
    _push_new_credential(fleet.sources[served], tmp_path, new[served])
    counts_before = {r["repository"]: r["findings"] for r in first.json()["repositories"]}

    second = stsleak("org", "scan", *fleet.specs, "--state", str(state), "--format", "json", "--since-last",
                     timeout=300)
    assert second.code == 1, second.stderr
    report = second.json()
    status = {r["repository"]: r["status"] for r in report["repositories"]}
    assert {url for url, s in status.items() if s == "done"} == {local, served}
    assert {s for url, s in status.items() if url not in (local, served)} <= {"unchanged", "failed"}
    for url, creds in new.items():
        rows = [f for f in report["findings"] if f["repository"] == url]
        assert creds.access_key_id in {f["access_key_id"] for f in rows}
        assert len(rows) == counts_before[url] + 1  # the old findings kept, not found again: only new commits
    _assert_complete(fleet, report)


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[str]:
    """A real `dask scheduler` and one `dask worker` on 127.0.0.1, as a user with a cluster runs them."""
    port = free_port()
    dask = venv_program("dask")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        _wait_for_port(port, procs[0], "dask scheduler")
        procs.append(subprocess.Popen([dask, "worker", f"tcp://127.0.0.1:{port}", "--nworkers", "1", "--nthreads",
                                       "1", "--no-dashboard", "--local-directory", str(tmp_path / "worker")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield f"tcp://127.0.0.1:{port}"
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=20)


def test_scan_on_a_running_scheduler(fleet: Fleet, tmp_path: Path, scheduler: str) -> None:
    state = tmp_path / "org.sqlite"
    run = stsleak("org", "scan", *fleet.specs, "--scheduler", scheduler, "--state", str(state), "--format", "json",
                  timeout=300)
    assert run.code == 1, run.stderr
    _assert_complete(fleet, run.json())


def test_unreachable_scheduler_is_one_line(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.commit("init", {"a.txt": "x\n"})
    run = stsleak("org", "scan", str(repo.path), "--scheduler", f"tcp://127.0.0.1:{free_port()}",
                  "--state", str(tmp_path / "s.sqlite"), timeout=120)
    assert run.code == 2 and "cannot reach the Dask scheduler" in run.stderr and "Traceback" not in run.stderr
