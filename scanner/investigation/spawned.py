"""What a key spawned: credentials it minted (AssumeRole*, GetSessionToken, GetFederationToken,
CreateAccessKey), read from its own CloudTrail events, and the revocation targets they add.

A revocation of the leaked role does not cut sessions of a second role the attacker assumed from
it (chained sessions belong to the second role), nor keys it created: each gets its own target.
"""

from __future__ import annotations

from typing import Any

from scanner.investigation.model import MAX_DISTINCT, HintKind, RevocationHint, Spawned, SpawnKind

KINDS = {"AssumeRole": SpawnKind.ROLE_SESSION, "AssumeRoleWithSAML": SpawnKind.ROLE_SESSION,
         "AssumeRoleWithWebIdentity": SpawnKind.ROLE_SESSION, "GetSessionToken": SpawnKind.SESSION_TOKEN,
         "GetFederationToken": SpawnKind.FEDERATION_TOKEN, "CreateAccessKey": SpawnKind.ACCESS_KEY}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _user_of(identity: dict[str, Any]) -> str | None:
    arn = str(identity.get("arn") or "")
    if identity.get("userName"):
        return str(identity["userName"])
    return arn.rsplit("/", 1)[-1] if ":user/" in arn else None


def spawned_from(record: dict[str, Any], by_key: str, depth: int) -> Spawned | None:
    """The credentials one successful event minted, or None."""
    kind = KINDS.get(str(record.get("eventName")))
    if kind is None or record.get("errorCode"):
        return None
    request, response = _dict(record.get("requestParameters")), _dict(record.get("responseElements"))
    identity = _dict(record.get("userIdentity"))
    spawned = Spawned(kind, str(record["eventName"]), str(record.get("eventTime") or ""), by_key, None,
                      region=str(record.get("awsRegion") or "") or None, depth=depth)
    if kind is SpawnKind.ACCESS_KEY:
        key = _dict(response.get("accessKey"))
        spawned.minted_key_id = key.get("accessKeyId")
        spawned.user_name = key.get("userName") or request.get("userName") or _user_of(identity)
        return spawned
    spawned.minted_key_id = _dict(response.get("credentials")).get("accessKeyId")
    if kind is SpawnKind.ROLE_SESSION:
        spawned.role_arn = request.get("roleArn")
        spawned.session_name = request.get("roleSessionName")
    elif kind is SpawnKind.FEDERATION_TOKEN:
        spawned.session_name = request.get("name")
        spawned.user_name = _user_of(identity)
    else:
        spawned.user_name = _user_of(identity)
    return spawned


class SpawnCollector:
    """An on-event callback: keeps (bounded) what each key minted."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.found: list[Spawned] = []
        self.dropped = 0

    def __call__(self, record: dict[str, Any], activity: Any) -> None:
        spawned = spawned_from(record, activity.access_key_id, self.depth)
        if spawned is None:
            return
        if len(self.found) < MAX_DISTINCT:
            self.found.append(spawned)
        else:
            self.dropped += 1


def _account_of(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[4] or None if len(parts) > 5 else None


def hints_from(spawned: list[Spawned], account: str | None) -> list[RevocationHint]:
    """Revocation targets for the minted credentials: the assumed roles, the issuing users, new keys."""
    hints: dict[tuple[HintKind, str], RevocationHint] = {}
    for item in spawned:
        if item.kind is SpawnKind.ROLE_SESSION and item.role_arn:
            hint = hints.setdefault((HintKind.ROLE, item.role_arn), RevocationHint(
                HintKind.ROLE, item.role_arn, _account_of(item.role_arn),
                reason=f"{item.by_key} assumed it ({item.event_name})"))
            if item.session_name and item.session_name not in hint.sessions:
                hint.sessions.append(item.session_name)
        elif item.kind in (SpawnKind.SESSION_TOKEN, SpawnKind.FEDERATION_TOKEN) and item.user_name:
            hints.setdefault((HintKind.USER, item.user_name), RevocationHint(
                HintKind.USER, item.user_name, account,
                reason=f"{item.by_key} minted temporary credentials of this user ({item.event_name})"))
        elif item.kind is SpawnKind.ACCESS_KEY and item.minted_key_id:
            hints.setdefault((HintKind.ACCESS_KEY, item.minted_key_id), RevocationHint(
                HintKind.ACCESS_KEY, item.minted_key_id, account, user_name=item.user_name,
                reason=f"{item.by_key} created it (CreateAccessKey for user {item.user_name})"))
    return list(hints.values())
