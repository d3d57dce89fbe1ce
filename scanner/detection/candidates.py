"""Detection: text -> typed candidates (key ids, secrets, session tokens) with positions.

Key ids are found first, over the whole text. Unlabelled secrets are searched for only in the
reach of a key id (rules: pairing_window characters, or pairing_lines lines up to
pairing_max_reach characters); labelled secrets and tokens only next to their labels, found with
a plain substring search; prefixed tokens next to their prefixes. So a large file costs one pass
per literal, and every pattern runs on a bounded region from a known start.

Every pattern is linear in the length of what it reads (docs/detection-and-pairing.md, "Linear time"); the regions are
merged before they are searched, so each character is read a bounded number of times.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate

from scanner.detection import filters
from scanner.detection.rules import LabelTail, RuleSet
from scanner.model import Candidate, PartKind

_TOKEN_REACH = 16_384  # how far past a window's end a token is read in one search; longer ones are finished after
_SECRET_REACH = 64  # past a window's end, enough to see that a 40-char run goes on (then it is no secret)
LABEL_REACH = 4_096  # how far after its label a labelled value may start (docs/detection-and-pairing.md, "Secrets")

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Reach:
    """Where the parts of one key id may start: [lo, hi] (characters, or lines up to a cap)."""

    lo: int
    hi: int


def _line_bound(text: str, pos: int, count: int, stop: int, forward: bool) -> int:
    """The start (or end) of the line `count` lines before (after) pos, not passing `stop`."""
    for _ in range(count + 1):  # the (count+1)-th newline bounds the line `count` lines away
        found = text.find("\n", pos, stop) if forward else text.rfind("\n", stop, pos)
        if found < 0:
            return stop
        pos = found + 1 if forward else found
    return pos if forward else pos + 1


def key_reach(keys: list[Candidate], rules: RuleSet, text: str) -> list[Reach]:
    """Each key id's reach: pairing_window characters, or pairing_lines lines (at most pairing_max_reach).

    A reach never passes the key id before or after it (parts beyond them are theirs), so the
    lines are counted only in the gap between two key ids that stand more than the window apart:
    every character is read at most twice, however long its line.
    """
    window, count, cap, size = rules.pairing_window, rules.pairing_lines, rules.pairing_max_reach, len(text)
    reaches = []
    for i, key in enumerate(keys):
        prev_end = keys[i - 1].end if i else 0
        next_start = keys[i + 1].start if i + 1 < len(keys) else size
        lo, hi = max(prev_end, key.start - window), min(next_start, key.end + window)
        if count and lo > prev_end:
            lo = min(lo, _line_bound(text, key.start, count, max(prev_end, key.start - cap), False))
        if count and hi < next_start:
            hi = max(hi, _line_bound(text, key.end, count, min(next_start, key.end + cap), True) - 1)
        reaches.append(Reach(lo, hi))
    return reaches


def _merge(spans: Iterable[Span], size: int, reach: int = 0) -> list[Span]:
    """Sorted spans, merged when one starts before the search of the one before ends (its `reach`)."""
    merged: list[Span] = []
    for lo, hi in sorted(spans):
        lo, hi = max(0, lo), min(size, hi)
        if merged and lo <= merged[-1][1] + reach:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        elif lo < hi:
            merged.append((lo, hi))
    return merged


def _matches(pattern: re.Pattern[str], text: str, spans: list[Span], reach: int) -> Iterator[re.Match[str]]:
    """Matches whose value starts inside a span; the search may read `reach` chars past its end."""
    for lo, hi in spans:
        for match in pattern.finditer(text, lo, min(len(text), hi + reach)):
            if match.start("value") < hi:
                yield match


def _hits(text: str, lowered: str | None, literals: Iterable[str]) -> Iterator[int]:
    """Offsets of every occurrence of each literal (case-insensitively when `lowered` is given)."""
    for literal in literals:
        haystack, needle = (lowered, literal.lower()) if lowered is not None else (text, literal)
        at = haystack.find(needle)
        while at >= 0:
            yield at
            at = haystack.find(needle, at + 1)


def _lowered(text: str, ascii_anchors: bool = False) -> str | None:
    """The text in lower case when that keeps every offset (it does unless e.g. U+0130 is present).

    With ASCII anchors only, a text of Latin-1 characters is lower-cased as bytes (ASCII letters
    only: 5x faster than str.lower on a text holding any non-ASCII character): the anchors are found
    at the same places, since no Latin-1 character lower-cases to an ASCII one."""
    if ascii_anchors:
        try:
            return text.encode("latin-1").lower().decode("latin-1")
        except UnicodeEncodeError:  # a character past U+00FF: str.lower decides
            pass
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else None


def lowered_for_anchors(text: str, rules: RuleSet) -> str:
    """The text lower-cased for a search of the rules' label anchors (as _lowered: a Latin-1 text as
    bytes when every anchor is ASCII)."""
    lowered = _lowered(text, rules.ascii_anchors)
    return lowered if lowered is not None else text.lower()


def _anchor_hits(text: str, lowered: str | None, anchor: str) -> Iterator[int]:
    if lowered is None:  # offsets would shift: find the anchor case-insensitively with a regex
        return (m.start() for m in re.finditer(re.escape(anchor), text, re.IGNORECASE))
    return _hits(text, lowered, (anchor,))


def labelled_matches(text: str, lowered: str | None, tails: tuple[LabelTail, ...],
                     reach: int) -> Iterator[tuple[str, re.Match[str]]]:
    """(label, match) for every labelled value: one anchored match where each label anchor ends."""
    for tail in tails:
        for at in _anchor_hits(text, lowered, tail.anchor):
            end = at + len(tail.anchor)
            m = tail.pattern.match(text, end, min(len(text), end + LABEL_REACH + reach))
            if m:
                label = tail.label_at(text, at, m.group("rest"))
                if label:
                    yield label, m


KeyHit = tuple[int, str]  # (start, key id): a key id before it is made a Candidate


def _key_hits(text: str, rules: RuleSet, first: dict[str, int] | None = None) -> Iterator[KeyHit]:
    """Key ids not rejected by the filters, in order; streamed, so a text of key ids is not held twice.
    `first`, when given, gets each key id's first place."""
    rejected: dict[str, bool] = {}  # key-id spam repeats values: judge each value once
    rejects = None  # made at the first key id: most texts hold none (the allowlist's words are not looked for)
    for m in rules.key_id_re.finditer(text):
        value = m.group()
        bad = rejected.get(value)
        if bad is None:
            if rejects is None:
                allow = rules.allow_substrings if filters.may_hold_allowlisted_key_id(text, rules.allow_substrings) \
                    else ()
                rejects = filters.key_id_rejecter(allow)
            bad = bool(rejects(value))
            if len(rejected) < 4096:  # bounded: distinct ids gain nothing from it
                rejected[value] = bad
        if not bad:
            start = m.start()
            if first is not None:
                first.setdefault(value, start)
            yield start, value


def _as_candidates(hits: Iterable[KeyHit]) -> list[Candidate]:
    return [Candidate(PartKind.KEY_ID, value, start, start + len(value)) for start, value in hits]


def find_key_ids(text: str, rules: RuleSet) -> list[Candidate]:
    return _as_candidates(_key_hits(text, rules))


def find_allowlisted_key_ids(text: str, rules: RuleSet) -> list[Candidate]:
    """Key ids the allowlist rejects (documented examples, the user's entries). Pairing lets them claim
    their secret and token, so an allowlisted set is silenced whole, not reported as a secret alone."""
    allow = rules.allow_substrings
    if not filters.may_hold_allowlisted_key_id(text, allow):
        return []
    return [Candidate(PartKind.KEY_ID, m.group(), m.start(), m.end(), allowlisted=True)
            for m in rules.key_id_re.finditer(text)
            if filters.is_documented_example_or_placeholder(m.group(), allow)
            and not filters.has_long_repeated_run(m.group())]


def _key_spans(hits: Iterable[KeyHit], rules: RuleSet, text: str) -> list[Span]:
    """Where unlabelled secrets are searched: the union of the key ids' reaches (see key_reach).

    Consecutive reaches overlap whenever key ids stand within twice the window, so lines are
    counted only at the outer edges of each merged span, never further back than the span before.
    """
    window, count, cap, size = rules.pairing_window, rules.pairing_lines, rules.pairing_max_reach, len(text)
    spans: list[Span] = []
    # A key id whose window starts before `joins` (the last span's end plus _SECRET_REACH) extends
    # that span; on key-id spam every one does, so the span's end is stored once, not per key id.
    joins = -window - 1  # no span yet: nothing joins
    for start, value in hits:
        hi = start + len(value) + window
        if start - window <= joins:
            joins = hi + _SECRET_REACH
            continue
        if spans:
            spans[-1] = (spans[-1][0], joins - _SECRET_REACH)
        joins = hi + _SECRET_REACH
        lo = start - window
        if spans and count:  # close the span before: its reach by lines, up to this key id
            last_lo, last_hi = spans[-1]
            spans[-1] = (last_lo, max(last_hi, _line_bound(text, last_hi - window, count, min(start, last_hi + cap),
                                                           True)))
        bound = spans[-1][1] if spans else 0
        if count:
            lo = min(lo, _line_bound(text, start, count, max(bound, start - cap), False))
        spans.append((max(lo, 0), hi))
    if spans:
        spans[-1] = (spans[-1][0], joins - _SECRET_REACH)
    if spans and count:
        last_lo, last_hi = spans[-1]
        spans[-1] = (last_lo, max(last_hi, _line_bound(text, last_hi - window, count, min(size, last_hi + cap), True)))
    return [(lo, min(hi, size)) for lo, hi in spans]


def _secret_ends_run(text: str, end: int, rules: RuleSet) -> bool:
    return end >= len(text) or not rules.secret_run_char_re.match(text, end)


def find_secrets(text: str, lowered: str | None, rules: RuleSet, key_spans: list[Span]) -> list[Candidate]:
    found: dict[int, Candidate] = {}
    labelled = labelled_matches(text, lowered, rules.secret_label_tails, _SECRET_REACH)
    bare = (("", m) for m in _matches(rules.secret_bare_re, text, key_spans, _SECRET_REACH))
    for matches, minimum in ((labelled, rules.secret_min_entropy_labelled),
                             (bare, rules.secret_min_entropy_unlabelled)):
        for label, m in matches:
            start, end = m.start("value"), m.end("value")
            if start in found or not _secret_ends_run(text, end, rules) or continues(text, end):
                continue
            value = m.group("value")
            if not filters.rejects_secret(value, bool(label), rules.allow_substrings, minimum):
                found[start] = Candidate(PartKind.SECRET, value, start, end, bool(label), label)
    return sorted(found.values(), key=lambda c: c.start)


def continues(text: str, end: int) -> bool:
    """A value that stops at a backslash-newline it was not rebuilt across is cut: never whole."""
    return text.startswith(("\\\n", "\\\r\n"), end)


def _token_end(text: str, match: re.Match[str], rules: RuleSet) -> int:
    """Where the token really ends: a match that stops at the search bound may go on (no length cap)."""
    end = match.end("value")
    if end == match.endpos and end < len(text):
        tail = rules.token_run_re.match(text, end)
        if tail:
            end = tail.end()
    return end


def find_tokens(text: str, lowered: str | None, rules: RuleSet, prefix_spans: list[Span]) -> list[Candidate]:
    found: dict[int, Candidate] = {}
    labelled = labelled_matches(text, lowered, rules.token_label_tails, _TOKEN_REACH)
    prefixed = (("", m) for m in _matches(rules.token_prefixed_re, text, prefix_spans, _TOKEN_REACH))
    for matches in (labelled, prefixed):
        for label, m in matches:
            start = m.start("value")
            end = _token_end(text, m, rules)
            value = text[start:end]
            if start in found or continues(text, end) or filters.rejects_token(
                    value, rules.token_allow_substrings, rules.token_prefixes if label else None):
                continue
            found[start] = Candidate(PartKind.SESSION_TOKEN, value, start, end, bool(label), label)
    return sorted(found.values(), key=lambda c: c.start)


def named_value(text: str, name: str, rules: RuleSet) -> Candidate | None:
    """A file holding one value and named for it (Docker secrets: a file `aws_secret_access_key`).

    The file's name is its label: the whole content (but surrounding blanks) must be one secret
    or one session token, judged like a labelled one.
    """
    name = name.lower()
    value = text.strip()
    start = text.find(value) if value else -1
    if start < 0:
        return None
    if name in rules.secret_labels and name not in rules.generic_labels and rules.secret_bare_re.fullmatch(value):
        minimum = rules.secret_min_entropy_labelled
        if not filters.rejects_secret(value, True, rules.allow_substrings, minimum):
            return Candidate(PartKind.SECRET, value, start, start + len(value), True, name)
    token_named = name in rules.token_labels and name not in rules.generic_labels
    if token_named and rules.token_value_re.fullmatch(value) and not filters.rejects_token(
            value, rules.token_allow_substrings, rules.token_prefixes):
        return Candidate(PartKind.SESSION_TOKEN, value, start, start + len(value), True, name)
    return None


def outside(candidates: list[Candidate], containers: list[Candidate]) -> list[Candidate]:
    """The candidates not lying inside any container (sorted by start): bisect over a running max end."""
    if not containers:
        return candidates
    starts = [c.start for c in containers]
    max_end = list(accumulate((c.end for c in containers), max))
    kept = []
    for c in candidates:
        i = bisect_right(starts, c.start) - 1
        if i < 0 or max_end[i] < c.end:
            kept.append(c)
    return kept


KeyIdsOnly = dict[str, int]  # a text holding key ids and no part: each key id and its first place


def detect_parts(text: str, rules: RuleSet) -> list[Candidate] | KeyIdsOnly:
    """All candidates in the text, sorted by position; or, when it holds no secret and no token,
    just each key id's first place (a CloudTrail export, key-id spam): pairing has nothing to
    do there, and a Candidate per key id would be built only to be thrown away."""
    first: KeyIdsOnly = {}
    key_spans = _key_spans(_key_hits(text, rules, first), rules, text)
    lowered = _lowered(text, rules.ascii_anchors)
    prefix_spans = _merge(((at, at + 1) for at in _hits(text, None, rules.token_prefixes)), len(text), _TOKEN_REACH)
    tokens = find_tokens(text, lowered, rules, prefix_spans)
    secrets = find_secrets(text, lowered, rules, key_spans)
    if not tokens and not secrets:
        return first
    # A secret-shaped or key-shaped run inside a token is part of the token, not a credential.
    keys = outside(sorted(find_key_ids(text, rules) + find_allowlisted_key_ids(text, rules),
                          key=lambda c: c.start), tokens)
    secrets = outside(secrets, tokens)
    secrets, tokens = _not_of_foreign_keys(text, lowered, rules, key_spans, secrets, tokens)
    if not tokens and not secrets:
        return first
    return sorted(keys + secrets + tokens, key=lambda c: c.start)


# An access key of another S3-compatible service (MinIO `Q3AM3UQ8…`, GCS HMAC `GOOG1E…`, Ceph, Linode)
# after an access-key label, and a JWT (a MinIO STS session token): the secret and token beside them
# are that service's, not AWS's. Linear: the label starts where no letter precedes it, the blanks
# are bounded and the value is one class, at most 128 characters, that must end there.
_FOREIGN_KEY = re.compile(r"(?<![A-Za-z])access[_.-]?key(?:[_.-]?id)?[\"']?[ \t]{0,8}(?:=>|:=|[:=>(,])?"
                          r"[ \t]{0,8}[\"']?(?P<value>[A-Za-z0-9]{16,128})(?![A-Za-z0-9/+=])", re.IGNORECASE)
_JWT = re.compile(r"(?<![\w-])eyJ[\w-]{10,}\.eyJ")


def _foreign_places(text: str, lowered: str | None, rules: RuleSet) -> list[int]:
    """Where a non-AWS access key value or a JWT stands (sorted)."""
    places = []
    if "access" in (lowered if lowered is not None else text.lower()):
        places += [m.start("value") for m in _FOREIGN_KEY.finditer(text)
                   if filters.is_foreign_access_key(m.group("value"), rules.key_id_re)]
    if "eyJ" in text:
        places += [m.start() for m in _JWT.finditer(text)]
    return sorted(places)


def _not_of_foreign_keys(text: str, lowered: str | None, rules: RuleSet, key_spans: list[Span],
                         secrets: list[Candidate], tokens: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
    """Secrets and tokens no AWS key id reaches, within a pairing window of a foreign access key or
    a JWT, are left out: a MinIO STS response is not an AWS secret-only leak."""
    starts = [lo for lo, _ in key_spans]

    def reached(part: Candidate) -> bool:
        i = bisect_right(starts, part.start) - 1
        return i >= 0 and part.start < key_spans[i][1]

    if all(reached(part) for part in (*secrets, *tokens)):
        return secrets, tokens
    places = _foreign_places(text, lowered, rules)
    if not places:
        return secrets, tokens
    window = rules.pairing_window

    def foreign(part: Candidate) -> bool:
        i = bisect_right(places, part.end + window) - 1
        return not reached(part) and i >= 0 and places[i] >= part.start - window

    return [p for p in secrets if not foreign(p)], [p for p in tokens if not foreign(p)]
