"""Issue 24: the history stream in pieces, with each piece's hits read and checked while git reads the
rest (big objects held until the stream is over). Whatever the cut, a scan reports the same findings,
at the same path and commit, as one piece read whole."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from scanner.sources.git import blobstream, history
from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.cli import stsleak_in_process as stsleak
from tests.support.core import env_file, ini


def _history(repo: GitRepo, rng: random.Random) -> set[str]:
    """Commits of small and big files (some over the held size), sets in both, and a message."""
    keys: set[str] = set()
    for n in range(12):
        files: dict[str, str | bytes] = {f"src/m{n}_{i}.py": f"x = {rng.random()}\n" * rng.randrange(1, 400)
                                         for i in range(6)}
        creds = fakes.temporary(rng)
        keys.add(creds.access_key_id)
        if n % 3 == 0:  # a big file: held until the stream is over
            files[f"data/dump{n}.txt"] = "filler line\n" * 30_000 + env_file(creds) + "filler line\n" * 30_000
        else:
            files[f"deploy/{n}.ini"] = ini(creds)
        repo.commit(f"change {n}", files)
    creds = fakes.temporary(rng)
    keys.add(creds.access_key_id)
    repo.git("commit", "--allow-empty", "-q", "-m", "note\n\n" + ini(creds))
    return keys


def _placed(run: Any) -> list[tuple[str, str, str]]:
    return sorted((f["access_key_id"], f["path"], f["commit"]) for f in run.json()["findings"])


def test_pieces_and_held_objects_report_what_one_piece_reports(tmp_path: Path, rng: random.Random,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    repo = GitRepo(tmp_path / "repo")
    keys = _history(repo, rng)
    whole = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert {f["access_key_id"] for f in whole.json()["findings"]} == keys
    # Many small pieces (the thresholds made tiny), and every object over 1 KB held to the end.
    monkeypatch.setattr(blobstream, "_SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(blobstream, "_PIECE_MIN_BYTES", 1)
    monkeypatch.setattr(history, "_HELD_SIZE", 1024)
    cut = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert (cut.code, _placed(cut)) == (whole.code, _placed(whole)) == (1, _placed(whole))
    assert any(f["path"].startswith("data/dump") for f in cut.json()["findings"])
