"""CloudTrail LookupEvents through the emulator: paging, pacing, throttling back-off, denied regions,
and what the recording proxy stores (never a secret)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from scanner.aws_session import AwsOptions, Operator
from scanner.investigation.cloudtrail import EventReader, LookupOptions, fold, search_key
from scanner.investigation.model import MAX_DISTINCT, Activity
from tests.investigation.conftest import REGION, Incident


def _operator(incident: Incident) -> Operator:
    key, secret = incident.world.operator_key
    return Operator(AwsOptions(region=REGION, operator_keys=(key, secret, None)))


def _busy_key(incident: Incident, calls: int) -> str:
    """A key that made `calls` ListBuckets calls through the proxy (so CloudTrail has them)."""
    _, key, secret = incident.world.make_user("busy", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    from tests.aws.conftest import Leak

    s3 = incident.attacker(Leak(key, secret, None), "s3")
    for _ in range(calls):
        s3.list_buckets()
    return key


@pytest.fixture
def env(incident: Incident, monkeypatch: pytest.MonkeyPatch) -> Incident:
    for name, value in incident.env().items():
        monkeypatch.setenv(name, value)
    return incident


def test_pages_with_next_token_and_backs_off_when_throttled(env: Incident) -> None:
    key = _busy_key(env, 7)
    env.emulator.page_size = 2
    env.emulator.throttle(2)
    try:
        reader = EventReader(_operator(env), LookupOptions(rate=50, backoff=0.05))
        activity = Activity(key)
        search_key(reader, activity, [REGION], None)
    finally:
        env.emulator.page_size = 50
    assert activity.by_name["s3.amazonaws.com ListBuckets"].count == 7
    assert activity.notes == []
    statuses = [r["status"] for r in env.emulator.requests[-6:]]
    assert statuses == ["ThrottlingException", "ThrottlingException", "ok", "ok", "ok", "ok"]  # 4 pages of 2


def test_paced_to_the_regional_limit(env: Incident) -> None:
    key = _busy_key(env, 5)
    env.emulator.page_size, env.emulator.rate_limit = 2, 2.0  # AWS: 2 requests/s per region
    try:
        activity = Activity(key)
        search_key(EventReader(_operator(env), LookupOptions()), activity, [REGION], None)
    finally:
        env.emulator.page_size, env.emulator.rate_limit = 50, None
    assert activity.events == 5 and activity.notes == []
    statuses = [r["status"] for r in env.emulator.requests[-3:]]
    assert statuses == ["ok", "ok", "ok"]  # 3 pages, none throttled


def test_a_denied_region_is_a_note_and_the_others_go_on(env: Incident) -> None:
    key = _busy_key(env, 2)
    env.emulator.deny_region("eu-west-1")
    activity = Activity(key)
    search_key(EventReader(_operator(env), LookupOptions(rate=50)), activity, ["eu-west-1", REGION], None)
    assert activity.events == 2
    assert len(activity.notes) == 1 and activity.notes[0].startswith("eu-west-1: the operator may not call")


def test_a_region_not_enabled_is_a_note(env: Incident) -> None:
    reader = EventReader(_operator(env), LookupOptions(rate=50))
    client = reader._client("ap-east-1")
    with Stubber(client) as stub:  # the emulator has no opt-in regions: AWS's answer, stubbed
        stub.add_client_error("lookup_events", "UnrecognizedClientException", "The security token is invalid", 400)
        activity = Activity("AKIAIOSFODNN7EXAMPLE")
        search_key(reader, activity, ["ap-east-1"], None)
    assert "CloudTrail is not available to this account there" in activity.notes[0]


def test_the_proxy_records_minted_key_ids_but_no_secret(incident: Incident) -> None:
    world = incident.world
    iam = world.setup_client("iam")
    created = iam.create_access_key(UserName="developer")["AccessKey"]
    events = json.dumps(incident.emulator.store.all())
    assert created["AccessKeyId"] in events
    assert created["SecretAccessKey"] not in events


def test_assume_role_event_carries_the_minted_key_and_hides_the_token(incident: Incident) -> None:
    world = incident.world
    world.make_role("r1")
    leak = world.assume("r1", "s1")
    records = [e for e in incident.emulator.store.all() if e["eventName"] == "AssumeRole"]
    assert records[-1]["responseElements"]["credentials"]["accessKeyId"] == leak.access_key_id
    text = json.dumps(records)
    assert leak.secret not in text and (leak.token or "") not in text
    assert records[-1]["requestParameters"] == {"roleArn": world.roles["r1"]["Arn"], "roleSessionName": "s1"}


def test_fold_keeps_memory_bounded_and_marks_our_calls() -> None:
    activity = Activity("AKIAIOSFODNN7EXAMPLE")
    cutoff = datetime(2026, 12, 1, tzinfo=UTC)
    for n in range(3 * MAX_DISTINCT):
        when = (cutoff + timedelta(seconds=n - 10)).strftime("%Y-%m-%dT%H:%M:%SZ")
        fold(activity, {"eventTime": when, "eventName": f"Op{n}", "eventSource": "x.amazonaws.com",
                        "awsRegion": "us-east-1", "sourceIPAddress": f"10.0.{n // 256}.{n % 256}",
                        "userAgent": f"agent/{n}", "errorCode": "AccessDenied"}, cutoff)
    assert len(activity.source_ips) == len(activity.user_agents) == MAX_DISTINCT + 1
    assert len(activity.by_name) == MAX_DISTINCT + 1
    assert activity.events == 3 * MAX_DISTINCT
    assert activity.first_access_denied_after_cutoff == "2026-12-01T00:00:00Z"
    assert activity.access_denied_after_cutoff == 3 * MAX_DISTINCT - 10
    assert activity.ours == 0  # no request of ours among them


def test_ours_is_decided_by_our_request_ids_not_by_the_user_agent() -> None:
    activity = Activity("AKIAIOSFODNN7EXAMPLE")
    event = {"eventTime": "2026-12-01T00:00:00Z", "eventName": "GetCallerIdentity",
             "eventSource": "sts.amazonaws.com", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.1"}
    fold(activity, {**event, "requestID": "req-ours", "userAgent": "Boto3/1.44 stsleak"}, None, frozenset({"req-ours"}))
    fold(activity, {**event, "requestID": "req-theirs", "userAgent": "Boto3/1.44 stsleak"}, None,
         frozenset({"req-ours"}))  # an attacker sending stsleak's user agent is still someone else
    assert activity.events == 2 and activity.ours == 1
    assert activity.first_use_by_others == "2026-12-01T00:00:00Z"


def test_a_failing_region_is_failed_with_one_line_and_never_clean(env: Incident) -> None:
    key = _busy_key(env, 2)
    env.emulator.break_region("eu-west-1")
    activity = Activity(key)
    search_key(EventReader(_operator(env), LookupOptions(rate=50)), activity, ["eu-west-1", REGION], None)
    assert activity.events == 2 and not activity.complete
    (failed,) = activity.incomplete
    assert failed.region == "eu-west-1" and failed.status == "failed" and failed.pages == 0
    assert failed.reason and "\n" not in failed.reason and "<" not in failed.reason and len(failed.reason) < 300
    assert [s.status for s in activity.searches] == ["failed", "complete"]


def test_a_region_failing_after_some_pages_is_partial(env: Incident) -> None:
    key = _busy_key(env, 5)
    env.emulator.page_size = 2
    env.emulator.break_region(REGION, after_pages=1)
    try:
        activity = Activity(key)
        search_key(EventReader(_operator(env), LookupOptions(rate=50)), activity, [REGION], None)
    finally:
        env.emulator.page_size = 50
    (partial,) = activity.incomplete
    assert partial.status == "partial" and partial.pages == 1 and activity.events == 2


def test_botocore_makes_one_attempt_so_every_attempt_is_paced(env: Incident) -> None:
    key = _busy_key(env, 1)
    env.emulator.break_region(REGION)  # a 500: botocore's standard mode would retry it on its own
    activity = Activity(key)
    before = len(env.emulator.requests)
    search_key(EventReader(_operator(env), LookupOptions(rate=50)), activity, [REGION], None)
    assert len(env.emulator.requests) - before == 1
