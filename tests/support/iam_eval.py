"""A small IAM policy evaluator for the tests: identity policies against one request, as AWS documents it.

moto evaluates only StringEquals (every other condition counts as met), so the deny documents stsleak
writes (deny-before-now, sessions, federated users, Identity Center, off-instance) are checked here
instead. What it implements, from the IAM User Guide ("Policy evaluation logic", "Condition operators"):

- an explicit Deny wins; otherwise an Allow allows; otherwise the request is implicitly denied;
- Action/NotAction match case-insensitively, Resource/NotResource case-sensitively, `*` and `?` wildcards;
- the operators of the String, Numeric, Date, Bool, IpAddress and Arn families, each with `...IfExists`,
  and `Null`;
- a key absent from the request context: the condition is false, except for the negated operators
  (`StringNotEquals`, `NotIpAddress`, `ArnNotLike` …), which are true, `...IfExists` (true) and `Null`;
- several values for one key: OR (for a negated operator: NOR); several keys or operators: AND.

What it refuses loudly (NotImplementedError), so a test cannot lean on it unknowingly: policy
variables (`${…}`), set qualifiers (`ForAnyValue:`/`ForAllValues:`), multivalued context keys,
Binary operators, unknown operators.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

ContextValue = str | bool | int | float | datetime


class Decision(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"  # an explicit Deny matched
    IMPLICIT_DENY = "ImplicitDeny"  # nothing allowed it


@dataclass
class Request:
    """One API request as IAM sees it: the action, the resource and the request context."""

    action: str
    resource: str = "*"
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def value(self, key: str) -> ContextValue | None:
        """A context key's value; key names are case-insensitive, as in IAM."""
        wanted = key.lower()
        for name, value in self.context.items():
            if name.lower() == wanted:
                if isinstance(value, list | tuple | set):
                    raise NotImplementedError(f"multivalued context key {key}: not supported by this evaluator")
                return value
        return None


NEGATED = frozenset({"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
                     "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike"})


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _glob(pattern: str, text: str, ignore_case: bool) -> bool:
    """IAM's `*` (any run of characters) and `?` (one character); nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _date(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(float(value), UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _ip_in(address: Any, network: Any) -> bool:
    try:
        return ipaddress.ip_address(str(address)) in ipaddress.ip_network(str(network), strict=False)
    except ValueError:
        return False


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _compare(base: str, actual: Any, wanted: Any) -> bool:
    """One policy value against the request's value, for the positive form of `base`."""
    if base in ("StringEquals", "StringNotEquals"):
        return _text(actual) == str(wanted)
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return _text(actual).lower() == str(wanted).lower()
    if base in ("StringLike", "StringNotLike"):
        return _glob(str(wanted), _text(actual), ignore_case=False)
    if base in ("ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike"):
        return _glob(str(wanted), _text(actual), ignore_case=False)
    if base == "Bool":
        return _text(actual).lower() == str(wanted).lower()
    if base in ("IpAddress", "NotIpAddress"):
        return _ip_in(actual, wanted)
    if base.startswith("Numeric"):
        a, w = _number(actual), _number(wanted)
        if a is None or w is None:
            return False
        return {"NumericEquals": a == w, "NumericNotEquals": a == w, "NumericLessThan": a < w,
                "NumericLessThanEquals": a <= w, "NumericGreaterThan": a > w,
                "NumericGreaterThanEquals": a >= w}[base]
    if base.startswith("Date"):
        a, w = _date(actual), _date(wanted)
        if a is None or w is None:
            return False
        return {"DateEquals": a == w, "DateNotEquals": a == w, "DateLessThan": a < w, "DateLessThanEquals": a <= w,
                "DateGreaterThan": a > w, "DateGreaterThanEquals": a >= w}[base]
    raise NotImplementedError(f"condition operator {base}: not supported by this evaluator")


KNOWN = frozenset({"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
                   "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
                   "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
                   "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
                   "Bool", "IpAddress", "NotIpAddress", "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike"})


def key_holds(operator: str, key: str, values: Any, request: Request) -> bool:
    """One key of one operator: `"StringEquals": {"aws:userid": ["A", "B"]}` → key aws:userid, values [A, B]."""
    if operator.startswith(("ForAnyValue:", "ForAllValues:")):
        raise NotImplementedError(f"set qualifier in {operator}: not supported by this evaluator")
    wanted = _list(values)
    if any(isinstance(v, str) and "${" in v for v in wanted):
        raise NotImplementedError(f"policy variable in {operator} {key}: not supported by this evaluator")
    actual = request.value(key)
    if operator == "Null":
        (flag,) = wanted
        return (actual is None) == (str(flag).lower() == "true")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base not in KNOWN:
        raise NotImplementedError(f"condition operator {operator}: not supported by this evaluator")
    if actual is None:
        return if_exists or base in NEGATED
    matched = any(_compare(base, actual, w) for w in wanted)
    return not matched if base in NEGATED else matched


def condition_holds(condition: Mapping[str, Mapping[str, Any]] | None, request: Request) -> bool:
    """Every operator, and every key of each, holds (AND)."""
    return all(key_holds(operator, key, values, request)
               for operator, pairs in (condition or {}).items() for key, values in pairs.items())


def _matches_action(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(_glob(str(a), action, ignore_case=True) for a in _list(statement["NotAction"]))
    return any(_glob(str(a), action, ignore_case=True) for a in _list(statement.get("Action", [])))


def _matches_resource(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(_glob(str(r), resource, ignore_case=False) for r in _list(statement["NotResource"]))
    return any(_glob(str(r), resource, ignore_case=False) for r in _list(statement.get("Resource", [])))


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    return (_matches_action(statement, request.action) and _matches_resource(statement, request.resource)
            and condition_holds(statement.get("Condition"), request))


def statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _list(policy.get("Statement", [])) if isinstance(s, Mapping)]


def decide(policies: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """The decision of a principal's identity policies for `request` (no SCPs, boundaries or session policies)."""
    applying = [s for policy in policies for s in statements(policy) if statement_applies(s, request)]
    if any(s.get("Effect") == "Deny" for s in applying):
        return Decision.DENY
    if any(s.get("Effect") == "Allow" for s in applying):
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY


__all__ = ["Decision", "Request", "condition_holds", "decide", "key_holds", "statement_applies"]
