"""What a person sees after a scan: next steps for a blocked commit, a CI failure, a live credential."""

from __future__ import annotations

from scanner.model import Finding, ScanMode, ScanResult, ScanStats, Verification
from scanner.reports.advice import next_steps
from scanner.reports.text import render_text
from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import ini


def test_blocked_commit_says_what_to_do(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("init", {"README.md": "hi\n"})
    repo.write("config/aws.ini", ini(creds))
    repo.git("add", "-A")
    run = stsleak("scan", "--staged", cwd=repo.path)
    assert run.code == 1, run.stderr
    assert "Commit blocked" in run.stdout
    assert "git restore --staged config/aws.ini" in run.stdout
    assert "rotate it" in run.stdout and "stsleak:allow" in run.stdout and "--write-baseline" in run.stdout
    assert "history" not in run.stdout.split("Commit blocked")[1]  # the CI advice is not for a commit


def test_ci_report_ends_with_baseline_and_history_advice(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("leak", {"aws.ini": ini(creds)})
    (repo.path / "aws.ini").unlink()
    repo.commit("remove it again")
    run = stsleak("scan", "--history", str(repo.path))
    assert run.code == 1, run.stderr
    last_lines = run.stdout.rstrip().splitlines()[-2:]
    assert "--baseline" in last_lines[0]
    assert "does not remove a credential from git history" in last_lines[1]
    assert "Commit blocked" not in run.stdout


def test_no_advice_in_machine_formats_or_quiet_or_clean_runs(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.write("aws.ini", ini(creds))
    json_run = stsleak("scan", "--format", "json", str(repo.path))
    assert "--baseline" not in json_run.stdout and json_run.json()["findings"]
    quiet = stsleak("scan", "--quiet", str(repo.path))
    assert "--baseline" not in quiet.stdout and creds.access_key_id in quiet.stdout
    (repo.path / "aws.ini").unlink()
    clean = stsleak("scan", str(repo.path))
    assert clean.code == 0 and "--baseline" not in clean.stdout


def _live(principal: str) -> Finding:
    finding = Finding(rule="aws-temporary-credentials", access_key_id="ASIAIOSFODNN7EXAMPLE", secret=None,
                      session_token=None, account_id=None, path="a.ini", line=1)
    finding.verification = Verification(status="live", principal_type=principal)
    return finding


def test_live_credentials_get_steps_for_their_principal_type() -> None:
    for principal, expected in (("assumed-role", "stsleak revoke --from"), ("iam-user", "deactivate"),
                                ("federated-user", "does not end GetFederationToken sessions"),
                                ("root", "SCP")):
        result = ScanResult([_live(principal)], ScanStats(), mode=ScanMode.HISTORY)
        steps = next_steps(result)
        assert any(step.startswith(f"Live {principal}:") and expected in step for step in steps), steps
        assert render_text(result).rstrip().endswith(steps[-1])


def test_expired_credentials_get_no_live_steps() -> None:
    finding = _live("assumed-role")
    assert finding.verification is not None
    finding.verification.status = "expired"
    steps = next_steps(ScanResult([finding], ScanStats(), mode=ScanMode.FILES))
    assert not any(step.startswith("Live") for step in steps)
