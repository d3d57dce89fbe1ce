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
    JSON \\u escapes; {{TOKEN_URL}} URL-encoded; and values that are no AWS credential (ciphertexts):
    {{SEALED}} {{SOPS}} {{AGE}} {{PGP}} {{MINIO_KEY}} {{JWT}} (see `ciphertexts`).
    """
    rng = rng or random.Random()
    values = {
        "ASIA": key_id("ASIA", rng), "AKIA": key_id("AKIA", rng), "ABIA": key_id("ABIA", rng),
        "ACCA": key_id("ACCA", rng), "SECRET": secret(rng), "TOKEN": session_token("FQoG", 356, rng),
        "TOKEN_IQOJ": session_token("IQoJ", 1100, rng),
    }
    for prefix in _KEY_PLACEHOLDER.findall(template):
        values.setdefault(prefix, key_id(prefix, rng))
    values.update(ciphertexts(rng))
    values["SECRET_JSON"] = values["SECRET"].replace("/", "\\/")
    values["TOKEN_JSON"] = values["TOKEN"].replace("/", "\\/")
    values["SECRET_U"] = values["SECRET"].replace("/", "\\u002F").replace("+", "\\u002B")
    values["TOKEN_U"] = values["TOKEN"].replace("/", "\\u002f").replace("+", "\\u002b")
    values["TOKEN_URL"] = urllib.parse.quote(values["TOKEN"], safe="")
    text = template
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return text, values


def ciphertexts(rng: random.Random | None = None) -> dict[str, str]:
    """Values that stand under credential labels but are none, random each time: a Bitnami
    SealedSecret value (`AgB…`), a SOPS value (`ENC[AES256_GCM,data:…]`), age and PGP ciphertext
    in base64 (one line, as a value), an access key of another S3-compatible service (MinIO's
    shape: 20 capitals and digits), and a JWT (MinIO's STS session token)."""
    rng = rng or random.Random()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    minio = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(19)) + rng.choice(string.digits)
    claims = base64.urlsafe_b64encode(f'{{"accessKey":"{minio}","exp":1795000000}}'.encode()).decode().rstrip("=")
    return {
        "SEALED": b64(b"\x02\x00" + rng.randbytes(rng.randrange(300, 700))),
        "SOPS": f"ENC[AES256_GCM,data:{b64(rng.randbytes(rng.randrange(300, 900)))},iv:{b64(rng.randbytes(32))},"
                f"tag:{b64(rng.randbytes(16))},type:str]",
        "AGE": b64(b"age-encryption.org/v1\n-> X25519 " + rng.randbytes(rng.randrange(300, 700))),
        "PGP": b64(bytes([0x85, 0x01, 0x0C, 0x03]) + rng.randbytes(rng.randrange(300, 700))),
        "MINIO_KEY": minio,
        "JWT": "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9." + claims + "."
               + base64.urlsafe_b64encode(rng.randbytes(64)).decode().rstrip("="),
    }


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


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, mtime=0)


def _quoted_printable(data: bytes) -> bytes:
    import binascii

    return binascii.b2a_qp(data)


def _url(data: bytes) -> bytes:
    return urllib.parse.quote_plus(data).encode()


# A rule example's `encode` steps (each bytes -> bytes), applied in order to the rendered text: the
# ways people paste credentials that the decoders must undo.
EXAMPLE_ENCODINGS = {
    "base64": base64.b64encode,
    "base64url": lambda data: base64.urlsafe_b64encode(data).rstrip(b"="),  # URL-safe and unpadded
    "utf-16-le": lambda data: data.decode("utf-8").encode("utf-16-le"),
    "gzip": _gzip,
    "quoted-printable": _quoted_printable,
    "url": _url,  # quote_plus: every reserved byte %XX, spaces as "+"
    "nul": lambda data: data.replace(b"\n", b"\0"),  # lines as NUL-separated entries (/proc/<pid>/environ)
}


def encode_example(text: str, steps: list[str], within: str = "{}") -> bytes:
    """A rendered example's text with its `encode` steps applied, put where `{}` stands in `within`."""
    data = text.encode("utf-8")
    for step in steps:
        data = EXAMPLE_ENCODINGS[step](data)
    head, _, tail = within.partition("{}")
    return head.encode("utf-8") + data + tail.encode("utf-8")
