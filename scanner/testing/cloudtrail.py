"""A CloudTrail emulator for tests and the demo: `LookupEvents` over the real JSON protocol.

moto's server has no `cloudtrail:LookupEvents`, so this is a small HTTP server on 127.0.0.1 that
speaks it (`X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents`,
one lookup attribute, StartTime/EndTime, MaxResults, NextToken paging, newest first, one store per
region taken from the SigV4 credential scope). Its events are not invented: they come from
`RecordingProxy` (scanner/testing/recording_proxy.py), which sits in front of moto and turns every
request and response that really happened into a CloudTrail event.

Other CloudTrail calls (GetTrailStatus, StopLogging, …) sent here go to `upstream` (the recording
proxy, which records them and passes them to moto, where trails live) when it is set.

Faults on request: `throttle(n)` answers the next n lookups with ThrottlingException,
`deny_region(r)` answers AccessDeniedException there, `rate_limit` throttles a region asked more
often than that many times per second (as AWS does at 2/s).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from collections import defaultdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from scanner.testing.loopback import HOP_BY_HOP, LoopbackServer, forward

TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
LOOKUP_KEYS = {"EventId": "eventID", "EventName": "eventName", "ReadOnly": "readOnly", "Username": "username",
               "ResourceType": None, "ResourceName": None, "EventSource": "eventSource", "AccessKeyId": "accessKeyId"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _event_epoch(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00")).timestamp()


def _matches(event: dict[str, Any], key: str, value: str) -> bool:
    if key == "AccessKeyId":
        return (event.get("userIdentity") or {}).get("accessKeyId") == value
    if key == "Username":
        identity = event.get("userIdentity") or {}
        return value in (identity.get("userName"), (identity.get("arn") or "").rsplit("/", 1)[-1])
    if key == "ReadOnly":
        return str(event.get("readOnly")).lower() == value.lower()
    if key in ("ResourceName", "ResourceType"):
        return False
    field = LOOKUP_KEYS.get(key)
    return field is not None and str(event.get(field)) == value


class EventStore:
    """CloudTrail's event history, per region, thread-safe. Events are CloudTrail record dicts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def add(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._events[event["awsRegion"]].append(event)

    def region(self, region: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events.get(region, []))

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e for events in self._events.values() for e in events]


class CloudTrailEmulator:
    """The emulator's state and protocol; `start()` serves it on a free loopback port."""

    def __init__(self, store: EventStore | None = None, *, page_size: int = 50,
                 rate_limit: float | None = None) -> None:
        self.store = store or EventStore()
        self.page_size = page_size
        self.rate_limit = rate_limit
        self.denied_regions: set[str] = set()
        self.broken_regions: dict[str, int] = {}  # region -> pages served before it answers 500 with an HTML page
        self._served: dict[str, int] = {}
        self.requests: list[dict[str, Any]] = []  # every LookupEvents call: region, attributes, status
        self._throttle = 0
        self._last_call: dict[str, float] = {}
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None
        self.url = ""
        self.upstream: str | None = None  # where calls other than LookupEvents go (set by RecordingProxy.start)

    # --- faults -----------------------------------------------------------------------------
    def throttle(self, count: int) -> None:
        with self._lock:
            self._throttle += count

    def deny_region(self, region: str) -> None:
        self.denied_regions.add(region)

    def break_region(self, region: str, after_pages: int = 0) -> None:
        """The region answers HTTP 500 with an HTML error page (a load balancer's), after `after_pages` pages."""
        self.broken_regions[region] = after_pages
        self._served[region] = 0

    def clear_faults(self) -> None:
        self.denied_regions.clear()
        self.broken_regions.clear()
        self._served.clear()

    # --- protocol ---------------------------------------------------------------------------
    def handle(self, target: str, body: bytes, region: str) -> tuple[int, dict[str, Any] | bytes]:
        """One JSON-protocol call -> (status, JSON body), errors in AWS's `__type` shape (a broken region:
        raw HTML bytes, as a failing proxy in front of AWS answers)."""
        if region in self.broken_regions:
            with self._lock:
                served = self._served.get(region, 0)
                self._served[region] = served + 1
            if served >= self.broken_regions[region]:
                self.requests.append({"region": region, "attributes": [], "status": "500"})
                return 500, (b"<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
                             b"<center><h1>500 Internal Server Error</h1></center>\r\n</body>\r\n</html>\r\n")
        try:
            operation = target.removeprefix(TARGET_PREFIX)
            if not target.startswith(TARGET_PREFIX) or operation != "LookupEvents":
                raise ApiError(400, "UnknownOperationException", f"operation {operation} is not emulated")
            request = json.loads(body or b"{}")
            return 200, self._lookup(request, region)
        except ApiError as exc:
            return exc.status, {"__type": exc.code, "message": exc.message}
        except (ValueError, TypeError, KeyError) as exc:
            return 400, {"__type": "InvalidParameterException", "message": str(exc)}

    def _gate(self, region: str) -> None:
        with self._lock:
            now = time.monotonic()
            too_fast = (self.rate_limit is not None and region in self._last_call
                        and now - self._last_call[region] < 1 / self.rate_limit)
            self._last_call[region] = now
            if self._throttle > 0 or too_fast:
                self._throttle = max(0, self._throttle - 1)
                raise ApiError(400, "ThrottlingException", "Rate exceeded")
        if region in self.denied_regions:
            raise ApiError(400, "AccessDeniedException",
                           f"User is not authorized to perform: cloudtrail:LookupEvents in {region}")

    def _lookup(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        attributes = request.get("LookupAttributes") or []
        entry = {"region": region, "attributes": attributes, "status": "ok"}
        self.requests.append(entry)
        try:
            self._gate(region)
        except ApiError as exc:
            entry["status"] = exc.code
            raise
        if len(attributes) > 1:
            raise ApiError(400, "InvalidLookupAttributesException", "only one lookup attribute is allowed")
        if attributes and attributes[0].get("AttributeKey") not in LOOKUP_KEYS:
            raise ApiError(400, "InvalidLookupAttributesException", "unknown AttributeKey")
        start, end = _epoch(request.get("StartTime")), _epoch(request.get("EndTime"))
        if start is not None and end is not None and start > end:
            raise ApiError(400, "InvalidTimeRangeException", "StartTime is after EndTime")
        limit = min(int(request.get("MaxResults") or 50), 50, self.page_size)
        if limit < 1:
            raise ApiError(400, "InvalidMaxResultsException", "MaxResults must be 1..50")
        events = [e for e in self.store.region(region)
                  if (start is None or _event_epoch(e) >= start) and (end is None or _event_epoch(e) <= end)
                  and all(_matches(e, a["AttributeKey"], a["AttributeValue"]) for a in attributes)]
        events = sorted(reversed(events), key=_event_epoch, reverse=True)  # newest first (ties: latest first)
        offset = self._offset(request.get("NextToken"))
        page = events[offset:offset + limit]
        out: dict[str, Any] = {"Events": [self._summary(e) for e in page]}
        if offset + limit < len(events):
            out["NextToken"] = base64.b64encode(json.dumps({"offset": offset + limit}).encode()).decode()
        return out

    @staticmethod
    def _offset(token: str | None) -> int:
        if not token:
            return 0
        try:
            return int(json.loads(base64.b64decode(token))["offset"])
        except (ValueError, KeyError, TypeError):
            raise ApiError(400, "InvalidNextTokenException", "invalid NextToken") from None

    @staticmethod
    def _summary(event: dict[str, Any]) -> dict[str, Any]:
        identity = event.get("userIdentity") or {}
        return {"EventId": event["eventID"], "EventName": event["eventName"],
                "ReadOnly": str(event.get("readOnly", False)).lower(), "AccessKeyId": identity.get("accessKeyId"),
                "EventTime": _event_epoch(event), "EventSource": event["eventSource"],
                "Username": identity.get("userName") or (identity.get("arn") or "").rsplit("/", 1)[-1] or None,
                "Resources": [], "CloudTrailEvent": json.dumps(event)}

    # --- server -----------------------------------------------------------------------------
    def start(self) -> str:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                if emulator.upstream and target != TARGET_PREFIX + "LookupEvents":
                    parsed = urllib.parse.urlsplit(emulator.upstream)
                    status, headers, data = forward((parsed.hostname or "127.0.0.1", parsed.port or 80), "POST",
                                                    self.path, list(self.headers.items()), body)
                    self.send_response(status)
                    for name, value in headers:
                        if name.lower() not in HOP_BY_HOP and name.lower() not in ("server", "date"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                status, payload = emulator.handle(self.headers.get("X-Amz-Target", ""), body,
                                                  region_of(self.headers.get("Authorization", "")) or "us-east-1")
                raw = isinstance(payload, bytes)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if raw else "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = LoopbackServer(Handler, "cloudtrail-emulator")
        self.url = self._server.url
        return self.url

    def stop(self) -> None:
        if self._server:
            self._server.stop()


def credential_scope(authorization: str) -> list[str]:
    """`AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, …` -> [KEY, DATE, REGION, SERVICE]."""
    if "Credential=" not in authorization:
        return []
    return authorization.split("Credential=", 1)[1].split(",", 1)[0].strip().split("/")[:4]


def region_of(authorization: str) -> str | None:
    scope = credential_scope(authorization)
    return scope[2] if len(scope) >= 3 else None


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
