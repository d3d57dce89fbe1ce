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


def test_placement_does_not_depend_on_the_order_detection_saw_the_blobs(rng: random.Random) -> None:
    """The same set at one path in two blobs whose commits share a second (a rebase): whichever blob
    detection saw first (the stream's timing decides), the smaller commit id wins, and the order of
    the report is the same."""
    from scanner.pipeline import place_in_history
    from scanner.sources.git.provenance import Introduction
    from tests.support.core import only, scan_text

    creds = fakes.temporary(rng)
    other = fakes.temporary(rng)
    first, second = only(scan_text(ini(creds))), only(scan_text(ini(creds) + "\n"))
    third = only(scan_text(ini(other)))
    first.blob, second.blob, third.blob = "a" * 40, "b" * 40, "c" * 40
    places = {"a" * 40: [Introduction("conf/aws.ini", "f" * 40, "dev", "2026-01-01T00:00:00Z", 1_700_000_000)],
              "b" * 40: [Introduction("conf/aws.ini", "1" * 40, "dev", "2026-01-01T00:00:00Z", 1_700_000_000)],
              "c" * 40: [Introduction("conf/aws.ini", "e" * 40, "dev", "2026-01-01T00:00:00Z", 1_700_000_000)]}

    def lookup(blobs: set[str]) -> dict[str, list[Introduction]]:
        return {blob: places[blob] for blob in blobs}

    orders = [[first, second, third], [third, second, first], [second, third, first]]
    placed = [[(f.access_key_id, f.commit) for f in place_in_history(list(order), lookup)] for order in orders]
    assert placed[0] == placed[1] == placed[2]
    assert (creds.access_key_id, "1" * 40) in placed[0]
