"""Pairing: group candidates into credential sets.

The proximity rule (README, "Pairing"):
- Key ids split the text into regions. A secret or token may belong to a key id when it starts
  within the key id's reach — `pairing_window` (4,096) characters of its start or end, or
  `pairing_lines` (4) lines, at most `pairing_max_reach` (1 MiB) characters — and no other key id
  stands between them. (A token may run on past the reach: tokens have no length cap.)
- Each text has an orientation per part kind: "parts follow the key" (INI, env, JSON, code) or
  "parts precede the key", whichever explains more key ids; on a tie, whichever puts the parts
  nearer their key ids (so a key id with no part of its own — a pre-signed URL's — does not take
  the part of the next set written secret-first). Each key id first takes the best part on its
  primary side; a key id left without one may take an unclaimed part on the other side.
- Best = a labelled part (aws_secret_access_key = …) over an unlabelled one, then the nearest.
- Where that leaves a key id without a part it could have taken, a part it could have taken to
  nobody, or a signature's key id (a pre-signed URL's) with a part from outside its URL, pairing
  starts again: a signature's key id first takes its URL's token, and a key id alone in its record
  (the braces around it, or its INI section) the best parts inside it (_own_parts); the rest pair as
  above, signatures' key ids last and without a vote. So sets written in different orders side by
  side in one JSON document or credentials file, or pre-signed URLs between them, pair right.
- The other secrets and tokens a key id could have taken (within its reach, of another value, not
  taken by another key id, and on the other side only when on no key id's primary side) are kept
  as its set's alternatives, best first, at most MAX_ALTERNATIVES of each kind (the rest counted):
  a decoy right after the key id must not hide the real set a few lines further. Verification
  tries them when the best ones are not live.
- Only key ids whose rule has a session token (ASIA, ABIA, ACCA) take one: a token next to a
  long-term AKIA key belongs to no key id in the text and is not reported.
- A key id whose body holds no digit and looks like words (six or more vowels, or letter entropy
  under 3.0 bits: ASIAPACIFICREGIONALX) takes only parts that name AWS — a secret after an AWS
  label (not a bare `secret`), a token after one or opening with an STS prefix — and is kept only
  when it pairs with one.
- A labelled secret or a session token that no key id reaches is a set of its own with no key id
  (rule `aws-secret-without-key-id`), unless its label is generic (`secret`, `token`: a token
  after one counts only when it opens with an STS prefix). A secret and a token of that kind
  within the window of each other are one set.
- The same credential set found twice in one text is reported once, at its first key id (with the
  alternatives of both places); a bare key id is dropped when the same key id also appears in a
  fuller set.

Every step is O(n log n) in the number of candidates: parts are sorted and found by bisect; a
record is looked for between the neighbouring key ids, at most _MAX_BRACES braces each way.
"""

from __future__ import annotations

import posixpath
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise
from typing import NamedTuple

from scanner.detection import filters
from scanner.detection.candidates import KeyIdsOnly, Reach, detect_parts, key_reach, lowered_for_anchors, named_value
from scanner.detection.decoding import to_text, unescape
from scanner.detection.joins import join_split_values
from scanner.detection.rules import RuleSet
from scanner.model import MAX_ALTERNATIVES, Alternatives, Candidate, CredentialKey, Finding, PartKind


class CredentialSet(NamedTuple):  # a NamedTuple, as Candidate is: one per key id on a text of key ids
    key: Candidate | None  # None: a secret or token with no key id near
    secret: Candidate | None
    token: Candidate | None
    alternatives: Alternatives | None = None  # other secrets/tokens that competed for the key id

    @property
    def values(self) -> tuple[str, str | None, str | None]:
        return (self.key.value if self.key else "", self.secret.value if self.secret else None,
                self.token.value if self.token else None)

    @property
    def credential_key(self) -> CredentialKey:
        """Finding.credential_key of the finding made of this set."""
        return (*self.values, self.alternatives)

    @property
    def start(self) -> int:
        if self.key and not self.secret and not self.token:
            return self.key.start
        return min(p.start for p in (self.key, self.secret, self.token) if p is not None)


Sides = tuple[list[Candidate], list[Candidate]]


class _Parts:
    """Parts of one kind sorted by start, looked up by bisect."""

    def __init__(self, parts: list[Candidate]) -> None:
        self.parts = parts
        self.starts = [p.start for p in parts]

    def between(self, lo: int, hi: int) -> list[Candidate]:
        """Parts starting in [lo, hi)."""
        return self.parts[bisect_left(self.starts, lo):bisect_left(self.starts, hi)]


def _sides(keys: list[Candidate], reach: list[Reach], parts: _Parts, i: int) -> Sides:
    """The parts after and before key i that it may take: within its reach, no key id between."""
    key = keys[i]
    next_start = keys[i + 1].start if i + 1 < len(keys) else reach[i].hi + 1
    prev_end = keys[i - 1].end if i > 0 else 0
    after = parts.between(key.end, min(reach[i].hi, next_start - 1) + 1)
    before = [p for p in parts.between(max(reach[i].lo, prev_end), key.start) if p.end <= key.start]
    return after, before


def _rank(key: Candidate) -> Callable[[Candidate], tuple[bool, int]]:
    """Best first: labelled over unlabelled, then the nearest to the key id."""
    return lambda p: (not p.labelled, abs(p.start - key.start))


def _best(options: list[Candidate], key: Candidate, taken: set[int]) -> Candidate | None:
    free = [p for p in options if p.start not in taken]
    if not free:
        return None
    return min(free, key=_rank(key))


def _gap(options: list[Candidate], key: Candidate) -> int:
    return min(abs(p.start - key.start) for p in options) if options else 0


def _forward(keys: list[Candidate], sides: list[Sides]) -> bool:
    """Parts follow their key ids: the side that explains more key ids; on a tie, the nearer one."""
    after = sum(1 for a, _ in sides if a)
    before = sum(1 for _, b in sides if b)
    if after != before:
        return after > before
    return sum(_gap(a, k) for k, (a, _) in zip(keys, sides, strict=True)) <= \
        sum(_gap(b, k) for k, (_, b) in zip(keys, sides, strict=True))


def _assign(keys: list[Candidate], sides: list[Sides], settled: list[Candidate | None] | None = None,
            last: list[bool] | None = None) -> tuple[list[Candidate | None], bool]:
    """Give each key id its best part (see the module docstring); and whether parts follow their key ids.

    `settled`: the parts key ids took first (_own_parts); `last`: key ids that choose after all others
    (signatures': a URL never holds the secret) and do not vote (where their URL's token stands says
    nothing of how the sets around are written). In the vote, a key id that took a part from its
    record counts on the side that part stands on, the others by the parts left."""
    chosen: list[Candidate | None] = list(settled) if settled else [None] * len(keys)
    taken = {c.start for c in chosen if c is not None}
    if taken or last:
        votes: list[Sides] = [
            ([], []) if last and last[i]
            else (([c], []) if c.start > k.start else ([], [c])) if c is not None
            else ([p for p in a if p.start not in taken], [p for p in b if p.start not in taken])
            for i, (k, c, (a, b)) in enumerate(zip(keys, chosen, sides, strict=True))]
        forward = _forward(keys, votes)
    else:
        forward = _forward(keys, sides)
    for turn in (False, True) if last else (False,):  # the others first, then the last
        for primary in (True, False):
            for i, (after, before) in enumerate(sides):
                if chosen[i] is None and (last is None or last[i] == turn):
                    best = _best(after if forward == primary else before, keys[i], taken)
                    if best:
                        chosen[i] = best
                        taken.add(best.start)
    return chosen, forward


def _contested(sides: list[Sides], chosen: list[Candidate | None], count: int) -> bool:
    """Whether the proximity rule left a key id without a part it could have taken, or a part it
    could have taken to nobody: the only texts where records (_own_parts) may pair otherwise."""
    if any(c is None and (a or b) for c, (a, b) in zip(chosen, sides, strict=True)):
        return True
    if count == len(chosen) - chosen.count(None):  # every part taken (complete profiles): the common case
        return False
    taken = {c.start for c in chosen if c is not None}
    return any(p.start not in taken for a, b in sides for p in a + b)


Rivals = dict[int, tuple[tuple[str, ...], int]]  # key id's index -> (alternatives kept, best first; how many more)


def _rivals(keys: list[Candidate], sides: list[Sides], chosen: list[Candidate | None], forward: bool) -> Rivals:
    """The values each key id could have taken besides the one it took, best first, at most
    MAX_ALTERNATIVES (the rest counted): of another value, not taken by another key id; on its
    primary side, or on the other side when not on its neighbour's primary side there (so the parts
    before the first key id of a text written key-first: a decoy after the key id, the real set before)."""
    rivals: Rivals = {}
    taken: set[int] | None = None  # made once, when first needed
    for i, (after, before) in enumerate(sides):
        winner = chosen[i]
        if winner is None or len(after) + len(before) < 2:  # the common case: nothing competed
            continue
        primary, other = (after, before) if forward else (before, after)
        if other:
            other = _unclaimed(other, sides, i, forward)
        if len(primary) + len(other) < 2:  # the winner alone (a text of complete profiles)
            continue
        if taken is None:
            taken = {c.start for c in chosen if c is not None}
        options = [p for p in primary + other if p.start not in taken and p.value != winner.value]
        if len(options) > 1:
            options.sort(key=_rank(keys[i]))
        kept = list(dict.fromkeys(p.value for p in options)) if len(options) > 1 else [p.value for p in options]
        if kept:
            rivals[i] = (tuple(kept[:MAX_ALTERNATIVES]), max(0, len(kept) - MAX_ALTERNATIVES))
    return rivals


def _unclaimed(other: list[Candidate], sides: list[Sides], i: int, forward: bool) -> list[Candidate]:
    """The parts on key id i's secondary side that are not on its neighbour's primary side (a part
    between two key ids is on no other key id's side). Sides are runs of parts sorted by start."""
    if forward:  # the parts before key i: the previous key id's after-side holds those up to its last
        theirs = sides[i - 1][0] if i > 0 else []
        return [p for p in other if p.start > theirs[-1].start] if theirs else other
    theirs = sides[i + 1][1] if i + 1 < len(sides) else []  # the parts after key i: the next one's before-side
    return [p for p in other if p.start < theirs[0].start] if theirs else other


_BRACES = re.compile(r"[{}]")
_MAX_BRACES = 32  # braces read looking for a key id's record, each way: nested deeper, it has none
_URL_END = re.compile(r"[\s\"'<>]")
_SECTION = re.compile(r"^\[[\w .:/@-]+\][ \t]*\r?$", re.MULTILINE)  # [default], [profile prod]


def _signs(key: Candidate, text: str) -> bool:
    """A signature's key id: its credential scope follows (ASIA…/20261124/us-east-1/s3/aws4_request),
    as in a pre-signed URL's X-Amz-Credential or an Authorization header, which never hold the secret."""
    if not text.startswith("/", key.end):  # the common case, decided here
        return False
    day = text[key.end + 1:key.end + 9]
    return day.isascii() and day.isdigit() and text.startswith("/", key.end + 9)


def _open_before(text: str, lo: int, pos: int) -> int:
    """The `{` before pos not closed before it (at lo or after), or -1; -1 too past _MAX_BRACES
    braces. Read backwards in doubling pieces: what it costs is the distance to that brace."""
    opened = text.rfind("{", lo, pos)
    if opened < 0 or text.rfind("}", opened, pos) < 0:  # no object closes between (JSON): that one
        return opened
    depth, hi, size, seen = 0, pos, 1024, 0
    while hi > lo:
        start = max(lo, hi - size)
        for m in _BRACES.finditer(text[start:hi][::-1]):  # the nearest first
            seen += 1
            if seen > _MAX_BRACES:
                return -1
            if m.group() == "}":
                depth += 1
            elif depth:
                depth -= 1
            else:
                return hi - 1 - m.start()
        hi, size = start, size * 2
    return -1


def _close_after(text: str, pos: int, hi: int) -> int:
    """The `}` after pos that closes what is open at pos (before hi), or -1; -1 too past _MAX_BRACES braces."""
    closed = text.find("}", pos, hi)
    if closed < 0 or text.find("{", pos, closed) < 0:  # no object opens between (JSON): that one
        return closed
    depth = 0
    for seen, m in enumerate(_BRACES.finditer(text, pos, hi)):
        if seen == _MAX_BRACES:
            break
        if m.group() == "{":
            depth += 1
        elif depth:
            depth -= 1
        else:
            return m.start()
    return -1


def _signature_holds(keys: list[Candidate], chosen: list[Candidate | None], text: str) -> bool:
    """Whether a signature's key id took a part from outside its own URL (a secret never is in it)."""
    return any(part is not None and _signs(key, text) and (
        part.kind is PartKind.SECRET or part.start < key.end or _URL_END.search(text, key.end, part.start))
        for key, part in zip(keys, chosen, strict=True))


Kind = tuple[_Parts, list[Sides], list[bool]]  # a part kind's parts, each key id's sides, which key ids take it
Own = list[Candidate | None]  # per key id: the part it took first (None: none)


def _record(text: str, key: Candidate, lo: int, hi: int, braces: bool, sections: bool, last: bool) \
        -> tuple[int, int] | None:
    """Where the key id's own set is written, between the key ids around it (lo, hi; `last`: none
    after it): the innermost braces around it, or else its INI/TOML section ([profile prod] up to
    the next header)."""
    if braces:
        opened = _open_before(text, lo, key.start)
        closed = _close_after(text, key.end, hi) if opened >= 0 else -1
        if closed >= 0:
            return opened, closed
    if sections:
        headers = list(_SECTION.finditer(text, lo, key.start))
        following = _SECTION.search(text, key.end, hi) if headers else None
        if following or (headers and last):
            return headers[-1].end(), following.start() if following else hi
    return None


def _own_parts(keys: list[Candidate], text: str, rules: RuleSet, word_like: list[bool], signs: list[bool],
               secrets: Kind, tokens: Kind) -> tuple[Own, Own]:
    """The secret and the token each key id takes before the proximity rule runs.

    - A signature's key id (_signs) takes the token of its own URL: the first token after it, with
      no space or quote between (X-Amz-Security-Token).
    - A key id alone in its record takes the best part inside it, when that one is labelled or its
      reach holds no labelled one. Its record: the innermost braces around it ({ … }: JSON, YAML flow
      mappings, HCL, code), or else its INI/TOML section, when they hold no other key id but
      signatures'. So several sets in one JSON document or credentials file pair within their
      records, whatever order each writes its fields in.
    Records are looked for between the neighbouring key ids (a record reaching one holds two), at
    most pairing_max_reach away and at most _MAX_BRACES braces each way: each character is read at
    most twice."""
    n = len(keys)
    own_secrets: Own = [None] * n
    own_tokens: Own = [None] * n
    for i in range(n):
        after = tokens[1][i][0]
        if signs[i] and after and _URL_END.search(text, keys[i].end, after[0].start) is None:
            own_tokens[i] = after[0]
    braces, sections = "{" in text, text.startswith("[") or "\n[" in text
    if not braces and not sections:
        return own_secrets, own_tokens
    in_urls = {t.start for t in own_tokens if t is not None}
    normal = [i for i in range(n) if not signs[i]]
    cap = rules.pairing_max_reach
    for j, i in enumerate(normal):
        key = keys[i]
        lo = max(keys[normal[j - 1]].end if j else 0, key.start - cap)
        hi = min(keys[normal[j + 1]].start if j + 1 < len(normal) else len(text), key.end + cap)
        record = _record(text, key, lo, hi, braces, sections, j + 1 == len(normal))
        if record is None:
            continue
        for own, (parts, sides, takes) in ((own_secrets, secrets), (own_tokens, tokens)):
            inside = [p for p in parts.between(*record) if p.start not in in_urls
                      and (not word_like[i] or _names_aws(p, rules))] if takes[i] else []
            best = min(inside, key=_rank(key)) if inside else None
            if best and (best.labelled or not any(p.labelled for side in sides[i] for p in side)):
                own[i] = best
    return own_secrets, own_tokens


def _reached(part: Candidate, keys: list[Candidate], key_starts: list[int], reach: list[Reach]) -> bool:
    """Whether the key id just before or just after the part reaches it."""
    i = bisect_right(key_starts, part.start)
    return any(0 <= j < len(keys) and reach[j].lo <= part.start <= reach[j].hi for j in (i - 1, i))


def _names_aws(part: Candidate, rules: RuleSet) -> bool:
    if part.kind is PartKind.SESSION_TOKEN and part.value.startswith(rules.token_prefixes):
        return True
    return part.labelled and part.label not in rules.generic_labels


def _alone(orphans: list[Candidate], window: int) -> list[CredentialSet]:
    """Secret-only sets: a secret and a token within the window of each other are one set."""
    sets: list[CredentialSet] = []
    i = 0
    while i < len(orphans):
        part, nxt = orphans[i], orphans[i + 1] if i + 1 < len(orphans) else None
        if nxt is not None and nxt.kind is not part.kind and nxt.start - part.end <= window:
            secret, token = (part, nxt) if part.kind is PartKind.SECRET else (nxt, part)
            sets.append(CredentialSet(None, secret, token))
            i += 2
            continue
        sets.append(CredentialSet(None, part if part.kind is PartKind.SECRET else None,
                                  part if part.kind is PartKind.SESSION_TOKEN else None))
        i += 1
    return sets


def pair(candidates: list[Candidate], rules: RuleSet, text: str) -> list[CredentialSet]:
    keys = [c for c in candidates if c.kind is PartKind.KEY_ID]
    secrets = [c for c in candidates if c.kind is PartKind.SECRET]
    tokens = [c for c in candidates if c.kind is PartKind.SESSION_TOKEN]
    if not secrets and not tokens:  # key ids alone (a CloudTrail export): each id once, at its first place
        first: dict[str, Candidate] = {}
        for k in keys:
            first.setdefault(k.value, k)
        kept = lone_key_ids({value: k.start for value, k in first.items()}, rules)
        return [CredentialSet(first[value], None, None) for value in kept]
    reach = key_reach(keys, rules, text)
    sets = _pair_keys(keys, reach, secrets, tokens, rules, text) if keys else []
    key_starts = [k.start for k in keys]
    used = {(p.kind, p.start) for s in sets for p in (s.secret, s.token) if p is not None}
    orphans = [p for p in sorted(secrets + tokens, key=lambda c: c.start)
               if (p.kind, p.start) not in used and _names_aws(p, rules) and not _reached(p, keys, key_starts, reach)]
    sets += _alone(orphans, rules.pairing_window)
    sets = [s for s in sets if not (s.key and s.key.allowlisted)]  # silenced whole (counted in silencing)
    return _dedupe(sorted(sets, key=lambda s: s.start))


def _pair_keys(keys: list[Candidate], reach: list[Reach], secrets: list[Candidate], tokens: list[Candidate],
               rules: RuleSet, text: str) -> list[CredentialSet]:
    word_like = [rules.key_ids_without_digit_need_partner and _word_like(k.value, rules) for k in keys]
    secret_parts, token_parts = _Parts(secrets), _Parts(tokens)
    secret_sides = []
    for i in range(len(keys)):
        after, before = _sides(keys, reach, secret_parts, i)
        if word_like[i]:  # a word-like id takes only a secret whose label names AWS
            after, before = [p for p in after if _names_aws(p, rules)], [p for p in before if _names_aws(p, rules)]
        secret_sides.append((after, before))
    token_sides = []
    takes_token = [PartKind.SESSION_TOKEN in rules.rule_for(k.value).parts for k in keys]
    for i in range(len(keys)):
        after, before = _sides(keys, reach, token_parts, i) if takes_token[i] else ([], [])
        if word_like[i]:  # ... and only a token that names AWS (an STS prefix or an AWS label)
            after, before = [p for p in after if _names_aws(p, rules)], [p for p in before if _names_aws(p, rules)]
        token_sides.append((after, before))
    chosen_secrets, secrets_forward = _assign(keys, secret_sides)
    chosen_tokens, tokens_forward = _assign(keys, token_sides)
    contested = (len(keys) > 1 and (_contested(secret_sides, chosen_secrets, len(secrets))
                                    or _signature_holds(keys, chosen_secrets, text)),
                 len(keys) > 1 and (_contested(token_sides, chosen_tokens, len(tokens))
                                    or _signature_holds(keys, chosen_tokens, text)))
    if any(contested):  # proximity alone left a part or a key id over: records and URLs settle first
        signs = [_signs(k, text) for k in keys]
        own_secrets, own_tokens = _own_parts(keys, text, rules, word_like, signs,
                                             (secret_parts, secret_sides, [True] * len(keys)),
                                             (token_parts, token_sides, takes_token))
        last = signs if any(signs) else None
        if contested[0] and (last or any(own_secrets)):
            chosen_secrets, secrets_forward = _assign(keys, secret_sides, own_secrets, last)
        if contested[1] and (last or any(own_tokens)):
            chosen_tokens, tokens_forward = _assign(keys, token_sides, own_tokens, last)
    # Only a part no key id took can be an alternative (none in a text of complete profiles).
    secret_rivals = _rivals(keys, secret_sides, chosen_secrets, secrets_forward) \
        if len(secrets) > len(keys) - chosen_secrets.count(None) else {}
    token_rivals = _rivals(keys, token_sides, chosen_tokens, tokens_forward) \
        if len(tokens) > len(keys) - chosen_tokens.count(None) else {}
    if not secret_rivals and not token_rivals:  # the common case
        return [CredentialSet(k, s, t) for k, s, t, w in zip(keys, chosen_secrets, chosen_tokens, word_like,
                                                             strict=True) if not w or s or t]
    sets = []
    none: tuple[tuple[str, ...], int] = ((), 0)
    for i, (k, s, t, w) in enumerate(zip(keys, chosen_secrets, chosen_tokens, word_like, strict=True)):
        if w and not s and not t:
            continue
        (alt_secrets, more_secrets), (alt_tokens, more_tokens) = secret_rivals.get(i, none), token_rivals.get(i, none)
        alternatives = Alternatives(alt_secrets, alt_tokens, more_secrets + more_tokens) \
            if alt_secrets or alt_tokens else None
        sets.append(CredentialSet(k, s, t, alternatives))
    return sets


def _word_like(key_id: str, rules: RuleSet) -> bool:
    if not key_id[4:].isalpha():  # a digit: never word-like (the common case, decided here)
        return False
    return filters.key_id_looks_like_words(key_id, rules.word_like_min_vowels, rules.word_like_max_entropy)


def _dedupe(sets: list[CredentialSet]) -> list[CredentialSet]:
    fuller = {s.key.value for s in sets if s.key and (s.secret or s.token)}
    first: dict[tuple[str, str | None, str | None], int] = {}
    result: list[CredentialSet] = []
    for s in sets:
        if s.key and not s.secret and not s.token and s.key.value in fuller:
            continue
        at = first.get(s.values)
        if at is None:
            first[s.values] = len(result)
            result.append(s)
        elif s.alternatives:  # the same set again: reported once, with the alternatives of both places
            result[at] = _merged(result[at], s.alternatives)
    return result


def _merged(kept: CredentialSet, again: Alternatives) -> CredentialSet:
    """The first place of a set, with the alternatives it had at another place too (bounded per kind)."""
    had = kept.alternatives or Alternatives()
    secrets = tuple(dict.fromkeys(had.secrets + again.secrets))
    tokens = tuple(dict.fromkeys(had.tokens + again.tokens))
    more = had.more + again.more + max(0, len(secrets) - MAX_ALTERNATIVES) + max(0, len(tokens) - MAX_ALTERNATIVES)
    return CredentialSet(kept.key, kept.secret, kept.token,
                         Alternatives(secrets[:MAX_ALTERNATIVES], tokens[:MAX_ALTERNATIVES], more))


def might_hold_credentials(raw: str, rules: RuleSet) -> bool:
    """A cheap literal test: a key-id prefix, an STS token prefix, or a label anchor (any case)."""
    if any(prefix in raw for prefix in rules.key_id_prefixes) or any(p in raw for p in rules.token_prefixes):
        return True
    lowered = lowered_for_anchors(raw, rules)
    return any(tail.anchor in lowered for tail in rules.secret_label_tails + rules.token_label_tails)


def credential_sets(data: bytes, rules: RuleSet, name: str | None = None) -> tuple[str, list[CredentialSet]] | None:
    """Decoded text and the credential sets in it; None when the data is binary.

    `name` is the file's base name: a file named for a value (aws_secret_access_key) and holding
    only that value yields it as a labelled part.
    """
    found = credential_parts(data, rules, name)
    if found is None:
        return None
    text, sets = found
    if isinstance(sets, dict):
        return text, [CredentialSet(Candidate(PartKind.KEY_ID, value, start, start + len(value)), None, None)
                      for value, start in sets.items()]
    return text, sets


def credential_parts(data: bytes, rules: RuleSet, name: str | None = None) \
        -> tuple[str, list[CredentialSet] | KeyIdsOnly] | None:
    """credential_sets, but a text of key ids alone (no secret, no token) gives each key id's
    first place instead of a set per key id (scanner/pipeline.py makes findings of them directly)."""
    raw = to_text(data)
    if raw is None:
        return None
    named = named_value(raw, name, rules) if name and len(raw) < 65_536 else None
    if named is None and not might_hold_credentials(raw, rules):
        return raw, []  # nothing to find: skip unescaping and detection
    text = join_split_values(unescape(raw))
    found = detect_parts(text, rules)
    if isinstance(found, dict):
        if found or named is None:
            return text, lone_key_ids(found, rules)
        found = [named]
    return text, pair(found, rules, text)


def lone_key_ids(first: KeyIdsOnly, rules: RuleSet) -> KeyIdsOnly:
    """What pair() makes of key ids with no part in the text: each once, at its first place; a
    word-like one (ASIAPACIFICREGIONALX) only pairs, so it is dropped."""
    if not rules.key_ids_without_digit_need_partner:
        return first
    words = {value for value in first if _word_like(value, rules)}
    if not words:  # the common case (a random id has a digit): the dict as it is, not a copy
        return first
    return {value: start for value, start in first.items() if value not in words}


# --- across files -------------------------------------------------------------------------------
# Docker secrets keep one value per file (aws_access_key_id, aws_secret_access_key); a k8s
# ConfigMap holds the key id and a Secret next to it the rest. Within one directory of one commit
# (or of the work tree), a key id left without its secret takes the secret (and token) of a
# finding that has no key id — only when that is unambiguous: one key-id finding there, and one
# secret (at most one token) without a key id.
# Then across directories (kustomize base/ and overlays/prod/, a chart's values.yaml and
# secrets/prod/secrets.yaml, an environment's terraform.tfvars and the module's
# secrets.auto.tfvars): what is still apart pairs in the smallest directory subtree of the commit
# that holds both, when unambiguous there (_Subtree).


def _where(finding: Finding, part: str) -> str:
    """Where a finding's part is: its own line, or the line parts_at names (a set of two lines)."""
    return (finding.parts_at or {}).get(part) or f"{finding.path}:{finding.line}"


def _completed(key: Finding, secret_from: Finding, token_from: Finding | None) -> Finding:
    """The key id's finding with the secret (and token) of findings without a key id (parts_at: where)."""
    parts_at = {"secret": _where(secret_from, "secret")}
    token = key.session_token
    if token_from is not None:
        token, parts_at["session_token"] = token_from.session_token, _where(token_from, "session_token")
    return replace(key, secret=secret_from.secret, session_token=token, parts_at=parts_at)


def _merge_group(group: list[Finding]) -> list[Finding]:
    keyed = [f for f in group if f.access_key_id]
    alone = [f for f in group if not f.access_key_id]
    if len(keyed) != 1 or not alone or keyed[0].secret:
        return group
    key = keyed[0]
    secrets = {f.secret for f in alone if f.secret}
    tokens = {f.session_token for f in alone if f.session_token}
    takes_token = PartKind.SESSION_TOKEN in key.expected_parts
    if len(secrets) != 1 or len(tokens) > 1 or (tokens and (key.session_token or not takes_token)):
        return group
    secret_from = next(f for f in alone if f.secret)
    return [_completed(key, secret_from, next((f for f in alone if f.session_token), None))]


def pair_across_files(findings: list[Finding]) -> list[Finding]:
    """Complete a key id's set from other files of its directory (and commit), when unambiguous;
    then from other directories of the commit (pair_across_directories)."""
    if not any(not f.access_key_id for f in findings):
        return findings
    groups: dict[tuple[str | None, str], list[Finding]] = {}
    for f in findings:
        if f.path is not None:
            groups.setdefault((f.commit, posixpath.dirname(f.path)), []).append(f)
    merged: dict[int, list[Finding]] = {}
    for group in groups.values():
        if len(group) > 1:
            merged[id(group[0])] = _merge_group(group)
    result: list[Finding] = []
    placed = {id(f) for group in groups.values() if len(group) > 1 for f in group}
    for f in findings:
        if id(f) in merged:
            result += merged[id(f)]
        elif id(f) not in placed:
            result.append(f)
    return pair_across_directories(result)


class _Subtree:
    """What is still apart in one directory's subtree: two of a kind are enough to call it ambiguous."""

    __slots__ = ("keys", "secrets", "tokens")

    def __init__(self) -> None:
        self.keys: list[Finding] = []  # key ids that lack a secret (at most two kept)
        self.secrets: dict[str, Finding] = {}  # distinct secrets without a key id (at most two kept)
        self.tokens: dict[str, Finding] = {}

    def add(self, finding: Finding) -> None:
        if finding.access_key_id:
            self.keys.append(finding)
            del self.keys[2:]
            return
        for values, value in ((self.secrets, finding.secret), (self.tokens, finding.session_token)):
            if value and len(values) < 2:
                values.setdefault(value, finding)

    def fold(self, child: _Subtree) -> None:
        self.keys += child.keys[:2 - len(self.keys)]
        for values, more in ((self.secrets, child.secrets), (self.tokens, child.tokens)):
            for value, finding in more.items():
                if len(values) < 2:
                    values.setdefault(value, finding)

    def pair(self) -> Finding | None:
        """The key id's finding completed, when the subtree holds one key id without a secret, and it
        without a token (a pre-signed URL's key id never takes a secret from afar), one secret without
        a key id, and at most one token (only for a key id that takes one)."""
        if len(self.keys) != 1 or len(self.secrets) != 1 or len(self.tokens) > 1:
            return None
        key = self.keys[0]
        if key.session_token or (self.tokens and PartKind.SESSION_TOKEN not in key.expected_parts):
            return None
        (secret_from,) = self.secrets.values()
        return _completed(key, secret_from, next(iter(self.tokens.values()), None))


def _directory(path: str) -> str:
    """A path's directory as a sort key: each name followed by NUL (no path holds one), so a
    directory sorts right before everything under it and startswith() tells an ancestor."""
    parent = posixpath.dirname(path)
    return parent.replace("/", "\0") + "\0" if parent else ""


def _common(a: str, b: str) -> str:
    """The deepest directory holding both (bisecting on the common prefix: C-speed compares)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return a[:a.rfind("\0", 0, lo) + 1]


def _tree(directories: set[str]) -> tuple[list[str], list[int]]:
    """The directories, the root and every directory where their paths part, in pre-order (a
    directory before what is under it), with each one's parent (-1: the root). The directories
    between are left out: a subtree is decided where paths meet, so deep paths cost no more."""
    ordered = sorted(directories)
    order = sorted({"", *ordered, *(_common(a, b) for a, b in pairwise(ordered))})
    parents: list[int] = []
    stack: list[int] = []
    for i, directory in enumerate(order):
        while stack and not directory.startswith(order[stack[-1]]):
            stack.pop()
        parents.append(stack[-1] if stack else -1)
        stack.append(i)
    return order, parents


def pair_across_directories(findings: list[Finding]) -> list[Finding]:
    """A key id left without a secret takes the secret (and token) left without a key id in the
    smallest directory subtree of its commit that holds both (directories nearest first), when that
    subtree holds no other key id without a secret, one secret and at most one token (_Subtree.pair).
    A key id whose set is complete elsewhere waits for none. O(n log n) in the findings, linear in
    their paths' lengths however deep."""
    complete = {f.access_key_id for f in findings if f.access_key_id and f.secret}
    waiting = [f for f in findings if f.path is not None and (
        f.access_key_id not in complete if f.access_key_id else f.secret or f.session_token)]
    if not any(f.access_key_id for f in waiting) or all(f.access_key_id for f in waiting):
        return findings
    commits: dict[str | None, dict[str, list[Finding]]] = {}
    for f in waiting:
        commits.setdefault(f.commit, {}).setdefault(_directory(f.path or ""), []).append(f)
    paired: dict[int, Finding] = {}  # id of a key id's finding -> it completed
    taken: set[int] = set()  # findings without a key id whose parts a key id took
    for by_directory in commits.values():
        order, parents = _tree(set(by_directory))
        subtrees = [_Subtree() for _ in order]
        at = {directory: i for i, directory in enumerate(order)}
        for directory, found in by_directory.items():
            for f in found:
                subtrees[at[directory]].add(f)
        took = [False] * len(order)
        for i in reversed(range(len(order))):  # what is under a directory before it
            completed = subtrees[i].pair()
            if completed is not None:
                took[i] = True
                paired[id(subtrees[i].keys[0])] = completed
            elif parents[i] >= 0:
                subtrees[parents[i]].fold(subtrees[i])
        for i, parent in enumerate(parents):  # a directory whose subtree took: all under it is taken
            took[i] = took[i] or (parent >= 0 and took[parent])
        taken.update(id(f) for directory, found in by_directory.items() if took[at[directory]]
                     for f in found if not f.access_key_id)
    if not paired:
        return findings
    return [paired.get(id(f), f) for f in findings if id(f) not in taken]
