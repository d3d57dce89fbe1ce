"""Two moments no subprocess can be caught in, made real with botocore's own event hooks on a client
talking to moto's server: another writer between our PutRolePolicy and its read-back, and the audit
log failing right after a successful PutRolePolicy. Our code runs unchanged; only the world around
it is changed at that moment. Also a verified finding moto cannot produce (a recreated role's session)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from scanner.aws_session import AwsOptions, Operator
from scanner.model import Finding, Verification
from scanner.revocation import role_target, run_revocation, targets_from_findings
from scanner.revocation.audit import AuditLog
from scanner.revocation.policy import ROLE_POLICY_NAME, session_policy_name
from scanner.testing import fakes
from tests.aws.conftest import World

FOREIGN = {"Sid": "OtherResponder", "Effect": "Deny", "Action": "iam:*", "Resource": "*"}


def _operator(world: World) -> Operator:
    return Operator(AwsOptions(region="us-east-1", endpoint_url=world.url,
                               operator_keys=(*world.operator_key, None)))


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_writer_between_our_write_and_read_back_is_merged(world: World, tmp_path: Path) -> None:
    world.make_role("etl")
    world.enforce_auth()
    operator = _operator(world)
    other = world.operator_client("iam")
    fired: list[bool] = []

    def someone_else_writes(**_: Any) -> None:
        if not fired:
            fired.append(True)  # replaces our document with theirs, as a concurrent run would
            other.put_role_policy(RoleName="etl", PolicyName=ROLE_POLICY_NAME,
                                  PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [FOREIGN]}))

    operator.client("iam").meta.events.register("after-call.iam.PutRolePolicy", someone_else_writes)
    audit = AuditLog(tmp_path / "audit.jsonl", dry_run=False)
    (plan,) = run_revocation([role_target("etl")], "role", operator, audit, show=lambda _: None,
                             confirm=lambda _: True)
    assert plan.status == "revoked", plan.message
    assert "was changed by someone else meanwhile: merged and written again" in " ".join(plan.caveats)
    statements = world.role_policy("etl", ROLE_POLICY_NAME)["Statement"]
    assert statements[0] == FOREIGN
    assert statements[1]["Condition"] == {"DateLessThan": {"aws:TokenIssueTime": plan.cutoff}}
    intents = [r for r in _records(audit.path) if r["event"] == "intent"]
    assert len(intents) == 2 and intents[1]["previous"] == {"PolicyDocument": {"Version": "2012-10-17",
                                                                               "Statement": [FOREIGN]}}


def test_a_failing_audit_write_is_reported_and_the_run_goes_on(world: World, tmp_path: Path) -> None:
    world.make_role("etl")
    world.make_role("web")
    world.enforce_auth()
    operator = _operator(world)
    audit = AuditLog(tmp_path / "audit.jsonl", dry_run=False)
    aside = tmp_path / "audit.aside"

    broken: list[bool] = []

    def break_log(**_: Any) -> None:
        if not broken:  # right after the first PutRolePolicy (etl) succeeded
            broken.append(True)
            os.replace(audit.path, aside)
            audit.path.mkdir()  # every write now fails (IsADirectoryError)

    def mend_log(**_: Any) -> None:
        if audit.path.is_dir():
            audit.path.rmdir()
            os.replace(aside, audit.path)

    events = operator.client("iam").meta.events
    events.register("after-call.iam.PutRolePolicy", break_log)
    events.register("before-call.iam.GetRolePolicy", mend_log)
    plans = run_revocation([role_target("etl"), role_target("web")], "role", operator, audit,
                           show=lambda _: None, confirm=lambda _: True)
    etl, web = plans
    assert etl.status == "revoked" and web.status == "revoked"
    assert etl.audit_errors and "cannot write audit log" in etl.audit_errors[0]
    assert web.audit_errors == []
    assert ROLE_POLICY_NAME in world.role_policies("etl") and ROLE_POLICY_NAME in world.role_policies("web")
    records = _records(audit.path)
    intents = {r["target"]: r["change"] for r in records if r["event"] == "intent"}
    results = {r["change"] for r in records if r["event"] == "result"}
    assert intents[etl.label] not in results  # the lost record is the one reported
    assert intents[web.label] in results


def test_a_recreated_role_is_flagged_and_the_verified_user_id_used(world: World, tmp_path: Path) -> None:
    role = world.make_role("etl")
    world.enforce_auth()
    old_id = "AROARZPUZDIKOLDOLDOLD"  # the RoleId STS reported before the role was recreated
    key = fakes.key_id("ASIA", random.Random(1), account=123456789012)
    verified = Verification("live", arn="arn:aws:sts::123456789012:assumed-role/etl/laptop",
                            user_id=f"{old_id}:laptop", account="123456789012", principal_type="assumed-role",
                            role_name="etl", session_name="laptop")
    finding = Finding("aws-temporary-credentials", key, "s" * 40, "t" * 40, "123456789012", "x", 1,
                      verification=verified)
    audit = AuditLog(tmp_path / "audit.jsonl", dry_run=True)
    (plan,) = run_revocation(targets_from_findings([finding]), "session", _operator(world), audit,
                             show=lambda _: None, confirm=lambda _: False)
    assert plan.status == "planned"
    assert f"the role's RoleId is now {role['RoleId']}: the role was deleted and recreated" in " ".join(plan.caveats)
    (change,) = plan.changes
    assert change.params["PolicyName"] == session_policy_name(f"{old_id}:laptop")
    assert json.loads(change.params["PolicyDocument"])["Statement"][0]["Condition"]["StringEquals"] == {
        "aws:userid": f"{old_id}:laptop"}
