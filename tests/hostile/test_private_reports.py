"""#13: what stsleak writes about credentials is private, and a file name in the step summary stays text.

Report files (`-o`, `--report`; with `--show-secrets` they hold secrets), the audit log and the org
state file are created 0600 whatever the umask. In $GITHUB_STEP_SUMMARY a file name written by the
scanned repository cannot become a link, an image or HTML.
"""

from __future__ import annotations

import contextlib
import os
import random
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from scanner.org.state import State
from scanner.revocation.audit import AuditLog
from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import ini

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_reports_with_secrets_are_created_private(tmp_path: Path, rng: random.Random) -> None:
    creds = fakes.temporary(rng)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "creds.ini").write_text(ini(creds), encoding="utf-8")
    with _umask(0o022):  # the usual umask: files 0644 unless created otherwise
        run = stsleak("scan", "--show-secrets", "--format", "json", "-o", str(tmp_path / "report.json"),
                      "--report", f"sarif:{tmp_path / 'report.sarif'}", "--report", f"text:{tmp_path / 'report.txt'}",
                      str(tmp_path / "src"))
    assert run.code == 1, run.stderr
    for name in ("report.json", "report.sarif", "report.txt"):
        report = tmp_path / name
        assert creds.secret_access_key in report.read_text(encoding="utf-8")
        assert _mode(report) == 0o600, name


def test_audit_log_is_created_private(tmp_path: Path) -> None:
    with _umask(0o022):
        log = AuditLog(tmp_path / "state" / "audit.jsonl", dry_run=True)
        log.event("plan", targets=0)
    assert _mode(log.path) == 0o600
    assert _mode(log.path.parent) == 0o700


def test_org_state_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "org.sqlite"
    with _umask(0o022):
        state = State(path)
        state.add("https://example.invalid/a.git")
        state.close()
    written = [p for p in tmp_path.iterdir() if p.name.startswith("org.sqlite")]
    assert path in written
    assert {p.name: _mode(p) for p in written} == {p.name: 0o600 for p in written}


HOSTILE_NAMES = [
    "[review this](https:evil.example)",
    "![pixel](https:evil.example)",
    "<https:evil.example>",
    "<img src=x onerror=alert(1)>",
    "a|b|c",
    "``tick`` `",
]


def test_step_summary_file_names_cannot_become_links_or_images(tmp_path: Path, rng: random.Random) -> None:
    repo = GitRepo(tmp_path / "repo")
    names = [f"{name}.ini" for name in HOSTILE_NAMES]
    repo.commit("hostile names", {name: ini(fakes.temporary(rng)) for name in names})
    summary = tmp_path / "summary.md"
    run = stsleak("scan", "--format", "github", ".", cwd=repo.path, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert run.code == 1, run.stderr
    html = MarkdownIt("commonmark").enable("table").render(summary.read_text(encoding="utf-8"))
    assert "<a " not in html and "<img" not in html and "<script" not in html
    # One row per finding, three cells each: no name split a cell or ended the table.
    assert html.count("<tr>") == 1 + len(names) and html.count("<td>") == 3 * len(names)
    for name in HOSTILE_NAMES:
        shown = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        assert f"<code>{shown}.ini:2</code>" in html, name
