"""AWS failures: one clear line, the right exit code, never a traceback; secrets never shown."""

from __future__ import annotations

import json
import random
import socket
from pathlib import Path

from scanner.testing import fakes
from tests.aws.conftest import ALLOW_ALL, World, report_row
from tests.support.cli import stsleak


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _leak_files(world: World, folder: Path, *roles: str) -> list:
    folder.mkdir(exist_ok=True)
    leaks = []
    for role in roles:
        world.make_role(role)
        leaks.append(world.assume(role, f"s-{role}"))
        (folder / f"{role}.json").write_text(leaks[-1].assume_role_json())
    return leaks


def test_leaked_credentials_sign_get_caller_identity_only(world: World, tmp_path: Path) -> None:
    leaks = _leak_files(world, tmp_path / "src", "etl")
    bad = fakes.temporary(random.Random(7))
    (tmp_path / "src" / "bad.ini").write_text(
        f"aws_access_key_id={bad.access_key_id}\naws_secret_access_key={bad.secret_access_key}\n"
        f"aws_session_token={bad.session_token}\n")
    world.enforce_auth()
    world.start_recording()
    run = stsleak("scan", "--verify", "--revoke", "--yes", "--format", "json", "--audit-log", str(world.audit_log),
                  str(tmp_path / "src"), env=world.env())
    assert run.code == 3, run.stderr
    calls = world.recorded()
    leaked_ids = {leak.access_key_id for leak in leaks} | {bad.access_key_id}
    by_leaked = [(key, action) for key, action in calls if key in leaked_ids]
    assert by_leaked and all(action == "GetCallerIdentity" for _, action in by_leaked)
    assert by_leaked.count((bad.access_key_id, "GetCallerIdentity")) == 2  # a 403 is retried once, no more
    assert by_leaked.count((leaks[0].access_key_id, "GetCallerIdentity")) == 1
    assert {key for key, action in calls if action == "PutRolePolicy"} == {world.operator_key[0]}


def test_no_secret_anywhere_without_show_secrets(world: World, tmp_path: Path) -> None:
    leaks = _leak_files(world, tmp_path / "src", "etl", "web")
    world.enforce_auth()
    report = tmp_path / "report.json"
    run = stsleak("scan", "--verify", "--revoke", "--yes", "--format", "json", "-o", str(report),
                  "--audit-log", str(world.audit_log), str(tmp_path / "src"), env=world.env())
    assert run.code == 3, run.stderr
    text_run = stsleak("scan", "--verify", str(tmp_path / "src"), env=world.env())
    revoke = stsleak("revoke", "--from", str(report), "--audit-log", str(world.audit_log), env=world.env())
    everything = "".join([run.stdout, run.stderr, report.read_text(), world.audit_log.read_text(),
                          text_run.stdout, text_run.stderr, revoke.stdout, revoke.stderr])
    for leak in leaks:
        assert leak.access_key_id in everything  # key ids may be shown
        assert leak.secret not in everything and leak.token not in everything
        assert leak.token[:40] not in everything
    shown = stsleak("scan", "--verify", "--show-secrets", "--format", "json", str(tmp_path / "src"), env=world.env())
    assert leaks[0].secret in shown.stdout


def test_no_operator_credentials(world: World, tmp_path: Path) -> None:
    _leak_files(world, tmp_path / "src", "etl")
    world.enforce_auth()
    run = stsleak("scan", "--verify", "--format", "json", str(tmp_path / "src"), env=world.env(operator=False))
    assert run.code == 3, run.stderr
    (finding,) = run.json()["findings"]
    assert finding["verification"]["status"] == "live"  # needs only the leaked set
    assert finding["verification"]["role_arn"] is None
    assert finding["verification"]["note"] == "role details unknown: no operator credentials"
    assert "role details (full ARN, RoleId) unknown: no operator AWS credentials" in run.stderr
    # The report of the scan still comes out, with one warning line saying why nothing was revoked;
    # the live credential's revocation failed (it could not even be planned): 4, never 3 (issue 21 #6).
    revoke = stsleak("scan", "--verify", "--revoke", "--format", "json", str(tmp_path / "src"),
                     env=world.env(operator=False))
    assert revoke.code == 4, revoke.stderr
    assert [f["verification"]["status"] for f in revoke.json()["findings"]] == ["live"]
    assert [f["revocation"]["status"] for f in revoke.json()["findings"]] == ["failed"]
    warnings = [line for line in revoke.stderr.splitlines() if line.startswith("stsleak: warning:")]
    assert len(warnings) == 1 and "revocation not done: revoke needs the operator's own AWS" in warnings[0]
    assert "Traceback" not in revoke.stderr
    alone = stsleak("revoke", "--role", "etl", env=world.env(operator=False))
    assert alone.code == 2 and alone.stderr.strip().startswith("stsleak: error: revoke needs the operator's own AWS")


def test_operator_denied_on_one_role_others_go_on(world: World, tmp_path: Path) -> None:
    world.make_role("etl")
    world.make_role("web")
    _, key, secret = world.make_user("limited", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "arn:aws:iam::123456789012:role/etl"},
        {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]})
    world.enforce_auth()
    env = {**world.env(operator=False), "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    run = stsleak("revoke", "--role", "web", "--role", "etl", "--yes", "--audit-log", str(world.audit_log), env=env)
    assert run.code == 4
    assert "revoked: arn:aws:iam::123456789012:role/etl" in run.stdout
    (error,) = [line for line in run.stderr.splitlines() if line.startswith("stsleak: error:")]
    assert error.startswith("stsleak: error: web: failed: the operator may not call iam:GetRole on web")
    assert "Traceback" not in run.stderr
    assert "AWSRevokeOlderSessions" in world.role_policies("etl")
    assert world.role_policies("web") == ["S3FullAccess"]
    denied = [json.loads(line) for line in world.audit_log.read_text().splitlines() if '"AccessDenied' in line]
    assert denied and denied[0]["operation"] == "iam:GetRole" and denied[0]["params"] == {"RoleName": "web"}


def test_missing_role(world: World) -> None:
    world.enforce_auth()
    run = stsleak("revoke", "--role", "ghost", "--audit-log", str(world.audit_log), env=world.env())
    assert run.code == 4
    assert "ghost does not exist in the operator's account 123456789012" in run.stderr


def test_endpoint_down(world: World, tmp_path: Path) -> None:
    _leak_files(world, tmp_path / "src", "etl")
    down = _closed_port_url()
    run = stsleak("scan", "--verify", "--fail-on", "live", "--format", "json", "--endpoint-url", down,
                  str(tmp_path / "src"), env=world.env())
    assert run.code == 2, run.stderr
    assert run.json()["findings"][0]["verification"]["status"] == "error"
    assert "verification failed: network error" in run.stderr and "Traceback" not in run.stderr
    default = stsleak("scan", "--verify", "--endpoint-url", down, str(tmp_path / "src"), env=world.env())
    assert default.code == 1  # findings, none known live
    revoke = stsleak("revoke", "--role", "etl", "--endpoint-url", down, "--audit-log", str(world.audit_log),
                     env=world.env())
    assert revoke.code == 2
    assert revoke.stderr.startswith("stsleak: error: the operator's AWS credentials do not work: network error")
    assert len(revoke.stderr.strip().splitlines()) == 1


def test_canary_accounts_are_not_verified(world: World, tmp_path: Path) -> None:
    rng = random.Random(3)
    key = fakes.key_id("AKIA", rng, account=52310077262)  # a canarytokens.org account
    (tmp_path / "c.ini").write_text(f"aws_access_key_id={key}\naws_secret_access_key={fakes.secret(rng)}\n")
    down = _closed_port_url()  # any call would come back as "error"
    run = stsleak("scan", "--verify", "--format", "json", "--endpoint-url", down, str(tmp_path), env=world.env())
    verification = run.json()["findings"][0]["verification"]
    assert verification["status"] == "skipped" and "canarytokens.org" in verification["error"]
    assert verification["account"] == "052310077262"
    again = stsleak("scan", "--verify", "--verify-canaries", "--format", "json", "--endpoint-url", down,
                    str(tmp_path), env=world.env())
    assert again.json()["findings"][0]["verification"]["status"] == "error"


def test_revoke_usage_errors(world: World, tmp_path: Path) -> None:
    assert "--revoke needs --verify" in stsleak("scan", "--revoke", str(tmp_path)).stderr
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"version": 1, "findings": [{"access_key_id": "AKIAIOSFODNN7EXAMPLE"}]}))
    run = stsleak("revoke", "--from", str(report), env=world.env())
    assert run.code == 2 and "has no verification results" in run.stderr
    world.make_user("x", ALLOW_ALL)
    profile = stsleak("revoke", "--role", "etl", "--profile", "nope", env=world.env())
    assert profile.code == 2 and "nope" in profile.stderr and "Traceback" not in profile.stderr


def test_role_in_another_account_is_not_touched(world: World, tmp_path: Path) -> None:
    world.make_role("etl")  # same name in the operator's account: must not be hit by mistake
    world.enforce_auth()
    report = tmp_path / "report.json"
    key = fakes.key_id("ASIA", random.Random(2), account=999999999999)
    report.write_text(json.dumps({"version": 1, "findings": [report_row(
        key, "arn:aws:sts::999999999999:assumed-role/etl/s1", "assumed-role", "AROAEXAMPLE:s1",
        role_name="etl", session_name="s1")]}))
    run = stsleak("revoke", "--from", str(report), "--yes", "--audit-log", str(world.audit_log), env=world.env())
    assert run.code == 4
    assert "etl is in account 999999999999 but the operator's credentials are for 123456789012" in run.stderr
    assert world.role_policies("etl") == ["S3FullAccess"]
