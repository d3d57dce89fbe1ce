"""Issue 26 #8: one missing repository in `org scan @repos.txt` is reported for that repository and the
rest are scanned; a failed clone shows git's real reason, not the boilerplate of its last line;
`org scan --help` has its own examples, `org status --help` documents --state and --format."""

from __future__ import annotations

import argparse
from pathlib import Path

from scanner.cli import build_parser
from scanner.cli.parser import subcommands
from scanner.org.clone import failure_reason
from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import ini


def test_a_missing_repository_is_failed_alone(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    good = GitRepo(tmp_path / "good")
    commit = good.commit("leak", {"aws.ini": ini(creds)})
    gone = tmp_path / "renamed-last-week"
    no_repo = tmp_path / "just-files"
    no_repo.mkdir()
    (no_repo / "notes.txt").write_text("hello\n")
    never_served = f"file://{tmp_path / 'never-served.git'}"
    listing = tmp_path / "repos.txt"
    listing.write_text(f"# the organisation\n{gone}\n{good.path}\n{never_served}\n{no_repo}\n")
    state = tmp_path / "state.sqlite"
    run = stsleak("org", "scan", f"@{listing}", "--workers", "1", "--state", str(state), "--format", "json",
                  cwd=tmp_path)
    assert run.code == 1, run.stderr  # findings win over failures
    report = run.json()
    rows = {r["repository"]: r for r in report["repositories"]}
    assert rows[str(good.path.resolve())]["status"] == "done"
    (finding,) = report["findings"]
    assert finding["access_key_id"] == creds.access_key_id and finding["commit"] == commit
    missing = rows[str(gone.resolve())]
    assert missing["status"] == "failed" and "no such repository" in missing["error"] and str(gone) in missing["error"]
    assert rows[str(no_repo.resolve())]["status"] == "failed"
    assert "no git repository in" in rows[str(no_repo.resolve())]["error"]
    clone = rows[never_served]
    assert clone["status"] == "failed"
    assert "does not appear to be a git repository" in clone["error"], clone["error"]
    assert "repository exists" not in clone["error"] and "Could not read" not in clone["error"]
    warnings = [line for line in run.stderr.splitlines() if line.startswith("stsleak: warning:")]
    assert len([w for w in warnings if "recorded as failed" in w]) == 2, run.stderr
    assert "Traceback" not in run.stderr
    status = stsleak("org", "status", "--state", str(state), "--format", "json")
    assert status.json()["counts"] == {"done": 1, "failed": 3}


def test_only_missing_repositories_exit_2(tmp_path: Path) -> None:
    run = stsleak("org", "scan", str(tmp_path / "nothing-here"), "--workers", "1",
                  "--state", str(tmp_path / "s.sqlite"), cwd=tmp_path)
    assert run.code == 2, run.stderr
    assert "no such repository" in run.stdout and "failed" in run.stdout


def test_git_s_reason_not_its_last_line() -> None:
    file_url = ("Cloning into bare repository 'mirror.git'...\n"
                "fatal: '/srv/git/app.git' does not appear to be a git repository\n"
                "fatal: Could not read from remote repository.\n\n"
                "Please make sure you have the correct access rights\nand the repository exists.\n")
    assert failure_reason(file_url, 128) == "'/srv/git/app.git' does not appear to be a git repository"
    ssh = ("git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.\n\n"
           "Please make sure you have the correct access rights\nand the repository exists.\n")
    assert failure_reason(ssh, 128) == "git@github.com: Permission denied (publickey)."
    refused = "fatal: unable to connect to 127.0.0.1:\n127.0.0.1[0: 127.0.0.1]: errno=Connection refused\n"
    assert failure_reason(refused, 128) == ("unable to connect to 127.0.0.1: 127.0.0.1[0: 127.0.0.1]: "
                                            "errno=Connection refused")
    https = "remote: Repository not found.\nfatal: repository 'https://bot:s3cr3t@github.com/acme/app.git/' not found\n"
    reason = failure_reason(https, 128)
    assert "Repository not found" in reason and "s3cr3t" not in reason and "github.com/acme/app.git" in reason
    assert failure_reason("", 128) == "exit code 128"


def _help_of(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    return {action.option_strings[0]: action.help for action in parser._actions
            if action.option_strings and action.option_strings[0] != "-h"}


def test_org_help_has_examples_and_documents_every_option() -> None:
    scan = stsleak("org", "scan", "--help")
    assert scan.code == 0 and "examples:\n" in scan.stdout
    assert "stsleak org scan --workers 4 @repos.txt" in scan.stdout.split("examples:\n", 1)[1]
    status = stsleak("org", "status", "--help")
    assert status.code == 0 and "examples:\n" in status.stdout
    org = subcommands(build_parser("org"))["org"]
    assert all(_help_of(subcommands(org)["status"]).values()), _help_of(subcommands(org)["status"])
    assert _help_of(subcommands(org)["scan"])["--format"]
    hook = _help_of(subcommands(build_parser("install-hook"))["install-hook"])
    assert hook["--type"] and "pre-push" in hook["--type"], hook
