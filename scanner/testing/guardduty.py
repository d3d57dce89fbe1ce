"""GuardDuty findings for the recording proxy: moto has detectors but no findings.

A small model of GuardDuty, fed by the events the proxy records (what really happened on moto): while
a detector is enabled in a region, each event there that matches a rule below becomes a finding
about the access key that signed it (or adds to that finding's count), with the type names GuardDuty
uses (`Stealth:IAMUser/CloudTrailLoggingDisabled`, `Policy:S3/BucketBlockPublicAccessDisabled`,
`PenTest:IAMUser/KaliLinux`, …). Detectors are followed from the recorded CreateDetector /
UpdateDetector / DeleteDetector events; deleting a detector deletes its findings, as on AWS. It is a
rule table, not GuardDuty's anomaly detection.

Fault on request: `deny_region(r)` answers AccessDeniedException to every GuardDuty read there
(ListDetectors, GetDetector and the findings calls), as AWS does to a caller without the permission.

Answered here: `ListFindings` (FindingCriteria with eq/neq/equals/notEquals/gt/gte/lt/lte on dotted
finding fields such as `resource.accessKeyDetails.accessKeyId`, `service.archived`; MaxResults,
NextToken), `GetFindings`, `ArchiveFindings`, `UnarchiveFindings`. moto's answer stands when it
denies the caller.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from typing import Any

from scanner.testing.operations import Call

DEFAULT_ACCOUNT = "123456789012"
OPERATIONS = frozenset({"ListFindings", "GetFindings", "ArchiveFindings", "UnarchiveFindings"})
READS = frozenset({"ListDetectors", "GetDetector", "ListFindings", "GetFindings"})
PERSISTENCE = frozenset({
    "CreateUser", "CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "AttachUserPolicy", "PutUserPolicy",
    "CreateRole", "UpdateAssumeRolePolicy", "CreateOpenIDConnectProvider", "CreateSAMLProvider", "UploadSSHPublicKey",
    "CreateServiceSpecificCredential", "EnableMFADevice", "AddUserToGroup"})
IMPACT = frozenset({"RunInstances", "CreateFunction20150331", "UpdateFunctionCode20150331v2",
                    "RegisterTaskDefinition", "AuthorizeSecurityGroupIngress", "ImportKeyPair"})
EXFILTRATION = frozenset({"ModifySnapshotAttribute", "ModifyImageAttribute", "ModifyDBSnapshotAttribute",
                          "ModifyDBClusterSnapshotAttribute", "PutKeyPolicy", "CreateGrant"})
PENTEST = {"kali": "PenTest:IAMUser/KaliLinux", "parrot": "PenTest:IAMUser/ParrotLinux",
           "pentoo": "PenTest:IAMUser/PentooLinux"}


def _public(params: Any) -> bool:
    text = json.dumps(params)
    return any(mark in text for mark in ('"*"', "AllUsers", "AuthenticatedUsers", "public-read",
                                         "authenticated-read"))


def finding_types(event: dict[str, Any]) -> list[tuple[str, float, str]]:
    """(type, severity, title) of what GuardDuty would say about one successful event."""
    name, params = str(event.get("eventName")), event.get("requestParameters") or {}
    found = []
    if name in ("StopLogging", "DeleteTrail", "UpdateTrail"):
        found.append(("Stealth:IAMUser/CloudTrailLoggingDisabled", 2.0,
                      f"AWS CloudTrail trail {params.get('name', '?')} was disabled."))
    elif name in ("UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy"):
        found.append(("Stealth:IAMUser/PasswordPolicyChange", 2.0, "Account password policy was weakened."))
    elif name in ("DeleteBucketPublicAccessBlock", "PutBucketPublicAccessBlock"):
        found.append(("Policy:S3/BucketBlockPublicAccessDisabled", 2.0,
                      f"Amazon S3 Block Public Access was disabled for S3 bucket {params.get('bucketName', '?')}."))
    elif name in ("PutBucketPolicy", "PutBucketAcl") and _public(params):
        found.append(("Policy:S3/BucketAnonymousAccessGranted", 8.0,
                      f"Amazon S3 bucket {params.get('bucketName', '?')} was made publicly accessible."))
    elif name in PERSISTENCE:
        found.append(("Persistence:IAMUser/AnomalousBehavior", 5.0,
                      f"The API {name} commonly used to maintain unauthorized access was invoked."))
    elif name in IMPACT:
        found.append(("Impact:IAMUser/AnomalousBehavior", 5.0, f"The API {name} was invoked in an unusual way."))
    elif name in EXFILTRATION:
        found.append(("Exfiltration:IAMUser/AnomalousBehavior", 8.0,
                      f"The API {name} commonly used to exfiltrate data was invoked."))
    agent = str(event.get("userAgent") or "").lower()
    found += [(kind, 5.0, f"An API was invoked from a {word.title()} Linux computer.")
              for word, kind in PENTEST.items() if word in agent]
    return found


def _field(finding: dict[str, Any], path: str) -> Any:
    value: Any = finding
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _matches(finding: dict[str, Any], criterion: dict[str, Any]) -> bool:
    for path, condition in criterion.items():
        value = _field(finding, path)
        text = str(value).lower()
        for op, expected in (condition or {}).items():
            wanted = [str(v).lower() for v in expected] if isinstance(expected, list) else []
            number = float(value) if isinstance(value, int | float) else None
            ok = {"eq": text in wanted, "equals": text in wanted, "neq": text not in wanted,
                  "notEquals": text not in wanted}.get(op)
            if ok is None and number is not None and isinstance(expected, int | float):
                ok = {"gt": number > expected, "gte": number >= expected, "lt": number < expected,
                      "lte": number <= expected, "greaterThan": number > expected,
                      "greaterThanOrEqual": number >= expected, "lessThan": number < expected,
                      "lessThanOrEqual": number <= expected}.get(op)
            if not ok:
                return False
    return True


def _json(status: int, payload: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4()))]
    if status >= 300:
        headers.append(("x-amzn-ErrorType", str(payload.get("__type"))))
    return status, headers, json.dumps(payload).encode()


class GuardDutyEmulator:
    """Detectors as the recorded events left them, and their findings (per region and detector)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.detectors: dict[tuple[str, str], bool] = {}  # (region, detector id) -> enabled
        self.findings: dict[tuple[str, str], dict[tuple[str, str, str], dict[str, Any]]] = {}
        self.denied_regions: set[str] = set()

    def deny_region(self, region: str) -> None:
        self.denied_regions.add(region)

    def reset(self) -> None:
        with self._lock:
            self.detectors.clear()
            self.findings.clear()
            self.denied_regions.clear()

    # --- what happened ----------------------------------------------------------------------------
    def observe(self, event: dict[str, Any]) -> None:
        if event.get("errorCode"):
            return
        region, name = str(event.get("awsRegion")), str(event.get("eventName"))
        params, answer = event.get("requestParameters") or {}, event.get("responseElements") or {}
        with self._lock:
            if event.get("eventSource") == "guardduty.amazonaws.com":
                detector = str(params.get("detectorId") or answer.get("detectorId") or "")
                if name == "CreateDetector" and detector:
                    self.detectors[(region, detector)] = params.get("enable", True) is not False
                elif name == "UpdateDetector" and "enable" in params:
                    self.detectors[(region, detector)] = params["enable"] is not False
                elif name == "DeleteDetector":
                    self.detectors.pop((region, detector), None)
                    self.findings.pop((region, detector), None)
                return
            for (where, detector), enabled in self.detectors.items():
                if where == region and enabled:
                    for kind, severity, title in finding_types(event):
                        self._add(region, detector, event, kind, severity, title)

    def _add(self, region: str, detector: str, event: dict[str, Any], kind: str, severity: float,
             title: str) -> None:
        identity = event.get("userIdentity") or {}
        key = str(identity.get("accessKeyId") or "")
        params = event.get("requestParameters") or {}
        resource = str(params.get("bucketName") or params.get("name") or "")
        findings = self.findings.setdefault((region, detector), {})
        when = str(event.get("eventTime"))
        existing = findings.get((kind, key, resource))
        if existing:
            existing["service"]["count"] += 1
            existing["service"]["eventLastSeen"] = existing["updatedAt"] = when
            return
        account = str(identity.get("accountId") or DEFAULT_ACCOUNT)
        finding_id = uuid.uuid4().hex
        details = {"accessKeyId": key, "principalId": str(identity.get("principalId") or ""),
                   "userName": str(identity.get("userName") or str(identity.get("arn") or "").rsplit("/", 1)[-1]),
                   "userType": str(identity.get("type") or "")}
        findings[(kind, key, resource)] = {
            "accountId": account,
            "arn": f"arn:aws:guardduty:{region}:{account}:detector/{detector}/finding/{finding_id}",
            "createdAt": when, "updatedAt": when, "id": finding_id, "partition": "aws", "region": region,
            "schemaVersion": "2.0", "severity": severity, "title": title, "type": kind,
            "description": f"{title} The caller used access key {key}.",
            "resource": {"resourceType": "AccessKey", "accessKeyDetails": details},
            "service": {"serviceName": "guardduty", "detectorId": detector, "archived": False, "count": 1,
                        "eventFirstSeen": when, "eventLastSeen": when, "resourceRole": "TARGET",
                        "action": {"actionType": "AWS_API_CALL", "awsApiCallAction": {
                            "api": str(event.get("eventName")), "serviceName": str(event.get("eventSource")),
                            "callerType": "Remote IP",
                            "remoteIpDetails": {"ipAddressV4": str(event.get("sourceIPAddress") or "")}}}}}

    # --- the API ----------------------------------------------------------------------------------
    def answer(self, call: Call, status: int, headers: list[tuple[str, str]],
               body: bytes) -> tuple[int, list[tuple[str, str]], bytes] | None:
        if call.service != "guardduty":
            return None
        if call.region in self.denied_regions and call.operation in READS:
            return _json(403, {"__type": "AccessDeniedException", "message": f"User is not authorized to perform: "
                               f"guardduty:{call.operation} in {call.region}"})
        if call.operation not in OPERATIONS or status in (401, 403):
            return None
        detector = str(call.params.get("detectorId") or "")
        with self._lock:
            if (call.region, detector) not in self.detectors:
                return _json(400, {"__type": "BadRequestException", "message": "The request is rejected because "
                                   "the input detectorId is not owned by the current account."})
            findings = list(self.findings.get((call.region, detector), {}).values())
            if call.operation == "ListFindings":
                return _json(200, self._list(findings, call.params))
            wanted = [str(i) for i in call.params.get("findingIds") or []]
            chosen = [f for f in findings if f["id"] in wanted]
            if call.operation == "GetFindings":
                return _json(200, {"findings": json.loads(json.dumps(chosen))})
            for finding in chosen:
                finding["service"]["archived"] = call.operation == "ArchiveFindings"
            return _json(200, {})

    @staticmethod
    def _list(findings: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        criterion = (params.get("findingCriteria") or {}).get("criterion") or {}
        ids = [f["id"] for f in findings if _matches(f, criterion)]
        size = max(1, min(int(params.get("maxResults") or 50), 50))
        token = params.get("nextToken") or ""
        offset = int(json.loads(base64.b64decode(token))["offset"]) if token else 0
        out: dict[str, Any] = {"findingIds": ids[offset:offset + size]}
        if offset + size < len(ids):
            out["nextToken"] = base64.b64encode(json.dumps({"offset": offset + size}).encode()).decode()
        return out
