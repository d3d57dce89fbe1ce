"""The policy documents, pinned exactly (moto ignores DateLessThan, so these are the proof)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from scanner.revocation.plan import denied_principals, trust_principals
from scanner.revocation.policy import (
    InstanceNetwork,
    covers,
    existing_cutoff,
    expired_session_policy,
    iso_z,
    merge,
    off_instance_statement,
    off_instance_user_id,
    older_sessions_statement,
    policy_size,
    revoke_older_sessions,
    session_policy,
    session_policy_name,
    session_statement,
    session_user_id,
    without_run,
)
from scanner.revocation.targets import TargetKind, role_target, unmodifiable_reason


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
    name = session_policy_name("AROAEXAMPLEID:alice@example.com")
    assert name.startswith("StsleakRevokedSession.alice@example.com.") and len(name) <= 128
    assert session_policy_name("AROAEXAMPLEID:a") != session_policy_name("AROAOTHERID:a")


def test_merge_keeps_foreign_statements_and_never_moves_the_cutoff_back() -> None:
    foreign = {"Sid": "Mine", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
    later = older_sessions_statement("2026-11-24T22:00:00Z")  # another responder, a later cutoff
    existing = {"Version": "2012-10-17", "Statement": [foreign, later]}
    merged = merge(existing, [older_sessions_statement("2026-11-24T21:00:00Z")])
    assert merged["Statement"] == [foreign, later]
    assert existing_cutoff(merged) == datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    earlier = {"Version": "2012-10-17", "Statement": [foreign, older_sessions_statement("2026-11-24T20:00:00Z")]}
    assert merge(earlier, [older_sessions_statement("2026-11-24T21:00:00Z")])["Statement"] == [
        foreign, older_sessions_statement("2026-11-24T21:00:00Z")]


def test_covers_accepts_later_cutoffs_only() -> None:
    ours = [session_statement("R:s", "2026-11-24T21:00:00Z")]
    assert covers(session_policy("R:s", "2026-11-24T21:00:00Z"), ours)
    assert covers(session_policy("R:s", "2026-11-24T21:30:00Z"), ours)
    assert not covers(session_policy("R:s", "2026-11-24T20:59:59Z"), ours)
    assert not covers(session_policy("R:other", "2026-11-24T21:30:00Z"), ours)
    assert not covers(None, ours)


def test_pruning_uses_the_longest_possible_session() -> None:
    at = datetime(2026, 11, 25, 9, 0, 1, tzinfo=UTC)
    assert expired_session_policy(session_policy("R:s", "2026-11-24T21:00:00Z"), at)  # 12 h 1 s ago
    assert not expired_session_policy(session_policy("R:s", "2026-11-24T21:00:02Z"), at)  # MaxSessionDuration ignored
    assert not expired_session_policy(revoke_older_sessions("2026-11-01T00:00:00Z"), at)  # not ours


def test_sizes_are_counted_as_iam_counts() -> None:
    assert policy_size('{"a": "b c"}') == len('{"a":"bc"}')
    document = {"Statement": [{"Sid": "x", "Resource": "arn:aws:s3:::bücher"}]}
    assert policy_size(document) == len(json.dumps(document, ensure_ascii=False, separators=(",", ":")))
    assert policy_size(document) < len(json.dumps(document, separators=(",", ":")))  # not 6 per character


def test_unmodifiable_roles_and_targets() -> None:
    assert "service-linked" in (unmodifiable_reason("AWSServiceRoleForSupport") or "")
    assert "SCPs do not affect service-linked roles" in (unmodifiable_reason("AWSServiceRoleForSupport") or "")
    assert "Identity Center" in (unmodifiable_reason("AWSReservedSSO_Admin_0123") or "")
    assert "Identity Center" in (unmodifiable_reason("x", "/aws-reserved/sso.amazonaws.com/eu-west-1/") or "")
    assert unmodifiable_reason("etl", "/data/") is None
    target = role_target("arn:aws-cn:iam::123456789012:role/data/team/etl", ["s1"])
    assert (target.name, target.account, target.path, target.sessions) == ("etl", "123456789012", "/data/team/", ["s1"])
    assert target.partition == "aws-cn" and target.kind is TargetKind.ROLE
    bad = role_target("arn:aws:iam::123456789012:user/bob")
    assert bad.kind is TargetKind.ROLE and bad.refusal == "not a role ARN: arn:aws:iam::123456789012:user/bob"
    assert trust_principals({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["arn:b", "arn:a"], "Service": "ec2.amazonaws.com"}},
        {"Effect": "Allow", "Principal": "*"}]}) == ["*", "AWS:arn:a", "AWS:arn:b", "Service:ec2.amazonaws.com"]


def test_the_trust_policy_as_it_is() -> None:
    """Issue 22: a Deny principal is never "trusted"; a condition (an OIDC sub) stays with its principal."""
    oidc = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    trust = {"Statement": [
        {"Effect": "Allow", "Principal": {"Federated": oidc}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/app:*"}}},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::123456789012:user/intern"}, "Action": "sts:*"},
        {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}]}
    assert trust_principals(trust) == [
        "AWS:arn:aws:iam::123456789012:root",
        f'Federated:{oidc} when StringLike token.actions.githubusercontent.com:sub="repo:acme/app:*"',
        "everyone but AWS:arn:aws:iam::999999999999:root"]
    assert denied_principals(trust) == ["AWS:arn:aws:iam::123456789012:user/intern"]


def test_off_instance_statements_merge_and_undo_by_their_own_purpose() -> None:
    network = InstanceNetwork("i-0123456789abcdef0", "vpc-0abc", "10.0.1.5", ("198.51.100.9",))
    uid = "AROAEXAMPLEID:i-0123456789abcdef0"
    first = off_instance_statement(uid, network, "2026-12-01T10:00:00Z", "aaaaaaaaaaaa")
    assert off_instance_user_id(first) == uid and session_user_id(first) is None
    session = session_statement(uid, "2026-12-01T09:00:00Z")
    merged = merge({"Version": "2012-10-17", "Statement": [session]},
                   [off_instance_statement(uid, network, "2026-12-01T11:00:00Z", "bbbbbbbbbbbb")])
    assert merged["Statement"][0] == session and off_instance_user_id(merged["Statement"][1]) == uid  # both kept
    again = merge(merged, [first])  # an earlier cutoff never replaces a later one of the same purpose
    assert again["Statement"][1]["Condition"]["DateLessThan"]["aws:TokenIssueTime"] == "2026-12-01T11:00:00Z"
    left, undone = without_run(merged, "bbbbbbbbbbbb", None)
    assert left == {"Version": "2012-10-17", "Statement": [session]} and len(undone) == 1
