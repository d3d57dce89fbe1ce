"""The three answers moto never gives (ExpiredToken, UnmodifiableEntity, LimitExceeded): botocore's
Stubber on real botocore clients, and only here."""

from __future__ import annotations

import json
import random
from pathlib import Path

import botocore.session
import pytest
from botocore.stub import Stubber

from scanner.aws_session import AwsOptions, LeakedStsClient, Operator
from scanner.model import Finding
from scanner.revocation.apply import Applier
from scanner.revocation.audit import AuditLog
from scanner.revocation.calls import AuditedCalls
from scanner.revocation.lockout import OperatorIdentity
from scanner.revocation.model import Change, Plan, Target, TargetKind
from scanner.testing import fakes
from scanner.verification.sts import verify_findings

OPTIONS = AwsOptions(region="us-east-1", endpoint_url="http://127.0.0.1:9", operator_keys=(
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None))


def _client(service: str):
    return botocore.session.Session().create_client(
        service, region_name="us-east-1", aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def test_expired_token_is_expired(creds) -> None:
    sts = _client("sts")
    with Stubber(sts) as stub:
        stub.add_client_error("get_caller_identity", service_error_code="ExpiredToken",
                              service_message="The security token included in the request is expired",
                              http_status_code=403)
        finding = Finding("aws-temporary-credentials", creds.access_key_id, creds.secret_access_key,
                          creds.session_token, None, "x", 1)
        verify_findings([finding], OPTIONS, client=LeakedStsClient(OPTIONS, client=sts),
                        operator=Operator(OPTIONS))
        stub.assert_no_pending_responses()  # ExpiredToken is final: no retry
    assert finding.verification is not None and finding.verification.status == "expired"
    assert "expired" in (finding.verification.error or "")


def _role_plan() -> Plan:
    document = json.dumps({"Version": "2012-10-17", "Statement": []})
    change = Change("PutRolePolicy", {"RoleName": "x", "PolicyName": "AWSRevokeOlderSessions",
                                      "PolicyDocument": document}, "role-policy:x:AWSRevokeOlderSessions")
    return Plan(Target(TargetKind.ROLE, "AWSServiceRoleForSupport"), "role", "arn:aws:iam::123456789012:role/x",
                policy_name="AWSRevokeOlderSessions", changes=[change])


@pytest.mark.parametrize(("code", "status", "words"), [
    ("UnmodifiableEntity", "refused", "service-linked role"),
    ("LimitExceeded", "failed", "use --scope role"),
])
def test_put_role_policy_errors(tmp_path: Path, code: str, status: str, words: str) -> None:
    iam = _client("iam")
    audit = AuditLog(tmp_path / "audit.jsonl", dry_run=False)
    plan = _role_plan()
    with Stubber(iam) as stub:
        stub.add_client_error("put_role_policy", service_error_code=code, service_message=f"{code} happened",
                              http_status_code=409 if code == "LimitExceeded" else 400)
        calls = AuditedCalls(Operator(OPTIONS, clients={"iam": iam}), audit)
        Applier(calls, OperatorIdentity(account="123456789012")).apply(plan)
    assert plan.status == status and words in (plan.message or "")
    start, intent, call, result = [json.loads(line) for line in audit.path.read_text().splitlines()]
    assert start["event"] == "chain-start" and start["prev"] is None  # a new log begins a hash chain
    assert intent["event"] == "intent" and intent["operation"] == "iam:PutRolePolicy"
    assert call["operation"] == "iam:PutRolePolicy" and call["error_code"] == code
    assert result["event"] == "result" and result["result"] == "error" and result["change"] == intent["change"]


def test_many_sets_verified_once_each_concurrently() -> None:
    """The cache: one call per distinct credential set, however many findings share it."""
    rng = random.Random(5)
    sets = [fakes.temporary(rng) for _ in range(3)]
    findings = [Finding("aws-temporary-credentials", c.access_key_id, c.secret_access_key, c.session_token,
                        None, f"f{i}", 1) for i in range(4) for c in sets]
    sts = _client("sts")
    with Stubber(sts) as stub:
        for _ in sets:
            stub.add_client_error("get_caller_identity", service_error_code="ExpiredToken", http_status_code=403)
        verify_findings(findings, OPTIONS, client=LeakedStsClient(OPTIONS, client=sts), operator=Operator(OPTIONS))
        stub.assert_no_pending_responses()
    assert {f.verification.status for f in findings if f.verification} == {"expired"}
