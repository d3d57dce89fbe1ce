"""Revocation you can trust in an incident (issue 10), on moto's server through the CLI as a subprocess.

What moto cannot show, and where it is covered instead:
- DateLessThan (moto counts every non-StringEquals condition as met): the exact documents are pinned
  here and in tests/revocation/test_policy.py ("later sessions still work" rests on them).
- aws:userid (moto's evaluator does not supply it): the session statements are pinned exactly.
- LimitExceeded, UnmodifiableEntity: Stubber, tests/revocation/test_stubbed_errors.py::test_put_role_policy_errors.
- Eventual consistency (an old document read right after a write): Stubber,
  tests/revocation/test_revoke_stubbed.py::test_read_back_waits_for_the_new_document.
- Partitions and opt-in regions (InvalidClientTokenId for a live key outside the default region):
  Stubber, tests/revocation/test_revoke_stubbed.py::test_invalid_in_an_opt_in_region_is_retried_in_the_default_region;
  endpoints per partition: test_aws_session.py.
- A concurrent writer between our write and our read-back on the same policy (a race moto does not
  produce on demand): a botocore event hook writes in between, test_revoke_inprocess.py.
- An audit write failing right after a successful PutRolePolicy: test_revoke_inprocess.py.
- A session of a deleted and recreated role (moto answers GetCallerIdentity with the current RoleId):
  the verified finding is built in-process, test_revoke_inprocess.py.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scanner.revocation.policy import (
    ROLE_POLICY_NAME,
    iso_z,
    older_sessions_statement,
    session_policy,
    session_policy_name,
)
from scanner.testing import fakes
from tests.aws.conftest import ALLOW_ALL, World, report_row
from tests.support.cli import Run, stsleak

FOREIGN = {"Sid": "KeepMe", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}


def _revoke(world: World, *args: str, env: dict[str, str] | None = None) -> Run:
    return stsleak("revoke", "--audit-log", str(world.audit_log), *args, env=env or world.env())


def _run_id(run: Run) -> str:
    match = re.search(r"\(run ([0-9a-f]{12})\)", run.stdout + run.stderr)
    assert match, run.stdout + run.stderr
    return match.group(1)


def _records(world: World, event: str) -> list[dict]:
    return [r for r in map(json.loads, world.audit_log.read_text().splitlines()) if r["event"] == event]


def _leak_folder(world: World, tmp_path: Path, *leaks) -> Path:
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    for i, leak in enumerate(leaks):
        (folder / f"leak{i}.json").write_text(leak.assume_role_json())
    return folder


def test_an_existing_policy_is_merged_never_moved_backwards(world: World) -> None:
    world.make_role("etl")
    later = iso_z(datetime.now(UTC) + timedelta(hours=1))  # another responder's later cutoff
    before = {"Version": "2012-10-17", "Statement": [FOREIGN, older_sessions_statement(later)]}
    world.setup_client("iam").put_role_policy(RoleName="etl", PolicyName=ROLE_POLICY_NAME,
                                              PolicyDocument=json.dumps(before))
    world.enforce_auth()
    dry = _revoke(world, "--role", "etl")
    assert dry.code == 0, dry.stderr
    assert "replaces:" in dry.stdout and "KeepMe" in dry.stdout
    run = _revoke(world, "--role", "etl", "--yes")
    assert run.code == 0, run.stderr
    # foreign kept, the later cutoff kept; the statement is now stamped with the run (undo finds it by that)
    stamped = {"Sid": f"StsleakOlderSessionsRun{_run_id(run)}", **older_sessions_statement(later)}
    assert world.role_policy("etl", ROLE_POLICY_NAME) == {"Version": "2012-10-17", "Statement": [FOREIGN, stamped]}
    (intent,) = _records(world, "intent")
    assert intent["previous"] == {"PolicyDocument": before} and intent["dry_run"] is False
    assert intent["operator_arn"] == "arn:aws:iam::123456789012:user/operator"
    assert intent["operator_account"] == "123456789012"
    assert intent["target"] == "arn:aws:iam::123456789012:role/etl"


def test_two_concurrent_session_revocations_both_stay(world: World) -> None:
    role = world.make_role("etl")
    world.enforce_auth()
    for trial in range(2):
        sessions = [f"t{trial}-a", f"t{trial}-b"]
        procs = [subprocess.Popen(
            [sys.executable, "-m", "scanner", "revoke", "--role", "etl", "--scope", "session", "--session", s,
             "--yes", "--audit-log", str(world.tmp / f"audit-{s}.jsonl")], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env={**os.environ, **world.env()}) for s in sessions]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert "revoked: arn:aws:iam::123456789012:role/etl" in out
        names = world.role_policies("etl")
        for session in sessions:
            user_id = f"{role['RoleId']}:{session}"
            assert session_policy_name(user_id) in names
            (statement,) = world.role_policy("etl", session_policy_name(user_id))["Statement"]
            assert statement["Condition"]["StringEquals"] == {"aws:userid": user_id}


def _responder(world: World) -> None:
    world.make_role("responder")
    world.setup_client("iam").put_role_policy(RoleName="responder", PolicyName="admin",
                                              PolicyDocument=json.dumps(ALLOW_ALL))


def test_the_operators_own_role_is_refused_or_revoked_last(world: World, tmp_path: Path) -> None:
    _responder(world)
    world.make_role("etl")
    leaks = [world.assume("responder", "leaked"), world.assume("etl", "laptop")]
    me = world.assume("responder", "incident-lead")  # the operator works with a session of the leaked role
    world.enforce_auth()
    folder = _leak_folder(world, tmp_path, *leaks)
    env = {**world.env(operator=False), "AWS_ACCESS_KEY_ID": me.access_key_id,
           "AWS_SECRET_ACCESS_KEY": me.secret, "AWS_SESSION_TOKEN": me.token or ""}
    args = ("scan", "--verify", "--revoke", "--yes", "--format", "json", "--audit-log", str(world.audit_log))
    run = stsleak(*args, str(folder), env=env)
    assert run.code == 4, run.stderr
    status = {f["verification"]["role_name"]: f["revocation"] for f in run.json()["findings"]}
    assert status["etl"]["status"] == "revoked"
    assert status["responder"]["status"] == "refused"
    assert "the operator's own session arn:aws:sts::123456789012:assumed-role/responder/incident-lead" in \
        status["responder"]["message"] and "--include-operator" in status["responder"]["message"]
    assert world.role_policies("responder") == ["S3FullAccess", "admin"]
    both = stsleak(*args, "--include-operator", "--refresh", str(folder), env=env)
    assert both.code == 4, both.stderr
    status = {f["verification"]["role_name"]: f["revocation"] for f in both.json()["findings"]}
    assert status["etl"]["status"] == "revoked"
    # applied last; then the operator's own session is denied (moto denies it whatever the cutoff; on AWS the
    # session was issued before the cutoff too), so it cannot be read back: said so, not called "revoked"
    assert "the operator's own session is now denied, as expected" in status["responder"]["message"]
    assert ROLE_POLICY_NAME in world.role_policies("responder")
    intents = [r["target"] for r in _records(world, "intent") if r["run"] == _run_id(both)]
    assert intents[-1] == "arn:aws:iam::123456789012:role/responder"  # the operator's own target last


def test_the_operators_own_key_is_not_deactivated(world: World, tmp_path: Path) -> None:
    world.enforce_auth()
    key, secret = world.operator_key
    (tmp_path / "ops.ini").write_text(f"[ops]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    run = stsleak("scan", "--verify", "--revoke", "--yes", "--format", "json", "--audit-log", str(world.audit_log),
                  str(tmp_path / "ops.ini"), env=world.env())
    assert run.code == 4, run.stderr
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["status"] == "refused" and "the operator signs with this very access key" in revocation["message"]
    keys = world.operator_client("iam").list_access_keys(UserName="operator")["AccessKeyMetadata"]
    assert [k["Status"] for k in keys] == ["Active"]


def test_a_forged_report_is_refused(world: World, tmp_path: Path) -> None:
    decoy = world.make_role("decoy")
    _, victim_key, _ = world.make_user("victim", ALLOW_ALL)
    world.enforce_auth()
    rng = random.Random(4)
    rows = [
        # a role that never leaked: the user_id is not a session of it
        report_row(fakes.key_id("ASIA", rng, account=123456789012), "arn:aws:sts::123456789012:assumed-role/decoy/x",
                   "assumed-role", "AROAFORGEDFORGEDFORGE:x", role_name="decoy", session_name="x"),
        # another user's key, claimed for a user who does not own it
        report_row(victim_key, "arn:aws:iam::123456789012:user/developer", "iam-user", "AIDAFORGED"),
        # a key id from another account than the row says
        report_row(fakes.key_id("ASIA", rng, account=111111111111), "arn:aws:iam::123456789012:user/developer",
                   "iam-user", "AIDAFORGED"),
    ]
    no_print = report_row(fakes.key_id("ASIA", rng, account=123456789012),
                          "arn:aws:sts::123456789012:assumed-role/decoy/y", "assumed-role",
                          f"{decoy['RoleId']}:y", role_name="decoy", session_name="y")
    del no_print["fingerprint"]
    for row in [*rows, no_print]:
        report = tmp_path / "forged.json"
        report.write_text(json.dumps({"version": 1, "findings": [row]}))
        run = _revoke(world, "--from", str(report), "--yes")
        assert run.code == 4, run.stdout + run.stderr
        assert "refused" in run.stderr and "Traceback" not in run.stderr
    assert world.role_policies("decoy") == ["S3FullAccess"]
    keys = world.operator_client("iam").list_access_keys(UserName="victim")["AccessKeyMetadata"]
    assert [k["Status"] for k in keys] == ["Active"]
    assert not _records(world, "intent")


def test_revoking_again_leaves_an_already_revoked_role_alone(world: World, tmp_path: Path) -> None:
    world.make_role("etl")
    leak = world.assume("etl", "laptop")
    world.enforce_auth()
    folder = _leak_folder(world, tmp_path, leak)
    first = stsleak("scan", "--verify", "--revoke", "--yes", "--format", "json", "--audit-log",
                    str(world.audit_log), str(folder), env=world.env())
    assert first.code == 3, first.stderr
    cutoff = first.json()["findings"][0]["revocation"]["cutoff"]
    time.sleep(1.1)
    again = stsleak("scan", "--verify", "--revoke", "--yes", "--audit-log", str(world.audit_log), str(folder),
                    env=world.env())
    assert again.code == 3, again.stderr  # live (GetCallerIdentity cannot be denied), not failed
    assert f"live, but sessions issued before {cutoff} are denied by AWSRevokeOlderSessions" in again.stdout
    assert "revocation: already-revoked" in again.stdout
    assert world.role_policy("etl", ROLE_POLICY_NAME)["Statement"][0]["Condition"]["DateLessThan"][
        "aws:TokenIssueTime"] == cutoff
    refreshed = stsleak("scan", "--verify", "--revoke", "--yes", "--refresh", "--format", "json", "--audit-log",
                        str(world.audit_log), str(folder), env=world.env())
    assert refreshed.json()["findings"][0]["revocation"]["cutoff"] > cutoff


def test_a_role_arn_that_is_not_the_role_iam_has_is_refused(world: World) -> None:
    world.make_role("etl", path="/data/")
    world.enforce_auth()
    for arn in ("arn:aws:iam::123456789012:role/etl", "arn:aws-cn:iam::123456789012:role/data/etl"):
        run = _revoke(world, "--role", arn, "--yes")
        assert run.code == 4, run.stderr
        assert "does not match the role IAM has under that name" in run.stdout
    assert world.role_policies("etl") == ["S3FullAccess"]


def test_near_the_inline_limit_a_managed_policy_is_used_and_undone(world: World) -> None:
    world.make_role("etl")
    iam = world.setup_client("iam")
    big = {"Version": "2012-10-17", "Statement": [
        {"Sid": f"S{i}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{i:04d}/*"}
        for i in range(150)]}
    iam.put_role_policy(RoleName="etl", PolicyName="Big", PolicyDocument=json.dumps(big))
    world.enforce_auth()
    run = _revoke(world, "--role", "etl", "--yes")
    assert run.code == 0, run.stdout + run.stderr
    assert "customer-managed policy" in run.stdout
    arn = "arn:aws:iam::123456789012:policy/stsleak/StsleakRevoke-etl"
    attached = world.operator_client("iam").list_attached_role_policies(RoleName="etl")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [arn]
    version = world.operator_client("iam").get_policy_version(PolicyArn=arn, VersionId="v1")
    (statement,) = version["PolicyVersion"]["Document"]["Statement"]
    assert statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
    assert sorted(world.role_policies("etl")) == ["Big", "S3FullAccess"]
    undo = _revoke(world, "--undo", _run_id(run), "--yes")
    assert undo.code == 0, undo.stdout + undo.stderr
    assert not world.operator_client("iam").list_attached_role_policies(RoleName="etl")["AttachedPolicies"]
    assert arn not in [p["Arn"] for p in world.operator_client("iam").list_policies(Scope="Local")["Policies"]]


def _role_state(world: World, role: str) -> dict:
    return {name: world.role_policy(role, name) for name in world.role_policies(role)}


def test_undo_restores_the_state_before_the_run(world: World, tmp_path: Path) -> None:
    world.make_role("etl")
    world.make_role("web")
    role = world.roles["etl"]
    _, key, secret = world.make_user("ci-bot", ALLOW_ALL)
    iam = world.setup_client("iam")
    earlier = {"Version": "2012-10-17", "Statement": [FOREIGN, older_sessions_statement("2026-01-01T00:00:00Z")]}
    iam.put_role_policy(RoleName="web", PolicyName=ROLE_POLICY_NAME, PolicyDocument=json.dumps(earlier))
    stale = f"{role['RoleId']}:gone"
    old_cutoff = iso_z(datetime.now(UTC) - timedelta(hours=13))
    iam.put_role_policy(RoleName="etl", PolicyName=session_policy_name(stale),
                        PolicyDocument=json.dumps(session_policy(stale, old_cutoff)))
    leaks = [world.assume("etl", "laptop"), world.assume("web", "ci")]
    world.enforce_auth()
    folder = _leak_folder(world, tmp_path, *leaks)
    (folder / "bot.ini").write_text(f"[bot]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    before = {"etl": _role_state(world, "etl"), "web": _role_state(world, "web")}
    ops = world.operator_client("iam")
    scan = stsleak("scan", "--verify", "--revoke", "--yes", "--scope", "session", "--audit-log",
                   str(world.audit_log), str(folder), env=world.env())
    assert scan.code == 3, scan.stderr
    assert _role_state(world, "etl") != before["etl"] and _role_state(world, "web") != before["web"]
    assert ops.list_access_keys(UserName="ci-bot")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    dry = _revoke(world, "--undo", _run_id(scan))
    assert dry.code == 0 and "undo plan (DRY RUN" in dry.stdout
    undo = _revoke(world, "--undo", _run_id(scan), "--yes")
    assert undo.code == 0, undo.stdout + undo.stderr
    assert "undone:" in undo.stdout
    # as before, but for the expired session policy the run pruned: undo writes nothing IAM does not hold now
    before["etl"].pop(session_policy_name(stale))
    assert {"etl": _role_state(world, "etl"), "web": _role_state(world, "web")} == before
    assert "does not write it back" in undo.stdout
    # the leaked key is not re-armed (test_undo_and_audit.py: only --reactivate-leaked-keys does that)
    assert ops.list_access_keys(UserName="ci-bot")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    assert ops.list_user_policies(UserName="ci-bot")["PolicyNames"] == ["p"]
    again = _revoke(world, "--undo", _run_id(scan), "--yes")
    assert again.code == 0 and "already as before the run" in again.stdout


def test_undo_leaves_alone_what_changed_since(world: World) -> None:
    world.make_role("etl")
    world.enforce_auth()
    run = _revoke(world, "--role", "etl", "--yes")
    assert run.code == 0, run.stderr
    newer = {"Version": "2012-10-17", "Statement": [older_sessions_statement("2030-01-01T00:00:00Z")]}
    world.operator_client("iam").put_role_policy(RoleName="etl", PolicyName=ROLE_POLICY_NAME,
                                                 PolicyDocument=json.dumps(newer))
    undo = _revoke(world, "--undo", _run_id(run), "--yes")
    assert undo.code == 4
    assert "changed since run" in undo.stderr
    assert world.role_policy("etl", ROLE_POLICY_NAME) == newer
    unknown = _revoke(world, "--undo", "000000000000")
    assert unknown.code == 2 and "no run 000000000000" in unknown.stderr


def test_account_mismatch_and_partition_conflict(world: World, tmp_path: Path) -> None:
    rng = random.Random(9)
    key = fakes.key_id("ASIA", rng, account=999999999999)
    (tmp_path / "c.ini").write_text(f"aws_access_key_id={key}\naws_secret_access_key={fakes.secret(rng)}\n"
                                    f"aws_session_token={fakes.session_token(rng=rng)}\n")
    run = stsleak("scan", "--verify", "--format", "json", str(tmp_path), env=world.env())  # auth off: moto says 1234…
    verification = run.json()["findings"][0]["verification"]
    assert "STS answered account 123456789012, but the key id belongs to account 999999999999" in verification["note"]
    conflict = stsleak("scan", "--verify", "--partition", "aws-cn", "--region", "us-east-1", str(tmp_path))
    assert conflict.code == 2 and "--region us-east-1 is not in --partition aws-cn" in conflict.stderr


def test_the_user_policy_size_limit_is_checked_before_any_change(world: World, tmp_path: Path) -> None:
    big = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::b-{i:03d}/*"} for i in range(30)]}
    world.make_user("bob", big)
    user_id = world.setup_client("iam").get_user(UserName="bob")["User"]["UserId"]
    world.enforce_auth()
    key = fakes.key_id("ASIA", random.Random(12), account=123456789012)
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"version": 1, "findings": [
        report_row(key, "arn:aws:iam::123456789012:user/bob", "iam-user", user_id)]}))
    run = _revoke(world, "--from", str(report), "--yes")
    assert run.code == 4
    assert "over IAM's 2048 limit" in run.stderr
    assert world.operator_client("iam").list_user_policies(UserName="bob")["PolicyNames"] == ["p"]
