"""This repository commits no live-looking credential: stsleak finds nothing in its own checkout."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)

ROOT = Path(__file__).resolve().parent.parent


def _report(run_args: list[str]) -> str:
    run = stsleak(*run_args)
    assert "Traceback" not in run.stderr
    return f"exit {run.code}\n{run.stdout}\n{run.stderr}"


def test_self_scan_of_the_work_tree_is_clean() -> None:
    run = stsleak("scan", "--format", "json", str(ROOT))
    assert run.code == 0, _report(["scan", str(ROOT)])
    assert run.json()["findings"] == []
    assert run.json()["stats"]["files"] > 20


def test_self_scan_of_the_history_is_clean() -> None:
    run = stsleak("scan", "--history", "--format", "json", str(ROOT))
    assert run.code == 0, _report(["scan", "--history", str(ROOT)])
    assert run.json()["findings"] == []
    assert run.json()["stats"]["blobs"] > 20
