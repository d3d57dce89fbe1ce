"""HistoryScan's connectivity check (scanner/sources/git/history.py): a blob the refs reach but the
object store lacks is reported whether the check ends with the chunks or, inside `with`, on leaving
it (after provenance has run beside it)."""

from __future__ import annotations

import random

from scanner.detection.prefilter import make_prefilter
from scanner.detection.rules import load_ruleset
from scanner.model import ScanStats
from scanner.sources.git.history import HistoryScan
from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.core import ini


def _repo_missing_a_blob(repo: GitRepo) -> str:
    creds = fakes.temporary(random.Random(13))
    repo.commit("add", {"c.ini": ini(creds), "gone.txt": "deleted from the object store\n"})
    oid = repo.git("rev-parse", "HEAD:gone.txt").strip()
    (repo.path / ".git" / "objects" / oid[:2] / oid[2:]).unlink()
    return oid


def _scan(repo: GitRepo, stats: ScanStats) -> HistoryScan:
    prefilter = make_prefilter(load_ruleset().key_id_prefixes, False)
    return HistoryScan(repo.path, None, 1 << 20, prefilter, stats)


def test_missing_blob_reported_at_the_end_of_the_chunks(repo: GitRepo) -> None:
    oid = _repo_missing_a_blob(repo)
    stats = ScanStats()
    chunks = list(_scan(repo, stats))
    assert len(chunks) == 1
    assert any("corrupt" in e and oid in e for e in stats.errors), stats.errors


def test_inside_with_the_check_ends_on_leaving_it(repo: GitRepo) -> None:
    oid = _repo_missing_a_blob(repo)
    stats = ScanStats()
    with _scan(repo, stats) as history:
        (chunk,) = list(history)
        assert not any(oid in e for e in stats.errors)  # not waited for yet
        (intro,) = history.introductions({chunk.blob})[chunk.blob]
        assert intro.path == "c.ini"
    assert any("corrupt" in e and oid in e for e in stats.errors), stats.errors
