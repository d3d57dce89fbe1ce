"""The prefilter: hyperscan and the pure-Python fallback (what runs on ARM and Windows) give the
same hits, on random buffers with the key-id literals planted at the edges of the scanned window
(where a match may straddle it) and as near-misses."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.detection.prefilter import _FindPrefilter, _HyperscanPrefilter, make_prefilter, prefix_literals

hyperscan = pytest.importorskip("hyperscan")  # the wheel exists for x86-64 Linux and macOS

PREFIXES = ("ASIA", "AKIA", "ABIA", "ACCA")
LITERALS = prefix_literals(PREFIXES)
FAST, FALLBACK = _HyperscanPrefilter(LITERALS), _FindPrefilter(LITERALS)
# Bytes near the literals: their letters, half literals, UTF-16 NULs.
NOISE = st.binary(max_size=64) | st.sampled_from([b"A", b"AS", b"ASI", b"AKI", b"\x00", b"A\x00S\x00", b"\x00A",
                                                  b"ACC", b"ABI", b"IA", b"SIA"])


@st.composite
def planted(draw: st.DrawFn) -> tuple[bytes, int, int]:
    """A buffer of noise with literals planted, and a window [start, end) cut at or across them."""
    pieces = draw(st.lists(NOISE | st.sampled_from(LITERALS), max_size=40))
    data = b"".join(pieces)
    cuts = [0, len(data)]
    pos = 0
    for piece in pieces:  # window edges at, inside and just after each literal
        if piece in LITERALS:
            cuts += [pos, pos + 1, pos + len(piece) - 1, pos + len(piece)]
        pos += len(piece)
    start = draw(st.sampled_from(sorted(set(cuts))))
    end = draw(st.sampled_from(sorted({c for c in cuts if c >= start})))
    return data, start, end


def _truth(data: bytes, start: int, end: int, step: int) -> list[int]:
    """Match ends a scanner reports when the caller goes on `step` bytes after each hit."""
    hits = []
    while start < end:
        ends = [data.find(lit, start, end) + len(lit) for lit in LITERALS if data.find(lit, start, end) >= 0]
        if not ends:
            break
        hits.append(min(ends))
        start = min(ends) + step
    return hits


def _scan(prefilter, data: bytes, start: int, end: int, step: int) -> list[int]:
    hits: list[int] = []

    def on_hit(hit_end: int) -> int:
        hits.append(hit_end)
        return hit_end + step

    prefilter.buffer_scanner().scan(bytearray(data), start, end, on_hit)
    return hits


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planted(), st.sampled_from([0, 1, 3, 50]))
def test_hyperscan_and_fallback_scanners_report_the_same_hits(case: tuple[bytes, int, int], step: int) -> None:
    data, start, end = case
    expected = _truth(data, start, end, step)
    assert _scan(FAST, data, start, end, step) == expected
    assert _scan(FALLBACK, data, start, end, step) == expected


@settings(max_examples=200, deadline=None)
@given(planted())
def test_hyperscan_and_fallback_agree_on_whole_buffers(case: tuple[bytes, int, int]) -> None:
    data, start, end = case
    window = data[start:end]
    expected = any(lit in window for lit in LITERALS)
    assert FAST(window) is expected and FALLBACK(window) is expected
    assert FAST(memoryview(window)) is expected and FALLBACK(bytearray(window)) is expected


def test_utf16_literals_are_found_by_both() -> None:
    for encoding in ("utf-16-le", "utf-16-be"):
        text = "key = ASIA".encode(encoding)
        assert FAST(text) and FALLBACK(text)
        cut = "key = ASI".encode(encoding)
        assert not FAST(cut) and not FALLBACK(cut)


def test_make_prefilter_picks_the_engine() -> None:
    assert isinstance(make_prefilter(PREFIXES), _HyperscanPrefilter)
    assert isinstance(make_prefilter(PREFIXES, use_hyperscan=False), _FindPrefilter)
    # The key-id prefixes in UTF-16 are 8 bytes; the decoders' literals (escaped spellings) may be longer.
    assert make_prefilter(PREFIXES).longest == make_prefilter(PREFIXES, use_hyperscan=False).longest >= 8
