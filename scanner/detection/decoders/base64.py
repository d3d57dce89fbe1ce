"""Base64-encoded credentials: Kubernetes Secret `data:` values, a whole credentials or .env file
encoded (`echo … | base64 -d` in CI), base64 inside JSON (`\\/` escapes allowed), URL-safe
(`-_`) and unpadded base64, base64 of UTF-16LE text (`powershell -EncodedCommand`), base64 inside
base64, and gzip inside base64 (a Helm release Secret is `base64(base64(gzip(json)))`).

Cheap on ordinary text: base64 of a key-id prefix at each of the three byte alignments holds a
fixed substring (`ASIA` -> `QVNJQ`, `FTSU`, `BU0lB`), so a text is decoded only where such a
literal stands -- or one of: the same for the UTF-16LE prefix (`QQBTAEkAQQ…`), for those literals
encoded once more (base64 inside base64), and for the gzip magic at a run's start (`H4sI`, and
`SDRzS` for it encoded twice). Around each hit (REACH characters either way) every base64 run of
16 or more characters that decodes to text (UTF-8 or UTF-16LE without control characters) is
replaced by what it decodes to, decoded again while that is one base64 run or gzip (MAX_DEPTH
levels; gzip inflated by the caller's `inflate`, which holds it to the archive limits); runs that
decode to binary (a session token, a secret, an image) are left as they are. That makes a k8s
Secret, whose key id, secret and token are each encoded on their own line, read like an env file.
Lines wrapped at a fixed width (`base64` without `-w0`: 76 columns) are joined first.

A finding in a decoded run points at the line of the encoded value. Not decoded: a URL-safe run
without letters of both cases (an identifier such as `AWS_SECRET_ACCESS_KEY` is none), and (about
one time in twenty for wrapped output) a prefix whose encoded form straddles a line break.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable

from scanner.detection.decoders.views import Replacement, View, rewrite

REACH = 256 * 1024  # how far from a literal hit runs are decoded (so also: the longest encoded file)
MIN_RUN = 16
MAX_DEPTH = 4  # base64 (or gzip) inside base64, this many levels
_RUN = re.compile(rf"(?:[A-Za-z0-9+]|\\?/){{{MIN_RUN},}}={{0,2}}")
_URLSAFE_RUN = re.compile(rf"[A-Za-z0-9_-]{{{MIN_RUN},}}={{0,2}}")
_WHOLE_RUN = re.compile(rf"[A-Za-z0-9+/\r\n]{{{MIN_RUN},}}={{0,2}}\s*|[A-Za-z0-9_-]{{{MIN_RUN},}}={{0,2}}\s*")
_WRAP = re.compile(r"\r?\n[ \t]*")
_MIN_WRAP_WIDTH = 40
_CONTROL = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
_CONTROL_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_URLSAFE = str.maketrans("-_", "+/")
GZIP_MAGIC = b"\x1f\x8b\x08"
# gzip at the start of a run, encoded once and twice: "H4sI" is base64 of 1f 8b 08, "SDRzS" the
# characters base64 of "H4sI" fixes.
GZIP_LITERALS = (b"H4sI", b"SDRzS")

Inflate = Callable[[bytes], "bytes | None"]  # gzip bytes -> what they decompress to (within limits)
Expand = Callable[[str, int], str]  # (decoded text, its level) -> the text with what it encodes decoded


def _fixed(raw: bytes) -> set[bytes]:
    """The base64 characters fully fixed by `raw` at byte alignments 0, 1 and 2 (four or more)."""
    literals: set[bytes] = set()
    for align in range(3):
        encoded = binascii.b2a_base64(b"\0" * align + raw + b"\0" * 3, newline=False)
        first = -(-8 * align // 6)  # the first character whose 6 bits all come from `raw`
        last = (8 * (align + len(raw))) // 6  # one past the last such character
        if last - first >= 4:
            literals.add(encoded[first:last])
    return literals


def prefix_literals(prefixes: tuple[str, ...]) -> list[bytes]:
    """The base64 characters fully fixed by each prefix, at byte alignments 0, 1 and 2."""
    return sorted({lit for prefix in prefixes for lit in _fixed(prefix.encode())})


def view_literals(prefixes: tuple[str, ...]) -> list[bytes]:
    """Every literal the base64 view starts from (see the module docstring)."""
    plain = prefix_literals(prefixes)
    wide = {lit for prefix in prefixes for lit in _fixed(prefix.encode("utf-16-le"))}
    nested = {lit for inner in plain for lit in _fixed(inner)}
    return sorted({*plain, *wide, *nested, *GZIP_LITERALS})


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


def _urlsafe_runs(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """URL-safe runs: they hold a "-" or "_", and upper- and lower-case letters (not identifiers)."""
    runs = []
    for match in _URLSAFE_RUN.finditer(text, lo, hi):
        run = match.group()
        if ("-" in run or "_" in run) and run.lower() != run and run.upper() != run:
            runs.append(match.span())
    return runs


def _as_text(raw: bytes) -> str | None:
    """UTF-8 or UTF-16LE text without control characters (line breaks and tabs allowed), or None."""
    if len(raw) < 12:
        return None
    if b"\x00" in raw:
        half = len(raw) // 2
        if len(raw) % 2 or raw[1::2].count(0) * 10 < half * 9:
            return None
        text = raw.decode("utf-16-le", errors="replace")
        return None if _CONTROL_TEXT.search(text) else text
    if raw.translate(None, _CONTROL) != raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _decode_bytes(encoded: str) -> bytes | None:
    clean = re.sub(r"[\\\s]", "", encoded).rstrip("=")
    urlsafe = "-" in clean or "_" in clean
    if urlsafe and ("+" in clean or "/" in clean):
        return None
    if len(clean) % 4 == 1:
        clean = clean[:-1]
    padded = clean + "=" * (-len(clean) % 4)
    try:
        return binascii.a2b_base64(padded.translate(_URLSAFE) if urlsafe else padded, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


def _levels(encoded: str, inflate: Inflate | None, depth: int) -> tuple[str, int] | None:
    """What a run decodes to and the level that reached it (each base64 or gzip step is one)."""
    raw = _decode_bytes(encoded) if depth < MAX_DEPTH else None
    if raw is None:
        return None
    depth += 1
    if raw.startswith(GZIP_MAGIC):
        inflated = inflate(raw) if inflate is not None and depth < MAX_DEPTH else None
        if inflated is None:
            return None
        raw, depth = inflated, depth + 1
    text = _as_text(raw)
    if text is None:
        return None
    if _WHOLE_RUN.fullmatch(text):  # base64 inside base64
        return _levels(text, inflate, depth) or (text, depth)
    return text, depth


def decode_run(encoded: str, inflate: Inflate | None = None, depth: int = 0) -> str | None:
    """What a base64 run decodes to, when that is text (decoded again while it is one base64 run or
    gzip, MAX_DEPTH levels in all); None for binary or invalid base64."""
    found = _levels(encoded, inflate, depth)
    return found[0] if found else None


Decoded = tuple[int, int, str, int]  # start, end, text, level


def _with_urlsafe(text: str, lo: int, hi: int, standard: list[Decoded], inflate: Inflate | None,
                  depth: int) -> list[Decoded]:
    """The standard runs' decodings, where a URL-safe run that decodes to text takes the place of
    the standard pieces inside it (its "-" and "_" cut it into pieces that may decode to bits of
    text). Both lists are sorted by start: one pass over each."""
    urlsafe = [(start, end, *levels) for start, end in _urlsafe_runs(text, lo, hi)
               if (levels := _levels(text[start:end], inflate, depth)) is not None]
    if not urlsafe:
        return standard
    kept: list[Decoded] = []
    i = 0
    for run in standard:
        while i < len(urlsafe) and urlsafe[i][1] <= run[0]:
            i += 1
        if i >= len(urlsafe) or run[1] <= urlsafe[i][0]:
            kept.append(run)
    return sorted(kept + urlsafe)


def base64_view(text: str, literals: list[str], inflate: Inflate | None = None,
                expand: Expand | None = None, depth: int = 0) -> View | None:
    """The text with the base64 runs near a literal hit decoded (and `expand`ed: what a decoded
    text encodes in turn), or None when none decodes. `depth`: the levels already decoded to reach
    this text."""
    hits = _hits(text, literals)
    decoded: list[Decoded] = []
    for lo, hi in _windows(hits, len(text)):
        found = []
        for start, end in _joined_runs(text, lo, hi):
            if (levels := _levels(text[start:end], inflate, depth)) is not None:
                found.append((start, end, *levels))
        decoded += _with_urlsafe(text, lo, hi, found, inflate, depth)
    if not decoded:
        return None
    return rewrite(text, [Replacement(start, end, expand(plain, level) if expand is not None else plain)
                          for start, end, plain, level in decoded])
