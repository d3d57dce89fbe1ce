"""What the persistence modules share: one CloudTrail event as a rule sees it, the operator's clients
per region, and small helpers for CloudTrail's parameter shapes (which differ by service: EC2 wraps
lists in {"items": […]}, IAM lowercases only the first letter, so `sAMLProviderArn`)."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from scanner.aws_session import Operator, client_config
from scanner.investigation.model import PersistenceCategory, PersistenceItem

MAX_IDS = 100  # instance ids and the like kept per row
_LAMBDA_VERSION = re.compile(r"20\d{6}(v\d+)?$")


@dataclass
class Event:
    """One successful CloudTrail event of the leaked key (or of a key it minted)."""

    name: str  # the API operation (Lambda's version suffix removed)
    request: dict[str, Any]
    response: dict[str, Any]
    region: str
    account: str

    @classmethod
    def of(cls, record: dict[str, Any]) -> Event:
        name = str(record.get("eventName"))
        if record.get("eventSource") == "lambda.amazonaws.com":
            name = _LAMBDA_VERSION.sub("", name)
        request, response = record.get("requestParameters"), record.get("responseElements")
        identity = record.get("userIdentity") if isinstance(record.get("userIdentity"), dict) else {}
        account = str(record.get("recipientAccountId") or (identity or {}).get("accountId") or "")
        return cls(name, request if isinstance(request, dict) else {}, response if isinstance(response, dict) else {},
                   str(record.get("awsRegion") or ""), account)


Rule = Callable[[Event], list[PersistenceItem]]
Reader = Callable[["Clients", PersistenceItem], bool | None]


class Clients:
    """The operator's read-only clients: IAM (global) and one per service and region."""

    def __init__(self, operator: Operator) -> None:
        self.operator = operator
        self._clients: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str | None = None) -> Any:
        if service == "iam" or not region:
            return self.operator.client(service)
        if (service, region) not in self._clients:
            aws = replace(self.operator.options, region=region)
            self._clients[(service, region)] = self.operator.session.client(
                service, region_name=region, endpoint_url=aws.endpoint_url, config=client_config(aws))
        return self._clients[(service, region)]


def item(kind: str, name: str, category: PersistenceCategory, remove: str, *, detail: str = "",
         **ids: Any) -> PersistenceItem:
    """A row without its event fields (the collector fills those in)."""
    return PersistenceItem(kind, name, "", "", "", remove=remove, detail=detail, category=category,
                           ids={k: v for k, v in ids.items() if v is not None})


def regional_item(category: PersistenceCategory, kind: str, name: str, region: str, remove: str, *,
                  detail: str = "", **ids: Any) -> PersistenceItem:
    """A row of a regional resource: its removal command carries `--region`, the row its region."""
    found = item(kind, name, category, in_region(remove, region), detail=detail, **ids)
    found.region = region
    return found


def in_region(command: str, region: str) -> str:
    """The command with `--region`, before the note that may follow it (two spaces and a parenthesis)."""
    command, _, note = command.partition("  (")
    return f"{command} --region {region}" + (f"  ({note}" if note else "")


def get(value: Any, *names: str) -> Any:
    """The first non-empty field among `names`, matched without regard to case (`sAMLProviderArn`)."""
    if not isinstance(value, dict):
        return None
    lowered = {str(k).lower(): v for k, v in value.items()}
    for name in names:
        found = lowered.get(name.lower())
        if found not in (None, "", [], {}):
            return found
    return None


def text(value: Any, *names: str) -> str:
    found = get(value, *names)
    return str(found) if found is not None else "?"


def listed(value: Any) -> list[Any]:
    """A list as CloudTrail writes it: a list, EC2's {"items": […]}, or one value."""
    if isinstance(value, dict) and set(value) == {"items"}:
        value = value["items"]
    if isinstance(value, list):
        return value
    return [] if value in (None, "", {}) else [value]


def leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (path of lower-case keys, leaf) of a nested value."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaves(child, (*path, str(key).lower()))
    elif isinstance(value, list):
        for child in value:
            yield from leaves(child, path)
    else:
        yield path, value


def find(value: Any, name: str) -> list[Any]:
    """Every leaf whose own key is `name` (any case), wherever it sits."""
    wanted = name.lower()
    return [leaf for path, leaf in leaves(value) if path and path[-1] == wanted]


def document(value: Any) -> dict[str, Any] | None:
    """A policy document from CloudTrail or an AWS answer: a dict, JSON, or URL-encoded JSON."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    for candidate in (value, urllib.parse.unquote(value)):
        try:
            parsed = json.loads(candidate)
        except ValueError:
            continue
        return parsed if isinstance(parsed, dict) else None
    return None


def same_document(a: Any, b: Any) -> bool:
    first, second = document(a), document(b)
    return first is not None and first == second


def _listed_values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def public_principals(doc: dict[str, Any] | None) -> list[str]:
    """Allow statements open to anyone (Principal "*" or {"AWS": "*"}) and without a Condition: what they allow."""
    found = []
    for statement in _listed_values((doc or {}).get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or statement.get("Condition"):
            continue
        principal = statement.get("Principal")
        values = [principal] if isinstance(principal, str) else [
            v for vs in (principal or {}).values() for v in _listed_values(vs)] if isinstance(principal, dict) else []
        if "*" in values:
            found += [str(a) for a in _listed_values(statement.get("Action"))]
    return found


def principals(doc: dict[str, Any] | None) -> list[str]:
    """Every principal an Allow statement names (`AWS:arn`, `Federated:…`, `*`)."""
    out: list[str] = []
    for statement in _listed_values((doc or {}).get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if isinstance(principal, str):
            out.append(principal)
        elif isinstance(principal, dict):
            out += [f"{kind}:{v}" for kind, vs in principal.items() for v in _listed_values(vs)]
    return list(dict.fromkeys(out))


def short(values: list[str], limit: int = 10) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f" (+{len(values) - limit} more)" if len(values) > limit else "")


def flag(value: Any) -> bool | None:
    """A boolean as CloudTrail records it (true, "true", "false")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None
