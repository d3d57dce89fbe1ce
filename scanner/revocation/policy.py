"""Pure policy-document building for revocation: no AWS calls, easy to pin in tests.

- role scope: `AWSRevokeOlderSessions`, exactly what the IAM console's "Revoke active sessions" puts:
  deny everything to sessions whose token was issued before the cutoff. Sessions issued later work.
- session scope: one statement per leaked session (`aws:userid` = ROLEID:SESSION, both conditions
  must hold), kept in one inline policy; statements whose cutoff is older than the role's
  MaxSessionDuration can no longer match a live session and are pruned.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

ROLE_POLICY_NAME = "AWSRevokeOlderSessions"
SESSION_POLICY_NAME = "StsleakRevokedSessions"
USER_POLICY_NAME = "AWSRevokeOlderSessions"
ROLE_INLINE_LIMIT = 10_240  # all inline policies of a role together, non-whitespace characters
VERSION = "2012-10-17"

Policy = dict[str, Any]


def iso_z(moment: datetime) -> str:
    """ISO-8601 UTC with a Z, to the second: the form aws:TokenIssueTime is compared with."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_z(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def revoke_older_sessions(cutoff: str) -> Policy:
    """Deny every action to sessions issued before `cutoff` (role scope and IAM-user scope)."""
    return {"Version": VERSION, "Statement": [{
        "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}},
    }]}


def statement_id(user_id: str) -> str:
    return "StsleakSession" + hashlib.sha256(user_id.encode()).hexdigest()[:16]


def session_statement(user_id: str, cutoff: str) -> dict[str, Any]:
    """Deny the session `user_id` (ROLEID:SESSION) if its token was issued before `cutoff`."""
    return {
        "Sid": statement_id(user_id), "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
        "Condition": {"StringEquals": {"aws:userid": user_id}, "DateLessThan": {"aws:TokenIssueTime": cutoff}},
    }


def _statement_user_id(statement: dict[str, Any]) -> str | None:
    value = statement.get("Condition", {}).get("StringEquals", {}).get("aws:userid")
    return value if isinstance(value, str) else None


def _statement_cutoff(statement: dict[str, Any]) -> datetime | None:
    value = statement.get("Condition", {}).get("DateLessThan", {}).get("aws:TokenIssueTime")
    return parse_iso_z(value) if isinstance(value, str) else None


def merge_session_policy(existing: Policy | None, user_ids: list[str], cutoff: str,
                         max_session_seconds: int) -> tuple[Policy, list[str]]:
    """The session policy with a fresh statement per user id; returns it and the pruned user ids.

    A statement is pruned when its cutoff is more than MaxSessionDuration ago: every session it
    could still deny has expired by now. A statement for a user id being revoked again is replaced
    (the time is refreshed). Statements this tool did not write are kept untouched.
    """
    now = parse_iso_z(cutoff) or datetime.now(UTC)
    kept: list[dict[str, Any]] = []
    pruned: list[str] = []
    for statement in (existing or {}).get("Statement", []):
        user_id = _statement_user_id(statement)
        stamp = _statement_cutoff(statement)
        if user_id in user_ids:
            continue
        if user_id and stamp and stamp + timedelta(seconds=max_session_seconds) <= now:
            pruned.append(user_id)
            continue
        kept.append(statement)
    fresh = [session_statement(uid, cutoff) for uid in dict.fromkeys(user_ids)]
    return {"Version": VERSION, "Statement": kept + fresh}, pruned


def policy_size(document: Policy | str) -> int:
    """Characters IAM counts against inline-policy quotas: everything but whitespace."""
    text = document if isinstance(document, str) else json.dumps(document)
    return len(re.sub(r"\s", "", text))
