"""Decode the owning AWS account id from an access key id, offline."""

from __future__ import annotations

import base64

_MAX_ACCOUNT = 999_999_999_999


def account_id_from_key_id(key_id: str) -> str | None:
    """Base32-decode characters 5-20; the first 6 bytes, masked and shifted, are the account.

    Old key ids whose 5th character is I or J predate this encoding and yield None, as do ids
    that decode to a number no account can have (more than 12 digits).
    """
    if len(key_id) != 20 or key_id[4] in "IJ":
        return None
    try:
        raw = base64.b32decode(key_id[4:])
    except ValueError:
        return None
    account = (int.from_bytes(raw[:6], "big") & 0x7FFFFFFFFF80) >> 7
    return f"{account:012d}" if account <= _MAX_ACCOUNT else None
