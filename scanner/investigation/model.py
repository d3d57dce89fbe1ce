"""What an investigation finds out about one leaked credential: plain dataclasses, no AWS imports."""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

MAX_DISTINCT = 200  # distinct IPs / user agents / event names kept per key (the rest are counted as "other")


class SearchStatus(StrEnum):
    """How one region's CloudTrail search ended."""

    COMPLETE = "complete"  # every page read
    PARTIAL = "partial"  # some pages read, then it failed or stopped
    FAILED = "failed"  # nothing could be read


@dataclass
class RegionSearch:
    region: str
    status: SearchStatus = SearchStatus.COMPLETE
    pages: int = 0
    events: int = 0
    reason: str | None = None  # one line, when not complete


class SpawnKind(StrEnum):
    ROLE_SESSION = "role-session"  # AssumeRole*
    SESSION_TOKEN = "session-token"  # GetSessionToken
    FEDERATION_TOKEN = "federation-token"  # GetFederationToken
    ACCESS_KEY = "access-key"  # CreateAccessKey


class HintKind(StrEnum):
    ROLE = "role"
    USER = "user"
    ACCESS_KEY = "access-key"


@dataclass
class LastUsed:
    """iam:GetAccessKeyLastUsed, read before anything (verification included) uses the key."""

    read_at: str
    user_name: str | None = None
    date: str | None = None
    service: str | None = None
    region: str | None = None
    error: str | None = None


@dataclass
class EventStat:
    """One event name in the activity table."""

    name: str
    source: str
    count: int = 0
    ours: int = 0
    first: str | None = None
    last: str | None = None
    errors: Counter[str] = field(default_factory=Counter)
    regions: set[str] = field(default_factory=set)


class BoundedCounter(Counter[str]):
    """A Counter that keeps at most MAX_DISTINCT keys; later new keys are counted under '(other)'."""

    def add(self, key: str) -> None:
        if key in self or len(self) < MAX_DISTINCT:
            self[key] += 1
        else:
            self["(other)"] += 1


@dataclass
class Activity:
    """What one access key did, aggregated while the events stream by (bounded memory)."""

    access_key_id: str
    depth: int = 0
    regions_searched: list[str] = field(default_factory=list)
    searches: list[RegionSearch] = field(default_factory=list)  # one per region, with how it ended
    regions_with_events: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    events: int = 0
    ours: int = 0
    first_use: str | None = None
    last_use: str | None = None
    first_use_by_others: str | None = None
    last_use_by_others: str | None = None
    by_name: dict[str, EventStat] = field(default_factory=dict)
    source_ips: BoundedCounter = field(default_factory=BoundedCounter)
    others_source_ips: BoundedCounter = field(default_factory=BoundedCounter)  # of events not ours
    user_agents: BoundedCounter = field(default_factory=BoundedCounter)
    our_user_agents: BoundedCounter = field(default_factory=BoundedCounter)  # agents of our own calls, counted
    error_codes: BoundedCounter = field(default_factory=BoundedCounter)
    access_denied_after_cutoff: int = 0
    first_access_denied_after_cutoff: str | None = None
    searched: bool = False

    @property
    def incomplete(self) -> list[RegionSearch]:
        """The regions whose search did not read every page."""
        return [s for s in self.searches if s.status is not SearchStatus.COMPLETE]

    @property
    def complete(self) -> bool:
        return self.searched and not self.incomplete


@dataclass
class Spawned:
    """Credentials the leaked key minted (from its CloudTrail events), followed the same way."""

    kind: SpawnKind
    event_name: str
    event_time: str
    by_key: str
    minted_key_id: str | None
    role_arn: str | None = None
    session_name: str | None = None
    user_name: str | None = None
    region: str | None = None
    depth: int = 1
    revocation: dict[str, str | None] | None = None  # filled by the CLI once the plan exists


@dataclass
class RevocationHint:
    """An extra revocation target found by the investigation (the CLI turns it into a plan target)."""

    kind: HintKind
    name: str  # role ARN, user name or access key id
    account: str | None = None
    sessions: list[str] = field(default_factory=list)
    user_name: str | None = None  # access-key: its user
    reason: str = ""


class PersistenceCategory(StrEnum):
    """What a persistence row is about (AWS's "Compromised IAM Credentials" playbook, in its order)."""

    IAM = "iam"  # identities and permissions: users, keys, roles, policies, providers, MFA, SSH keys, boundaries
    LOGGING = "logging"  # logging and detection switched off: CloudTrail, GuardDuty, Config
    COMPUTE = "compute"  # compute created: EC2 instances, key pairs, open security groups, Lambda, ECS
    DATA = "data"  # data exposed or at risk: public S3, shared snapshots and AMIs, KMS key policies, grants, deletion
    SIGNAL = "signal"  # what AWS itself already says: GuardDuty findings, the quarantine policy


@dataclass
class PersistenceItem:
    """Something the leaked credentials created or changed, with whether it is still there and how to remove it.

    `exists` is read now with the operator's credentials: True means the change is still in place (the
    user exists, logging is still off, the bucket is still public), False that it is gone or undone,
    None that it could not be checked. Nothing is removed automatically: `remove` is the command."""

    kind: str  # user | access-key | login-profile | role | trust-policy | policy | … (persistence/ lists them)
    name: str
    event_name: str
    event_time: str
    by_key: str
    exists: bool | None = None  # read back now (None: could not check)
    detail: str = ""
    remove: str = ""
    category: PersistenceCategory = PersistenceCategory.IAM
    region: str | None = None  # where it lives (None: global, IAM)
    ids: dict[str, Any] = field(default_factory=dict)  # what the read-back needs (bucket, instance ids, …)


@dataclass
class PolicySummary:
    name: str
    kind: str  # inline | managed
    allows_everything: bool = False
    allows_iam: list[str] = field(default_factory=list)
    assume_role_on: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)


@dataclass
class TrustStatement:
    effect: str
    principals: list[str]
    actions: list[str]
    conditions: dict[str, dict[str, object]] = field(default_factory=dict)
    not_principals: list[str] = field(default_factory=list)  # NotPrincipal: everyone but these


@dataclass
class BlastRadius:
    """What the role can do, who can mint fresh sessions of it, and which workloads lose credentials."""

    role_arn: str
    role_name: str
    policies: list[PolicySummary] = field(default_factory=list)
    trust: list[TrustStatement] = field(default_factory=list)
    can_mint: list[str] = field(default_factory=list)  # one line per principal, flagged
    instance_profiles: list[str] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)  # "i-… (region)"
    functions: list[str] = field(default_factory=list)
    task_definitions: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)  # ECS services whose task definition uses the role
    notes: list[str] = field(default_factory=list)


@dataclass
class TimelineEntry:
    time: str | None
    what: str


def moment(value: str | None) -> datetime | None:
    """An ISO-8601 time from git, CloudTrail or IAM (`Z`, an offset, or none: UTC), comparable with the others."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Actions:
    """What was done about the incident: the revocation run of this `respond`, or the one an
    `investigate --from` report records (read from it, never re-done)."""

    applied: bool = False  # the plan was applied (--yes), not a dry run
    run_id: str | None = None  # the audit log's run id
    audit_log: str | None = None
    operator: str | None = None  # the identity that planned / applied it (sts:GetCallerIdentity)
    assume_role: str | None = None  # --assume-role TEMPLATE, needed again by undo
    this_run: bool = True  # False: done by the earlier run whose report `investigate --from` read
    changed: bool = False  # something was written (a revocation applied), so there is something to undo

    @property
    def undo_command(self) -> str | None:
        """The exact command that puts back what the run changed (None when it changed nothing)."""
        if not (self.applied and self.changed and self.run_id):
            return None
        words = ["stsleak", "revoke", "--undo", self.run_id]
        if self.audit_log:
            words += ["--audit-log", self.audit_log]
        if self.assume_role:
            words += ["--assume-role", self.assume_role]
        return shlex.join(words)


@dataclass
class Recorded:
    """What the report `investigate --from` reads says was already done: its revocation run, and each
    key's revocations (own and of what it spawned). Carried into the new report, never re-done."""

    actions: Actions | None = None
    revocations: dict[str, list[dict[str, object]]] = field(default_factory=dict)  # by access key id
    verified_at: dict[str, str] = field(default_factory=dict)  # by access key id


@dataclass
class CredentialInvestigation:
    """Everything known about one leaked credential, in report order."""

    access_key_id: str
    status: str  # the verification status
    arn: str | None = None
    account: str | None = None
    principal_type: str | None = None
    role_arn: str | None = None
    session_name: str | None = None
    path: str | None = None
    line: int | None = None
    commit: str | None = None
    author: str | None = None
    date: str | None = None
    verified_at: str | None = None
    last_used: LastUsed | None = None
    activity: Activity | None = None
    spawned: list[Spawned] = field(default_factory=list)
    spawned_activity: list[Activity] = field(default_factory=list)
    persistence: list[PersistenceItem] = field(default_factory=list)
    blast_radius: list[BlastRadius] = field(default_factory=list)
    hints: list[RevocationHint] = field(default_factory=list)
    revocation: dict[str, object] | None = None
    revocations: list[dict[str, object]] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)  # still to do
    done: list[str] = field(default_factory=list)  # done by stsleak (this run or the run the report records)
    notes: list[str] = field(default_factory=list)

    @property
    def first_outside_use_before_commit(self) -> bool:
        """Someone else used the key before the commit that leaked it: it leaked somewhere else first."""
        used = moment(self.activity.first_use_by_others) if self.activity else None
        committed = moment(self.date)
        return used is not None and committed is not None and used < committed


@dataclass
class Incident:
    credentials: list[CredentialInvestigation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    repository: str | None = None
    generated_at: str | None = None
    dry_run: bool = True  # no revocation was applied (by this run, or by the run the report records)
    investigated: bool = False
    operator: str | None = None  # this run's operator identity (sts:GetCallerIdentity ARN)
    actions: Actions | None = None  # None: no revocation was planned (no operator, or a scan report)

    def activities(self) -> list[Activity]:
        return [a for c in self.credentials for a in (c.activity, *c.spawned_activity) if a is not None]

    @property
    def complete(self) -> bool:
        """Every credential that should have been searched was, in every region, to the last page."""
        return self.investigated and all(a.complete for a in self.activities()) and all(
            c.activity is not None for c in self.credentials)
