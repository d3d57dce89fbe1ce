"""The one place that decides how much of a secret may be shown."""

from __future__ import annotations

import re


def redact(value: str | None, show_secrets: bool = False) -> str | None:
    if value is None or show_secrets:
        return value
    return value[:4] + "…"


def scrub(message: str, secrets: list[str]) -> str:
    """Remove any full secret from a free-text message (e.g. an error from a library)."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            message = message.replace(secret, redact(secret) or "")
    return re.sub(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{100,}", lambda m: m.group()[:4] + "…", message)
