"""#12: exclude globs are compiled once into one matcher; a path is never matched glob by glob.

An in-repo `.stsleak.yaml` may list twenty thousand globs (it took 27 s over 300 files, glob by glob
through fnmatch). The matcher must decide exactly what fnmatch decides on the path and each of its
parts; how fast it is is measured by bench/excludes.py, not asserted here.
"""

from __future__ import annotations

import fnmatch
import random
import sys
from pathlib import Path

import pytest

from scanner.silencing import excludes
from scanner.silencing.excludes import ExcludeMatcher, literal_runs
from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.cli import stsleak_in_process as stsleak
from tests.support.programs import ini


def _glob_by_glob(path: str, patterns: tuple[str, ...]) -> bool:
    """What exclusion meant before: fnmatch on the path, or on any part of it, for each glob."""
    parts = path.split("/")
    return any(fnmatch.fnmatch(path, p) or any(fnmatch.fnmatch(part, p) for part in parts) for p in patterns)


def test_matcher_decides_what_fnmatch_decides(rng: random.Random) -> None:
    glob_chars, path_chars = "ab/.*?[]!-", "ab/.[]!-*?"
    for _ in range(4000):
        patterns = tuple("".join(rng.choice(glob_chars) for _ in range(rng.randint(0, 7)))
                         for _ in range(rng.randint(1, 5)))
        matcher = ExcludeMatcher(patterns)
        for _ in range(5):
            path = "".join(rng.choice(path_chars) for _ in range(rng.randint(0, 9)))
            assert matcher.matches(path) == _glob_by_glob(path, patterns), (patterns, path)


@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("*.min.js", "web/app.min.js", True), ("vendor", "x/vendor/y.py", True), ("vendor/*", "vendor/a/b", True),
    ("tests/*.ini", "tests/a/b.ini", True), ("tests/*.ini", "src/tests/b.ini", False),
    ("*fixture*", "a/myfixtures", True),
    ("*", "anything", True), ("a?c", "x/abc", True), ("[!a]bc", "abc", False), ("[]x]*", "]y", True),
    ("[", "[", True), ("**/secrets/**", "a/secrets/b", True), ("*a*b*", "xaxbx", True),
])
def test_each_kind_of_glob(pattern: str, path: str, expected: bool) -> None:
    assert ExcludeMatcher((pattern,)).matches(path) is expected
    assert _glob_by_glob(path, (pattern,)) is expected


def test_literal_runs_read_classes_as_fnmatch_does() -> None:
    assert literal_runs("a[b]c*d?e[f") == ["a", "c", "d", "e[f"]
    assert literal_runs("[!]x]y") == ["y"] and literal_runs("[]") == ["[]"] and literal_runs("*?") == []


def _count_calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[int]:
    """Calls made by the scanner's modules (pytest's import hook calls fnmatch too)."""
    calls = [0]
    original = getattr(owner, name)

    def counted(*args: object, **kwargs: object) -> object:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        calls[0] += caller == "scanner" or caller.startswith("scanner.")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_twenty_thousand_config_globs_are_compiled_once(tmp_path: Path, rng: random.Random,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    repo = GitRepo(tmp_path / "repo")
    files: dict[str, str] = {}
    kept, hidden = [], []
    for i in range(300):
        path = f"{'vendor' if i % 30 == 0 else 'src'}/pkg{i}/mod{i}.py"
        if i % 10 == 0:
            creds = fakes.temporary(rng)
            files[path] = ini(creds)
            (hidden if path.startswith("vendor/") or i == 50 else kept).append(creds.access_key_id)
        else:
            files[path] = "x = 1\n"
    globs = [f"gen{i}-*.py" if i % 3 else f"*.{i}.tmp" for i in range(19998)] + ["vendor/*", "mod50.py"]
    files[".stsleak.yaml"] = "exclude:\n" + "".join(f"  - '{g}'\n" for g in globs)
    repo.commit("tree", files)

    fnmatch_calls = _count_calls(monkeypatch, fnmatch, "fnmatch")
    fnmatchcase_calls = _count_calls(monkeypatch, fnmatch, "fnmatchcase")
    compiles = _count_calls(monkeypatch, excludes, "ExcludeMatcher")
    run = stsleak("scan", "--format", "json", ".", cwd=repo.path)
    assert run.code == 1, run.stderr
    report = run.json()
    assert sorted(f["access_key_id"] for f in report["findings"]) == sorted(kept)
    assert report["stats"]["suppressed"]["config-exclude"] == 10 + 1  # the vendor/ paths and mod50.py
    assert compiles == [1]  # the config's globs, once for the whole scan
    assert fnmatch_calls == [0] and fnmatchcase_calls == [0]  # never glob by glob
