"""The investigation of every live or expired finding: activity, spawned credentials (followed to a
bounded depth), persistence, blast radius, next steps. Read-only, operator credentials only."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import Any

from scanner.aws_session import Operator
from scanner.investigation.blast_radius import BlastRadiusReader, blast_radius
from scanner.investigation.cloudtrail import (
    WINDOW,
    EventReader,
    LookupOptions,
    Progress,
    enabled_regions,
    search_key,
)
from scanner.investigation.model import (
    Activity,
    CredentialInvestigation,
    HintKind,
    Incident,
    LastUsed,
    Spawned,
    moment,
)
from scanner.investigation.next_steps import fill_steps
from scanner.investigation.persistence import PersistenceCollector, confirm
from scanner.investigation.spawned import SpawnCollector, hints_from
from scanner.model import Finding

INVESTIGATED = ("live", "expired")


def credential_of(finding: Finding) -> CredentialInvestigation:
    v = finding.verification
    item = CredentialInvestigation(finding.access_key_id, v.status if v else "unverified", path=finding.path,
                                   line=finding.line, commit=finding.commit, author=finding.author, date=finding.date)
    if v:
        item.arn, item.account, item.principal_type = v.arn, v.account, v.principal_type
        item.role_arn, item.session_name = v.role_arn, v.session_name
    if finding.revocation:
        item.revocation = {"status": finding.revocation.status, "target": finding.revocation.target,
                           "cutoff": finding.revocation.cutoff, "message": finding.revocation.message,
                           "scope": finding.revocation.scope}
    return item


def credentials_to_investigate(findings: list[Finding]) -> list[tuple[CredentialInvestigation, Finding]]:
    seen: dict[str, tuple[CredentialInvestigation, Finding]] = {}
    for finding in findings:
        v = finding.verification
        if v and v.status in INVESTIGATED and finding.access_key_id not in seen:
            seen[finding.access_key_id] = (credential_of(finding), finding)
    return list(seen.values())


class Investigator:
    def __init__(self, operator: Operator, options: LookupOptions, progress: Progress | None = None) -> None:
        self.operator = operator
        self.options = options
        self.progress = progress
        self.reader = EventReader(operator, options)
        self.regions, self.notes = enabled_regions(operator, options.regions)

    def _cutoff(self, item: CredentialInvestigation) -> datetime | None:
        revocation = item.revocation or {}
        return moment(str(revocation.get("cutoff") or "")) if revocation.get("status") == "revoked" else None

    def activity_of(self, item: CredentialInvestigation,
                    ours_ids: frozenset[str] = frozenset()) -> tuple[Activity, list[Spawned], PersistenceCollector]:
        """The key's own activity, then every key it minted, breadth first, to max_depth.

        `ours_ids`: the request ids of stsleak's own calls with the leaked key (its verification);
        keys it minted stsleak never used, so every event of theirs is someone else's."""
        cutoff = self._cutoff(item)
        persistence = PersistenceCollector()
        spawned: list[Spawned] = []
        root = Activity(item.access_key_id)
        queue: deque[tuple[Activity, int]] = deque([(root, 1)])
        followed = {item.access_key_id}
        while queue:
            activity, depth = queue.popleft()
            collector = SpawnCollector(depth)

            def on_event(record: dict[str, Any], act: Activity, collector: SpawnCollector = collector) -> None:
                collector(record, act)
                persistence(record, act)

            search_key(self.reader, activity, self.regions, cutoff, on_event, self.progress,
                       ours_ids if activity is root else frozenset())
            if collector.dropped:
                activity.notes.append(f"{collector.dropped} more minted credentials not listed")
            spawned.extend(collector.found)
            if activity is not root:
                item.spawned_activity.append(activity)
            if depth >= self.options.max_depth:
                continue
            for child in collector.found:
                key = child.minted_key_id
                if key and key not in followed and len(followed) <= self.options.max_followed:
                    followed.add(key)
                    queue.append((Activity(key, depth=depth), depth + 1))
        return root, spawned, persistence

    def investigate(self, item: CredentialInvestigation, finding: Finding, last_used: LastUsed | None) -> None:
        item.last_used = last_used
        ours = frozenset(finding.verification.request_ids) if finding.verification else frozenset()
        item.activity, item.spawned, persistence = self.activity_of(item, ours)
        item.hints = hints_from(item.spawned, item.account)
        item.persistence = persistence.items
        if persistence.dropped:
            item.notes.append(f"{persistence.dropped} more changes by the leaked credentials not listed")
        item.notes += confirm(item.persistence, self.operator, item, self._workload_regions(item))
        roles: list[str] = []
        v = finding.verification
        if item.principal_type == "assumed-role" and (item.role_arn or (v and v.role_name)):
            roles.append(item.role_arn or (v.role_name if v else "") or "")
        roles += [h.name for h in item.hints if h.kind is HintKind.ROLE]
        reader = BlastRadiusReader(self.operator, self._workload_regions(item))
        for role in dict.fromkeys(roles):
            item.blast_radius.append(blast_radius(reader, role.rsplit("/", 1)[-1]))
        fill_steps(item)

    def _workload_regions(self, item: CredentialInvestigation) -> list[str]:
        active: set[str] = set()
        for activity in [item.activity, *item.spawned_activity]:
            if activity:
                active |= activity.regions_with_events
        home = self.operator.options.resolved_region()
        return [r for r in self.regions if r in active or r == home] or [home]


def investigate(findings: list[Finding], operator: Operator, options: LookupOptions, *,
                last_used: dict[str, LastUsed] | None = None, verified_at: str | None = None,
                progress: Progress | None = None) -> Incident:
    incident = Incident(generated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), investigated=True)
    pairs = credentials_to_investigate(findings)
    if not pairs:
        incident.notes.append("nothing to investigate: no live or expired credentials")
        return incident
    investigator = Investigator(operator, options, progress)
    incident.notes.extend(investigator.notes)
    for item, finding in pairs:
        item.verified_at = verified_at
        investigator.investigate(item, finding, (last_used or {}).get(item.access_key_id))
        incident.credentials.append(item)
    incident.notes.append(f"CloudTrail: {investigator.reader.calls} LookupEvents call(s) in "
                          f"{len(investigator.regions)} region(s) ({', '.join(investigator.regions)}); {WINDOW}")
    return incident
