"""Pure policy-document building for revocation: no AWS calls, easy to pin in tests.

- role scope: `AWSRevokeOlderSessions`, exactly what the IAM console's "Revoke active sessions" puts:
  deny everything to sessions whose token was issued before the cutoff. Sessions issued later work.
  An existing document is merged, never replaced: other statements are kept, and the cutoff only
  moves forward (max of the existing one and now), so nothing issued in between is re-enabled.
- session scope: one inline policy per leaked session (`aws:userid` = ROLEID:SESSION, both
  conditions must hold). A policy of its own per session means two concurrent runs never write
  the same document for different sessions, so neither can drop the other's statement.
- Sizes are counted as IAM counts them: characters (not bytes, not \\u escapes), whitespace aside.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

ROLE_POLICY_NAME = "AWSRevokeOlderSessions"
SESSION_POLICY_NAME = "StsleakRevokedSessions"  # the shared session policy of earlier versions (still read)
SESSION_POLICY_PREFIX = "StsleakRevokedSession."
USER_POLICY_NAME = "AWSRevokeOlderSessions"
MANAGED_POLICY_PREFIX = "StsleakRevoke-"
ROLE_INLINE_LIMIT = 10_240  # all inline policies of a role together, non-whitespace characters
USER_INLINE_LIMIT = 2_048  # all inline policies of a user together
MANAGED_POLICY_LIMIT = 6_144
LONGEST_SESSION_SECONDS = 43_200  # the longest any role session can last (MaxSessionDuration can be lowered later)
VERSION = "2012-10-17"


def document(value: Any) -> dict[str, Any]:
    """IAM policy documents arrive as dicts (boto3 decodes them) or URL-encoded JSON."""
    if isinstance(value, dict):
        return value
    return json.loads(urllib.parse.unquote(value or "{}"))

Policy = dict[str, Any]
Statement = dict[str, Any]


def iso_z(moment: datetime) -> str:
    """ISO-8601 UTC with a Z, to the second: the form aws:TokenIssueTime is compared with."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_z(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, AttributeError, TypeError):
        return None


def policy_text(document: Policy) -> str:
    """The document as sent to IAM: compact, non-ASCII as characters (IAM counts characters)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def policy_size(document: Policy | str) -> int:
    """Characters IAM counts against inline-policy quotas: everything but whitespace."""
    text = document if isinstance(document, str) else policy_text(document)
    return len(re.sub(r"\s", "", text))


def older_sessions_statement(cutoff: str) -> Statement:
    return {"Effect": "Deny", "Action": ["*"], "Resource": ["*"],
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}}


def revoke_older_sessions(cutoff: str) -> Policy:
    """Deny every action to sessions issued before `cutoff` (role scope and IAM-user scope)."""
    return {"Version": VERSION, "Statement": [older_sessions_statement(cutoff)]}


def statement_id(user_id: str) -> str:
    return "StsleakSession" + hashlib.sha256(user_id.encode()).hexdigest()[:16]


def session_statement(user_id: str, cutoff: str) -> Statement:
    """Deny the session `user_id` (ROLEID:SESSION) if its token was issued before `cutoff`."""
    return {
        "Sid": statement_id(user_id), "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
        "Condition": {"StringEquals": {"aws:userid": user_id}, "DateLessThan": {"aws:TokenIssueTime": cutoff}},
    }


def session_policy_name(user_id: str) -> str:
    """The inline policy of one session: readable (the session name) and unique (a hash of the user id)."""
    session = re.sub(r"[^\w+=,.@-]", "_", user_id.partition(":")[2])[:48]
    return f"{SESSION_POLICY_PREFIX}{session}.{hashlib.sha256(user_id.encode()).hexdigest()[:12]}"


def session_policy(user_id: str, cutoff: str) -> Policy:
    return {"Version": VERSION, "Statement": [session_statement(user_id, cutoff)]}


def managed_policy_name(role_name: str) -> str:
    return (MANAGED_POLICY_PREFIX + role_name)[:128]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(document: Policy | None) -> list[Statement]:
    found = (document or {}).get("Statement", [])
    return [s for s in _as_list(found) if isinstance(s, dict)]


def statement_cutoff(statement: Statement) -> datetime | None:
    value = statement.get("Condition", {}).get("DateLessThan", {}).get("aws:TokenIssueTime")
    return parse_iso_z(value) if isinstance(value, str) else None


def _denies_everything(statement: Statement) -> bool:
    return (statement.get("Effect") == "Deny" and _as_list(statement.get("Action")) == ["*"]
            and _as_list(statement.get("Resource")) == ["*"] and "NotAction" not in statement)


def is_older_sessions(statement: Statement) -> bool:
    """The console's statement: deny everything, the only condition aws:TokenIssueTime before T."""
    condition = statement.get("Condition", {})
    return (_denies_everything(statement) and list(condition) == ["DateLessThan"]
            and list(condition["DateLessThan"]) == ["aws:TokenIssueTime"] and statement_cutoff(statement) is not None)


def session_user_id(statement: Statement) -> str | None:
    """The ROLEID:SESSION a session statement (ours or the same shape) denies, else None."""
    condition = statement.get("Condition", {})
    if not _denies_everything(statement) or sorted(condition) != ["DateLessThan", "StringEquals"]:
        return None
    value = condition["StringEquals"].get("aws:userid")
    if list(condition["StringEquals"]) != ["aws:userid"] or not isinstance(value, str):
        return None
    return value if statement_cutoff(statement) else None


def _same_purpose(ours: Statement, theirs: Statement) -> bool:
    if is_older_sessions(ours):
        return is_older_sessions(theirs)
    user_id = session_user_id(ours)
    return user_id is not None and session_user_id(theirs) == user_id


def _later(one: Statement, other: Statement) -> Statement:
    a, b = statement_cutoff(one), statement_cutoff(other)
    return other if a and b and b > a else one


def merge(existing: Policy | None, ours: list[Statement]) -> Policy:
    """`existing` with our statements put in: statements with another purpose are kept as they are;
    one of the same purpose (the console's, or the same session) is replaced by ours, but with the
    later of the two cutoffs, so a merge never moves a cutoff backwards."""
    merged = list(statements(existing))
    for statement in ours:
        same = [s for s in merged if _same_purpose(statement, s)]
        best = statement
        for other in same:
            best = _later(best, other)
        if best is not statement:
            best = {**statement, "Condition": json.loads(json.dumps(best["Condition"]))}
        merged = [s for s in merged if not _same_purpose(statement, s)] + [best]
    version = (existing or {}).get("Version", VERSION)
    return {"Version": version, "Statement": merged}


def covers(found: Policy | None, ours: list[Statement]) -> bool:
    """Every statement of ours is in `found`, or one of the same purpose with a cutoff at least as late."""
    present = statements(found)
    for statement in ours:
        cutoff = statement_cutoff(statement)
        if cutoff is None or not any(_same_purpose(statement, s) and (statement_cutoff(s) or cutoff) >= cutoff
                                     for s in present):
            return False
    return True


def existing_cutoff(document: Policy | None, user_id: str | None = None) -> datetime | None:
    """The latest cutoff in `document` that applies to every session (role scope) or to `user_id`."""
    found = [statement_cutoff(s) for s in statements(document)
             if is_older_sessions(s) or (user_id is not None and session_user_id(s) == user_id)]
    return max((c for c in found if c), default=None)


def expired_session_policy(document: Policy | None, now: datetime) -> bool:
    """A session policy of ours whose cutoff is so old that no session it denies can still be live."""
    items = statements(document)
    if len(items) != 1 or session_user_id(items[0]) is None:
        return False
    cutoff = statement_cutoff(items[0])
    return cutoff is not None and cutoff + timedelta(seconds=LONGEST_SESSION_SECONDS) <= now
