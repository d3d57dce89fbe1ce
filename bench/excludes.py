"""Exclude globs an in-repo config may hold by the thousand (issue #20, case 12).

    python bench/excludes.py [--globs 20000] [--files 300] [--rounds 3]

Builds a git work tree of FILES files (one credential in every tenth) whose `.stsleak.yaml` lists
GLOBS exclude globs, and times `stsleak scan .` and `stsleak scan --history .` on it (best of
ROUNDS). Then, in-process, the matcher alone on the same paths for each shape of glob (literal
names, prefixes/suffixes/infixes, `?` with literals, classes, no literal at all), next to the
glob-by-glob fnmatch loop it replaced (timed on a tenth of the paths and scaled, it is that slow).
Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from scanner.silencing.excludes import ExcludeMatcher  # noqa: E402
from scanner.testing import fakes  # noqa: E402

_GIT_ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_NOSYSTEM": "1"}


def _word(rng: random.Random, n: int = 6) -> str:
    return "".join(rng.choice("abcdefghijklmnop") for _ in range(n))


SHAPES: dict[str, Callable[[random.Random, int], str]] = {
    "mixed (name, *.ext, dir/*, *infix*, dir/*.py)": lambda rng, i: [
        (w := _word(rng)), f"*.{w}", f"{w}/*", f"*{w}*", f"{w}/*.py"][i % 5],
    "?-globs (*abc?def*)": lambda rng, i: f"*{_word(rng, 3)}?{_word(rng, 3)}*",
    "classes (ab[a-c]cdef*)": lambda rng, i: f"{_word(rng, 2)}[a-c]{_word(rng, 4)}*",
    "no literal ([a-c]?[!x]*...)": lambda rng, i: "".join(
        rng.choice(["?", "*", "[a-c]", "[!x]", "[0-9]"]) for _ in range(6)),
}


def _paths(rng: random.Random, count: int) -> list[str]:
    return [f"src/{_word(rng)}/{_word(rng)}.py" for _ in range(count)]


def _tree(root: Path, rng: random.Random, files: int, globs: list[str]) -> None:
    for i, path in enumerate(_paths(rng, files)):
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if i % 10 == 0:
            creds = fakes.temporary(rng)
            target.write_text(f"aws_access_key_id = {creds.access_key_id}\n"
                              f"aws_secret_access_key = {creds.secret_access_key}\n"
                              f"aws_session_token = {creds.session_token}\n", encoding="utf-8")
        else:
            target.write_text("x = 1\n" * 50, encoding="utf-8")
    (root / ".stsleak.yaml").write_text("exclude:\n" + "".join(f"  - '{g}'\n" for g in globs), encoding="utf-8")
    env = {**os.environ, **_GIT_ENV}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "tree"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)


def _best(cmd: list[str], cwd: Path, rounds: int) -> tuple[float, int]:
    walls, code = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        code = subprocess.run(cmd, cwd=cwd, capture_output=True).returncode
        walls.append(time.perf_counter() - started)
    return min(walls), code


def _old(path: str, patterns: tuple[str, ...]) -> bool:
    parts = path.split("/")
    return any(fnmatch.fnmatch(path, p) or any(fnmatch.fnmatch(part, p) for part in parts) for p in patterns)


def report(globs: int, files: int, rounds: int) -> str:
    rng = random.Random(20)
    lines = [f"exclude globs: {globs:,} in .stsleak.yaml, {files} files (best of {rounds})", ""]
    with tempfile.TemporaryDirectory(prefix="stsleak-bench-excludes.") as tmp:
        root = Path(tmp)
        _tree(root, rng, files, [SHAPES["mixed (name, *.ext, dir/*, *infix*, dir/*.py)"](rng, i)
                                 for i in range(globs)])
        for label, extra in (("scan .", []), ("scan --history .", ["--history"])):
            wall, code = _best([sys.executable, "-m", "scanner", "scan", "--format", "json", *extra, "."], root,
                               rounds)
            lines.append(f"  stsleak {label:<18} {wall:6.2f} s  (exit {code})")
    lines += ["", f"  {'matcher alone, ' + str(files) + ' paths':<48} {'compile':>8} {'match':>8} {'fnmatch loop':>13}"]
    paths = _paths(rng, files)
    for name, make in SHAPES.items():
        patterns = tuple(make(rng, i) for i in range(globs))
        started = time.perf_counter()
        matcher = ExcludeMatcher(patterns)
        compiled = time.perf_counter() - started
        started = time.perf_counter()
        fast = [matcher.matches(p) for p in paths]
        matched = time.perf_counter() - started
        tenth = paths[: max(1, len(paths) // 10)]
        started = time.perf_counter()
        slow = [_old(p, patterns) for p in tenth]
        loop = (time.perf_counter() - started) * len(paths) / len(tenth)
        same = "" if slow == fast[: len(tenth)] else "  MISMATCH"
        lines.append(f"  {name:<48} {compiled:7.3f}s {matched:7.3f}s {loop:11.1f} s{same}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--globs", type=int, default=20000)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(report(args.globs, args.files, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
