"""Decode the owning AWS account id from an access key id, offline."""

from __future__ import annotations

_MAX_ACCOUNT = 999_999_999_999
_BASE32_DIGITS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# RFC 4648 base32 digits as the digits int(..., 32) reads, and every other byte as "!", which no
# base reads: one bytes.translate (a C table lookup per byte) both converts and rejects. A str
# translate with a dict table, or a regex test first, cost several times more, once per key id.
_AS_INT_DIGITS = bytes(
    b"0123456789abcdefghijklmnopqrstuv"[_BASE32_DIGITS.index(byte)] if byte in _BASE32_DIGITS else ord("!")
    for byte in range(256))


def account_id_from_key_id(key_id: str) -> str | None:
    """Base32-decode characters 5-20; the first 6 bytes, masked and shifted, are the account.

    Old key ids whose 5th character is I or J predate this encoding and yield None, as do ids
    that decode to a number no account can have (more than 12 digits) and ids that are not base32.
    """
    if len(key_id) != 20 or key_id[4] in "IJ":
        return None
    try:  # UnicodeEncodeError (not ASCII) is a ValueError too
        body = int(key_id[4:].encode("ascii").translate(_AS_INT_DIGITS), 32)
    except ValueError:
        return None
    account = ((body >> 32) & 0x7FFFFFFFFF80) >> 7
    return str(account).zfill(12) if account <= _MAX_ACCOUNT else None  # (f"{:012d}" costs 3x)
