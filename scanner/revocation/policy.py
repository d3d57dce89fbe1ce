"""Pure policy-document building for revocation: no AWS calls, easy to pin in tests.

- role scope: `AWSRevokeOlderSessions`, exactly what the IAM console's "Revoke active sessions" puts:
  deny everything to sessions whose token was issued before the cutoff. Sessions issued later work.
  An existing document is merged, never replaced: other statements are kept, and the cutoff only
  moves forward (max of the existing one and now), so nothing issued in between is re-enabled.
- session scope: one inline policy per leaked session (`aws:userid` = ROLEID:SESSION, both
  conditions must hold). A policy of its own per session means two concurrent runs never write
  the same document for different sessions, so neither can drop the other's statement.
- Our statements carry a Sid that IAM keeps with them (see `Stamp`): which run wrote the statement
  (so undo removes only that run's statements) and a short hash of each leaked key id that run
  verified live before the statement's cutoff (so any later run, on any machine, reads from IAM
  itself whether a leaked key is already covered). IAM is the record of what is revoked.
- Sizes are counted as IAM counts them: characters (not bytes, not \\u escapes), whitespace aside.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
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


OLDER_SESSIONS_SID = "StsleakOlderSessions"
MARK_LENGTH = 12  # hex characters of a leaked key id's hash in a Sid
MAX_MARKS = 24  # beyond this a statement forgets the oldest marks: those keys are revoked again (fail closed)
_SID = re.compile(r"^(?P<base>StsleakOlderSessions|StsleakSession[0-9a-f]{16}|StsleakOffInstance[0-9a-f]{16})"
                  r"(?:Run(?P<run>[0-9a-f]{12}))?"
                  r"(?:Keys(?P<marks>(?:[0-9a-f]{12})+))?$")


@dataclass(frozen=True)
class Stamp:
    """What the Sid of one of our statements says: its kind (base), the run that wrote it, and the
    marks of the leaked keys that run saw live before the statement's cutoff."""

    base: str
    run: str | None = None
    marks: tuple[str, ...] = ()

    @property
    def sid(self) -> str:
        run = f"Run{self.run}" if self.run else ""
        marks = "Keys" + "".join(self.marks[:MAX_MARKS]) if self.marks else ""
        return self.base + run + marks


def leak_mark(key_id: str) -> str:
    """A leaked key id as it is recorded in a Sid (a hash: the policy does not list leaked key ids)."""
    return hashlib.sha256(f"stsleak-leak:{key_id}".encode()).hexdigest()[:MARK_LENGTH]


def stamp_of(statement: Statement) -> Stamp | None:
    """The stamp of a statement stsleak wrote (Sid in our grammar), else None."""
    sid = statement.get("Sid")
    found = _SID.match(sid) if isinstance(sid, str) else None
    if found is None:
        return None
    marks = found.group("marks") or ""
    return Stamp(found.group("base"), found.group("run"),
                 tuple(marks[i:i + MARK_LENGTH] for i in range(0, len(marks), MARK_LENGTH)))


def marks_of(statement: Statement) -> frozenset[str]:
    stamp = stamp_of(statement)
    return frozenset(stamp.marks) if stamp else frozenset()


def _stamped(statement: Statement, base: str, run: str | None, marks: Iterable[str]) -> Statement:
    ordered = tuple(dict.fromkeys(marks))
    if run is None and not ordered:
        return statement
    return {"Sid": Stamp(base, run, ordered).sid, **statement}


def older_sessions_statement(cutoff: str, run: str | None = None, marks: Iterable[str] = ()) -> Statement:
    """The console's statement; with `run` or `marks`, stamped as ours (Sid)."""
    return _stamped({"Effect": "Deny", "Action": ["*"], "Resource": ["*"],
                     "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}}, OLDER_SESSIONS_SID, run, marks)


def revoke_older_sessions(cutoff: str) -> Policy:
    """Deny every action to sessions issued before `cutoff` (role scope and IAM-user scope)."""
    return {"Version": VERSION, "Statement": [older_sessions_statement(cutoff)]}


def statement_id(user_id: str) -> str:
    return "StsleakSession" + hashlib.sha256(user_id.encode()).hexdigest()[:16]


def session_statement(user_id: str, cutoff: str, run: str | None = None, marks: Iterable[str] = ()) -> Statement:
    """Deny the session `user_id` (ROLEID:SESSION) if its token was issued before `cutoff`."""
    return {
        "Sid": Stamp(statement_id(user_id), run, tuple(dict.fromkeys(marks))).sid, "Effect": "Deny",
        "Action": ["*"], "Resource": ["*"],
        "Condition": {"StringEquals": {"aws:userid": user_id}, "DateLessThan": {"aws:TokenIssueTime": cutoff}},
    }


OFF_INSTANCE_POLICY_PREFIX = "StsleakOffInstance."


@dataclass(frozen=True)
class InstanceNetwork:
    """Where an EC2 instance's own requests come from: its VPC (through VPC endpoints) and its public egress
    addresses (its public IP, the VPC's NAT gateways); and its primary private IPv4."""

    instance_id: str
    vpc_id: str
    private_ip: str
    egress_ips: tuple[str, ...] = ()


def off_instance_statement(user_id: str, network: InstanceNetwork, cutoff: str, run: str | None = None,
                           marks: Iterable[str] = ()) -> Statement:
    """Deny the instance's credentials (`user_id` ROLEID:i-…, issued before `cutoff`) when used off its network.

    The credential-relative keys aws:ec2InstanceSourceVPC and aws:ec2InstanceSourcePrivateIPv4 travel with
    every credential EC2 delivers to the instance: they say these are its credentials, wherever they are
    used. The network-path keys say where a request comes from: aws:SourceVpc (only through a VPC endpoint;
    absent, StringNotEquals holds) and aws:SourceIp (through the internet; absent, NotIpAddress holds). So
    the deny holds unless the request comes through a VPC endpoint of the instance's VPC or from one of its
    public egress addresses, and not when an AWS service calls on the credentials' behalf. AWS's own example
    compares `aws:ec2InstanceSourceVPC` with `${aws:SourceVpc}` and so needs every call to go through VPC
    endpoints; the instance's actual VPC and addresses, read from EC2, also let it work through a NAT gateway.
    """
    condition: dict[str, Any] = {
        "StringEquals": {"aws:userid": user_id, "aws:ec2InstanceSourceVPC": network.vpc_id,
                         "aws:ec2InstanceSourcePrivateIPv4": network.private_ip},
        "DateLessThan": {"aws:TokenIssueTime": cutoff},
        "StringNotEquals": {"aws:SourceVpc": network.vpc_id},
        "BoolIfExists": {"aws:ViaAWSService": "false"}}
    if network.egress_ips:
        condition["NotIpAddress"] = {"aws:SourceIp": [f"{ip}/32" for ip in network.egress_ips]}
    return {"Sid": Stamp(off_instance_id(user_id), run, tuple(dict.fromkeys(marks))).sid, "Effect": "Deny",
            "Action": ["*"], "Resource": ["*"], "Condition": condition}


def off_instance_id(user_id: str) -> str:
    return "StsleakOffInstance" + hashlib.sha256(user_id.encode()).hexdigest()[:16]


def off_instance_policy_name(user_id: str) -> str:
    """The inline policy of one instance's off-instance deny: readable (the instance id) and unique."""
    session = re.sub(r"[^\w+=,.@-]", "_", user_id.partition(":")[2])[:48]
    return f"{OFF_INSTANCE_POLICY_PREFIX}{session}.{hashlib.sha256(user_id.encode()).hexdigest()[:12]}"


def off_instance_user_id(statement: Statement) -> str | None:
    """The ROLEID:i-… an off-instance statement (ours, or the same shape) denies off its network, else None."""
    condition = statement.get("Condition", {})
    equals, not_equals = condition.get("StringEquals", {}), condition.get("StringNotEquals", {})
    if not _denies_everything(statement) or not isinstance(equals, dict) or not isinstance(not_equals, dict) \
            or "aws:SourceVpc" not in not_equals or "aws:ec2InstanceSourceVPC" not in equals:
        return None
    value = equals.get("aws:userid")
    return value if isinstance(value, str) and statement_cutoff(statement) else None


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
    off_instance = off_instance_user_id(ours)
    if off_instance is not None:
        return off_instance_user_id(theirs) == off_instance
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
        merged = [s for s in merged if not _same_purpose(statement, s)] + [combine(statement, same)]
    version = (existing or {}).get("Version", VERSION)
    return {"Version": version, "Statement": merged}


def combine(statement: Statement, same: list[Statement]) -> Statement:
    """Our `statement` in place of `same` (statements of its purpose): the latest cutoff of them all, and
    the marks of every one of ours among them (each mark was seen live before an earlier cutoff)."""
    best = statement
    for other in same:
        best = _later(best, other)
    result = statement if best is statement else {**statement, "Condition": json.loads(json.dumps(best["Condition"]))}
    stamp = stamp_of(statement)
    if stamp is None:
        return result
    marks = tuple(dict.fromkeys([*stamp.marks, *(m for other in same for m in sorted(marks_of(other)))]))
    return result if marks == stamp.marks else {**result, "Sid": Stamp(stamp.base, stamp.run, marks).sid}


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


def _purpose_matches(statement: Statement, user_id: str | None, off_instance: bool = False) -> bool:
    if user_id is None:
        return is_older_sessions(statement)
    return session_user_id(statement) == user_id or (off_instance and off_instance_user_id(statement) == user_id)


def covering_cutoff(documents: Iterable[Policy | None], marks: Iterable[str], now: datetime,
                    user_id: str | None = None, off_instance: bool = False) -> datetime | None:
    """The cutoff in force when these documents already deny every leaked key (`marks`), else None.

    A statement of the purpose (every session, or the session `user_id`; with `off_instance`, also its
    off-instance deny) denies a leaked key when its Sid records the key (the run that wrote it saw the
    key live before that cutoff), or when its cutoff is at or after `now` (this run saw it live before
    now). Read from IAM, never from a file.
    """
    wanted = set(marks)
    relevant = [s for d in documents for s in statements(d) if _purpose_matches(s, user_id, off_instance)]
    if not wanted or not relevant:
        return None
    late = any((statement_cutoff(s) or now) >= now and statement_cutoff(s) for s in relevant)
    if not late and not all(any(mark in marks_of(s) for s in relevant) for mark in wanted):
        return None
    return max(c for c in (statement_cutoff(s) for s in relevant) if c)


def _restored_sid(previous: Statement) -> str | None:
    """The Sid a restored statement gets: the previous one's, without marks (a log cannot vouch for them)."""
    stamp = stamp_of(previous)
    if stamp is not None:
        return Stamp(stamp.base, stamp.run).sid
    sid = previous.get("Sid")
    return sid if isinstance(sid, str) and sid.isalnum() else None


@dataclass(frozen=True)
class Undone:
    """One statement of a run as undo leaves it: removed (cutoff_back None) or set back to an earlier cutoff."""

    statement: Statement
    cutoff_back: str | None = None


def without_run(current: Policy | None, run: str, previous: Policy | None) -> tuple[Policy | None, list[Undone]]:
    """`current` (read from IAM now) without what run `run` added.

    Only statements stamped by that run are touched: each is removed, or, where `previous` (the
    audit log's record of the document before the run) held a deny of the same purpose, its cutoff
    is set back to that one's (never later than now's) and its Sid to that one's without marks.
    Nothing else of `previous` is ever written: an edited log cannot put a statement into IAM.
    Returns the document (None when no statement is left) and what was undone.
    """
    kept: list[Statement] = []
    undone: list[Undone] = []
    before = statements(previous)
    for statement in statements(current):
        stamp = stamp_of(statement)
        now_cutoff = statement_cutoff(statement)
        if stamp is None or stamp.run != run or now_cutoff is None or not (
                is_older_sessions(statement) or session_user_id(statement) or off_instance_user_id(statement)):
            kept.append(statement)
            continue
        same = [p for p in before if _same_purpose(statement, p) and statement_cutoff(p)]
        if not same:
            undone.append(Undone(statement))
            continue
        earliest = min(same, key=lambda p: statement_cutoff(p) or now_cutoff)
        back = earliest if (statement_cutoff(earliest) or now_cutoff) < now_cutoff else statement
        text = back["Condition"]["DateLessThan"]["aws:TokenIssueTime"]  # as written (milliseconds kept)
        restored = {k: v for k, v in json.loads(json.dumps(statement)).items() if k != "Sid"}
        restored["Condition"]["DateLessThan"]["aws:TokenIssueTime"] = text
        sid = _restored_sid(earliest)
        kept.append({"Sid": sid, **restored} if sid else restored)
        undone.append(Undone(statement, text))
    if not kept:
        return None, undone
    return {"Version": (current or {}).get("Version", VERSION), "Statement": kept}, undone
