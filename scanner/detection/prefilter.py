"""A cheap literal prefilter: does a buffer hold any key-id prefix at all (or, in history, a label
that names an AWS secret, matched case-insensitively, or the opening of an STS session token)?

Hyperscan (when its wheel is installed) runs at memory speed; otherwise plain `bytes.find`, which
is a fast C search too. Both look for the prefixes in ASCII, UTF-16-LE/BE and UTF-32-LE/BE, so text in
those encodings is not skipped.

Two ways to use it:
- call the prefilter on one buffer (`prefilter(data) -> bool`);
- give a big buffer holding many objects back to back to a `BufferScanner` (one per thread):
  it reports where matches end and lets the caller say where to go on scanning, so a stream
  of objects is scanned with one C call per read, not one Python call per object.
"""

from __future__ import annotations

import contextlib
import re

from scanner.detection.decoders.expand import prefilter_literals as decoder_literals
from scanner.sources import BufferScanner, OnHit, Prefilter

_WIDE_CODECS = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def prefix_literals(prefixes: tuple[str, ...]) -> list[bytes]:
    literals: list[bytes] = []
    for prefix in prefixes:
        literals += [prefix.encode(), *(prefix.encode(codec) for codec in _WIDE_CODECS)]
    return literals


# Words a label must hold to make a history blob worth reading without a key id: `secret_key` alone is
# every Flask and Django settings file (reading them all made a flask history scan 15x slower).
_AWS_WORDS = ("aws", "access", "session", "security")


def label_literals(labels: frozenset[str], generic: frozenset[str]) -> list[str]:
    """The labels that name an AWS secret on their own (a secret after one is reported without a key
    id), without those holding a shorter one: matched case-insensitively, each hit is one of them."""
    named = sorted({label.lower() for label in labels if any(w in label.lower() for w in _AWS_WORDS)} - generic,
                   key=len)
    kept: list[str] = []
    for label in named:
        if not any(shorter in label for shorter in kept):
            kept.append(label)
    return kept


def _compile_hyperscan(literals: list[bytes], caseless: list[bytes]) -> object:
    import hyperscan

    db = hyperscan.Database()
    every = literals + caseless
    db.compile(
        # Hex escapes: hyperscan reads patterns as C strings, so a NUL byte would end one.
        expressions=["".join(f"\\x{b:02x}" for b in lit).encode() for lit in every],
        ids=list(range(len(every))),
        elements=len(every),
        flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(literals)
        + [hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_CASELESS] * len(caseless),
    )
    return db


class _HyperscanScanner:
    """One database (and so one scratch space) per scanner: safe to use from its own thread."""

    def __init__(self, literals: list[bytes], caseless: list[bytes]) -> None:
        import hyperscan

        self._stop = hyperscan.ScanTerminated
        self._scan = _compile_hyperscan(literals, caseless).scan  # type: ignore[attr-defined]
        self._end = -1

    def _on_match(self, _id: int, _start: int, end: int, _flags: int, _ctx: object) -> bool:
        self._end = end
        return True  # stop: the caller decides where to go on from

    def first_end(self, data: bytes | bytearray | memoryview) -> int:
        self._end = -1
        with contextlib.suppress(self._stop):
            self._scan(data, match_event_handler=self._on_match)
        return self._end

    def scan(self, buf: bytearray, start: int, end: int, on_hit: OnHit) -> None:
        with memoryview(buf) as view:
            while start < end:
                with view[start:end] as part:
                    found = self.first_end(part)
                if found < 0:
                    return
                start = on_hit(start + found)


class _FindScanner:
    """Pure Python fallback: `bytearray.find` per literal, remembering each literal's next hit; the
    labels are found the same way in a lower-cased copy of the window (a case-insensitive regex
    would be several times slower than every find together)."""

    def __init__(self, literals: list[bytes], caseless: list[bytes]) -> None:
        self._literals = literals
        self._caseless = [lit.lower() for lit in caseless]

    def scan(self, buf: bytearray, start: int, end: int, on_hit: OnHit) -> None:
        base = start
        low = buf[start:end].lower() if self._caseless else bytearray()

        def label_at(lit: bytes, at: int) -> int:
            pos = low.find(lit, at - base)
            return pos + base if pos >= 0 else -1

        pending = {lit: buf.find(lit, start, end) for lit in self._literals}
        labels = {lit: label_at(lit, start) for lit in self._caseless}
        while True:
            live = [pos + len(lit) for found in (pending, labels) for lit, pos in found.items() if pos >= 0]
            if not live:
                return
            start = on_hit(min(live))
            if start >= end:
                return
            for lit, pos in pending.items():
                if 0 <= pos < start:
                    pending[lit] = buf.find(lit, start, end)
            for lit, pos in labels.items():
                if 0 <= pos < start:
                    labels[lit] = label_at(lit, start)


class _HyperscanPrefilter:
    def __init__(self, literals: list[bytes], caseless: list[bytes] | None = None) -> None:
        self._literals, self._caseless = literals, caseless or []
        self.longest = max(len(lit) for lit in literals + self._caseless)
        self._one = _HyperscanScanner(literals, self._caseless)

    def __call__(self, data: bytes | bytearray | memoryview) -> bool:
        return self._one.first_end(data) >= 0

    def buffer_scanner(self) -> BufferScanner:
        return _HyperscanScanner(self._literals, self._caseless)


class _FindPrefilter:
    def __init__(self, literals: list[bytes], caseless: list[bytes] | None = None) -> None:
        self._literals = literals
        self.longest = max(len(lit) for lit in literals + (caseless or []))
        self._caseless = [lit.lower() for lit in caseless or []]
        self._search = re.compile(b"|".join(re.escape(lit) for lit in literals)).search

    def __call__(self, data: bytes | bytearray | memoryview) -> bool:
        if self._search(data) is not None:
            return True
        low = bytes(data).lower() if self._caseless else b""
        return any(lit in low for lit in self._caseless)

    def buffer_scanner(self) -> BufferScanner:
        return _FindScanner(self._literals, self._caseless)


def make_prefilter(prefixes: tuple[str, ...], use_hyperscan: bool = True, openings: tuple[str, ...] = (),
                   labels: tuple[str, ...] = ()) -> Prefilter:
    """`openings` (case-sensitive, e.g. STS token openings) and `labels` (case-insensitive): what else
    makes a blob worth reading; history passes those that a finding without a key id stands on."""
    # Plus the decoders' literals (base64 of a prefix, an escaped "A", a split prefix, archive
    # magic): a blob holding only an encoded credential or an archive is read again too.
    literals = prefix_literals(prefixes) + decoder_literals(prefixes) + prefix_literals(openings)
    caseless = prefix_literals(labels)
    if use_hyperscan:
        try:
            return _HyperscanPrefilter(literals, caseless)
        except ImportError:
            pass
    return _FindPrefilter(literals, caseless)
