"""The printable text inside binary bytes, as `strings` shows it: ASCII runs and UTF-16LE runs of
at least four characters, one run a line (so NUL-separated `KEY=value` entries of an environment
dump become lines a label can pair on).

Used for every binary file or member (a `/proc/<pid>/environ` dump, a pickle, a `.pyc`, a Java
`.class`, a core dump, a SQLite file: counted `binary-strings` in `stats.skipped`, since what the
binary holds compressed or encoded is not seen) and for the raw bytes of an archive stsleak cannot
open, or could open only in part: what survives as plain bytes (a stored zip member, a tar's data)
is still scanned. A run's line number is its place among the runs, not a line of the binary.

Serialised values often sit right against printable framing bytes: a `.pyc` (marshal) writes a
string as a type code and a length, `z(` for 40 ASCII characters, and the next value's type code
(`z`, `a`, ...) right after it; a protocol-2 pickle puts its memo opcode `q` after each value. So a
value whose length stands right before it -- one byte, or four little-endian ones, as marshal,
pickle and protobuf write lengths -- ends where its length says when it is a key id (20), a secret
(40) or a token-sized run: `ASIA…z(wJal…aL…` reads `ASIA…` / `z(wJal…` / `aL…`.

Cost: two `bytes.translate` passes (each byte to "printable", "NUL" or "other") and a literal-prefix
regex search over each, so the regex engine never starts a match on a byte that cannot begin one.
"""

from __future__ import annotations

import re
from dataclasses import replace

from scanner.detection.decoding import is_binary
from scanner.model import Chunk, ScanStats

_PRINTABLE = frozenset([9, *range(0x20, 0x7F)])
# Every byte to "a" (tab or printable ASCII), "0" (NUL) or "x" (anything else).
_CLASSES = bytes(0x61 if b in _PRINTABLE else 0x30 if b == 0 else 0x78 for b in range(256))
_ASCII_RUN = re.compile(rb"aaaa+")
_UTF16LE_RUN = re.compile(rb"a0a0a0a0(?:a0)*")  # written out: the literal prefix makes the search fast

# A key id or a secret after its length (1 or 4 bytes), with a printable byte glued after it (two
# patterns, each with a literal first byte, so the search skips to it); a run long enough for a token.
_FRAMED_KEY_ID = re.compile(rb"\x14(?:\x00\x00\x00)?A[A-Z]{3}[A-Z2-7]{16}(?=[\x21-\x7e])")
_FRAMED_SECRET = re.compile(rb"\x28(?:\x00\x00\x00)?[A-Za-z0-9/+]{40}(?=[\x21-\x7e])")
_SIXTY = b"a" * 60  # in the classes: sixty printable bytes in a row
_RUN_END = re.compile(rb"[^a]")
_TOKEN_BYTES = re.compile(rb"[A-Za-z0-9/+=]+")

SKIP_REASON = "binary-strings"  # stats.skipped: binary content read as its printable runs only


def _cuts(data: bytes, classes: bytes) -> list[int]:
    """Where a framed value ends with a printable byte glued after it (see the module docstring)."""
    cuts = [m.end() for m in _FRAMED_KEY_ID.finditer(data)] + [m.end() for m in _FRAMED_SECRET.finditer(data)]
    start = classes.find(_SIXTY)  # a token-sized run after a four-byte length under 65,536
    while start >= 0:
        stop = _RUN_END.search(classes, start)
        run_end = stop.start() if stop else len(classes)
        if start >= 4 and data[start - 2:start] == b"\x00\x00":
            end = start + (data[start - 4] | data[start - 3] << 8)
            if start + 60 <= end < run_end and _TOKEN_BYTES.fullmatch(data, start, end):
                cuts.append(end)
        start = classes.find(_SIXTY, run_end)
    return sorted(cuts)


def printable_runs(data: bytes) -> bytes:
    """The ASCII runs, then the UTF-16LE runs (as ASCII), each on its own line."""
    classes = data.translate(_CLASSES)
    cuts = _cuts(data, classes)
    if cuts:  # a NUL where each framed value ends, so its run ends there too
        data = b"\x00".join(data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True))
        classes = data.translate(_CLASSES)
    runs = [data[m.start():m.end()] for m in _ASCII_RUN.finditer(classes)]
    if b"\x00" in data:
        runs += [data[m.start():m.end():2] for m in _UTF16LE_RUN.finditer(classes)]
    return b"\n".join(runs) + b"\n" if runs else b""


def strings_of(chunk: Chunk) -> Chunk:
    """A binary chunk as the text of its printable runs (the bytes it replaces stay `previous`)."""
    return replace(chunk, data=printable_runs(chunk.data))


def readable(chunk: Chunk, stats: ScanStats) -> Chunk:
    """The chunk as detection reads it: text as it is, binary as its printable runs (counted)."""
    if not is_binary(chunk.data):
        return chunk
    stats.skip(SKIP_REASON)
    return strings_of(chunk)
