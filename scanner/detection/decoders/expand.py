"""Run the decoders on a chunk: open archives, read a binary chunk as its printable runs
(strings.py), then scan each text as it is and, where a decoder's literal stands, also as decoded
views (base64, quoted-printable, escaped key id, tag-split value).

The pipeline calls `Decoders.findings(chunk, scan)` with its own `scan` (chunk -> findings), so
detection and pairing run on a decoded view exactly as on a file; findings from a view point at
the line of the original text and are dropped when the plain text already holds the same set, or
when they are a part of a set another reading holds whole (a view that decoded too much or too
little is never a second finding).

Decoding is recursive where one encoding holds another: base64 inside base64 and gzip inside
base64 (base64.py, MAX_DEPTH levels, gzip held to the archive limits and counted like an archive's),
and a decoded base64 run or quoted-printable line is itself searched for base64 (`_expand`, at most
MAX_DEPTH levels, each on text shorter than the encoded form, so the work stays linear).

Cost on ordinary text: a magic-bytes check and one pass for the literals per chunk (literals.py);
views are built only for chunks holding a literal. The same literals go into the history prefilter
(`prefilter_literals`) so a blob holding only an encoded credential or an archive is read again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from scanner.detection.decoders import base64, escapes, html, quoted_printable
from scanner.detection.decoders.archives import ArchiveLimits, archive_kind, archive_parts, magic_literals
from scanner.detection.decoders.budget import Budget
from scanner.detection.decoders.compressed import Decompressed
from scanner.detection.decoders.literals import UNSEARCHED, LiteralGroups, Present
from scanner.detection.decoders.strings import readable
from scanner.detection.decoders.views import View
from scanner.detection.decoding import is_latin1_text, to_text
from scanner.detection.gate import PlainGate
from scanner.model import Chunk, Finding, ScanStats

Scan = Callable[[Chunk], list[Finding]]
_QP_HEADER = "qp-header"  # a quoted-printable part header (found by Hyperscan, in any case)

__all__ = ["ArchiveLimits", "Decoders", "prefilter_literals"]


def prefilter_literals(prefixes: tuple[str, ...]) -> list[bytes]:
    """What the history prefilter must look for besides the plain prefixes."""
    return sorted({*base64.view_literals(prefixes), *escapes.escaped_literals(prefixes),
                   *html.split_literals(prefixes), *quoted_printable.soft_break_literals(prefixes),
                   *magic_literals()})


@dataclass
class Decoders:
    prefixes: tuple[str, ...]
    limits: ArchiveLimits
    gate: PlainGate | None = field(default=None)  # None: every text's plain reading is scanned

    def __post_init__(self) -> None:
        self._plain = [p.encode() for p in self.prefixes]
        self._base64_text = [literal.decode() for literal in base64.view_literals(self.prefixes)]
        self._split_text = [literal.decode() for literal in html.split_literals(self.prefixes)]
        self._literals = LiteralGroups({"base64": base64.view_literals(self.prefixes),
                                        "escaped": escapes.escaped_literals(self.prefixes),
                                        "split": html.split_literals(self.prefixes),
                                        "qp": quoted_printable.literals(self.prefixes), "plain": self._plain},
                                       {**(self.gate.expressions if self.gate else {}),
                                        _QP_HEADER: [(quoted_printable.HEADER_EXPRESSION, True)]})

    def prepare(self) -> None:
        """For a scan of many texts: compile the Hyperscan databases now, while the texts are listed."""
        self._literals.prepare()
        if self.gate is not None:
            self.gate.prepare()

    def findings(self, chunk: Chunk, scan: Scan, stats: ScanStats, gated: bool = True) -> list[Finding]:
        """`gated`: the plain reading skips texts the gate says cannot yield (not for the content a
        staged change replaces: every set it held, even one the gate does not read, is not new)."""
        if archive_kind(chunk.data) is None:  # the common case, without a generator
            found = self._text_findings(readable(chunk, stats), scan, stats, gated)
        else:
            found = _drop_raw_repeats([(raw, self._text_findings(readable(part, stats), scan, stats, gated))
                                       for part, raw in archive_parts(chunk, self.limits, stats)])
        if found and chunk.previous is not None:  # staged: what the replaced content held is not new
            before = replace(chunk, data=chunk.previous, previous=None)
            old = {f.credential_key for f in self.findings(before, scan, ScanStats(), gated=False)}
            found = [f for f in found if f.credential_key not in old]
        return found

    def _views(self, data: bytes, present: Present, stats: ScanStats | None = None) -> Iterator[View]:
        """`present`: the literal groups the data holds (the literals are ASCII: UTF-16 text holds none)."""
        if not present & {"base64", "qp", "escaped", "split"}:
            return
        text = to_text(data)
        if text is None:
            return  # binary: the scan of the chunk itself counted it
        inflate = _Inflater(Budget(self.limits, stats if stats is not None else ScanStats()))
        def expand(decoded: str, level: int) -> str:
            return self._expand(decoded, inflate, level)

        if "base64" in present and (view := base64.base64_view(text, self._found(self._base64_text, data, present),
                                                                inflate, expand)):
            yield view
        headers = _QP_HEADER in present or UNSEARCHED in present or not is_latin1_text(data)
        if "qp" in present and (view := quoted_printable.qp_view(text, lambda decoded: expand(decoded, 1), headers)):
            yield view
        # With a plain prefix in the text, pairing unescapes it anyway.
        if "escaped" in present and "plain" not in present and (plain := escapes.escaped_key_view(text, self.prefixes)):
            yield View(plain)
        if "split" in present and (split := html.tag_split_view(text, self._found(self._split_text, data, present))):
            yield View(split)

    @staticmethod
    def _found(literals: list[str], data: bytes, present: Present) -> list[str]:
        """A view's literals to look for: those Hyperscan found, in a text read byte for byte (a 2 MB
        text is not searched again for 30 literals it lacks)."""
        if present.literals is None or not is_latin1_text(data):
            return literals
        return [literal for literal in literals if literal.encode("latin-1") in present.literals]

    def _expand(self, text: str, inflate: _Inflater, depth: int) -> str:
        """A decoded text (`depth` levels down) with the base64 it holds decoded in turn (a k8s
        Secret inside a base64 file, a Helm release's templates): MAX_DEPTH levels in all."""
        if depth >= base64.MAX_DEPTH or not any(literal in text for literal in self._base64_text):
            return text

        def expand(decoded: str, level: int) -> str:
            return self._expand(decoded, inflate, level)

        view = base64.base64_view(text, self._base64_text, inflate, expand, depth)
        return view.text if view is not None else text

    def _text_findings(self, chunk: Chunk, scan: Scan, stats: ScanStats, gated: bool = True) -> list[Finding]:
        present = self._literals.present(chunk.data)
        gate = self.gate if gated else None
        # (With a plain prefix anywhere, the escaped key-id view is left to the plain reading.)
        plain = gate is None or {"escaped", "plain"} <= present or \
            gate.may_yield(chunk, None if UNSEARCHED in present else present)
        found = scan(chunk) if plain else []
        seen = {f.credential_key for f in found}
        decoded_found: list[Finding] = []
        for view in self._views(chunk.data, present, stats):
            decoded = replace(chunk, data=view.text.replace("\0", " ").encode("latin-1", "replace"))
            for finding in scan(decoded):
                if finding.credential_key not in seen:
                    seen.add(finding.credential_key)
                    decoded_found.append(replace(finding, line=view.original_line(finding.line)))
        if decoded_found:
            found = _fullest_per_key_id(found, decoded_found)
        return _drop_partials_of_decoded_sets(found)


class _Inflater:
    """gzip inside base64, held to the archive limits: what one chunk inflates in all, the ratio,
    and archive_max_depth 0 (nothing is opened); a limit that stops content is counted."""

    def __init__(self, budget: Budget) -> None:
        self._budget = budget

    def __call__(self, data: bytes) -> bytes | None:
        budget = self._budget
        if budget.limits.max_depth < 1:
            budget.limit("archive-max-depth")
            return None
        room, ratio = budget.cap(), budget.ratio_cap(len(data))
        cap = min(room, ratio)
        out = Decompressed(data, "gzip", budget.limits.max_members).read(cap + 1)
        if len(out) > cap:
            budget.limit("archive-max-ratio" if ratio < room else "archive-max-bytes")
            out = out[:cap]
        budget.used += len(out)
        return out


def _fullest_per_key_id(plain: list[Finding], decoded: list[Finding]) -> list[Finding]:
    """One set per key id between the readings: the one with the most parts (the first of them, so
    the plain reading's before a view's). A plain set whose parts are all in it is dropped (a key id
    the plain text held alone, its secret still encoded); a decoded view's other sets of that key id
    are dropped whatever they hold (a view that decoded too much or too little)."""
    fullest: dict[str, Finding] = {}
    for f in (*plain, *decoded):
        best = fullest.get(f.access_key_id)
        if f.access_key_id and (best is None or len(_values(f)) > len(_values(best))):
            fullest[f.access_key_id] = f
    kept = [f for f in plain if not f.access_key_id or fullest[f.access_key_id] is f
            or not _values(f) <= _values(fullest[f.access_key_id])]
    return kept + [f for f in decoded if not f.access_key_id or fullest[f.access_key_id] is f]


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
