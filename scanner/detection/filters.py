"""False-positive filters: plain functions, each named for what it rejects."""

from __future__ import annotations

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


def rejects_token(token: str) -> bool:
    return is_jwt_segment(token) or is_low_entropy(token, 4.0)
