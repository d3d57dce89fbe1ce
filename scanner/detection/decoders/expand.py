"""Run the decoders on a chunk: open archives, read a binary chunk as its printable runs
(strings.py), then scan each text as it is and, where a decoder's literal stands, also as decoded
views (base64, escaped key id, tag-split value).

The pipeline calls `Decoders.findings(chunk, scan)` with its own `scan` (chunk -> findings), so
detection and pairing run on a decoded view exactly as on a file; findings from a view point at
the line of the original text and are dropped when the plain text already holds the same set.

Cost on ordinary text: a magic-bytes check and one pass for the literals per chunk (literals.py);
views are built only for chunks holding a literal. The same literals go into the history prefilter
(`prefilter_literals`) so a blob holding only an encoded credential or an archive is read again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from scanner.detection.decoders import base64, escapes, html
from scanner.detection.decoders.archives import ArchiveLimits, archive_kind, archive_parts, magic_literals
from scanner.detection.decoders.literals import LiteralGroups
from scanner.detection.decoders.strings import readable
from scanner.detection.decoders.views import View
from scanner.detection.decoding import to_text
from scanner.model import Chunk, Finding, ScanStats

Scan = Callable[[Chunk], list[Finding]]

__all__ = ["ArchiveLimits", "Decoders", "prefilter_literals"]


def prefilter_literals(prefixes: tuple[str, ...]) -> list[bytes]:
    """What the history prefilter must look for besides the plain prefixes."""
    return sorted({*base64.prefix_literals(prefixes), *escapes.escaped_literals(),
                   *html.split_literals(prefixes), *magic_literals()})


@dataclass
class Decoders:
    prefixes: tuple[str, ...]
    limits: ArchiveLimits

    def __post_init__(self) -> None:
        self._plain = [p.encode() for p in self.prefixes]
        self._base64_text = [literal.decode() for literal in base64.prefix_literals(self.prefixes)]
        self._split_text = [literal.decode() for literal in html.split_literals(self.prefixes)]
        self._literals = LiteralGroups({"base64": base64.prefix_literals(self.prefixes),
                                        "escaped": escapes.escaped_literals(),
                                        "split": html.split_literals(self.prefixes), "plain": self._plain})

    def findings(self, chunk: Chunk, scan: Scan, stats: ScanStats) -> list[Finding]:
        if archive_kind(chunk.data) is None:  # the common case, without a generator
            found = self._text_findings(readable(chunk, stats), scan)
        else:
            found = _drop_raw_repeats([(raw, self._text_findings(readable(part, stats), scan))
                                       for part, raw in archive_parts(chunk, self.limits, stats)])
        if found and chunk.previous is not None:  # staged: what the replaced content held is not new
            before = replace(chunk, data=chunk.previous, previous=None)
            old = {f.credential_key for f in self.findings(before, scan, ScanStats())}
            found = [f for f in found if f.credential_key not in old]
        return found

    def _views(self, data: bytes) -> Iterator[View]:
        present = self._literals.present(data)  # the literals are ASCII: UTF-16 text holds none
        if not present - {"plain"}:
            return
        text = to_text(data)
        if text is None:
            return  # binary: the scan of the chunk itself counted it
        if "base64" in present and (view := base64.base64_view(text, self._base64_text)):
            yield view
        # With a plain prefix in the text, pairing unescapes it anyway.
        if "escaped" in present and "plain" not in present and (plain := escapes.escaped_key_view(text, self.prefixes)):
            yield View(plain)
        if "split" in present and (split := html.tag_split_view(text, self._split_text)):
            yield View(split)

    def _text_findings(self, chunk: Chunk, scan: Scan) -> list[Finding]:
        found = scan(chunk)
        seen = {f.credential_key for f in found}
        for view in self._views(chunk.data):
            decoded = replace(chunk, data=view.text.replace("\0", " ").encode("latin-1", "replace"))
            for finding in scan(decoded):
                if finding.credential_key not in seen:
                    seen.add(finding.credential_key)
                    found.append(replace(finding, line=view.original_line(finding.line)))
        return _drop_partials_of_decoded_sets(found)


def _values(finding: Finding) -> set[str]:
    return {v for v in (finding.access_key_id, finding.secret, finding.session_token) if v}


def _drop_raw_repeats(parts: list[tuple[bool, list[Finding]]]) -> list[Finding]:
    """An archive's raw bytes (scanned when it could not be opened whole) repeat what its members
    gave (a stored member, a tar's data): a raw finding sharing a value with a member's is dropped."""
    seen = {v for raw, got in parts if not raw for f in got for v in _values(f)}
    return [f for raw, got in parts for f in got if not (raw and _values(f) & seen)]


def _drop_partials_of_decoded_sets(found: list[Finding]) -> list[Finding]:
    """A secret or token without a key id that is a part of a set a decoded view completed (as it
    stands, or base64-encoded as in a k8s Secret) is that set, not a leak of its own."""
    import base64 as b64

    parts = {v for f in found if f.access_key_id for v in (f.secret, f.session_token) if v}
    if not parts:
        return found
    encoded = {b64.b64encode(v.encode("latin-1", "replace")).decode().rstrip("=") for v in parts}

    def covered(f: Finding) -> bool:
        values = [v for v in (f.secret, f.session_token) if v]
        return bool(values) and all(v in parts or v.rstrip("=") in encoded for v in values)

    return [f for f in found if f.access_key_id or not covered(f)]
