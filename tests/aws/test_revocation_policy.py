"""The policy documents, pinned exactly (moto ignores DateLessThan, so these are the proof)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from scanner.revocation.plan import role_target, trust_principals, unmodifiable_reason
from scanner.revocation.policy import (
    iso_z,
    merge_session_policy,
    policy_size,
    revoke_older_sessions,
    session_statement,
)


def test_role_policy_is_the_consoles() -> None:
    cutoff = iso_z(datetime(2026, 11, 24, 21, 5, 9, 123456, tzinfo=UTC))
    assert cutoff == "2026-11-24T21:05:09Z"
    assert json.dumps(revoke_older_sessions(cutoff), separators=(",", ":")) == (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],'
        '"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-24T21:05:09Z"}}}]}')


def test_session_statement_needs_both_conditions() -> None:
    statement = session_statement("AROAEXAMPLEID:laptop", "2026-11-24T21:05:09Z")
    assert statement["Condition"] == {"StringEquals": {"aws:userid": "AROAEXAMPLEID:laptop"},
                                      "DateLessThan": {"aws:TokenIssueTime": "2026-11-24T21:05:09Z"}}
    assert statement["Sid"].isalnum() and statement["Effect"] == "Deny"


def test_merge_refreshes_prunes_and_keeps_foreign_statements() -> None:
    foreign = {"Sid": "Mine", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
    existing = {"Version": "2012-10-17", "Statement": [
        session_statement("R:old", "2026-11-24T18:00:00Z"),      # 3 h ago, max session 1 h: pruned
        session_statement("R:recent", "2026-11-24T20:30:00Z"),   # still matters: kept
        session_statement("R:again", "2026-11-24T20:50:00Z"),   # revoked again: time refreshed
        foreign,
    ]}
    merged, pruned = merge_session_policy(existing, ["R:again", "R:new"], "2026-11-24T21:00:00Z", 3600)
    assert pruned == ["R:old"]
    assert merged["Statement"] == [
        session_statement("R:recent", "2026-11-24T20:30:00Z"), foreign,
        session_statement("R:again", "2026-11-24T21:00:00Z"), session_statement("R:new", "2026-11-24T21:00:00Z")]


def test_pruning_keeps_the_policy_under_the_limit_forever() -> None:
    policy = None
    for minute in range(600):  # ten hours of revocations, one a minute, max session 1 h
        cutoff = f"2026-11-24T{minute // 60 + 10:02d}:{minute % 60:02d}:00Z"
        policy, _ = merge_session_policy(policy, [f"AROAEXAMPLEID:s{minute}"], cutoff, 3600)
    assert len(policy["Statement"]) <= 61
    one = policy_size(session_statement("AROAEXAMPLEID:s1", "2026-11-24T10:00:00Z"))
    assert one * 60 > 10_240  # a minute-by-minute burst would hit the limit: the plan then refuses
    assert policy_size('{"a": "b c"}') == len('{"a":"bc"}')


def test_unmodifiable_roles_and_targets() -> None:
    assert "service-linked" in (unmodifiable_reason("AWSServiceRoleForSupport") or "")
    assert "Identity Center" in (unmodifiable_reason("AWSReservedSSO_Admin_0123") or "")
    assert "Identity Center" in (unmodifiable_reason("x", "/aws-reserved/sso.amazonaws.com/eu-west-1/") or "")
    assert unmodifiable_reason("etl", "/data/") is None
    target = role_target("arn:aws-cn:iam::123456789012:role/data/team/etl", ["s1"])
    assert (target.name, target.account, target.path, target.sessions) == ("etl", "123456789012", "/data/team/", ["s1"])
    assert role_target("arn:aws:iam::123456789012:user/bob").kind == "refused"
    assert trust_principals({"Statement": [{"Principal": {"AWS": ["arn:b", "arn:a"], "Service": "ec2.amazonaws.com"}},
                                           {"Principal": "*"}]}) == ["*", "AWS:arn:a", "AWS:arn:b",
                                                                     "Service:ec2.amazonaws.com"]
