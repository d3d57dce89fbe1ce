"""Who issued a leaked federated-user session: the IAM user CloudTrail names in the session's own events.

Every event made with GetFederationToken credentials carries `userIdentity.type` "FederatedUser", the
federated user's ARN and `sessionContext.sessionIssuer` (type "IAMUser", its ARN, account and user
name). The issuer is taken from such an event of the leaked key only, and only when the event's ARN is
the verified federated ARN and its issuer is an IAM user of the same account; anything else names no
issuer. One event is enough (a session has one issuer); two different issuers name none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scanner.investigation.cloudtrail import EventReader, RegionFailure

MAX_EVENTS = 200  # read at most this many of the key's events per region looking for one that names the issuer


@dataclass(frozen=True)
class SessionIssuer:
    user_name: str
    arn: str
    event: str  # which event said so: "GetCallerIdentity at 2026-12-01T10:00:00Z in us-east-1 (event id …)"


def issuer_of(record: dict[str, Any], federated_arn: str) -> SessionIssuer | None:
    """The issuer a CloudTrail record of the federated session `federated_arn` names, or None."""
    identity = record.get("userIdentity")
    if not isinstance(identity, dict) or identity.get("type") != "FederatedUser" \
            or identity.get("arn") != federated_arn:
        return None
    context = identity.get("sessionContext")
    issuer = context.get("sessionIssuer") if isinstance(context, dict) else None
    if not isinstance(issuer, dict) or issuer.get("type") != "IAMUser":
        return None
    name, arn = str(issuer.get("userName") or ""), str(issuer.get("arn") or "")
    account = federated_arn.split(":")[4] if federated_arn.count(":") >= 5 else ""
    parts = arn.split(":", 5)
    if not name or len(parts) != 6 or parts[2] != "iam" or parts[4] != account or not parts[5].startswith("user/") \
            or parts[5].rsplit("/", 1)[-1] != name:
        return None
    event = (f"{record.get('eventName')} at {record.get('eventTime')} in {record.get('awsRegion')} "
             f"(event id {record.get('eventID')})")
    return SessionIssuer(name, arn, event)


def find_issuer(reader: EventReader, access_key_id: str, federated_arn: str,
                regions: list[str]) -> tuple[SessionIssuer | None, str]:
    """The issuer CloudTrail names for the leaked key's session, or None and why not (one line)."""
    found: dict[str, SessionIssuer] = {}
    problems: list[str] = []
    for region in regions:
        try:
            for index, record in enumerate(reader.events(access_key_id, region)):
                issuer = issuer_of(record, federated_arn)
                if issuer is not None:
                    found.setdefault(issuer.arn, issuer)
                    break
                if index + 1 >= MAX_EVENTS:
                    break
        except RegionFailure as exc:
            problems.append(str(exc))
    if len(found) == 1:
        return next(iter(found.values())), ""
    if len(found) > 1:
        return None, f"CloudTrail names more than one issuer ({', '.join(sorted(found))}): none is taken"
    searched = ", ".join(regions) or "no region"
    return None, (f"no CloudTrail event of {access_key_id} names its issuer (searched {searched})"
                  + (f"; {'; '.join(problems)}" if problems else ""))
