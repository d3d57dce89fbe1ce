"""The one place that decides how much of a secret may be shown."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from scanner.model import Finding

# A long base64 run, also URL-encoded (%2F %2B %3D) or JSON-escaped (\/ \u002B): a token.
_LONG_RUN = re.compile(r"(?<![A-Za-z0-9/+=%\\])(?:[A-Za-z0-9/+=]|%[0-9A-Fa-f]{2}|\\/|\\u00[0-9A-Fa-f]{2}){100,}")


def redact(value: str | None, show_secrets: bool = False) -> str | None:
    if value is None or show_secrets:
        return value
    return value[:4] + "…"


def _forms(secret: str) -> set[str]:
    """The secret as it may appear in a message: raw, URL-encoded (either hex case, with or
    without `/` kept), form-encoded, JSON-escaped (with `\\/` or not)."""
    encoded = {quote(secret, safe=""), quote(secret, safe="/"), quote_plus(secret), quote_plus(secret, safe="/")}
    encoded |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), form) for form in encoded}
    escaped = json.dumps(secret)[1:-1]
    unicode_escaped = json.dumps(secret, ensure_ascii=True).replace("/", "\\/").replace("+", "\\u002b")[1:-1]
    upper = unicode_escaped.replace("\\u002b", "\\u002B")
    return {secret, escaped, escaped.replace("/", "\\/"), unicode_escaped, upper, *encoded}


def scrub(message: str, secrets: list[str]) -> str:
    """Remove any full secret from a free-text message (e.g. an error from a library), in any of
    the forms a URL or a JSON body gives it."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            for form in sorted(_forms(secret), key=len, reverse=True):
                message = message.replace(form, redact(secret) or "")
    return _LONG_RUN.sub(lambda m: m.group()[:4] + "…", message)


def secrets_of(findings: Iterable[Finding]) -> list[str]:
    """The leaked secrets and tokens of the findings (their alternatives too), to scrub from anything written."""
    return [s for f in findings for s in f.leaked_values]
