"""What moto never shows, on real botocore clients with botocore's Stubber (and only that):
IAM's eventual consistency after a write, and InvalidClientTokenId for a live key in an opt-in region.
AWS's clock (the Date header) is a pure function of the response, tested directly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import botocore.session
import pytest
from botocore.stub import Stubber

from scanner.aws_session import AwsOptions, LeakedStsClient, Operator
from scanner.revocation.apply import Applier, ReadBack
from scanner.revocation.audit import AuditLog
from scanner.revocation.calls import AuditedCalls
from scanner.revocation.lockout import OperatorIdentity
from scanner.revocation.model import Change, Plan, Target, TargetKind
from scanner.revocation.policy import older_sessions_statement, policy_text, revoke_older_sessions
from scanner.revocation.run import aws_cutoff
from scanner.verification.sts import verify_set

KEY, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OPTIONS = AwsOptions(region="us-east-1", endpoint_url="http://127.0.0.1:9", operator_keys=(KEY, SECRET, None))


def _client(service: str, region: str = "us-east-1"):
    return botocore.session.Session().create_client(service, region_name=region, aws_access_key_id=KEY,
                                                    aws_secret_access_key=SECRET)


class FakeTime:
    """Sleeping advances the clock: the 30 s of read-back take no time in the test."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _plan(old: dict, cutoff: str) -> Plan:
    ours = [older_sessions_statement(cutoff)]
    change = Change("PutRolePolicy", {"RoleName": "etl", "PolicyName": "AWSRevokeOlderSessions",
                                      "PolicyDocument": policy_text(revoke_older_sessions(cutoff))},
                    "role-policy:etl:AWSRevokeOlderSessions", {"PolicyDocument": old}, ours)
    return Plan(Target(TargetKind.ROLE, "etl"), "role", "arn:aws:iam::123456789012:role/etl", changes=[change])


def _get(document: dict) -> dict:
    return {"RoleName": "etl", "PolicyName": "AWSRevokeOlderSessions", "PolicyDocument": json.dumps(document)}


@pytest.mark.parametrize("stale_reads", [0, 2, 99])
def test_read_back_waits_for_the_new_document(tmp_path: Path, stale_reads: int) -> None:
    old = revoke_older_sessions("2026-11-01T00:00:00Z")
    new = revoke_older_sessions("2026-12-01T10:00:01Z")
    iam = _client("iam")
    clock = FakeTime()
    plan = _plan(old, "2026-12-01T10:00:01Z")
    with Stubber(iam) as stub:
        stub.add_response("put_role_policy", {})
        reads = min(stale_reads, 8)  # reads after ~0, 0.5, 1.5, 3.5, 7.5, 15.5, 23.5, 31.5 s: then it gives up
        for _ in range(reads):
            stub.add_response("get_role_policy", _get(old))
        if stale_reads < 99:
            stub.add_response("get_role_policy", _get(new))
        calls = AuditedCalls(Operator(OPTIONS, clients={"iam": iam}), AuditLog(tmp_path / "a.jsonl", False))
        Applier(calls, OperatorIdentity(), ReadBack(sleep=clock.sleep, clock=lambda: clock.now)).apply(plan)
        stub.assert_no_pending_responses()
    if stale_reads == 99:
        assert plan.status == "failed" and "IAM does not show the change after 30 s" in (plan.message or "")
        assert clock.now >= 30
    else:
        assert plan.status == "revoked" and plan.message == "takes effect within minutes; read back from IAM"
        assert clock.sleeps[1:] == [0.5, 1.0][:stale_reads]  # the first sleep is the short random one


def test_invalid_in_an_opt_in_region_is_retried_in_the_default_region(creds) -> None:
    options = AwsOptions(region="ap-east-1")
    opt_in, default = _client("sts", "ap-east-1"), _client("sts", "us-east-1")
    client = LeakedStsClient(options, clients={"ap-east-1": opt_in, "us-east-1": default})
    arn = "arn:aws:sts::123456789012:assumed-role/etl/laptop"
    with Stubber(opt_in) as first, Stubber(default) as second:
        first.add_client_error("get_caller_identity", service_error_code="InvalidClientTokenId",
                               service_message="The security token included in the request is invalid",
                               http_status_code=403)
        second.add_response("get_caller_identity", {"Arn": arn, "UserId": "AROAEXAMPLE:laptop",
                                                    "Account": "123456789012"})
        verification = verify_set(client, (creds.access_key_id, creds.secret_access_key, creds.session_token))
        first.assert_no_pending_responses()
        second.assert_no_pending_responses()
    assert verification.status == "live" and verification.arn == arn


def test_invalid_says_which_partition_said_so(creds) -> None:
    options = AwsOptions(partition="aws-us-gov")
    sts = _client("sts", "us-gov-west-1")
    client = LeakedStsClient(options, client=sts)
    with Stubber(sts) as stub:
        for _ in range(2):
            stub.add_client_error("get_caller_identity", service_error_code="InvalidClientTokenId",
                                  http_status_code=403)
        verification = verify_set(client, (creds.access_key_id, creds.secret_access_key, creds.session_token))
    assert verification.status == "invalid"
    assert "STS of partition aws-us-gov, region us-gov-west-1" in (verification.error or "")


def test_the_cutoff_comes_from_aws_clock() -> None:
    response = {"ResponseMetadata": {"HTTPHeaders": {"date": "Tue, 01 Dec 2026 10:00:00 GMT"}}}
    local = datetime(2026, 12, 1, 10, 5, 0, tzinfo=UTC)
    cutoff, warning = aws_cutoff(response, local)
    assert cutoff == "2026-12-01T10:00:01Z"  # the next second: a session issued in that second is not spared
    assert warning == "the local clock is +300 s off AWS's; the cutoff uses AWS's clock"
    assert aws_cutoff(response, datetime(2026, 12, 1, 10, 0, 0, 400000, tzinfo=UTC))[1] is None
    fallback, note = aws_cutoff({}, local)
    assert fallback == "2026-12-01T10:05:01Z" and "local clock" in (note or "")
