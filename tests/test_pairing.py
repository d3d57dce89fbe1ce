"""Pairing (scanner/pairing.py), table-driven: candidates at given positions -> credential sets.

Key ids are built at run time (no key-id-shaped literal in this file). Positions are characters;
the window is the shipped pairing_window (4,096).
"""

from __future__ import annotations

import pytest

from scanner.model import Candidate, PartKind
from scanner.pairing import pair
from tests.support.core import ruleset

K, S, T = PartKind.KEY_ID, PartKind.SECRET, PartKind.SESSION_TOKEN
W = 4096
_LENGTH = {K: 20, S: 40, T: 356}


def _key(prefix: str, n: int) -> str:
    return prefix + "".join("234567"[int(d) % 6] for d in f"{n:016d}")  # digits 2-7: never word-like


WORDY = "ASIA" + "PACIFIC" + "REGIONALX"  # digit-less and word-like: kept only with a partner


def _candidates(items: list[tuple]) -> tuple[list[Candidate], dict[int, str]]:
    """items: (name, kind, start[, labelled[, value]]); returns candidates sorted by start."""
    out, names = [], {}
    for i, item in enumerate(items):
        name, kind, start, *rest = item
        labelled = bool(rest[0]) if rest else False
        value = rest[1] if len(rest) > 1 else (_key(name[:4], i) if kind is K else f"{name}-value")
        out.append(Candidate(kind, value, start, start + _LENGTH[kind], labelled))
        names[start] = name
    return sorted(out, key=lambda c: c.start), names


CASES = {
    "key-secret-token": ([("ASIA", K, 0), ("s", S, 30), ("t", T, 80)], [("ASIA", "s", "t")]),
    "parts-before-the-key": ([("t", T, 0), ("s", S, 400), ("ASIA", K, 500)], [("ASIA", "s", "t")]),
    "two-profiles": ([("ASIA1", K, 0), ("s1", S, 30), ("t1", T, 80), ("ASIA2", K, 500), ("s2", S, 530),
                      ("t2", T, 580)], [("ASIA1", "s1", "t1"), ("ASIA2", "s2", "t2")]),
    "secret-beyond-the-window": ([("ASIA", K, 0), ("s", S, 20 + W + 1)], [("ASIA", None, None)]),
    "secret-at-the-window-edge": ([("ASIA", K, 0), ("s", S, 20 + W)], [("ASIA", "s", None)]),
    "another-key-between": ([("ASIA1", K, 0), ("ASIA2", K, 100), ("s", S, 200)],
                            [("ASIA1", None, None), ("ASIA2", "s", None)]),
    "labelled-beats-nearer": ([("ASIA", K, 0), ("near", S, 25), ("far", S, 300, True)], [("ASIA", "far", None)]),
    "nearest-unlabelled": ([("ASIA", K, 0), ("near", S, 25), ("far", S, 300)], [("ASIA", "near", None)]),
    "long-term-key-takes-no-token": ([("AKIA", K, 0), ("s", S, 30), ("t", T, 80)], [("AKIA", "s", None)]),
    "bearer-key-takes-a-token": ([("ABIA", K, 0), ("t", T, 30)], [("ABIA", None, "t")]),
    # Forward orientation wins (2 keys have a part after, 1 before); the key with nothing after
    # it takes the unclaimed secret before it.
    "orientation-and-fallback": ([("ASIA1", K, 0), ("s1", S, 30), ("ASIA2", K, 200), ("s2", S, 230),
                                  ("s3", S, 1000), ("ASIA3", K, 1100)],
                                 [("ASIA1", "s1", None), ("ASIA2", "s2", None), ("ASIA3", "s3", None)]),
    "a-part-is-taken-once": ([("s", S, 0), ("ASIA1", K, 100), ("ASIA2", K, 200)],
                             [("ASIA1", "s", None), ("ASIA2", None, None)]),
    "word-like-key-alone-dropped": ([("ASIA", K, 0, False, WORDY)], []),
    # A word-like id (ASIAPACIFICREGIONALX) takes only parts that name AWS: not an unlabelled 40-char run.
    "word-like-key-with-unlabelled-secret-dropped": ([("ASIA", K, 0, False, WORDY), ("s", S, 30)], []),
    "no-key-no-set": ([("s", S, 0), ("t", T, 100)], []),
}


def _text(candidates: list[Candidate]) -> str:
    """A text as long as the candidates reach, 100 characters a line (pairing also counts lines)."""
    return ("." * 99 + "\n") * (max(c.end for c in candidates) // 100 + 1)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_pairing_table(case: str) -> None:
    items, expected = CASES[case]
    candidates, names = _candidates(items)
    sets = [s for s in pair(candidates, ruleset(), _text(candidates)) if s.key]  # keyless: the secret-only rule's
    got = [(names[s.key.start], s.secret and names[s.secret.start], s.token and names[s.token.start]) for s in sets]
    assert got == expected


def test_same_set_twice_is_reported_once_and_a_bare_repeat_is_dropped() -> None:
    key = _key("ASIA", 7)
    candidates = [Candidate(K, key, 0, 20), Candidate(S, "x" * 40, 30, 70), Candidate(K, key, 5000, 5020),
                  Candidate(S, "x" * 40, 5030, 5070), Candidate(K, key, 10_000, 10_020)]
    (only,) = pair(candidates, ruleset(), _text(candidates))
    assert (only.key.start, only.secret and only.secret.start) == (0, 30)
