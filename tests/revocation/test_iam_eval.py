"""The test evaluator (tests/support/iam_eval.py) against cases the IAM User Guide documents.

Each case names the page it comes from; the deny documents of stsleak are only as well checked as
this evaluator is right, so it is checked first.
"""

from __future__ import annotations

import pytest

from tests.support.iam_eval import Decision, Request, decide, key_holds

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _one(effect: str, condition: dict | None = None, action: object = "*", resource: object = "*") -> dict:
    statement = {"Effect": effect, "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def test_explicit_deny_wins_and_nothing_allowed_is_an_implicit_deny() -> None:
    """Policy evaluation logic: an explicit deny overrides any allow; without an allow the request is denied."""
    request = Request("s3:ListAllMyBuckets")
    assert decide([ALLOW_ALL], request) is Decision.ALLOW
    assert decide([ALLOW_ALL, _one("Deny")], request) is Decision.DENY
    assert decide([], request) is Decision.IMPLICIT_DENY
    assert decide([_one("Allow", action="ec2:*")], request) is Decision.IMPLICIT_DENY


def test_the_consoles_revoke_older_sessions() -> None:
    """Revoking IAM role temporary security credentials: deny when aws:TokenIssueTime is before the cutoff
    (DateLessThan is strict: a session issued at the cutoff itself keeps working)."""
    revoke = _one("Deny", {"DateLessThan": {"aws:TokenIssueTime": "2026-12-01T10:00:00Z"}})
    older = Request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:TokenIssueTime": "2026-12-01T09:59:59Z"})
    at = Request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:TokenIssueTime": "2026-12-01T10:00:00Z"})
    later = Request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:TokenIssueTime": "2026-12-01T10:00:01.500Z"})
    long_term = Request("s3:GetObject", "arn:aws:s3:::b/k")  # a long-term key's requests carry no TokenIssueTime
    assert decide([ALLOW_ALL, revoke], older) is Decision.DENY
    assert [decide([ALLOW_ALL, revoke], r) for r in (at, later, long_term)] == [Decision.ALLOW] * 3


def test_deny_by_source_ip_example() -> None:
    """Example policy "AWS: Denies access to AWS based on the source IP": NotIpAddress + Bool aws:ViaAWSService."""
    deny = _one("Deny", {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]},
                         "Bool": {"aws:ViaAWSService": "false"}})
    outside = Request("ec2:RunInstances", context={"aws:SourceIp": "198.51.100.1", "aws:ViaAWSService": False})
    inside = Request("ec2:RunInstances", context={"aws:SourceIp": "203.0.113.77", "aws:ViaAWSService": False})
    by_service = Request("ec2:RunInstances", context={"aws:SourceIp": "198.51.100.1", "aws:ViaAWSService": True})
    assert decide([ALLOW_ALL, deny], outside) is Decision.DENY
    assert decide([ALLOW_ALL, deny], inside) is Decision.ALLOW
    assert decide([ALLOW_ALL, deny], by_service) is Decision.ALLOW


@pytest.mark.parametrize(("operator", "holds"), [
    ("StringEquals", False), ("StringLike", False), ("IpAddress", False), ("DateLessThan", False),  # false
    ("StringNotEquals", True), ("StringNotLike", True), ("NotIpAddress", True), ("ArnNotLike", True),  # negated
    ("StringEqualsIfExists", True), ("IpAddressIfExists", True), ("StringNotEqualsIfExists", True),  # IfExists
])
def test_a_key_absent_from_the_request_context(operator: str, holds: bool) -> None:
    """Condition operators: "If the key that you specify in a policy condition is not present in the request
    context, the values do not match and the condition is false. If the policy condition requires that the key
    is not matched, such as StringNotLike or ArnNotLike, and the right key is not present, the condition is
    true. This logic applies to all condition operators except ...IfExists and Null check.\""""
    value = {"IpAddress": "10.0.0.0/8", "NotIpAddress": "10.0.0.0/8", "IpAddressIfExists": "10.0.0.0/8",
             "DateLessThan": "2026-01-01T00:00:00Z"}.get(operator, "x")
    assert key_holds(operator, "aws:SourceVpc", value, Request("s3:GetObject")) is holds


def test_if_exists_checks_the_key_when_it_is_there() -> None:
    """...IfExists: "If the policy key is present in the context of the request, process the key as specified in
    the policy. If the key is not present, evaluate the condition element as true.\""""
    present = Request("s3:GetObject", context={"aws:SourceVpc": "vpc-1"})
    assert key_holds("StringEqualsIfExists", "aws:SourceVpc", "vpc-1", present)
    assert not key_holds("StringEqualsIfExists", "aws:SourceVpc", "vpc-2", present)
    assert not key_holds("BoolIfExists", "aws:ViaAWSService", "false",
                         Request("s3:GetObject", context={"aws:ViaAWSService": True}))


def test_null_checks_presence_only() -> None:
    """Null condition operator: true means the key must be absent, false that it must be present."""
    absent, present = Request("s3:GetObject"), Request("s3:GetObject", context={"aws:TokenIssueTime": "x"})
    assert key_holds("Null", "aws:TokenIssueTime", "true", absent)
    assert not key_holds("Null", "aws:TokenIssueTime", "true", present)
    assert key_holds("Null", "aws:TokenIssueTime", "false", present)


def test_many_values_or_many_keys_and() -> None:
    """Conditions with multiple context keys or values: values of one key are ORed (a negated operator: NOR),
    keys and operators are ANDed; key names are case-insensitive, string values are not."""
    request = Request("s3:GetObject", context={"aws:PrincipalTag/dept": "eng", "aws:RequestedRegion": "eu-west-1"})
    assert key_holds("StringEquals", "aws:principaltag/dept", ["ops", "eng"], request)
    assert not key_holds("StringEquals", "aws:PrincipalTag/dept", "ENG", request)
    assert not key_holds("StringNotEquals", "aws:PrincipalTag/dept", ["ops", "eng"], request)  # NOR
    assert key_holds("StringNotEquals", "aws:PrincipalTag/dept", ["ops", "hr"], request)
    both = _one("Deny", {"StringEquals": {"aws:PrincipalTag/dept": "eng", "aws:RequestedRegion": "us-east-1"}})
    assert decide([ALLOW_ALL, both], request) is Decision.ALLOW  # one key of two does not match
    both["Statement"][0]["Condition"]["StringEquals"]["aws:RequestedRegion"] = "eu-west-1"
    assert decide([ALLOW_ALL, both], request) is Decision.DENY


def test_action_and_resource_wildcards() -> None:
    """Action: case-insensitive, `*` and `?`; NotAction matches every other action; Resource is case-sensitive."""
    policy = _one("Allow", action=["s3:get*"], resource="arn:aws:s3:::reports/*")
    assert decide([policy], Request("S3:GetObject", "arn:aws:s3:::reports/2026/q1.csv")) is Decision.ALLOW
    assert decide([policy], Request("s3:PutObject", "arn:aws:s3:::reports/x")) is Decision.IMPLICIT_DENY
    assert decide([policy], Request("s3:GetObject", "arn:aws:s3:::Reports/x")) is Decision.IMPLICIT_DENY
    not_iam = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    assert decide([not_iam], Request("iam:CreateUser")) is Decision.IMPLICIT_DENY
    assert decide([not_iam], Request("ec2:RunInstances")) is Decision.ALLOW
    assert decide([_one("Allow", action="ec2:Describe?nstances")], Request("ec2:DescribeInstances")) is Decision.ALLOW


def test_what_it_does_not_implement_is_refused() -> None:
    with pytest.raises(NotImplementedError):
        key_holds("StringEquals", "aws:SourceVpc", "${aws:ec2InstanceSourceVPC}", Request("s3:GetObject"))
    with pytest.raises(NotImplementedError):
        key_holds("ForAnyValue:StringEquals", "aws:TagKeys", "a", Request("s3:GetObject"))
    with pytest.raises(NotImplementedError):
        key_holds("BinaryEquals", "k", "AA==", Request("s3:GetObject", context={"k": "x"}))
