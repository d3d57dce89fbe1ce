"""The files source in this process: nested repositories past the number listed through git are
walked (every file, ignored ones too), so no repository makes a scan start git thousands of times."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.model import ScanStats
from scanner.sources import files
from tests.support.cli import GitRepo


def test_nested_repositories_past_the_limit_are_walked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "_NESTED_REPOS", 1)
    outer = GitRepo(tmp_path / "outer")
    outer.commit("init", {"README.md": "outer\n"})
    for name in ("a", "b"):
        inner = GitRepo(outer.path / name)
        inner.commit("init", {"kept.txt": "kept\n", ".gitignore": "*.local\n"})
        inner.write("hidden.local", "ignored by its repository\n")
    stats = ScanStats()
    chunks = list(files.iter_file_chunks([outer.path], 1 << 20, stats))
    shown = sorted(Path(c.path or "").relative_to(outer.path).as_posix() for c in chunks)
    # `a` is listed by its own git (its .gitignore applies); `b`, past the limit, is walked
    assert shown == ["README.md", "a/.gitignore", "a/kept.txt", "b/.gitignore", "b/hidden.local", "b/kept.txt"]
    assert stats.skipped == {"ignored": 1}
