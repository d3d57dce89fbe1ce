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
from functools import partial

from scanner.detection.background import Built
from scanner.detection.decoders.expand import prefilter_literals as decoder_literals
from scanner.detection.decoders.literals import compile_database, hex_literal
from scanner.sources import BufferScanner, OnHit, Prefilter

_WIDE_CODECS = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def prefix_literals(prefixes: tuple[str, ...]) -> list[bytes]:
    literals: list[bytes] = []
    for prefix in prefixes:
        literals += [prefix.encode(), *(prefix.encode(codec) for codec in _WIDE_CODECS)]
    return literals


def label_literals(labels: frozenset[str], generic: frozenset[str]) -> list[str]:
    """The labels that name an AWS secret on their own (a secret after one is reported without a key
    id), without those holding a shorter one: matched case-insensitively, each hit is one of them.
    `secret_key` is one: every Flask and Django settings file holds it, and such a blob is read
    again, but the plain reading's gate (gate.py) reads it only when a value could follow."""
    named = sorted({label.lower() for label in labels} - generic, key=len)
    kept: list[str] = []
    for label in named:
        if not any(shorter in label for shorter in kept):
            kept.append(label)
    return kept


def _compile_hyperscan(literals: list[bytes], caseless: list[bytes]) -> object:
    return compile_database([(hex_literal(lit), False) for lit in literals]
                            + [(hex_literal(lit), True) for lit in caseless])


class _HyperscanScanner:
    """A compiled database shared between scanners, with one scratch space per scanner: safe to use
    from its own thread (compiling is the costly part: ~15 ms a database, once per scan)."""

    def __init__(self, db: object) -> None:
        import hyperscan

        self._stop = hyperscan.ScanTerminated
        self._scan = partial(db.scan, scratch=hyperscan.Scratch(db))  # type: ignore[attr-defined, arg-type]
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


def _trie(literals: list[bytes]) -> re.Pattern[bytes]:
    """One regex for all the literals, nested by their common beginnings (`AS(?:IA|…)`): `re` then
    tries a handful of branches where one begins, not every literal (100 MB/s on 286 literals, where
    a `find` per literal gave 7). A literal that begins with a shorter one is left out: the shorter
    one is found first wherever the longer one stands."""
    root: dict[int | None, dict] = {}
    for literal in sorted(set(literals), key=len):
        node = root
        for byte in literal:
            if None in node:
                break
            node = node.setdefault(byte, {})
        else:
            node.clear()
            node[None] = {}

    def pattern(node: dict[int | None, dict]) -> bytes:
        if None in node:
            return b""
        branches = [re.escape(bytes([byte])) + pattern(child) for byte, child in sorted(node.items())
                    if byte is not None]
        if not branches:
            return b"(?!)"  # no literal at all: never matches
        return branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"

    return re.compile(pattern(root))


class _FindScanner:
    """Pure Python fallback: one regex search for the literals (`_trie`) and one for the labels in a
    lower-cased copy of the window (a case-insensitive regex is three times slower), each
    remembering its next hit."""

    def __init__(self, literals: re.Pattern[bytes], labels: re.Pattern[bytes] | None) -> None:
        self._literals, self._labels = literals.search, labels.search if labels else None

    def scan(self, buf: bytearray, start: int, end: int, on_hit: OnHit) -> None:
        base, labels = start, self._labels
        low = buf[start:end].lower() if labels else bytearray()
        found = self._literals(buf, start, end)
        label = labels(low) if labels else None
        while found or label:
            start = on_hit(min(m.end() + offset for m, offset in ((found, 0), (label, base)) if m))
            if start >= end:
                return
            if found and found.start() < start:
                found = self._literals(buf, start, end)
            if label and labels and label.start() + base < start:
                label = labels(low, start - base)


class _HyperscanPrefilter:
    """The database compiles on a thread of its own (Built) while the history is listed."""

    def __init__(self, literals: list[bytes], caseless: list[bytes] | None = None) -> None:
        import hyperscan  # noqa: F401  (here, so that a missing wheel is an ImportError for make_prefilter)

        caseless = caseless or []
        self.longest = max(len(lit) for lit in literals + caseless)
        self._db = Built(partial(_compile_hyperscan, literals, caseless))
        self._one: _HyperscanScanner | None = None

    def __call__(self, data: bytes | bytearray | memoryview) -> bool:
        if self._one is None:
            self._one = _HyperscanScanner(self._db.get())
        return self._one.first_end(data) >= 0

    def buffer_scanner(self) -> BufferScanner:
        return _HyperscanScanner(self._db.get())


class _FindPrefilter:
    def __init__(self, literals: list[bytes], caseless: list[bytes] | None = None) -> None:
        self.longest = max(len(lit) for lit in literals + (caseless or []))
        self._pattern = _trie(literals)
        self._labels = _trie([lit.lower() for lit in caseless]) if caseless else None

    def __call__(self, data: bytes | bytearray | memoryview) -> bool:
        if self._pattern.search(data) is not None:
            return True
        return self._labels is not None and self._labels.search(bytes(data).lower()) is not None

    def buffer_scanner(self) -> BufferScanner:
        return _FindScanner(self._pattern, self._labels)


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
