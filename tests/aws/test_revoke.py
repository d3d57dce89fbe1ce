"""Revocation against a real moto server over HTTP; the CLI runs as a subprocess."""

from __future__ import annotations

import json
import os
import pty
import random
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from scanner.revocation.policy import (
    ROLE_POLICY_NAME,
    iso_z,
    leak_mark,
    session_policy,
    session_policy_name,
    statement_id,
)
from scanner.testing import fakes
from tests.aws.conftest import World, report_row
from tests.support.cli import Run, stsleak

CUTOFF = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _can_read(world: World, leak) -> bool:
    s3 = leak.client(world.url, "s3")
    try:
        s3.list_buckets()
        return True
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "AccessDenied"
        return False


def _scan_revoke(world: World, path: Path, *extra: str, operator: bool = True) -> Run:
    return stsleak("scan", "--verify", "--revoke", "--format", "json", "--audit-log", str(world.audit_log),
                   *extra, str(path), env=world.env(operator))


def _audit(world: World) -> list[dict]:
    return [json.loads(line) for line in world.audit_log.read_text().splitlines()]


@pytest.fixture
def leaked(world: World, tmp_path: Path):
    """Role etl (leaked, two sessions), role decoy (a session that did not leak), auth on."""
    world.make_role("etl", path="/data/")
    world.make_role("decoy")
    leaks = [world.assume("etl", "laptop"), world.assume("etl", "ci")]
    decoy = world.assume("decoy", "fine")
    world.enforce_auth()
    folder = tmp_path / "src"
    folder.mkdir()
    for i, leak in enumerate(leaks):
        (folder / f"leak{i}.json").write_text(leak.assume_role_json())
    return folder, leaks, decoy


def test_dry_run_changes_nothing(world: World, leaked) -> None:
    folder, leaks, _ = leaked
    run = _scan_revoke(world, folder)
    assert run.code == 3, run.stderr
    assert "DRY RUN" in run.stderr and "AWSRevokeOlderSessions" in run.stderr
    assert "trusted by:        AWS:arn:aws:iam::123456789012:user/developer" in run.stderr
    revocations = [f["revocation"] for f in run.json()["findings"]]
    assert [r["status"] for r in revocations] == ["planned", "planned"]
    assert revocations[0]["target"] == "arn:aws:iam::123456789012:role/data/etl"
    assert revocations[0]["trusted_principals"] == ["AWS:arn:aws:iam::123456789012:user/developer"]
    assert revocations[0]["instance_profiles"] == []
    assert world.role_policies("etl") == ["S3FullAccess"]
    assert all(_can_read(world, leak) for leak in leaks)
    operations = [r["operation"] for r in _audit(world) if r["event"] == "call"]
    assert "iam:PutRolePolicy" not in operations and "iam:GetRole" in operations


def test_yes_applies_role_scope_and_leaves_decoys(world: World, leaked) -> None:
    folder, leaks, decoy = leaked
    before = datetime.now(UTC).replace(microsecond=0)
    run = _scan_revoke(world, folder, "--yes")
    assert run.code == 3, run.stderr
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["status"] == "revoked" and revocation["scope"] == "role"
    assert revocation["policy_name"] == ROLE_POLICY_NAME
    cutoff = revocation["cutoff"]
    assert CUTOFF.match(cutoff)
    # AWS's clock (the Date header, whole seconds) plus one second: nothing issued before the call is spared
    assert before <= datetime.fromisoformat(cutoff.replace("Z", "+00:00")) <= datetime.now(UTC) + timedelta(seconds=1)
    # The exact document: on AWS, sessions issued after the cutoff keep working (moto ignores DateLessThan).
    # The Sid records the run and the leaked keys seen live before the cutoff (how a later run knows).
    run_id = re.search(r"\(run ([0-9a-f]{12})\)", run.stderr).group(1)  # type: ignore[union-attr]
    marks = "".join(leak_mark(leak.access_key_id) for leak in leaks)
    assert world.role_policy("etl", ROLE_POLICY_NAME) == {
        "Version": "2012-10-17",
        "Statement": [{"Sid": f"StsleakOlderSessionsRun{run_id}Keys{marks}", "Effect": "Deny", "Action": ["*"],
                       "Resource": ["*"], "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}}]}
    assert not any(_can_read(world, leak) for leak in leaks)
    assert world.role_policies("decoy") == ["S3FullAccess"] and _can_read(world, decoy)
    records = _audit(world)
    calls = [(r["operation"], r["result"]) for r in records if r["event"] == "call"]
    assert ("iam:PutRolePolicy", "ok") in calls
    assert calls[-2:] == [("iam:PutRolePolicy", "ok"), ("iam:GetRolePolicy", "ok")]  # applied, then read back
    assert [r["status"] for r in records if r["event"] == "outcome"] == ["revoked"]


def test_second_revoke_refreshes_the_time(world: World, leaked) -> None:
    first = stsleak("revoke", "--role", "etl", "--yes", "--audit-log", str(world.audit_log), env=world.env())
    assert first.code == 0, first.stderr
    one = world.role_policy("etl", ROLE_POLICY_NAME)["Statement"][0]["Condition"]["DateLessThan"]
    time.sleep(1.1)
    second = stsleak("revoke", "--role", "arn:aws:iam::123456789012:role/data/etl", "--yes",
                     "--audit-log", str(world.audit_log), env=world.env())
    assert second.code == 0, second.stderr
    assert "revoked: arn:aws:iam::123456789012:role/data/etl" in second.stdout
    two = world.role_policy("etl", ROLE_POLICY_NAME)["Statement"][0]["Condition"]["DateLessThan"]
    assert two["aws:TokenIssueTime"] > one["aws:TokenIssueTime"]
    assert sorted(world.role_policies("etl")) == [ROLE_POLICY_NAME, "S3FullAccess"]


def test_session_scope_statement_and_pruning(world: World, leaked, tmp_path: Path) -> None:
    folder, leaks, _ = leaked
    role = world.roles["etl"]
    iam = world.operator_client("iam")
    now = datetime.now(UTC)
    stale = f"{role['RoleId']}:long-gone"  # revoked 12 h and 1 min ago: no session it denies can live
    recent = f"{role['RoleId']}:recent"  # 5 min ago: kept
    for user_id, age in ((stale, timedelta(hours=12, minutes=1)), (recent, timedelta(minutes=5))):
        iam.put_role_policy(RoleName="etl", PolicyName=session_policy_name(user_id),
                            PolicyDocument=json.dumps(session_policy(user_id, iso_z(now - age))))
    (folder / "leak1.json").unlink()  # only the "laptop" session leaked
    run = _scan_revoke(world, folder, "--scope", "session", "--yes")
    assert run.code == 3, run.stderr
    (finding,) = run.json()["findings"]
    assert finding["revocation"]["status"] == "revoked" and finding["revocation"]["scope"] == "session"
    assert "every session named 'laptop'" in run.stderr and "pruned 1 expired session policy" in run.stderr
    cutoff = finding["revocation"]["cutoff"]
    laptop = f"{role['RoleId']}:laptop"
    assert finding["revocation"]["policy_name"] == session_policy_name(laptop)
    run_id = re.search(r"\(run ([0-9a-f]{12})\)", run.stderr).group(1)  # type: ignore[union-attr]
    sid = f"{statement_id(laptop)}Run{run_id}Keys{leak_mark(leaks[0].access_key_id)}"  # run, leaked key (Stamp)
    assert world.role_policy("etl", session_policy_name(laptop)) == {"Version": "2012-10-17", "Statement": [{
        "Sid": sid, "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
        "Condition": {"StringEquals": {"aws:userid": laptop}, "DateLessThan": {"aws:TokenIssueTime": cutoff}}}]}
    # moto does not supply aws:userid to its evaluator (so the other session "ci" is denied too in moto);
    # on AWS only "laptop" is cut: that rests on the exact statement pinned above.
    assert not _can_read(world, leaks[0])
    assert sorted(world.role_policies("etl")) == sorted(
        ["S3FullAccess", session_policy_name(recent), session_policy_name(laptop)])


def test_akia_key_is_deactivated(world: World, tmp_path: Path) -> None:
    _, key, secret = world.make_user("ci-bot", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    world.enforce_auth()
    (tmp_path / "settings.ini").write_text(f"[ci]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    run = _scan_revoke(world, tmp_path / "settings.ini", "--yes")
    assert run.code == 3, run.stderr
    (finding,) = run.json()["findings"]
    assert finding["verification"]["principal_type"] == "iam-user"
    assert finding["revocation"]["status"] == "revoked" and finding["revocation"]["scope"] == "access-key"
    keys = world.operator_client("iam").list_access_keys(UserName="ci-bot")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(key, "Inactive")]
    operations = [r["operation"] for r in _audit(world) if r["event"] == "call"]
    assert operations.index("iam:UpdateAccessKey") < operations.index("iam:PutUserPolicy")
    assert operations[-1] == "iam:GetUserPolicy"  # each change read back
    # deactivating the key does not end GetSessionToken/GetFederationToken sessions made with it:
    policy = world.operator_client("iam").get_user_policy(UserName="ci-bot", PolicyName=ROLE_POLICY_NAME)
    run_id = re.search(r"\(run ([0-9a-f]{12})\)", run.stderr).group(1)  # type: ignore[union-attr]
    assert policy["PolicyDocument"]["Statement"] == [{
        "Sid": f"StsleakOlderSessionsRun{run_id}Keys{leak_mark(key)}", "Effect": "Deny", "Action": ["*"],
        "Resource": ["*"], "Condition": {"DateLessThan": {"aws:TokenIssueTime": finding["revocation"]["cutoff"]}}}]
    assert "role sessions minted with it (AssumeRole, up to 12 h) are not reached" in run.stderr


def test_unmodifiable_roles_are_refused_before_any_call(world: World) -> None:
    world.enforce_auth()
    run = stsleak("revoke", "--yes", "--audit-log", str(world.audit_log),
                  "--role", "arn:aws:iam::123456789012:role/aws-service-role/elasticbeanstalk.amazonaws.com/"
                            "AWSServiceRoleForElasticBeanstalk",
                  "--role", "AWSReservedSSO_AdministratorAccess_0123456789abcdef", env=world.env())
    assert run.code == 4
    assert "service-linked role" in run.stdout and "IAM Identity Center" in run.stdout
    assert run.stderr.count("stsleak: error:") == 2 and "Traceback" not in run.stderr
    operations = [r["operation"] for r in _audit(world) if r["event"] == "call"]
    assert operations == ["sts:GetCallerIdentity"]


def test_leaked_sso_session_is_refused(world: World, tmp_path: Path) -> None:
    world.make_role("AWSReservedSSO_Admin_0123456789abcdef", path="/aws-reserved/sso.amazonaws.com/")
    leak = world.assume("AWSReservedSSO_Admin_0123456789abcdef", "alice@example.com")
    world.enforce_auth()
    (tmp_path / "sso.ini").write_text(leak.ini())
    run = _scan_revoke(world, tmp_path / "sso.ini", "--yes")
    assert run.code == 4  # a refused revocation: CI can tell it from a revoked one (3)
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["status"] == "refused" and "Identity Center" in revocation["message"]
    assert "revocation refused" in run.stderr
    assert world.role_policies("AWSReservedSSO_Admin_0123456789abcdef") == ["S3FullAccess"]


def test_revoke_from_report_without_rescanning(world: World, leaked, tmp_path: Path) -> None:
    folder, leaks, _ = leaked
    report = tmp_path / "report.json"
    scan = stsleak("scan", "--verify", "--format", "json", "-o", str(report), str(folder), env=world.env())
    assert scan.code == 3, scan.stderr
    run = stsleak("revoke", "--from", str(report), "--yes", "--format", "json",
                  "--audit-log", str(world.audit_log), env=world.env())
    assert run.code == 0, run.stderr
    body = run.json()
    assert [r["status"] for r in body["revocations"]] == ["revoked"]
    assert [f["revocation"]["status"] for f in body["findings"]] == ["revoked", "revoked"]
    assert not _can_read(world, leaks[0])


def test_iam_user_temporary_credentials_get_a_user_policy(world: World, tmp_path: Path) -> None:
    """GetSessionToken credentials (moto hands out fixed ones, so the verified report is written here)."""
    world.make_user("bob", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",
                                                                     "Resource": "*"}]})
    user_id = world.setup_client("iam").get_user(UserName="bob")["User"]["UserId"]
    world.enforce_auth()
    key = fakes.key_id("ASIA", random.Random(11), account=123456789012)
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"version": 1, "findings": [report_row(key, "arn:aws:iam::123456789012:user/bob",
                                                                        "iam-user", user_id)]}))
    run = stsleak("revoke", "--from", str(report), "--yes", "--audit-log", str(world.audit_log), env=world.env())
    assert run.code == 0, run.stderr + run.stdout
    assert "revoked: arn:aws:iam::123456789012:user/bob" in run.stdout
    document = world.operator_client("iam").get_user_policy(UserName="bob", PolicyName=ROLE_POLICY_NAME)
    assert document["PolicyDocument"]["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]


def test_revoke_role_session_by_name(world: World, leaked) -> None:
    role = world.roles["etl"]
    missing = stsleak("revoke", "--role", "etl", "--scope", "session", "--audit-log", str(world.audit_log),
                      env=world.env())
    assert missing.code == 2 and "--scope session needs the session name" in missing.stderr
    run = stsleak("revoke", "--role", "etl", "--scope", "session", "--session", "laptop", "--session", "ci",
                  "--yes", "--audit-log", str(world.audit_log), env=world.env())
    assert run.code == 0, run.stderr
    for session in ("laptop", "ci"):
        user_id = f"{role['RoleId']}:{session}"
        (statement,) = world.role_policy("etl", session_policy_name(user_id))["Statement"]
        assert statement["Condition"]["StringEquals"]["aws:userid"] == user_id


def _revoke_on_a_terminal(world: World) -> tuple[int, subprocess.Popen, bytes]:
    """`revoke --role etl` with stdin and stdout on a pseudo-terminal, read up to its question."""
    master, slave = pty.openpty()
    env = {**os.environ, **world.env(), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "scanner", "revoke", "--role", "etl", "--audit-log",
                             str(world.audit_log)], stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    seen = b""
    while b"Apply this plan? [y/N]" not in seen:
        seen += os.read(master, 4096)
    return master, proc, seen


@pytest.mark.parametrize("answer", ["y", "n"])
def test_interactive_terminal_asks_before_applying(world: World, leaked, answer: str) -> None:
    master, proc, seen = _revoke_on_a_terminal(world)
    os.write(master, f"{answer}\n".encode())
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert (ROLE_POLICY_NAME in world.role_policies("etl")) is (answer == "y")
    records = _audit(world)
    if answer == "n":
        assert b"not applied" in seen and not [r for r in records if r["event"] == "intent"]
    else:  # the interactive "y" is logged as applied, not as a dry run
        assert b"revoked: arn:aws:iam::123456789012:role/data/etl" in seen
        (intent,) = [r for r in records if r["event"] == "intent"]
        assert intent["dry_run"] is False and intent["operation"] == "iam:PutRolePolicy"
        assert [r["dry_run"] for r in records if r["event"] == "outcome"] == [False]


def test_a_plan_that_changed_while_asking_is_shown_again(world: World, leaked) -> None:
    master, proc, seen = _revoke_on_a_terminal(world)
    foreign = {"Sid": "AddedMeanwhile", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
    world.operator_client("iam").put_role_policy(  # another responder, while the prompt waits
        RoleName="etl", PolicyName=ROLE_POLICY_NAME,
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [foreign]}))
    os.write(master, b"y\n")
    while seen.count(b"Apply this plan? [y/N]") < 2:
        seen += os.read(master, 4096)
    assert b"replaces:" in seen.split(b"Apply this plan?")[1] and b"AddedMeanwhile" in seen
    os.write(master, b"y\n")
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    os.close(master)
    statements = world.role_policy("etl", ROLE_POLICY_NAME)["Statement"]
    assert statements[0] == foreign and "DateLessThan" in statements[1]["Condition"]
