"""`stsleak org scan` on a Dask LocalCluster of 2 worker processes over 21 real repositories."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest

from tests.org.conftest import Fleet, build_fleet
from tests.support.cli import stsleak


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, git_daemon: tuple[Path, str]) -> Fleet:
    base, url = git_daemon
    return build_fleet(tmp_path_factory.mktemp("fleet"), base, url, random.Random("org-fleet"))


@pytest.fixture(scope="module")
def scanned(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    state = tmp_path_factory.mktemp("state") / "org.sqlite"
    run = stsleak("org", "scan", *fleet.specs, "--workers", "2", "--state", str(state), "--format", "json",
                  timeout=300)
    assert run.code == 1, run.stderr
    return state, run.json()


def test_every_planted_credential_is_found_where_it_was_planted(fleet: Fleet, scanned: tuple[Path, dict]) -> None:
    _, report = scanned
    found = {(f["repository"], f["path"], f["commit"], f["access_key_id"]) for f in report["findings"]}
    for plant in fleet.plants:
        assert (plant.repository, plant.path, plant.commit, plant.creds.access_key_id) in found, plant
    assert len(report["findings"]) == len(fleet.plants) + 1  # + the one only in an unreachable commit
    assert fleet.unreachable is not None
    assert any(f["repository"] == fleet.unreachable.repository
               and f["access_key_id"] == fleet.unreachable.creds.access_key_id for f in report["findings"])
    assert {f["repository"] for f in report["findings"]} <= {r["repository"] for r in report["repositories"]}


def test_failures_are_recorded_with_gits_reason_and_the_rest_goes_on(fleet: Fleet,
                                                                    scanned: tuple[Path, dict]) -> None:
    _, report = scanned
    by_repo = {r["repository"]: r for r in report["repositories"]}
    assert len(by_repo) == 21
    for name in fleet.failing:
        assert by_repo[name]["status"] == "failed" and by_repo[name]["error"], by_repo[name]
    assert "does-not-exist" in by_repo[fleet.failing[1]]["repository"]
    others = [r for name, r in by_repo.items() if name not in fleet.failing]
    assert all(r["status"] == "done" for r in others), others
    empty = next(r for name, r in by_repo.items() if name.endswith("empty.git"))
    assert empty["findings"] == 0


def test_no_secret_crosses_the_cluster_or_reaches_the_state(fleet: Fleet, scanned: tuple[Path, dict]) -> None:
    state, report = scanned
    stored = state.read_bytes()
    text = json.dumps(report)
    for plant in fleet.plants:
        for value in (plant.creds.secret_access_key, plant.creds.session_token):
            assert value and value.encode() not in stored and value not in text


def test_status_agrees_with_the_state_file(scanned: tuple[Path, dict]) -> None:
    state, _ = scanned
    run = stsleak("org", "status", "--state", str(state), "--format", "json")
    assert run.code == 0, run.stderr
    status = run.json()
    with sqlite3.connect(state) as db:
        rows = dict(db.execute("SELECT url, status FROM repositories").fetchall())
    assert {r["repository"]: r["status"] for r in status["repositories"]} == rows
    assert status["counts"] == {"done": 19, "failed": 2}
    text = stsleak("org", "status", "--state", str(state))
    assert "19 done" in text.stdout and "2 failed" in text.stdout


def test_sarif_has_one_run_per_repository(fleet: Fleet, scanned: tuple[Path, dict]) -> None:
    state, _ = scanned
    run = stsleak("org", "scan", *fleet.specs, "--state", str(state), "--format", "sarif", "--quiet")
    assert run.code == 1, run.stderr  # nothing rescanned: the report comes from the state file
    sarif = run.json()
    ids = [r["automationDetails"]["id"] for r in sarif["runs"]]
    assert len(ids) == len(set(ids)) == 20  # every repository scanned (the corrupt one too); not the failed clone
    assert sum(len(r["results"]) for r in sarif["runs"]) == len(fleet.plants) + 1
