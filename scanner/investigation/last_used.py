"""iam:GetAccessKeyLastUsed for long-term keys: read BEFORE verification, which is itself a use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scanner.aws_session import Operator, failure_from
from scanner.investigation.model import LastUsed
from scanner.model import Finding


def iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def read_last_used(operator: Operator, access_key_id: str) -> LastUsed:
    now = iso(datetime.now(UTC)) or ""
    try:
        answer = operator.client("iam").get_access_key_last_used(AccessKeyId=access_key_id)
    except Exception as exc:
        return LastUsed(read_at=now, error=failure_from(exc).message)
    used = answer.get("AccessKeyLastUsed") or {}
    service, region = used.get("ServiceName"), used.get("Region")
    return LastUsed(read_at=now, user_name=answer.get("UserName"), date=iso(used.get("LastUsedDate")),
                    service=None if service == "N/A" else service, region=None if region == "N/A" else region)


def last_used_before_verification(findings: list[Finding], operator: Operator) -> dict[str, LastUsed]:
    """One read per distinct AKIA key id among the findings."""
    keys = sorted({f.access_key_id for f in findings if f.access_key_id.startswith("AKIA")})
    return {key: read_last_used(operator, key) for key in keys}
