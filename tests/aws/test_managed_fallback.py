"""The managed-policy fallback near IAM's inline limit (issue 22), on moto's server through the CLI.

- The account's quota of managed policies per role is read (iam:GetAccountSummary, moto answers 10 and
  never enforces it): a role at the quota is refused before anything is created. A quota other than
  moto's (20, raised) is shown with botocore's Stubber in tests/revocation/test_managed_quota.py.
- A policy created for an attachment that fails (here: the operator may not iam:AttachRolePolicy) is
  deleted again, audited, and an undo of that run has nothing to take back.
"""

from __future__ import annotations

import json
import re

from tests.aws.conftest import World
from tests.support.cli import Run, stsleak

ARN = "arn:aws:iam::123456789012:policy/stsleak/StsleakRevoke-etl"


def _near_the_limit(world: World) -> None:
    world.make_role("etl")
    big = {"Version": "2012-10-17", "Statement": [
        {"Sid": f"S{i}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{i:04d}/*"}
        for i in range(150)]}
    world.setup_client("iam").put_role_policy(RoleName="etl", PolicyName="Big", PolicyDocument=json.dumps(big))


def _revoke(world: World, *args: str) -> Run:
    return stsleak("revoke", "--audit-log", str(world.audit_log), *args, env=world.env())


def _records(world: World) -> list[dict]:
    return [json.loads(line) for line in world.audit_log.read_text().splitlines()]


def _local_policies(world: World) -> list[str]:
    return [p["Arn"] for p in world.operator_client("iam").list_policies(Scope="Local")["Policies"]]


def test_a_role_at_the_accounts_quota_is_refused_before_anything_is_created(world: World) -> None:
    _near_the_limit(world)
    iam = world.setup_client("iam")
    for i in range(10):
        document = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::team-{i}"}]}
        arn = iam.create_policy(PolicyName=f"team-{i}", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName="etl", PolicyArn=arn)
    world.enforce_auth()
    run = _revoke(world, "--role", "etl", "--yes")
    assert run.code == 4, run.stdout + run.stderr
    assert ("already has 10 managed policies attached, the account's quota (iam:GetAccountSummary "
            "AttachedPoliciesPerRoleQuota) being 10: nothing written") in run.stdout
    assert ARN not in _local_policies(world)
    calls = [r["operation"] for r in _records(world) if r["event"] == "call"]
    assert "iam:GetAccountSummary" in calls
    assert not {"iam:CreatePolicy", "iam:AttachRolePolicy", "iam:PutRolePolicy"} & set(calls)


def test_the_quota_is_shown_in_the_plan(world: World) -> None:
    _near_the_limit(world)
    world.enforce_auth()
    run = _revoke(world, "--role", "etl")
    assert run.code == 0, run.stdout + run.stderr
    assert "role etl will have 1 of the account's 10 managed policies per role (AttachedPoliciesPerRoleQuota)" \
        in run.stdout


def test_a_failed_attachment_leaves_no_orphan_policy(world: World) -> None:
    _near_the_limit(world)
    no_attach = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "iam:AttachRolePolicy", "Resource": "*"}]}
    world.setup_client("iam").put_user_policy(UserName="operator", PolicyName="no-attach",
                                              PolicyDocument=json.dumps(no_attach))
    world.enforce_auth()
    run = _revoke(world, "--role", "etl", "--yes")
    assert run.code == 4, run.stdout + run.stderr
    assert "may not call iam:AttachRolePolicy" in run.stdout
    assert f"the policy {ARN} created for it was deleted again" in run.stdout
    assert ARN not in _local_policies(world)
    assert not world.operator_client("iam").list_attached_role_policies(RoleName="etl")["AttachedPolicies"]
    records = _records(world)
    intents = [(r["operation"], r["change"]) for r in records if r["event"] == "intent"]
    assert [op for op, _ in intents] == ["iam:CreatePolicy", "iam:AttachRolePolicy", "iam:DeletePolicy"]
    results = {r["change"]: r["result"] for r in records if r["event"] == "result"}
    assert [results[change] for _, change in intents] == ["ok", "error", "ok"]
    (rollback,) = [r for r in records if r["event"] == "rollback"]
    assert rollback["policy_arn"] == ARN and "AttachRolePolicy" in rollback["reason"]
    run_id = re.search(r"\(run ([0-9a-f]{12})\)", run.stdout).group(1)  # type: ignore[union-attr]
    undo = _revoke(world, "--undo", run_id, "--yes")
    assert undo.code == 0, undo.stdout + undo.stderr
    assert "deleted" in undo.stdout and "created for an attachment that failed" in undo.stdout
    assert ARN not in _local_policies(world)
