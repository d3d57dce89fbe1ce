"""§1: every git process stsleak starts goes through scanner/sources/git/run.py (the hardened helper)."""

from __future__ import annotations

import re
from pathlib import Path

import scanner

PACKAGE = Path(scanner.__file__).parent
HELPER = PACKAGE / "sources" / "git" / "run.py"
# The demo builds its own throw-away repository (it scans nothing it did not write).
OWN_REPOS = {PACKAGE / "demo" / "story.py"}
# Starts `python -m scanner.org.scan_one` (whose git calls go through the helper), never git itself.
NOT_GIT = {PACKAGE / "org" / "process.py"}
_STARTS_PROCESS = re.compile(r"subprocess\.(?:run|Popen|call|check_output|check_call)\(|os\.(?:system|spawn|exec)")


def test_no_module_but_the_helper_starts_git() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path == HELPER or path in OWN_REPOS or path in NOT_GIT:
            continue
        text = path.read_text(encoding="utf-8")
        if "git_path()" in text or _STARTS_PROCESS.search(text):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


def test_every_helper_process_is_hardened() -> None:
    text = HELPER.read_text(encoding="utf-8")
    starts = [text[m.start() : m.start() + 250] for m in re.finditer(r"subprocess\.(?:run|Popen)\(", text)]
    # git_env() for every call in a repository; network_git_env() for org scans' ls-remote/clone,
    # which run in no repository (scanner.sources.git.run.network_git_argv says what they allow).
    assert starts and all("env=git_env()" in call or "env=network_git_env()" in call for call in starts), starts
