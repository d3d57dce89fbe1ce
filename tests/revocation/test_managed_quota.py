"""The managed-policy fallback reads the account's quota of managed policies per role (moto always answers 10):
a raised quota, botocore's Stubber on a real IAM client (issue 22)."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest
from botocore.stub import Stubber

from scanner.aws_session import AwsOptions, Operator
from scanner.revocation.audit import AuditLog
from scanner.revocation.calls import AuditedCalls
from scanner.revocation.managed import ManagedState, managed_arn, plan_managed
from scanner.revocation.model import Change, Plan, Target, TargetKind
from scanner.revocation.policy import older_sessions_statement, policy_text, revoke_older_sessions

KEY, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OPTIONS = AwsOptions(region="us-east-1", endpoint_url="http://127.0.0.1:9", operator_keys=(KEY, SECRET, None))
ROLE = {"RoleName": "etl", "Arn": "arn:aws:iam::123456789012:role/etl", "RoleId": "AROAEXAMPLEROLEID0001"}


def _plan(cutoff: str) -> Plan:
    change = Change("PutRolePolicy", {"RoleName": "etl", "PolicyName": "AWSRevokeOlderSessions",
                                      "PolicyDocument": policy_text(revoke_older_sessions(cutoff))},
                    "role-policy:etl:AWSRevokeOlderSessions", None, [older_sessions_statement(cutoff)])
    return Plan(Target(TargetKind.ROLE, "etl"), "role", ROLE["Arn"], changes=[change])


@pytest.mark.parametrize(("quota", "attached", "planned"), [(20, 12, True), (20, 20, False), (12, 12, False),
                                                           (None, 15, True)])
def test_the_quota_comes_from_the_account_summary(tmp_path: Path, quota: int | None, attached: int,
                                                  planned: bool) -> None:
    iam = botocore.session.Session().create_client("iam", region_name="us-east-1", aws_access_key_id=KEY,
                                                    aws_secret_access_key=SECRET)
    plan = _plan("2026-12-01T10:00:01Z")
    state = ManagedState(managed_arn(ROLE), attached_count=attached)
    with Stubber(iam) as stub:
        stub.add_client_error("get_policy", service_error_code="NoSuchEntity", http_status_code=404)
        if quota is None:
            stub.add_client_error("get_account_summary", service_error_code="AccessDenied", http_status_code=403)
        else:
            stub.add_response("get_account_summary", {"SummaryMap": {"AttachedPoliciesPerRoleQuota": quota,
                                                                     "Policies": 3}})
        calls = AuditedCalls(Operator(OPTIONS, clients={"iam": iam}), AuditLog(tmp_path / "a.jsonl", True))
        plan_managed(plan, ROLE, state, 10_500, calls)
        stub.assert_no_pending_responses()
    if planned:
        assert plan.status == "planned"
        assert [c.operation for c in plan.changes] == ["CreatePolicy", "AttachRolePolicy"]
        note = (f"will have {attached + 1} of the account's {quota} managed policies per role" if quota else
                "quota of managed policies per role is unknown (iam:GetAccountSummary:")
        assert any(note in caveat for caveat in plan.caveats), plan.caveats
    else:
        assert plan.status == "failed" and not plan.changes
        assert f"already has {attached} managed policies attached" in (plan.message or "")
        assert f"being {quota}: nothing written" in (plan.message or "")
