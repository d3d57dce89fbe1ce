"""Issue 21 #4-#7 on moto's server through the CLI: undo never re-arms a leaked key and writes nothing
the run did not add; the audit log is hash-chained and only evidence while the chain holds; "already
revoked" is read from IAM, not from the file; no operator means exit 4; --session is session scope.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import scanner
from scanner.revocation.policy import ROLE_POLICY_NAME, iso_z, older_sessions_statement, session_policy_name
from tests.aws.conftest import World
from tests.support.cli import Run, stsleak

READ_ONLY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*", "sts:GetCallerIdentity"], "Resource": "*"}]}


def _run_id(run: Run) -> str:
    match = re.search(r"\(run ([0-9a-f]{12})\)", run.stdout + run.stderr)
    assert match, run.stdout + run.stderr
    return match.group(1)


def _revoke(world: World, *args: str, log: Path | None = None, env: dict[str, str] | None = None) -> Run:
    return stsleak("revoke", "--audit-log", str(log or world.audit_log), *args, env=env or world.env())


def _scan_revoke(world: World, path: Path, *extra: str, log: Path | None = None,
                 env: dict[str, str] | None = None) -> Run:
    return stsleak("scan", "--verify", "--revoke", "--format", "json", "--audit-log", str(log or world.audit_log),
                   *extra, str(path), env=env or world.env())


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write_records(path: Path, records: list[dict[str, Any]], rechain: bool) -> None:
    """Write the records back; with `rechain`, as a careful forger would: every `prev` recomputed."""
    lines: list[str] = []
    for record in records:
        if rechain and "prev" in record:
            record["prev"] = hashlib.sha256(lines[-1].encode()).hexdigest() if lines else None
        lines.append(json.dumps(record))
    path.write_text("".join(line + "\n" for line in lines))


def _key_status(world: World, user: str) -> str:
    (key,) = world.operator_client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return key["Status"]


def _leak_folder(tmp_path: Path, *leaks: Any) -> Path:
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    for i, leak in enumerate(leaks):
        (folder / f"leak{i}.json").write_text(leak.assume_role_json())
    return folder


# --- #4: undo never re-arms a leaked key; --target; the plan says what each step re-enables ------------------

def test_undo_leaves_a_leaked_key_inactive_unless_asked(world: World, tmp_path: Path) -> None:
    _, key, secret = world.make_user("ci-bot", READ_ONLY)
    world.enforce_auth()
    (tmp_path / "bot.ini").write_text(f"[bot]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    scan = _scan_revoke(world, tmp_path / "bot.ini", "--yes")
    assert scan.code == 3, scan.stderr
    assert _key_status(world, "ci-bot") == "Inactive"
    run_id = _run_id(scan)

    dry = _revoke(world, "--undo", run_id)
    assert dry.code == 0, dry.stdout + dry.stderr
    assert "re-enables:        every session of user ci-bot (its temporary credentials) issued before" in dry.stdout
    assert f"access key {key} stays Inactive" in dry.stdout and "--reactivate-leaked-keys" in dry.stdout

    undo = _revoke(world, "--undo", run_id, "--yes")
    assert undo.code == 0, undo.stdout + undo.stderr
    assert _key_status(world, "ci-bot") == "Inactive"  # the leaked key is not re-armed
    assert world.operator_client("iam").list_user_policies(UserName="ci-bot")["PolicyNames"] == ["p"]
    assert not [r for r in _records(world.audit_log)
                if r["event"] == "intent" and r["run"] == _run_id(undo) and r["operation"] == "iam:UpdateAccessKey"]

    asked = _revoke(world, "--undo", run_id, "--reactivate-leaked-keys")
    assert f"re-enables:        access key {key} of user ci-bot: Active again" in asked.stdout, asked.stdout
    assert _key_status(world, "ci-bot") == "Inactive"  # a dry run
    again = _revoke(world, "--undo", run_id, "--reactivate-leaked-keys", "--yes")
    assert again.code == 0, again.stdout + again.stderr
    assert _key_status(world, "ci-bot") == "Active"


def test_undo_one_target_of_a_run(world: World, tmp_path: Path) -> None:
    world.make_role("etl")
    world.make_role("web")
    leaks = [world.assume("etl", "laptop"), world.assume("web", "ci")]
    world.enforce_auth()
    scan = _scan_revoke(world, _leak_folder(tmp_path, *leaks), "--yes")
    assert scan.code == 3, scan.stderr
    assert ROLE_POLICY_NAME in world.role_policies("etl") and ROLE_POLICY_NAME in world.role_policies("web")

    wrong = _revoke(world, "--undo", _run_id(scan), "--target", "nosuch", "--yes")
    assert wrong.code == 2 and f"run {_run_id(scan)} changed nothing of nosuch" in wrong.stderr
    only_web = _revoke(world, "--undo", _run_id(scan), "--target", "arn:aws:iam::123456789012:role/web", "--yes")
    assert only_web.code == 0, only_web.stdout + only_web.stderr
    assert "re-enables:        every session of role web issued before" in only_web.stdout
    assert world.role_policies("web") == ["S3FullAccess"]
    assert ROLE_POLICY_NAME in world.role_policies("etl")  # the other target of the run is left as it is
    by_name = _revoke(world, "--undo", _run_id(scan), "--target", "etl", "--yes")
    assert by_name.code == 0, by_name.stdout + by_name.stderr
    assert world.role_policies("etl") == ["S3FullAccess"]


# --- #5: the log steers nothing; the chain; already-revoked from IAM ------------------------------------------

def test_an_edited_previous_document_cannot_make_undo_write_an_allow(world: World) -> None:
    world.make_role("etl")
    world.enforce_auth()
    run = _revoke(world, "--role", "etl", "--yes")
    assert run.code == 0, run.stdout + run.stderr
    records = _records(world.audit_log)
    (intent,) = [r for r in records if r["event"] == "intent"]
    earlier = older_sessions_statement("2020-01-01T00:00:00Z")
    allow = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    intent["previous"] = {"PolicyDocument": {"Version": "2012-10-17", "Statement": [allow, earlier]}}
    _write_records(world.audit_log, records, rechain=True)  # the chain holds: a careful forger

    undo = _revoke(world, "--undo", _run_id(run), "--yes")
    assert undo.code == 0, undo.stdout + undo.stderr
    for name in world.role_policies("etl"):
        statements = world.role_policy("etl", name)["Statement"]
        assert allow not in (statements if isinstance(statements, list) else [statements]), name
    # the run's statement got the (forged) earlier cutoff back, the most a log can steer
    assert world.role_policy("etl", ROLE_POLICY_NAME) == {"Version": "2012-10-17", "Statement": [earlier]}
    assert "re-enables:        every session of role etl issued from 2020-01-01T00:00:00Z to" in undo.stdout
    assert _revoke(world, "--verify-log").code == 0  # the forger's chain held: the file alone proved nothing


def test_a_forged_evidence_line_cannot_make_a_live_leak_already_revoked(world: World, tmp_path: Path) -> None:
    world.make_role("etl")
    hour_ago = iso_z(datetime.now(UTC) - timedelta(hours=1))  # someone revoked before this leak was seen
    world.setup_client("iam").put_role_policy(
        RoleName="etl", PolicyName=ROLE_POLICY_NAME,
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [older_sessions_statement(hour_ago)]}))
    leak = world.assume("etl", "laptop")
    _, key, secret = world.make_user("reader", READ_ONLY)  # may read IAM, may not write it
    world.enforce_auth()
    fingerprint = hashlib.sha256(f"{leak.access_key_id}:{leak.secret}:{leak.token}".encode()).hexdigest()
    world.audit_log.write_text(json.dumps({  # "seen live long ago": the old first_seen made this already-revoked
        "time": "2000-01-01T00:00:00.000Z", "run": "000000000000", "dry_run": False, "event": "evidence",
        "fingerprint": fingerprint, "key_id": leak.access_key_id, "target": "etl", "seen": "2000-01-01T00:00:00Z"})
        + "\n")
    env = {**world.env(operator=False), "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    run = _scan_revoke(world, _leak_folder(tmp_path, leak), "--yes", env=env)
    assert run.code == 4, run.stderr  # the revocation was tried (and denied), not skipped as already done
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["status"] == "failed" and "iam:PutRolePolicy" in revocation["message"]
    # with working credentials the same leak is revoked, whatever the file says
    fixed = _scan_revoke(world, _leak_folder(tmp_path, leak), "--yes")
    assert fixed.code == 3 and fixed.json()["findings"][0]["revocation"]["status"] == "revoked", fixed.stderr


def test_a_fresh_audit_log_reads_already_revoked_from_iam(world: World, tmp_path: Path) -> None:
    world.make_role("etl")
    leak = world.assume("etl", "laptop")
    world.enforce_auth()
    folder = _leak_folder(tmp_path, leak)
    first = _scan_revoke(world, folder, "--yes", log=tmp_path / "runner-1.jsonl")
    assert first.code == 3, first.stderr
    cutoff = first.json()["findings"][0]["revocation"]["cutoff"]
    time.sleep(1.1)
    fresh = tmp_path / "runner-2.jsonl"  # another CI runner: no file of the first run
    again = _scan_revoke(world, folder, "--yes", log=fresh)
    assert again.code == 3, again.stderr
    revocation = again.json()["findings"][0]["revocation"]
    assert revocation["status"] == "already-revoked" and revocation["cutoff"] == cutoff
    assert world.role_policy("etl", ROLE_POLICY_NAME)["Statement"][0]["Condition"]["DateLessThan"][
        "aws:TokenIssueTime"] == cutoff
    records = _records(fresh)
    assert not [r for r in records if r["event"] == "intent"]
    # what ran where, as whom, and AWS's request id for every call
    (start,) = [r for r in records if r["event"] == "run"]
    assert start["version"] == scanner.__version__ and start["host"] == socket.gethostname()
    assert start["caller_arn"] == "arn:aws:iam::123456789012:user/operator" and start["request_id"]
    calls = [r for r in records if r["event"] == "call"]
    assert calls and all(r["request_id"] for r in calls)
    # a new leak of the same role is not in our statement's record (its Sid): it is revoked, cutoff moved on
    newer = world.assume("etl", "desk")
    (tmp_path / "b").mkdir()
    third = _scan_revoke(world, _leak_folder(tmp_path / "b", newer), "--yes", log=fresh)
    assert third.json()["findings"][0]["revocation"]["status"] == "revoked", third.stderr


def test_a_broken_chain_is_refused_by_verify_log_and_undo(world: World) -> None:
    world.make_role("etl")
    world.enforce_auth()
    run = _revoke(world, "--role", "etl", "--yes")
    assert run.code == 0, run.stdout + run.stderr
    intact = _revoke(world, "--verify-log")
    assert intact.code == 0 and "hash chain intact" in intact.stdout, intact.stdout + intact.stderr
    records = _records(world.audit_log)
    line = next(i for i, r in enumerate(records) if r["event"] == "intent")
    records[line]["previous"] = {"PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "*",
                                                                   "Resource": "*"}]}}
    _write_records(world.audit_log, records, rechain=False)  # an edit that does not rework the chain

    broken = _revoke(world, "--verify-log")
    assert broken.code == 2
    assert broken.stderr.splitlines() == [broken.stderr.strip()] and "Traceback" not in broken.stderr
    assert f"hash chain broken at line {line + 2}" in broken.stderr  # the line after the edited one
    undo = _revoke(world, "--undo", _run_id(run), "--yes")
    assert undo.code == 2 and "undo refused" in undo.stderr
    assert [x for x in undo.stderr.splitlines() if x.startswith("stsleak: error:")] == [undo.stderr.strip()]
    assert ROLE_POLICY_NAME in world.role_policies("etl")  # nothing undone
    assert not [r for r in _records(world.audit_log) if r["event"] == "call" and r["run"] != _run_id(run)]


def test_records_of_an_older_stsleak_are_not_evidence(world: World) -> None:
    world.make_role("etl")
    world.enforce_auth()
    legacy = {"time": "2026-11-01T00:00:00.000Z", "run": "0123456789ab", "dry_run": False, "event": "intent",
              "change": "c1", "operation": "iam:PutRolePolicy", "resource": f"role-policy:etl:{ROLE_POLICY_NAME}",
              "params": {"RoleName": "etl", "PolicyName": ROLE_POLICY_NAME, "PolicyDocument": "{}"},
              "previous": None, "target": "arn:aws:iam::123456789012:role/etl", "operator_account": "123456789012"}
    world.audit_log.write_text(json.dumps(legacy) + "\n")  # no `prev`: written before the chain existed
    run = _revoke(world, "--role", "etl", "--yes")
    assert run.code == 0, run.stdout + run.stderr
    first, start = _records(world.audit_log)[:2]
    assert first == legacy and start["event"] == "chain-start" and start["prev"]  # the chain begins after it
    check = _revoke(world, "--verify-log")
    assert check.code == 0 and "1 earlier line(s) unchained, not evidence" in check.stdout, check.stdout
    refused = _revoke(world, "--undo", "0123456789ab", "--yes")
    assert refused.code == 2 and "recorded before the hash chain" in refused.stderr
    assert _revoke(world, "--undo", _run_id(run), "--yes").code == 0  # the chained run is undone
    assert world.role_policies("etl") == ["S3FullAccess"]


# --- #6 and #7 -------------------------------------------------------------------------------------------------

def test_no_operator_credentials_is_a_failed_revocation(world: World, tmp_path: Path) -> None:
    world.make_role("etl")
    leak = world.assume("etl", "laptop")
    world.enforce_auth()
    run = _scan_revoke(world, _leak_folder(tmp_path, leak), "--yes", env=world.env(operator=False))
    assert run.code == 4, run.stderr  # nothing was revoked: not 3 ("live") as if revocation had gone well
    (finding,) = run.json()["findings"]
    assert finding["verification"]["status"] == "live"
    assert finding["revocation"]["status"] == "failed"
    assert "revoke needs the operator's own AWS credentials" in finding["revocation"]["message"]
    assert world.role_policies("etl") == ["S3FullAccess"]


def test_session_names_mean_session_scope(world: World) -> None:
    role = world.make_role("etl")
    world.enforce_auth()
    wider = _revoke(world, "--role", "etl", "--session", "laptop", "--scope", "role", "--yes")
    assert wider.code == 2 and "--session cuts only the named sessions" in wider.stderr
    run = _revoke(world, "--role", "etl", "--session", "laptop", "--yes")
    assert run.code == 0, run.stdout + run.stderr
    assert "[session scope]" in run.stdout
    user_id = f"{role['RoleId']}:laptop"
    assert sorted(world.role_policies("etl")) == sorted(["S3FullAccess", session_policy_name(user_id)])
    (statement,) = world.role_policy("etl", session_policy_name(user_id))["Statement"]
    assert statement["Condition"]["StringEquals"] == {"aws:userid": user_id}


def test_concurrent_runs_append_to_one_chain(world: World) -> None:
    """Two processes writing the same log: each record still carries the hash of the line before it (flock)."""
    import os
    import subprocess
    import sys

    for name in ("etl", "web", "api"):
        world.make_role(name)
    world.enforce_auth()
    procs = [subprocess.Popen([sys.executable, "-m", "scanner", "revoke", "--role", name, "--yes", "--audit-log",
                               str(world.audit_log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **world.env()}) for name in ("etl", "web", "api")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    check = _revoke(world, "--verify-log")
    assert check.code == 0 and "hash chain intact" in check.stdout, check.stdout + check.stderr
    assert len({r["run"] for r in _records(world.audit_log) if r["event"] == "run"}) == 3
