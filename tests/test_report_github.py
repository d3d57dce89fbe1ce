"""`--format github`: workflow-command annotations and the step summary, escaped against the repo."""

from __future__ import annotations

import random
from pathlib import Path

from scanner.model import Finding, ReportFormat, ScanResult, ScanStats
from scanner.reports import REPORTERS, render
from scanner.reports.github import annotation, append_step_summary, escape_property, step_summary
from scanner.testing import fakes
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)
from tests.support.core import ruleset
from tests.support.programs import ini


def _finding(creds: fakes.FakeCredentials, path: str | None = "a/creds.ini", **extra: str) -> Finding:
    return Finding(rule="aws-temporary-credentials", access_key_id=creds.access_key_id,
                   secret=creds.secret_access_key, session_token=creds.session_token, account_id=None,
                   path=path, line=3, **extra)  # type: ignore[arg-type]


def test_every_format_has_a_reporter() -> None:
    assert set(REPORTERS) == set(ReportFormat)


def test_annotation_names_file_line_and_rule_and_redacts(creds: fakes.FakeCredentials) -> None:
    line = annotation(_finding(creds))
    assert line.startswith("::error file=a/creds.ini,line=3,title=stsleak%3A aws-temporary-credentials::")
    assert creds.access_key_id in line
    assert creds.secret_access_key not in line and str(creds.session_token) not in line
    assert creds.secret_access_key in annotation(_finding(creds), show_secrets=True)


def test_hostile_path_cannot_forge_a_command_or_a_property(creds: fakes.FakeCredentials) -> None:
    path = "x,line=99::\n::error file=evil.txt::forged%0A"
    line = annotation(_finding(creds, path))
    assert line.count("\n") == 0 and line.count("::") == 2  # one command: "::error" and its "::"
    assert f"file={escape_property(path)}," in line
    assert "%2Cline=99%3A%3A%0A%3A%3Aerror" in line and "%250A" in line


def test_blob_without_path_is_an_annotation_without_file(creds: fakes.FakeCredentials) -> None:
    line = annotation(_finding(creds, None, blob="ab" * 20))
    assert line.startswith("::error title=") and "file=" not in line and f"blob {'ab' * 20}" in line


def test_step_summary_table_escapes_markdown(creds: fakes.FakeCredentials) -> None:
    result = ScanResult([_finding(creds, "a|b<script>.ini")], ScanStats())
    text = step_summary(result)
    assert text.startswith("### stsleak: 1 finding\n")
    assert "| `a\\|b<script>.ini:3` |" in text and creds.access_key_id in text  # a code span: literal text
    assert step_summary(ScanResult([], ScanStats())) == "### stsleak: 0 findings\n\n"


def test_append_step_summary_only_inside_actions(creds: fakes.FakeCredentials, tmp_path: Path) -> None:
    result = ScanResult([_finding(creds)], ScanStats())
    append_step_summary(result, {})  # no GITHUB_STEP_SUMMARY: nothing written, no error
    target = tmp_path / "summary.md"
    target.write_text("before\n")
    append_step_summary(result, {"GITHUB_STEP_SUMMARY": str(target)})
    assert target.read_text().startswith("before\n### stsleak: 1 finding")


def test_render_github_through_the_registry(creds: fakes.FakeCredentials) -> None:
    result = ScanResult([_finding(creds), _finding(creds, "b.ini")], ScanStats())
    assert render("github", result, ruleset()).count("::error ") == 2
    assert render("github", ScanResult([], ScanStats()), ruleset()) == ""


def test_cli_format_github_with_a_sarif_report_too(tmp_path: Path, rng: random.Random) -> None:
    creds = fakes.temporary(rng)
    (tmp_path / "creds.ini").write_text(ini(creds))
    summary = tmp_path / "summary.md"
    run = stsleak("scan", "--format", "github", "--report", "sarif:out.sarif", ".", cwd=tmp_path,
                  env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert run.code == 1 and run.stdout.startswith("::error file=creds.ini,line=2,")
    assert (tmp_path / "out.sarif").is_file() and "creds.ini:2" in summary.read_text()
    bad = stsleak("scan", "--report", "html:x", ".", cwd=tmp_path)
    assert bad.code == 2 and "FORMAT:FILE" in bad.stderr
