"""Persistence and damage: what the leaked credentials (and the keys they minted) created, changed or
switched off, from their own successful CloudTrail events, each read back now with the operator's
credentials ("still there?") and listed with the command that removes or undoes it. Nothing is removed
automatically.

One module per part of AWS's "Compromised IAM Credentials" playbook, each a table of event rules
(`RULES`: eventName -> rows) and read-backs (`READERS`: kind -> still there?):
`iam.py` (identities, permissions, providers, MFA, SSH keys, service credentials, boundaries),
`logging_off.py` (CloudTrail, GuardDuty, Config), `compute.py` (EC2, Lambda, ECS), `exposure.py` (S3,
snapshots, AMIs, KMS); `signals.py` reads what AWS itself says (GuardDuty findings, the quarantine
policy); `common.py` holds what they share.
"""

from __future__ import annotations

from typing import Any

from scanner.aws_session import Operator, failure_from
from scanner.investigation.model import (
    MAX_DISTINCT,
    CredentialInvestigation,
    PersistenceCategory,
    PersistenceItem,
)
from scanner.investigation.persistence import compute, exposure, iam, logging_off
from scanner.investigation.persistence.common import Clients, Event, Reader, Rule
from scanner.investigation.persistence.signals import signals

RULES: dict[str, Rule] = {**iam.RULES, **logging_off.RULES, **compute.RULES, **exposure.RULES}
READERS: dict[str, Reader] = {**iam.READERS, **logging_off.READERS, **compute.READERS, **exposure.READERS}
ORDER = [PersistenceCategory.LOGGING, PersistenceCategory.IAM, PersistenceCategory.COMPUTE, PersistenceCategory.DATA,
         PersistenceCategory.SIGNAL]  # logging back on first: it is what records the rest of the clean-up
GONE = frozenset({"NoSuchEntity", "NoSuchBucket", "NoSuchBucketPolicy", "ResourceNotFoundException",
                  "NotFoundException", "ParameterNotFound", "InvalidKeyPair.NotFound", "InvalidGroup.NotFound",
                  "InvalidGroupId.NotFound", "InvalidSnapshot.NotFound", "InvalidAMIID.NotFound",
                  "InvalidAMIID.Unavailable", "DBSnapshotNotFound", "DBSnapshotNotFoundFault",
                  "DBClusterSnapshotNotFoundFault", "TrailNotFoundException"})

__all__ = ["READERS", "RULES", "PersistenceCollector", "confirm", "order", "signals"]


class PersistenceCollector:
    """An on-event callback: keeps (bounded) what each key created or changed, one row per thing (the
    newest event for it wins: a trust policy edited twice is one row, read back against the last edit)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str, str | None], PersistenceItem] = {}
        self.dropped = 0

    @property
    def items(self) -> list[PersistenceItem]:
        return list(self._items.values())

    def __call__(self, record: dict[str, Any], activity: Any) -> None:
        event = Event.of(record)
        rule = RULES.get(event.name)
        if rule is None:
            return
        for found in rule(event):
            found.event_name = str(record.get("eventName"))
            found.event_time = str(record.get("eventTime") or "")
            found.by_key = activity.access_key_id
            key = (found.kind, found.name, found.region)
            known = self._items.get(key)
            if known is not None:
                if found.event_time > known.event_time:
                    self._items[key] = found
                continue
            if len(self._items) >= MAX_DISTINCT:
                self.dropped += 1
                continue
            self._items[key] = found


def _read(clients: Clients, found: PersistenceItem) -> bool | None:
    """Still there? True/False from a read now; None when it could not be checked (and why, in the detail)."""
    reader = READERS.get(found.kind)
    if reader is None:
        return found.exists
    try:
        return reader(clients, found)
    except Exception as exc:
        failure = failure_from(exc)
        if failure.code in GONE:
            return False
        found.detail = f"{found.detail}; not confirmed: {failure.message}".lstrip("; ")
        return None


def order(items: list[PersistenceItem]) -> list[PersistenceItem]:
    """By category (logging first), then oldest first (CloudTrail answers newest first: ties keep that reversed)."""
    return sorted(reversed(items), key=lambda p: (ORDER.index(p.category), p.event_time or "~"))


def confirm(items: list[PersistenceItem], operator: Operator, item: CredentialInvestigation | None = None,
            regions: list[str] | None = None) -> list[str]:
    """Set `exists` on each row from a read with the operator's credentials. Given the credential and the
    regions it was used in, also add what AWS says about it (GuardDuty findings, the quarantine policy);
    returns notes on what could not be read."""
    clients = Clients(operator)
    for found in items:
        found.exists = _read(clients, found)
    if item is None:
        return []
    more, notes = signals(clients, item, regions or [operator.options.resolved_region()])
    items[:] = order(items + more)
    return notes
