"""Texts of key ids alone (a CloudTrail export, key-id spam) take a short path from detection to
findings (scanner/pipeline.py `_key_id_findings`): no Candidate, no credential set per key id.
These tests hold it to what the general path (detect -> pair -> a finding per set) makes of the
same texts, allow markers and repeats included, and the account decoding to base32 by the book.
"""

from __future__ import annotations

import base64
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.detection.account import account_id_from_key_id
from scanner.detection.candidates import detect_parts
from scanner.model import Candidate, Chunk, PartKind, ScanStats
from scanner.pairing import pair
from scanner.pipeline import LineIndex, _finding, _positions, findings_in_chunk
from scanner.silencing.markers import ALLOW_MARKERS, MarkedLines
from scanner.testing import fakes
from tests.support.core import ruleset


def _general_path(chunk: Chunk) -> list[object]:
    """What the pipeline made of a text before the short path: a set per key id, then findings."""
    rules = ruleset()
    text = chunk.data.decode()
    found = detect_parts(text, rules)
    candidates = [Candidate(PartKind.KEY_ID, value, start, start + len(value)) for value, start in found.items()] \
        if isinstance(found, dict) else found
    sets = pair(candidates, rules, text)
    lines = LineIndex(text)
    if any(marker in text for marker in ALLOW_MARKERS):
        marked = MarkedLines(text, lines)
        sets = [s for s in sets if not marked.allow(_positions(s))]
    return [_finding(s, lines, chunk, rules) for s in sets]


def _pieces(seed: int) -> list[str]:
    rng = random.Random(seed)
    ids = [fakes.key_id(prefix, rng) for prefix in ("ASIA", "AKIA", "AROA", "AIDA") for _ in range(3)]
    # Word-like ids only pair (dropped when alone); runs and EXAMPLE are allowlisted/rejected.
    words = ["ASIA" + "PACIFICREGIONALX", "AKIA" + "IOSFODNN7EXAMPLE", "ASIA" + "A" * 16]
    return ids + words + ["\n", " ", ",", "\t", '"', " # stsleak:allow\n", "x"]


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**16), picks=st.lists(st.integers(0, 21), min_size=1, max_size=80),
       blob=st.booleans())
def test_key_id_texts_give_what_the_general_path_gives(seed: int, picks: list[int], blob: bool) -> None:
    pieces = _pieces(seed)
    text = "".join(pieces[i % len(pieces)] for i in picks)
    chunk = Chunk(data=text.encode(), path="trail.json", blob="ab" * 20 if blob else None)
    stats = ScanStats()
    assert findings_in_chunk(chunk, ruleset(), stats) == _general_path(chunk)


def test_allow_marked_key_ids_are_counted_as_silenced() -> None:
    rng = random.Random(4)
    kept, hidden = fakes.key_id("ASIA", rng), fakes.key_id("ASIA", rng)
    stats = ScanStats()
    found = findings_in_chunk(Chunk(data=f"{kept}\n{hidden} # stsleak:allow\n".encode(), path="t"), ruleset(), stats)
    assert [(f.access_key_id, f.line) for f in found] == [(kept, 1)]
    assert stats.suppressed == {"allow-comment": 1}


def test_a_repeated_key_id_is_reported_once_at_its_first_line() -> None:
    rng = random.Random(5)
    a, b = fakes.key_id("ASIA", rng), fakes.key_id("AKIA", rng)
    found = findings_in_chunk(Chunk(data=f"{b}\n{a}\n{b}\n{a}\n".encode(), path="t"), ruleset(), ScanStats())
    assert [(f.access_key_id, f.line, f.rule) for f in found] == [
        (b, 1, ruleset().rule_for(b).id), (a, 2, ruleset().rule_for(a).id)]


def _account_by_the_book(key_id: str) -> str | None:
    """RFC 4648 base32 of the body; the first 6 bytes, masked and shifted (no shortcut)."""
    if len(key_id) != 20 or key_id[4] in "IJ" or "=" in key_id:  # no padding inside a key id
        return None
    try:
        raw = base64.b32decode(key_id[4:].encode("ascii"))
    except ValueError:  # binascii.Error and UnicodeEncodeError are ValueErrors
        return None
    account = (int.from_bytes(raw[:6], "big") & 0x7FFFFFFFFF80) >> 7
    return f"{account:012d}" if account <= 999_999_999_999 else None


@settings(max_examples=300, deadline=None)
@given(body=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abz0189_ +-=\u00c4\u0130 ", min_size=14,
                    max_size=18))
def test_account_decoding_matches_base32_by_the_book(body: str) -> None:
    key_id = "ASIA" + body
    assert account_id_from_key_id(key_id) == _account_by_the_book(key_id)


def test_account_decoding_of_random_ids_matches_base32_by_the_book() -> None:
    rng = random.Random(6)
    for _ in range(2000):
        key_id = fakes.key_id(rng.choice(("ASIA", "AKIA", "AROA")), rng)
        assert account_id_from_key_id(key_id) == _account_by_the_book(key_id)
