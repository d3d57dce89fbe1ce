"""Issue 26 #1 and #2: a usage error is one line (`stsleak: error: ...; see stsleak scan --help`, exit 2)
with plain choice names; "did you mean" offers only close spellings of harmless options, and the flags
of other scanners (gitleaks, trufflehog, detect-secrets) get what stsleak does instead.

In-process (scanner.cli.main): only parsing and output are checked."""

from __future__ import annotations

import pytest

from scanner.cli import main
from scanner.cli.parser import NEVER_SUGGESTED, closest


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err  # no usage block before it
    assert lines[0].startswith("stsleak: error: "), err
    return lines[0]


@pytest.mark.parametrize(("argv", "said"), [
    (["scan", "--history", "--staged"], "--history and --staged cannot be used together"),
    (["scan", "--report", "xml:a.xml"], "argument --report: not FORMAT:FILE with FORMAT one of text, json, sarif"),
    (["scan", "--max-file-size", "10Q"], "argument --max-file-size: not a size: '10Q'"),
    (["scan", "--format", "xml"], "invalid choice 'xml'; choose from text, json, sarif, github"),
    (["revoke", "--role", "etl", "--scope", "everything"], "invalid choice 'everything'; choose from role, session"),
    ([], "a command is required"),
    (["org"], "a subcommand is required"),
])
def test_a_usage_error_is_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], said: str) -> None:
    line = _error(capsys, *argv)
    assert said in line, line
    assert "ReportFormat" not in line and "usage:" not in line
    command = " ".join(argv[:1]) if argv and argv[0] != "org" else "org" if argv else ""
    assert line.endswith(f"see stsleak{' ' + command if command else ''} --help"), line


def test_the_help_pointer_names_the_command_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    assert _error(capsys, "org", "scan", "--workrs", "2", "x").endswith(
        "unknown option: --workrs (did you mean --workers?); see stsleak org scan --help")
    assert _error(capsys, "install-hook", "--type", "pre-pushh").endswith(
        "invalid choice 'pre-pushh' (did you mean pre-push?); choose from pre-commit, pre-push, pre-receive; "
        "see stsleak install-hook --help")


@pytest.mark.parametrize(("argv", "hint"), [
    (["scan", "--histroy", "."], "did you mean --history?"),
    (["scan", "--verfy", "."], "did you mean --verify?"),
    (["scan", "--format", "jsn"], "did you mean json?"),
    (["scna", "."], "did you mean scan?"),
])
def test_close_spellings_are_suggested(capsys: pytest.CaptureFixture[str], argv: list[str], hint: str) -> None:
    assert f"({hint})" in _error(capsys, *argv)


@pytest.mark.parametrize(("flag", "hint"), [
    ("--redact", "secrets are redacted by default"),
    ("--json", "use --format json"),
    ("--exit-code", "stsleak exits 1 on findings"),
    ("--log-opts=--all", "use --since REV"),
    ("--since-commit", "use --since REV"),
    ("--no-git", "stsleak scan PATH"),
    ("--only-verified", "use --verify --fail-on live"),
])
def test_other_scanners_flags_get_what_stsleak_does(capsys: pytest.CaptureFixture[str], flag: str,
                                                    hint: str) -> None:
    line = _error(capsys, "scan", flag, ".")
    assert hint in line, line
    assert "did you mean" not in line, line  # never --strict, --version or --exclude


@pytest.mark.parametrize("typo", ["--stric", "--show-secret", "--ye", "--yess", "--revok", "--forc", "--refres"])
def test_nothing_dangerous_is_suggested(capsys: pytest.CaptureFixture[str], typo: str) -> None:
    command = "install-hook" if typo == "--forc" else "scan"
    line = _error(capsys, command, typo)
    assert "did you mean" not in line, line
    assert not any(option in line.split("; see")[0].replace(typo, "") for option in NEVER_SUGGESTED), line


def test_no_abbreviation_of_a_dangerous_option(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse takes a unique prefix for the option: never for one that reveals, acts or replaces."""
    for argv in (["scan", "--show", "."], ["scan", "--verify", "--revoke", "--ye", "."],
                 ["scan", "--no-supp", "."], ["install-hook", "--forc"]):
        assert "unknown option" in _error(capsys, *argv), argv


def test_closest_takes_only_one_or_two_edits() -> None:
    options = ["--history", "--strict", "--version", "--exclude", "--format"]
    assert closest("--histroy", options) == "--history"
    assert closest("--formt", options) == "--format"
    for far in ("--redact", "--json", "--exit-code", "--x"):
        assert closest(far, options) is None, far
