"""Base64-encoded credentials: Kubernetes Secret `data:` values, a whole credentials or .env file
encoded (`echo … | base64 -d` in CI), base64 inside JSON (`\\/` escapes allowed).

Cheap on ordinary text: base64 of a key-id prefix at each of the three byte alignments holds a
fixed substring (`ASIA` -> `QVNJQ`, `FTSU`, `BU0lB`), so a text is decoded only where one of those
literals stands. Around each such hit (REACH characters either way) every base64 run of 16 or more
characters that decodes to text (UTF-8 without control characters) is replaced by what it decodes
to; runs that decode to binary (a session token, a secret, an image) are left as they are. That
makes a k8s Secret, whose key id, secret and token are each encoded on their own line, read like
an env file. Lines wrapped at a fixed width (`base64` without `-w0`: 76 columns) are joined first.

A finding in a decoded run points at the line of the encoded value. Not decoded: URL-safe base64
(`-_`), base64 of UTF-16, base64 inside base64, and (about one time in twenty for wrapped output) a
prefix whose encoded form straddles a line break.
"""

from __future__ import annotations

import binascii
import re

from scanner.detection.decoders.views import Replacement, View, rewrite

REACH = 256 * 1024  # how far from a literal hit runs are decoded (so also: the longest encoded file)
MIN_RUN = 16
_RUN = re.compile(rf"(?:[A-Za-z0-9+]|\\?/){{{MIN_RUN},}}={{0,2}}")
_WRAP = re.compile(r"\r?\n[ \t]*")
_MIN_WRAP_WIDTH = 40
_CONTROL = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])


def prefix_literals(prefixes: tuple[str, ...]) -> list[bytes]:
    """The base64 characters fully fixed by each prefix, at byte alignments 0, 1 and 2."""
    literals: set[bytes] = set()
    for prefix in prefixes:
        raw = prefix.encode()
        for align in range(3):
            encoded = binascii.b2a_base64(b"\0" * align + raw + b"\0" * 3, newline=False)
            first = -(-8 * align // 6)  # the first character whose 6 bits all come from the prefix
            last = (8 * (align + len(raw))) // 6  # one past the last such character
            if last - first >= 4:
                literals.add(encoded[first:last])
    return sorted(literals)


def _hits(text: str, literals: list[str]) -> list[int]:
    found: list[int] = []
    for literal in literals:
        at = text.find(literal)
        while at >= 0:
            found.append(at)
            at = text.find(literal, at + REACH // 2)  # one hit per half-reach is enough for a window
    return sorted(found)


def _windows(hits: list[int], size: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for hit in hits:
        lo, hi = max(0, hit - REACH), min(size, hit + REACH)
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], hi))
        else:
            spans.append((lo, hi))
    return spans


def _joined_runs(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Base64 runs in text[lo:hi]; lines of one fixed width (wrapped output) joined into one."""
    runs: list[tuple[int, int]] = []
    width = 0
    for match in _RUN.finditer(text, lo, hi):
        start, end = match.span()
        if runs and width and _WRAP.fullmatch(text, runs[-1][1], start) and end - start <= width:
            runs[-1] = (runs[-1][0], end)
            width = width if end - start == width else 0  # a shorter line ends the block
            continue
        runs.append((start, end))
        width = end - start if end - start >= _MIN_WRAP_WIDTH and (end - start) % 4 == 0 and \
            text[end - 1] != "=" else 0
    return runs


def decode_run(encoded: str) -> str | None:
    """What a base64 run decodes to, when that is text; None for binary or invalid base64."""
    clean = re.sub(r"[\\\s]", "", encoded).rstrip("=")
    if len(clean) % 4 == 1:
        clean = clean[:-1]
    try:
        raw = binascii.a2b_base64(clean + "=" * (-len(clean) % 4), strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < 12 or raw.translate(None, _CONTROL) != raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def base64_view(text: str, literals: list[str]) -> View | None:
    """The text with the base64 runs near a literal hit decoded, or None when none decodes."""
    hits = _hits(text, literals)
    replacements: list[Replacement] = []
    for lo, hi in _windows(hits, len(text)):
        for start, end in _joined_runs(text, lo, hi):
            decoded = decode_run(text[start:end])
            if decoded is not None:
                replacements.append(Replacement(start, end, decoded))
    return rewrite(text, replacements) if replacements else None
