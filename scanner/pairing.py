"""Pairing: group candidates into credential sets.

The proximity rule (README, "Pairing"):
- Key ids split the text into regions. A secret or token may belong to a key id when it starts
  within `pairing_window` (4,096) characters of the key id's start or end, and no other key id
  stands between them. (A token may run on past the window: tokens have no length cap.)
- Each text has an orientation per part kind: "parts follow the key" (INI, env, JSON, code) or
  "parts precede the key", whichever explains more key ids. Each key id first takes the best part
  on its primary side; a key id left without one may take an unclaimed part on the other side.
- Best = a labelled part (aws_secret_access_key = …) over an unlabelled one, then the nearest.
- Only key ids whose rule has a session token (ASIA, ABIA, ACCA) take one: a token next to a
  long-term AKIA key belongs to no key id in the text and is not reported.
- A key id whose body holds no digit and looks like words (six or more vowels, or letter entropy
  under 3.0 bits: ASIAPACIFICREGIONALX) is kept only when it pairs with a secret or a token.
- The same credential set found twice in one text is reported once, at its first key id; a bare
  key id is dropped when the same key id also appears in a fuller set.
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.detection import filters
from scanner.detection.candidates import detect
from scanner.detection.decoding import to_text, unescape
from scanner.detection.rules import RuleSet
from scanner.model import Candidate, PartKind


@dataclass(frozen=True, slots=True)
class CredentialSet:
    key: Candidate
    secret: Candidate | None
    token: Candidate | None

    @property
    def values(self) -> tuple[str, str | None, str | None]:
        return (self.key.value, self.secret.value if self.secret else None, self.token.value if self.token else None)


Sides = tuple[list[Candidate], list[Candidate]]


def _sides(keys: list[Candidate], parts: list[Candidate], i: int, window: int) -> Sides:
    """The parts after and before key i that it may take: within the window, no key id between."""
    key = keys[i]
    next_start = keys[i + 1].start if i + 1 < len(keys) else None
    prev_end = keys[i - 1].end if i > 0 else None
    after = [p for p in parts if p.start >= key.end and p.start - key.end <= window
             and (next_start is None or p.start < next_start)]
    before = [p for p in parts if p.end <= key.start and key.start - p.start <= window
              and (prev_end is None or p.start >= prev_end)]
    return after, before


def _best(options: list[Candidate], key: Candidate, taken: set[int]) -> Candidate | None:
    free = [p for p in options if p.start not in taken]
    if not free:
        return None
    return min(free, key=lambda p: (not p.labelled, abs(p.start - key.start)))


def _assign(keys: list[Candidate], parts: list[Candidate], window: int, takes: list[bool]) -> list[Candidate | None]:
    """Give each key id that `takes` this kind of part its best part (see the module docstring)."""
    sides = [_sides(keys, parts, i, window) if takes[i] else ([], []) for i in range(len(keys))]
    forward = sum(1 for after, _ in sides if after) >= sum(1 for _, before in sides if before)
    chosen: list[Candidate | None] = [None] * len(keys)
    taken: set[int] = set()
    for i, (after, before) in enumerate(sides):
        best = _best(after if forward else before, keys[i], taken)
        if best:
            chosen[i] = best
            taken.add(best.start)
    for i, (after, before) in enumerate(sides):
        if chosen[i] is None:
            best = _best(before if forward else after, keys[i], taken)
            if best:
                chosen[i] = best
                taken.add(best.start)
    return chosen


def pair(candidates: list[Candidate], rules: RuleSet) -> list[CredentialSet]:
    keys = [c for c in candidates if c.kind is PartKind.KEY_ID]
    if not keys:
        return []
    window = rules.pairing_window
    takes_token = [PartKind.SESSION_TOKEN in rules.rule_for(k.value).parts for k in keys]
    secrets = _assign(keys, [c for c in candidates if c.kind is PartKind.SECRET], window, [True] * len(keys))
    tokens = _assign(keys, [c for c in candidates if c.kind is PartKind.SESSION_TOKEN], window, takes_token)
    sets = [CredentialSet(k, s, t) for k, s, t in zip(keys, secrets, tokens, strict=True)]
    if rules.key_ids_without_digit_need_partner:
        sets = [s for s in sets if s.secret or s.token or not _word_like(s.key.value, rules)]
    return _dedupe(sets)


def _word_like(key_id: str, rules: RuleSet) -> bool:
    return filters.key_id_looks_like_words(key_id, rules.word_like_min_vowels, rules.word_like_max_entropy)


def _dedupe(sets: list[CredentialSet]) -> list[CredentialSet]:
    fuller = {s.key.value for s in sets if s.secret or s.token}
    seen: set[tuple[str, str | None, str | None]] = set()
    result = []
    for s in sets:
        if s.values in seen or (not s.secret and not s.token and s.key.value in fuller):
            continue
        seen.add(s.values)
        result.append(s)
    return result


def credential_sets(data: bytes, rules: RuleSet) -> tuple[str, list[CredentialSet]] | None:
    """Decoded text and the credential sets in it; None when the data is binary."""
    raw = to_text(data)
    if raw is None:
        return None
    if not any(prefix in raw for prefix in rules.key_id_prefixes):
        return raw, []  # no key id, so nothing to pair: skip unescaping and detection
    text = unescape(raw)
    return text, pair(detect(text, rules), rules)
