"""What a key did: CloudTrail LookupEvents by AccessKeyId, in every enabled region, streamed.

LookupEvents allows 2 requests/s per account and region, retries included, one lookup attribute
per call, 90 days of management events, paged by NextToken. Every call is paced per region and
backed off on throttling; botocore makes exactly one attempt (`total_max_attempts=1`), so every
attempt is ours and paced. Events are folded into an `Activity` as they arrive and then dropped:
memory stays bounded whatever the key did. Each region's search ends complete, partial or failed,
with a one-line reason: a failed search never reads as "no events".

Our own calls with a leaked key (verification's GetCallerIdentity) are recognised by the request
ids AWS answered them with, which CloudTrail records as `requestID`; a user agent proves nothing
(any caller can send any user agent).
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
from scanner.investigation.model import MAX_DISTINCT, Activity, EventStat, RegionSearch, SearchStatus
from scanner.investigation.model import moment as parse_time

WINDOW = "CloudTrail event history: management events of the last 90 days (data events such as S3 GetObject " \
         "are only in trails that record them)"
_TAG = re.compile(r"<[^<>]{0,500}>")
_SPACE = re.compile(r"\s+")
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                          "Client.UnauthorizedOperation", "UnauthorizedAccess"})
NOT_ENABLED_CODES = frozenset({"OptInRequired", "UnrecognizedClientException", "InvalidClientTokenId",
                               "AuthFailure", "TrailNotFoundException", "CloudTrailAccessNotEnabledException"})
THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException",
                            "RequestLimitExceeded"})
EventCallback = Callable[[dict[str, Any], Activity], None]
Progress = Callable[[str, str, int, int], None]  # key, region, region index (1-based), region count


def one_line(text: str, limit: int = 200) -> str:
    """An error message as one short line: markup (an HTML or XML error page) and line breaks gone."""
    flat = _SPACE.sub(" ", _TAG.sub(" ", text[:20_000])).strip()
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"



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
    message = one_line(message) or code or "no reason given"
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
            from botocore.config import Config

            aws = replace(self.operator.options, region=region)
            single = Config(retries={"mode": "standard", "total_max_attempts": 1})  # every attempt paced by us
            self._clients[region] = self.operator.session.client(
                "cloudtrail", region_name=region, endpoint_url=aws.endpoint_url,
                config=client_config(aws).merge(single))
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

    def events(self, access_key_id: str, region: str, search: RegionSearch | None = None) -> Iterator[dict[str, Any]]:
        """Every CloudTrail record of the key in the region, newest first, one page in memory at a time."""
        search = search or RegionSearch(region)
        request: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "AccessKeyId", "AttributeValue": access_key_id}],
            "StartTime": self.options.start_time(), "EndTime": datetime.now(UTC), "MaxResults": 50}
        seen = 0
        while True:
            page = self._page(region, request)
            search.pages += 1
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


def fold(activity: Activity, record: dict[str, Any], cutoff: datetime | None,
         ours_ids: frozenset[str] = frozenset()) -> None:
    """Count one event into the activity (bounded: at most MAX_DISTINCT names, IPs and agents).

    An event is stsleak's own only when its `requestID` is one AWS answered stsleak's own call with."""
    when = record.get("eventTime") or ""
    name, source = str(record.get("eventName")), str(record.get("eventSource"))
    agent = str(record.get("userAgent") or "")[:300]
    ours = str(record.get("requestID") or "") in ours_ids
    activity.events += 1
    activity.regions_with_events.add(str(record.get("awsRegion")))
    activity.first_use = min(filter(None, (activity.first_use, when)), default=None)
    activity.last_use = max(filter(None, (activity.last_use, when)), default=None)
    if ours:
        activity.ours += 1
        activity.our_user_agents.add(agent or "?")
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
    ip = str(record.get("sourceIPAddress") or "?")[:100]
    activity.source_ips.add(ip)
    if not ours:
        activity.others_source_ips.add(ip)
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
               on_event: EventCallback | None = None, progress: Progress | None = None,
               ours_ids: frozenset[str] = frozenset()) -> None:
    """Look the key up in each region; a failing region is recorded as partial or failed (with a note)
    and the others go on."""
    activity.regions_searched = list(regions)
    for index, region in enumerate(regions, 1):
        if progress:
            progress(activity.access_key_id, region, index, len(regions))
        search = RegionSearch(region)
        activity.searches.append(search)
        try:
            for record in reader.events(activity.access_key_id, region, search):
                search.events += 1
                fold(activity, record, cutoff, ours_ids)
                if on_event and not record.get("errorCode"):
                    on_event(record, activity)
        except RegionFailure as exc:
            search.status = SearchStatus.PARTIAL if search.pages else SearchStatus.FAILED
            search.reason = str(exc)
            activity.notes.append(str(exc))
        except Exception as exc:  # a bug or an unexpected answer: this region is unknown, never clean
            search.status = SearchStatus.PARTIAL if search.pages else SearchStatus.FAILED
            search.reason = f"{region}: {one_line(f'{type(exc).__name__}: {exc}')}"
            activity.notes.append(search.reason)
    activity.searched = True
