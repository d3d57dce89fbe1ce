"""False-positive filters: plain functions, each named for what it rejects."""

from __future__ import annotations

import binascii
import math
import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache, partial

_RUN = re.compile(r"(.)\1{5,}")
_HEX = re.compile(r"[0-9a-fA-F]+")


def shannon_entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def is_documented_example_or_placeholder(value: str, allow_substrings: tuple[str, ...]) -> bool:
    """AWS's …EXAMPLE values, XXXX/0000 placeholders and the like."""
    return _any_of(allow_substrings).search(value.upper()) is not None


@lru_cache(maxsize=8)
def _any_of(words: tuple[str, ...]) -> re.Pattern[str]:
    """One search for all the substrings (a literal alternation: linear)."""
    return re.compile("|".join(re.escape(w.upper()) for w in words) or "(?!)")


def may_hold_allowlisted_key_id(text: str, allow_substrings: tuple[str, ...]) -> bool:
    """False when no key id in the text can hold an allowlisted word: key ids are upper case, so such
    an id holds the word's upper-case spelling literally. One substring search per word over the text
    (C speed) spares the per-id test on a text of thousands of key ids."""
    return any(word.upper() in text for word in allow_substrings)


def has_long_repeated_run(value: str) -> bool:
    """Six or more of one character in a row: a placeholder, not random output."""
    return _RUN.search(value) is not None


def key_id_body_has_no_digit(key_id: str) -> bool:
    """No digit 2-7 in the 16 base32 characters: true of words, and of 3.6% of random ids."""
    return key_id[4:].isalpha()


def key_id_looks_like_words(key_id: str, min_vowels: int, max_entropy: float) -> bool:
    """ASIAPACIFICREGIONALX: no digit, and vowel-rich (words) or repetitive (placeholders).

    Random digit-less bodies hold about 3 vowels (AEIOU) in 16 letters and ~3.4 bits of entropy;
    about 92% of them pass both tests and are reported like any other key id.
    """
    body = key_id[4:]
    if not key_id_body_has_no_digit(key_id):
        return False
    return sum(body.count(v) for v in "AEIOU") >= min_vowels or shannon_entropy(body) < max_entropy


def is_hex_digest(value: str) -> bool:
    """40 hex characters is a SHA-1 (a git commit id), not a secret."""
    return _HEX.fullmatch(value) is not None


def lacks_mixed_case(value: str) -> bool:
    """A random 40-char base64 secret holds both upper- and lower-case letters."""
    return value.upper() == value or value.lower() == value


def is_low_entropy(value: str, minimum: float) -> bool:
    return shannon_entropy(value) < minimum


def is_jwt_segment(value: str) -> bool:
    """Base64 JSON (a JWT header or payload) labelled "token" is not an AWS session token."""
    return value.startswith("eyJ")


def is_documented_example_token(token: str, markers: tuple[str, ...]) -> bool:
    """AWS's documentation example tokens all hold a marker (`…wEXAMPLEtc764…`), case and all: a
    random token holds "EXAMPLE" about once in 10^12 tokens. (The key-id allowlist's placeholders,
    `AAAAAAAAAAAA` and the like, are not applied: a real token's binary payload has such runs.)"""
    return any(marker in token for marker in markers)


# An STS session token's header, as every known family starts (`IQoJb3JpZ2luX2Vj` 21 0a 09
# "origin_ec", `FwoGZXIvYXdz` 17 0a 06 "er/aws", `AQoDYXdz` 01 0a 03 "aws"): a byte, 0x0a, a length,
# that many printable bytes naming the issuer.
_HEAD_CHARS = 64  # base64 characters decoded: 48 bytes, the header with a name of up to 45 bytes


def lacks_token_header(token: str, prefixes: tuple[str, ...]) -> bool:
    """Ciphertext under a token label (a SealedSecret's `AgB…`, age's `YWdlLWVuY3J5cHRpb24…`, PGP's
    `hQEM…`) is no session token: a token opens with a known prefix or decodes to the header above
    (a random value does about once in 10^5)."""
    if token.startswith(prefixes):
        return False
    head = token[:_HEAD_CHARS]
    try:
        raw = binascii.a2b_base64(head[:len(head) // 4 * 4])
    except (binascii.Error, ValueError):
        return True
    if len(raw) < 3 or raw[1] != 0x0A:
        return True
    name = raw[3:3 + raw[2]]
    return not (3 <= raw[2] == len(name) and all(0x21 <= b <= 0x7E for b in name))


def is_foreign_access_key(value: str, aws_key_id: re.Pattern[str]) -> bool:
    """A value after an access-key label that is no AWS key id but shaped like another service's
    (letters and digits): MinIO, GCS HMAC, Ceph, Linode keys. Placeholders hold no digit or no letter."""
    return aws_key_id.fullmatch(value) is None and not value.isalpha() and not value.isdigit()


def key_id_rejecter(allow_substrings: tuple[str, ...]) -> Callable[[str], object]:
    """rejects_key_id for one text (a truthy result rejects): with no allowlisted word in the text,
    the run search itself, one C call per key id instead of three Python ones."""
    if not allow_substrings:
        return _RUN.search
    return partial(rejects_key_id, allow_substrings=allow_substrings)


def rejects_key_id(key_id: str, allow_substrings: tuple[str, ...]) -> bool:
    """`allow_substrings` may be () when the text holds none of them (may_hold_allowlisted_key_id)."""
    return has_long_repeated_run(key_id) or (bool(allow_substrings) and is_documented_example_or_placeholder(
        key_id, allow_substrings))


def rejects_secret(secret: str, labelled: bool, allow_substrings: tuple[str, ...], min_entropy: float) -> bool:
    return (
        is_documented_example_or_placeholder(secret, allow_substrings)
        or has_long_repeated_run(secret)
        or is_hex_digest(secret)
        or lacks_mixed_case(secret)
        or is_low_entropy(secret, min_entropy)
        or (not labelled and not any(c.isdigit() for c in secret))
    )


def rejects_token(token: str, example_markers: tuple[str, ...] = (), labelled_prefixes: tuple[str, ...] | None = None
                  ) -> bool:
    """`labelled_prefixes`: the token was found after a label (not from a prefix), and these are the
    known prefixes it is checked against (lacks_token_header)."""
    return (is_jwt_segment(token) or is_low_entropy(token, 4.0) or is_documented_example_token(token, example_markers)
            or (labelled_prefixes is not None and lacks_token_header(token, labelled_prefixes)))
