"""One sentence per finding, secrets redacted: shared by the SARIF and GitHub reporters."""

from __future__ import annotations

from scanner.model import Finding
from scanner.redact import redact


def describe(f: Finding, show_secrets: bool = False) -> str:
    text = f"AWS access key id {f.access_key_id}"
    if f.account_id:
        text += f" (account {f.account_id})"
    parts = []
    if f.secret:
        parts.append(f"secret {redact(f.secret, show_secrets)}")
    if f.session_token:
        parts.append(f"session token {redact(f.session_token, show_secrets)}")
    if parts:
        text += " with " + " and ".join(parts)
    if f.missing:
        text += f"; missing: {', '.join(f.missing)}"
    if f.verification:
        text += f"; verification: {f.verification.status}"
        if f.verification.arn:
            text += f" ({f.verification.arn})"
    return text + "."
