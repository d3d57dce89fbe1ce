"""Detection: text -> typed candidates (key ids, secrets, session tokens) with positions.

Key ids are found first, over the whole text; secrets and tokens are searched for only in a
window around them (rules: pairing_window), so a large file with one key id costs little.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from scanner.detection import filters
from scanner.detection.rules import RuleSet
from scanner.model import Candidate, PartKind

_TOKEN_REACH = 16_384  # how far past a window's end a token is read in one search; longer ones are finished after
_SECRET_REACH = 64  # past a window's end, enough to see that a 40-char run goes on (then it is no secret)


def _windows(keys: list[Candidate], width: int, size: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for key in keys:
        lo, hi = max(0, key.start - width), min(size, key.end + width)
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], hi))
        else:
            spans.append((lo, hi))
    return spans


def _matches(pattern: re.Pattern[str], text: str, spans: list[tuple[int, int]], reach: int) -> Iterable[re.Match[str]]:
    """Matches whose value starts inside a span; the search may read `reach` chars past its end."""
    for lo, hi in spans:
        for match in pattern.finditer(text, lo, min(len(text), hi + reach)):
            if match.start("value") < hi:
                yield match


def find_key_ids(text: str, rules: RuleSet) -> list[Candidate]:
    return [
        Candidate(PartKind.KEY_ID, m.group(), m.start(), m.end())
        for m in rules.key_id_re.finditer(text)
        if not filters.rejects_key_id(m.group(), rules.allow_substrings)
    ]


def find_secrets(text: str, rules: RuleSet, spans: list[tuple[int, int]]) -> list[Candidate]:
    found: dict[int, Candidate] = {}
    for labelled, pattern in ((True, rules.secret_labelled_re), (False, rules.secret_bare_re)):
        minimum = rules.secret_min_entropy_labelled if labelled else rules.secret_min_entropy_unlabelled
        for m in _matches(pattern, text, spans, _SECRET_REACH):
            start = m.start("value")
            if start in found:
                continue
            value = m.group("value")
            if not filters.rejects_secret(value, labelled, rules.allow_substrings, minimum):
                found[start] = Candidate(PartKind.SECRET, value, start, m.end("value"), labelled)
    return sorted(found.values(), key=lambda c: c.start)


def _token_end(text: str, match: re.Match[str], rules: RuleSet) -> int:
    """Where the token really ends: a match that stops at the search bound may go on (no length cap)."""
    end = match.end("value")
    if end == match.endpos and end < len(text):
        tail = rules.token_run_re.match(text, end)
        if tail:
            end = tail.end()
    return end


def find_tokens(text: str, rules: RuleSet, spans: list[tuple[int, int]]) -> list[Candidate]:
    found: dict[int, Candidate] = {}
    for labelled, pattern in ((True, rules.token_labelled_re), (False, rules.token_prefixed_re)):
        for m in _matches(pattern, text, spans, _TOKEN_REACH):
            start = m.start("value")
            end = _token_end(text, m, rules)
            value = text[start:end]
            if start in found or filters.rejects_token(value):
                continue
            found[start] = Candidate(PartKind.SESSION_TOKEN, value, start, end, labelled)
    return sorted(found.values(), key=lambda c: c.start)


def _inside(candidate: Candidate, others: list[Candidate]) -> bool:
    return any(o.start <= candidate.start and candidate.end <= o.end for o in others)


def detect(text: str, rules: RuleSet) -> list[Candidate]:
    """All candidates in the text, sorted by position. Empty when no key id is present."""
    keys = find_key_ids(text, rules)
    if not keys:
        return []
    spans = _windows(keys, rules.pairing_window, len(text))
    tokens = find_tokens(text, rules, spans)
    # A secret-shaped or key-shaped run inside a token is part of the token, not a credential.
    keys = [k for k in keys if not _inside(k, tokens)]
    secrets = [s for s in find_secrets(text, rules, spans) if not _inside(s, tokens)]
    return sorted(keys + secrets + tokens, key=lambda c: c.start)
