"""What a key did: CloudTrail LookupEvents by AccessKeyId, in every enabled region, streamed.

LookupEvents allows 2 requests/s per account and region, one lookup attribute per call, 90 days
of management events, paged by NextToken. Calls are paced per region and backed off on
throttling (botocore's own retries are off for it, so the pacing is ours). Events are folded into
an `Activity` as they arrive and then dropped: memory stays bounded whatever the key did.
Our own calls are recognised by the user agent stsleak signs with (botocore `user_agent_extra`).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from scanner.aws_session import Operator, client_config, failure_from
from scanner.investigation.model import MAX_DISTINCT, Activity, EventStat

OUR_AGENT = re.compile(r"(?:^|[\s(])stsleak(?:/[\w.+-]*)?(?=$|[\s)])")
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                          "Client.UnauthorizedOperation", "UnauthorizedAccess"})
NOT_ENABLED_CODES = frozenset({"OptInRequired", "UnrecognizedClientException", "InvalidClientTokenId",
                               "AuthFailure", "TrailNotFoundException", "CloudTrailAccessNotEnabledException"})
THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException",
                            "RequestLimitExceeded"})
EventCallback = Callable[[dict[str, Any], Activity], None]
Progress = Callable[[str, str, int, int], None]  # key, region, region index (1-based), region count


def is_ours(user_agent: str | None) -> bool:
    return bool(user_agent and OUR_AGENT.search(user_agent[:2000]))


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LookupOptions:
    regions: tuple[str, ...] | None = None  # --regions; default: ec2:DescribeRegions
    since: datetime | None = None  # --since; default: 90 days ago
    rate: float = 2.0  # requests per second per region (AWS's limit for LookupEvents)
    max_attempts: int = 6  # per page, on throttling
    backoff: float = 0.5  # first back-off in seconds, doubled each time
    max_depth: int = 2  # how far spawned credentials are followed
    max_followed: int = 25  # spawned keys followed at most
    max_events: int = 200_000  # per key and region, then the lookup stops with a note

    def start_time(self) -> datetime:
        return self.since or datetime.now(UTC) - timedelta(days=90)


class RegionFailure(Exception):
    pass


class Pacer:
    """At most `rate` calls per second per region (other regions are not held up), with a 10% margin
    so that network jitter does not make two calls arrive closer than the limit allows."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.1 / rate if rate > 0 else 0.0
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, region: str) -> None:
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next.get(region, now))
            self._next[region] = at + self.interval
        if at > now:
            time.sleep(at - now)


def explain_region_failure(region: str, code: str, message: str) -> str:
    if code in DENIED_CODES:
        return f"{region}: the operator may not call cloudtrail:LookupEvents there ({message}); region skipped"
    if code in NOT_ENABLED_CODES:
        return f"{region}: CloudTrail is not available to this account there (region not enabled?): {message}"
    if code in THROTTLE_CODES:
        return f"{region}: still throttled after retries; the events listed for this region are incomplete"
    return f"{region}: LookupEvents failed: {message}"


class EventReader:
    """LookupEvents with the operator's credentials, one client per region, paced and backed off."""

    def __init__(self, operator: Operator, options: LookupOptions) -> None:
        self.operator = operator
        self.options = options
        self.pacer = Pacer(options.rate)
        self._clients: dict[str, Any] = {}
        self.calls = 0

    def _client(self, region: str) -> Any:
        if region not in self._clients:
            aws = replace(self.operator.options, region=region, max_attempts=1)  # our back-off, not botocore's
            self._clients[region] = self.operator.session.client(
                "cloudtrail", region_name=region, endpoint_url=aws.endpoint_url, config=client_config(aws))
        return self._clients[region]

    def _page(self, region: str, request: dict[str, Any]) -> dict[str, Any]:
        delay = self.options.backoff
        client = self._client(region)  # made before the pacer's slot: creating a client takes a while
        for attempt in range(1, self.options.max_attempts + 1):
            self.pacer.wait(region)
            self.calls += 1
            try:
                return client.lookup_events(**request)
            except Exception as exc:
                failure = failure_from(exc)
                if failure.code not in THROTTLE_CODES or attempt == self.options.max_attempts:
                    raise RegionFailure(explain_region_failure(region, failure.code, failure.message)) from None
                time.sleep(delay * (1 + random.random() / 4))
                delay *= 2
        raise AssertionError("unreachable")

    def events(self, access_key_id: str, region: str) -> Iterator[dict[str, Any]]:
        """Every CloudTrail record of the key in the region, newest first, one page in memory at a time."""
        request: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "AccessKeyId", "AttributeValue": access_key_id}],
            "StartTime": self.options.start_time(), "EndTime": datetime.now(UTC), "MaxResults": 50}
        seen = 0
        while True:
            page = self._page(region, request)
            for summary in page.get("Events", []):
                seen += 1
                yield _record_of(summary, region)
            token = page.get("NextToken")
            if not token:
                return
            if seen >= self.options.max_events:
                raise RegionFailure(f"{region}: stopped after {seen} events (--max-events); the rest is not counted")
            request["NextToken"] = token


def _record_of(summary: dict[str, Any], region: str) -> dict[str, Any]:
    try:
        record = json.loads(summary.get("CloudTrailEvent") or "{}")
    except ValueError:
        record = {}
    if not isinstance(record, dict):
        record = {}
    when = summary.get("EventTime")
    record.setdefault("eventName", summary.get("EventName") or "?")
    record.setdefault("eventSource", summary.get("EventSource") or "?")
    record.setdefault("awsRegion", region)
    if isinstance(when, datetime) and "eventTime" not in record:
        record["eventTime"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return record


def enabled_regions(operator: Operator, requested: tuple[str, ...] | None) -> tuple[list[str], list[str]]:
    """--regions, or the account's enabled regions (ec2:DescribeRegions); notes when that fails."""
    if requested:
        return list(requested), []
    try:
        answer = operator.client("ec2").describe_regions()
    except Exception as exc:
        region = operator.options.resolved_region()
        return [region], [f"ec2:DescribeRegions failed ({failure_from(exc).message}): only {region} was searched "
                          "(use --regions)"]
    regions = sorted(r["RegionName"] for r in answer.get("Regions", [])
                     if r.get("OptInStatus", "opt-in-not-required") != "not-opted-in")
    return regions or [operator.options.resolved_region()], []


def fold(activity: Activity, record: dict[str, Any], cutoff: datetime | None) -> None:
    """Count one event into the activity (bounded: at most MAX_DISTINCT names, IPs and agents)."""
    when = record.get("eventTime") or ""
    name, source = str(record.get("eventName")), str(record.get("eventSource"))
    agent = str(record.get("userAgent") or "")[:300]
    ours = is_ours(agent)
    activity.events += 1
    activity.regions_with_events.add(str(record.get("awsRegion")))
    activity.first_use = min(filter(None, (activity.first_use, when)), default=None)
    activity.last_use = max(filter(None, (activity.last_use, when)), default=None)
    if ours:
        activity.ours += 1
        if len(activity.our_user_agents) < MAX_DISTINCT:
            activity.our_user_agents.add(agent)
    else:
        activity.first_use_by_others = min(filter(None, (activity.first_use_by_others, when)), default=None)
        activity.last_use_by_others = max(filter(None, (activity.last_use_by_others, when)), default=None)
    key = f"{source} {name}"
    if key not in activity.by_name and len(activity.by_name) >= MAX_DISTINCT:
        key, name = "(other)", "(other)"
    stat = activity.by_name.setdefault(key, EventStat(name, source))
    stat.count += 1
    stat.ours += int(ours)
    stat.first = min(filter(None, (stat.first, when)), default=None)
    stat.last = max(filter(None, (stat.last, when)), default=None)
    stat.regions.add(str(record.get("awsRegion")))
    activity.source_ips.add(str(record.get("sourceIPAddress") or "?")[:100])
    activity.user_agents.add(agent or "?")
    code = record.get("errorCode")
    if code:
        activity.error_codes.add(str(code)[:100])
        stat.errors[str(code)[:100]] += 1
        moment = parse_time(when)
        if str(code) in DENIED_CODES and cutoff and moment and moment >= cutoff:
            activity.access_denied_after_cutoff += 1
            activity.first_access_denied_after_cutoff = min(
                filter(None, (activity.first_access_denied_after_cutoff, when)), default=None)


def search_key(reader: EventReader, activity: Activity, regions: list[str], cutoff: datetime | None,
               on_event: EventCallback | None = None, progress: Progress | None = None) -> None:
    """Look the key up in each region; a failing region becomes a note and the others go on."""
    activity.regions_searched = list(regions)
    for index, region in enumerate(regions, 1):
        if progress:
            progress(activity.access_key_id, region, index, len(regions))
        try:
            for record in reader.events(activity.access_key_id, region):
                fold(activity, record, cutoff)
                if on_event and not record.get("errorCode"):
                    on_event(record, activity)
        except RegionFailure as exc:
            activity.notes.append(str(exc))
    activity.searched = True
