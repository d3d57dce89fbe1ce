"""Fake AWS credentials generated at run time, for tests, benchmarks and rule examples.

Nothing here is a real credential; values are random and shaped like the real thing, so this
repository never commits a live-looking credential.
"""

from __future__ import annotations

import base64
import random
import re
import string
import urllib.parse
from dataclasses import dataclass

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B64 = string.ascii_letters + string.digits + "+/"
TOKEN_PREFIXES = {"FQoG": "FQoGZXIvYXdz", "IQoJ": "IQoJb3JpZ2lu", "FwoG": "FwoGZXIvYXdz", "AQoD": "AQoDYXdz"}


def key_id(prefix: str = "ASIA", rng: random.Random | None = None, account: int | None = None) -> str:
    """A random key id with a digit in its body; with `account`, one that decodes to that account."""
    rng = rng or random.Random()
    while True:
        if account is not None:
            x = (account << 7) | rng.getrandbits(7) | (rng.getrandbits(1) << 47)
            raw = x.to_bytes(6, "big") + rng.getrandbits(32).to_bytes(4, "big")
            body = base64.b32encode(raw).decode()[:16]
        else:
            body = "".join(rng.choice(_B32) for _ in range(16))
        if any(c.isdigit() for c in body) and "EXAMPLE" not in body:
            return prefix + body


def secret(rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    while True:
        value = "".join(rng.choice(_B64) for _ in range(40))
        if "/" in value and any(c.isdigit() for c in value) and value.lower() != value and value.upper() != value:
            return value


def session_token(prefix: str = "FQoG", length: int = 356, rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    head = TOKEN_PREFIXES[prefix]
    body = "".join(rng.choice(_B64) for _ in range(length - len(head) - 1))
    return head + body + "="


@dataclass(frozen=True)
class FakeCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None


def temporary(rng: random.Random | None = None, token_prefix: str = "FQoG", token_length: int = 356) -> FakeCredentials:
    rng = rng or random.Random()
    return FakeCredentials(key_id("ASIA", rng), secret(rng), session_token(token_prefix, token_length, rng))


_KEY_PLACEHOLDER = re.compile(r"\{\{([A-Z]{4})\}\}")


def render_example(template: str, rng: random.Random | None = None) -> tuple[str, dict[str, str]]:
    """Fill a rule example's {{PLACEHOLDERS}}; returns the text and the values used.

    {{ASIA}}, {{AROA}}, … (any four capitals): a random key id with that prefix; {{SECRET}},
    {{TOKEN}} (FQoG…, 356 chars), {{TOKEN_IQOJ}} (IQoJ…, 1,100 chars); {{SECRET_JSON}} and
    {{TOKEN_JSON}} with "/" escaped as "\\/"; {{SECRET_U}} and {{TOKEN_U}} with "/" and "+" as
    JSON \\u escapes; {{TOKEN_URL}} URL-encoded.
    """
    rng = rng or random.Random()
    values = {
        "ASIA": key_id("ASIA", rng), "AKIA": key_id("AKIA", rng), "ABIA": key_id("ABIA", rng),
        "ACCA": key_id("ACCA", rng), "SECRET": secret(rng), "TOKEN": session_token("FQoG", 356, rng),
        "TOKEN_IQOJ": session_token("IQoJ", 1100, rng),
    }
    for prefix in _KEY_PLACEHOLDER.findall(template):
        values.setdefault(prefix, key_id(prefix, rng))
    values["SECRET_JSON"] = values["SECRET"].replace("/", "\\/")
    values["TOKEN_JSON"] = values["TOKEN"].replace("/", "\\/")
    values["SECRET_U"] = values["SECRET"].replace("/", "\\u002F").replace("+", "\\u002B")
    values["TOKEN_U"] = values["TOKEN"].replace("/", "\\u002f").replace("+", "\\u002b")
    values["TOKEN_URL"] = urllib.parse.quote(values["TOKEN"], safe="")
    text = template
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return text, values


def expected_parts(template: str, values: dict[str, str]) -> tuple[str | None, str | None]:
    """The secret and the token a rendered example holds (decoded: what a scan must report)."""
    secret_value = values["SECRET"] if any(
        "{{" + name + "}}" in template for name in ("SECRET", "SECRET_JSON", "SECRET_U")) else None
    token_value = None
    if any("{{" + name + "}}" in template for name in ("TOKEN", "TOKEN_JSON", "TOKEN_URL", "TOKEN_U")):
        token_value = values["TOKEN"]
    elif "{{TOKEN_IQOJ}}" in template:
        token_value = values["TOKEN_IQOJ"]
    return secret_value, token_value
