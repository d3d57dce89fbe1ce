"""Decode the owning AWS account id from an access key id, offline."""

from __future__ import annotations

_MAX_ACCOUNT = 999_999_999_999
_BASE32_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_DROP_BASE32 = str.maketrans("", "", _BASE32_DIGITS)  # what is left of a body is what is not base32
# RFC 4648 base32 digits as the digits int(..., 32) reads: one C call, not base64's Python loop.
_AS_INT_DIGITS = str.maketrans(_BASE32_DIGITS, "0123456789abcdefghijklmnopqrstuv")


def account_id_from_key_id(key_id: str) -> str | None:
    """Base32-decode characters 5-20; the first 6 bytes, masked and shifted, are the account.

    Old key ids whose 5th character is I or J predate this encoding and yield None, as do ids
    that decode to a number no account can have (more than 12 digits).
    """
    if len(key_id) != 20 or key_id[4] in "IJ":
        return None
    body = key_id[4:]
    if body.translate(_DROP_BASE32):  # one C call (a regex match cost more, once per key id found)
        return None
    account = ((int(body.translate(_AS_INT_DIGITS), 32) >> 32) & 0x7FFFFFFFFF80) >> 7
    return f"{account:012d}" if account <= _MAX_ACCOUNT else None
