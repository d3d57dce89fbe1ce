"""The plain reading's gate: which texts cannot yield a finding, decided in one pass over their bytes.

Detection reads a text after unescaping it and rebuilding split values (`credential_parts`). A text
went through all of that when it held a key-id or STS token prefix, or a label anchor (`secret`,
`token`) anywhere, in any case (`might_hold_credentials`). Most such texts hold no credential: 188 of
git/git's 4,847 files hold only the word `token` (~0.9 s of a 1.7 s scan of its work tree), and
psf/requests' history a 2.2 MB Illustrator file whose base64 JPEG holds `ABIA` (80 ms).

A text yields nothing from its plain reading unless, once unescaped, it holds a key-id or STS token
prefix where a key id or token can start, or a label that names AWS on its own: `generic_labels`
name nothing alone (a secret after `secret` needs a key id, a token after `token` an STS prefix).
So the gate lets a Latin-1 text through when its bytes hold

- a prefix that stands (PREFIX): at the start, after a byte that does not glue it (a letter or digit
  before a key id's prefix, a token character before a token's), or with an escape's opener in the
  ten bytes before it (`%2FASIA…`, where an escape may end right before it);
- an anchor (ANCHOR) and a label that is not generic, in any case (LABEL), and somewhere a run a
  value could be: 40 characters of the values' alphabets, escapes and joints (`_Runs`);
- an anchor or a glued prefix (GLUED: the text was read for it before) and an escape that matters
  (`_Escapes`): one that unescape() turns into a character that, with the character beside it,
  spells a pair some label or prefix holds (`aws\\x5fsecret`), or that opens a further escape
  there (`%25` before hex digits), or that stands beside another such escape. Escapes are looked
  for after any run of backslashes (a string escaped again).

Without these, unescaping makes no prefix, no standing one from a glued one, and no label: what
escapes produce is a quote, a blank, a slash, or a character that spells nothing with its
neighbours. One case the gate no longer reads that the anchor alone used to let through: a prefix or
a label cut in two by a string concatenation (`"AS" + "IA…"`, `"aws_secret_acc" + "ess_key"`) in a
text holding no whole one. Values split after their prefix are rebuilt as before (`"ASIAJ4JX" +
"GQ3…"`); the history prefilter never looked for cut prefixes or labels, so a work tree and its
history now agree. tests/test_plain_gate.py holds the gate to this with hypothesis, in both modes.

A text read as UTF-16 or UTF-32 (its bytes are not its characters), a file named for a value
(`aws_secret_access_key`), and every text under rules whose labels leave ASCII are always read. The
groups come from the decoders' Hyperscan pass (`LiteralGroups`, one pass for both) or, where
Hyperscan is not loaded (a pre-commit run's first texts, no wheel), from `groups()` here: the same
answer either way. With the gate, git/git's work tree takes 0.25 s instead of 1.73 s, psf/requests'
history 0.39 s instead of 0.49 (bench/RESULTS.md).
"""

from __future__ import annotations

import contextlib
import posixpath
import re
from dataclasses import dataclass
from functools import partial
from itertools import pairwise

from scanner.detection.background import Lazy
from scanner.detection.decoders.escapes import BACKSLASH_LETTERS, BLANKED, NAMED_REFERENCES, QUERY_MARKS, unescape
from scanner.detection.decoders.literals import Expression, compile_database
from scanner.detection.decoding import is_latin1_text
from scanner.detection.rules import RuleSet
from scanner.model import Chunk

PREFIX, GLUED, ANCHOR, LABEL = "gate-prefix", "gate-glued", "gate-anchor", "gate-label"
AFTER_PLUS = "gate-after-plus"  # a prefix after a `+`: standing where the text may be a URL-encoded query


# Characters an escape must not be allowed to produce unseen: every character of the default rules'
# labels and prefixes (letters, digits, `_.-`) and those that open or make up a further escape
# (`%5Cx41` -> `\\x41` -> `A`). A rule set's other label characters are added to them, and so are
# the four non-ASCII letters detection reads as ASCII ones: U+212A (Kelvin) lower-cases to `k`, and
# in a case-insensitive search (used when lower-casing changes a text's length, as U+0130 does)
# U+0130 and U+0131 match `i`, U+017F `s` (`secret\u212aey` is the label `secretkey`).
_PRODUCED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789#%&-.;\\_{}")
_READ_AS_ASCII = frozenset("\u0130\u0131\u017f\u212a")


def _literal(text: str) -> str:
    return "".join(f"\\x{ord(c):02x}" for c in text)


def _numbers(numbers: list[str]) -> str:
    """An expression for exactly these numerals (of one base), grouped by all but their last digit:
    `2[3-6de]` rather than `23|24|25|26|2d|2e` (a long alternation makes Hyperscan compile slowly)."""
    by_head: dict[str, set[str]] = {}
    for number in numbers:
        by_head.setdefault(number[:-1], set()).add(number[-1])
    return "(?:" + "|".join(f"{head}[{''.join(sorted(tails))}]" for head, tails in sorted(by_head.items())) + ")"


def _escape_expression(chars: frozenset[str], python: bool = False) -> str:
    """An escape unescape() turns into one of `chars`: its code in hex (`\\x41`, `\\u0041`, `\\u{41}`,
    `\\U00000041`, `%41`, `&#x41;`, `&#xa;`), decimal (`&#65;`) or octal (`\\101`), a named reference
    (`&lowbar;`, `&amp;`) or a backslash escape (`\\/`; `\\n` is a blank), after any run of backslashes
    (a string escaped again); for a blank also `+` (a space in a URL-encoded query). Hex digits and
    the letters x, u, U in any case: a superset. `python`: for Python's `re`, a run of backslashes is
    taken whole from its first one (linear on a run of 40,000 of them; Hyperscan needs no help)."""
    codes = sorted({ord(c) for c in chars | (frozenset(BLANKED) if " " in chars else frozenset())})
    two = _numbers([f"{code:02x}" for code in codes if code < 0x100])  # \x and % take two digits
    any_length = _numbers([f"{code:x}" for code in codes])  # after zeros: \u0041, \u{a}, &#xA;
    octals = _numbers([f"{code:03o}" for code in codes if code < 0o400])
    decimals = _numbers([str(code) for code in codes])
    named = [name for name, char in sorted(NAMED_REFERENCES.items()) if char in chars]
    letters = "".join(letter for letter, char in sorted(BACKSLASH_LETTERS.items()) if char in chars)
    run = _PYTHON_BACKSLASHES if python else _BACKSLASHES
    extra = "".join([rf"|&(?:{'|'.join(named)});" if named else "", rf"|{run}[{_literal(letters)}]" if letters else "",
                     r"|\+" if " " in chars else ""])
    return (rf"{run}x{two}|{run}(?:u0*|u\{{0*|U0*){any_length}|{run}{octals}|%{two}"
            rf"|&#(?:[xX]0*{any_length}|0*{decimals});{extra}")


_OPENERS = b"\\%&"
_ESCAPE_END = 10  # the longest escape that ends in a letter or digit: \U0000002F


def _stands(data: bytes, prefix: bytes, glue: frozenset[int]) -> bool:
    """Whether the prefix occurs where it may open a key id or a token: at the start, after a byte
    that does not glue it (a letter or digit before a key id's, a token character before a token's),
    with an escape's opener within the bytes before it (`%2FASIA`: an escape may end there), or after
    a `+` in a text that may be a URL-encoded query (unescape makes that `+` a space)."""
    query = _may_be_query(data)
    at = data.find(prefix)
    while at >= 0:
        if at == 0 or data[at - 1] not in glue or any(b in _OPENERS for b in data[max(0, at - _ESCAPE_END):at]) \
                or (query and data[at - 1] == 0x2B):
            return True
        at = data.find(prefix, at + 1)
    return False


def _may_be_query(data: bytes) -> bool:
    """What escapes.query_plus_as_space asks before it turns a `+` into a space."""
    return all(mark.encode() in data for mark in QUERY_MARKS)


def _standing(prefix: str, glue: frozenset[int]) -> list[Expression]:
    """_stands for Hyperscan: the prefix at the start, after a byte outside `glue`, or within
    _ESCAPE_END bytes after an opener."""
    literal = _literal(prefix)
    apart = "".join(f"\\x{b:02x}" for b in sorted(glue))
    openers = "".join(f"\\x{b:02x}" for b in _OPENERS)
    return [(f"^{literal}".encode(), False), (f"[^{apart}]{literal}".encode(), False),
            (f"[{openers}][\\x00-\\xff]{{0,{_ESCAPE_END - 1}}}{literal}".encode(), False)]


def _after_plus(prefix: str) -> list[Expression]:
    return [(f"\\+{_literal(prefix)}".encode(), False)]


def _glue(char_class: str) -> frozenset[int]:
    """The bytes a regex character class (`[A-Za-z0-9]`) matches."""
    pattern = re.compile(char_class)
    return frozenset(b for b in range(256) if pattern.fullmatch(chr(b)))


# Past this many escapes that spell nothing, a text is read anyway: each costs a Python call, and a
# text of a million printf formats must not cost ten times its reading (fail closed, bounded).
_ESCAPES_LOOKED_AT = 256
_FOLDS = {"\u017f": "s", "\u0131": "i", "\u0130": "i"}  # what a caseless search reads as ASCII (K lowers to k)
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# An escape that makes one of these may make a further escape with the character before or after it
# (None: whatever stands there): `%` before hex digits, `&` before `#` or a name, `#` after `&`, `;`
# after a code or a name, `{` after `u`, `}` after hex digits, a backslash before anything.
_OPENS: dict[str, tuple[frozenset[str] | None, frozenset[str] | None]] = {
    "\\": (None, None), "%": (frozenset(), _HEX_DIGITS), "&": (frozenset(), _LETTERS | {"#"}),
    "#": (frozenset("&"), frozenset()), ";": (_LETTERS | _HEX_DIGITS, frozenset()), "{": (frozenset("u"), frozenset()),
    "}": (_HEX_DIGITS, frozenset()),
}


# The beginning of an escape unescape() reads (any run of backslashes before one): an escape's
# character may finish one of these in the next round.
_BEGUN = re.compile(r"\\+(?:x[0-9a-fA-F]{0,2}|u[0-9a-fA-F]{0,4}|u\{[0-9a-fA-F]{0,13}\}?|U[0-9a-fA-F]{0,8}"
                    r"|[0-3][0-7]{0,2}|[nrt/\"'])?|%[0-9a-fA-F]{0,2}|&(?:#[xX]?[0-9a-fA-F]{0,13};?|[a-z]{0,7};?)?")
_BEGUN_REACH = 20  # the longest beginning _BEGUN takes (`&#x` and 13 digits, with some backslashes)


def _fold(char: str) -> str:
    return _FOLDS.get(char, char.lower())


class _Escapes:
    """Whether an escape that matters stands where it could spell part of a label or a prefix.

    A character an escape produces takes part in a label or a prefix (two characters at least) only
    beside another of its characters: so the escape counts when, with the character before or after
    it, it makes a pair of characters some label or prefix holds (`aws\\x5fsecret`: `s_`, `_s`), in
    any case; when its neighbour is another such escape; and when it makes `\\`, `%`, `&`, `#`, `;` or
    a brace, which may make a further escape. A printf `"%4d "` (an `M` between a quote and a blank)
    and a `%4b` in a compressed PDF stream are not: an `M` or a `K` beside those bytes spells nothing.

    Asked only of texts holding an anchor or a glued prefix that nothing else makes read. With
    Hyperscan loaded (a scan of many files) its own small database finds each escape and where it
    starts (a Python search reads 36 MB/s: 22 ms for one .po file); otherwise a regex search. Past
    _ESCAPES_LOOKED_AT escapes that spell nothing, the answer is yes."""

    def __init__(self, expression: str, python_expression: str, words: frozenset[str]) -> None:
        self._pattern = re.compile(python_expression.encode(), re.IGNORECASE)
        self._pairs = frozenset((_fold(a), _fold(b)) for word in words for a, b in pairwise(word))
        self._db: Lazy[tuple[object, type[Exception]]] = Lazy(partial(_compile_spans, expression))

    def prepare(self) -> None:
        """Compile the Hyperscan database now, on a thread of its own (a scan of many texts)."""
        self._db.prepare()

    def near(self, data: bytes) -> bool:
        built = self._db.get()
        ends: set[int] = set()  # where the escapes met so far end (a neighbour escape)
        if built is None:
            for count, m in enumerate(self._pattern.finditer(data)):
                if count >= _ESCAPES_LOOKED_AT or self._matters(data, *m.span(), ends):
                    return True
            return False
        found, count = False, 0

        def on_match(_id: int, start: int, end: int, _flags: int, _ctx: object) -> bool:
            nonlocal found, count
            count += 1
            found = count > _ESCAPES_LOOKED_AT or self._matters(data, start, end, ends)
            return found  # True stops the scan

        db, stop = built
        with contextlib.suppress(stop):
            db.scan(data, match_event_handler=on_match)  # type: ignore[attr-defined]
        return found

    @staticmethod
    def _completes(data: bytes, start: int, made: str) -> bool:
        """Whether what the escape makes goes on an escape begun before it (`%4%31`: `%41` next round):
        from an opener among the bytes before it, those bytes and the character read as the start
        of an escape."""
        for at in range(start - 1, max(-1, start - _BEGUN_REACH - 1), -1):
            if data[at] in _OPENERS and _BEGUN.fullmatch(data[at:start].decode("latin-1") + made):
                return True
        return False

    def _matters(self, data: bytes, start: int, end: int, ends: set[int]) -> bool:
        if data[end:end + 1] in (b"}", b";"):  # `\\u{41}`, `&#x41;`: the expression stops before it
            end += 1
        ends.add(end)
        span = data[start:end].decode("latin-1")
        made = " " if span == "+" else unescape(span)  # (a `+` is a space in a URL-encoded query)
        if len(made) != 1:  # a backslash left, or nothing known
            return True
        if self._completes(data, start, made):
            return True
        if start in ends or (end < len(data) and self._pattern.match(data, end)):
            return True  # beside another escape that matters
        before = chr(data[start - 1]) if start else ""
        after = chr(data[end]) if end < len(data) else ""
        lead, follow = _OPENS.get(made, (frozenset(), frozenset()))
        if lead is None or before in lead or follow is None or after in follow:
            return True
        char = _fold(made)
        return (_fold(before), char) in self._pairs or (char, _fold(after)) in self._pairs


_BACKSLASHES, _PYTHON_BACKSLASHES = r"\\+", r"(?<!\\)\\++"  # a run of them; for `re`, taken whole from its first


def _quote(run: str) -> str:
    """A quote as unescape() may make one: plain, or spelled as an escape (`\\"`, `&quot;`, `%22`)."""
    return (rf"(?:[\"']|&(?:amp;)*(?:quot|apos);|&(?:amp;)*#(?:0*3[49]|[xX]0*2[27]);|%(?:25)*2[27]"
            rf"|{run}(?:x2[27]|u002[27]|U0*2[27]|u\{{0*2[27]\}}|0?4[27]))")


def _joint(run: str) -> str:
    """What join_split_values removes as it may stand before unescaping: a quote, then blanks, newlines
    and `+` (each maybe escaped: `\\t`, `%20`, `&#43;`), a quote (after any backslashes); or a
    backslash-newline and blanks. One `*` over the middle: no two repeats meet (linear in `re`)."""
    middle = (rf"(?:[ \t\r\n+]|{run}[tnr]|%(?:25)*(?:2[0bB]|0[9aAdD])|&(?:amp;)*(?:plus|#0*(?:9|10|13|32|43)"
              rf"|#[xX]0*(?:9|[aAdD]|2[0bB]));|{run}(?:x|u00)(?:09|0[aAdD]|2[0bB]))")
    return rf"{_quote(run)}{middle}*\\*{_quote(run)}|{run}\r?\n[ \t]*"


class _Runs:
    """Whether the bytes hold a run that could be a labelled value once unescaped and joined: at
    least `shortest` characters of the values' alphabets or of escapes (theirs are letters, digits
    and `\\%&#;{}/`), with joints between them. A value is one run of its alphabet in the text
    detection reads, each of its characters made of one or more of these bytes, so a text without
    such a run holds no labelled secret or token: 2,826 of flask's 2,970 blobs holding `secret_key`
    (`'dev'`, `os.urandom(24)`) are not unescaped and searched.

    Asked only of texts holding a label and nothing else that makes them read. A run without joints
    (one character class: Hyperscan reads 2.7 GB/s) answers most; only a text that also holds a
    joint between two such characters is looked at again: its joints taken out (a run through joints
    is too large a pattern for Hyperscan; in Python one linear pass of `re`), the rest is searched
    for a run."""

    def __init__(self, alphabets: str, shortest: int) -> None:
        unit = f"[{alphabets}\\\\%&#;{{}}]"
        joint, python_joint = _joint(_BACKSLASHES), _joint(_PYTHON_BACKSLASHES)
        self._plain, self._joint = f"{unit}{{{shortest}}}", joint
        self._between = f"{unit}(?:{joint}){unit}"  # a joint join_split_values would remove
        self._python = (re.compile(self._plain.encode()), re.compile(f"{unit}(?:{python_joint}){unit}".encode()),
                        re.compile(python_joint.encode()))
        self._dbs: Lazy[tuple[object, object]] = Lazy(self._compile)

    def prepare(self) -> None:
        self._dbs.prepare()

    def _compile(self) -> tuple[object, object]:
        return _compile_single([self._plain, self._between]), _compile_spans(self._joint)[0]

    def held(self, data: bytes) -> bool:
        dbs = self._dbs.get()
        if dbs is None:
            plain, between, joint = self._python
            if plain.search(data) is not None:
                return True
            return between.search(data) is not None and plain.search(joint.sub(b"", data)) is not None
        runs, joints_db = dbs
        found: set[int] = set()
        runs.scan(data, match_event_handler=lambda index, *_: found.add(index))  # type: ignore[attr-defined]
        if 0 in found or 1 not in found:
            return 0 in found
        spans: list[tuple[int, int]] = []
        joints_db.scan(data, match_event_handler=lambda _i, start, end, *_: spans.append((start, end)))  # type: ignore[attr-defined]
        found.clear()
        runs.scan(_without(data, spans), match_event_handler=lambda index, *_: found.add(index))  # type: ignore[attr-defined]
        return 0 in found


def _without(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    """The data with every span taken out (spans may overlap: their union)."""
    pieces, at = [], 0
    for start, end in sorted(spans):
        if start > at:
            pieces.append(data[at:start])
        at = max(at, end)
    pieces.append(data[at:])
    return b"".join(pieces)


def _compile_single(expressions: list[str]) -> object:
    return compile_database([(expression.encode(), False) for expression in expressions])


def _compile_spans(expression: str) -> tuple[object, type[Exception]]:
    import hyperscan

    return compile_database([(expression.encode(), True)], spans=True), hyperscan.ScanTerminated


@dataclass(frozen=True)
class PlainGate:
    expressions: dict[str, list[Expression]]  # for Hyperscan: each group's literals
    named_files: frozenset[str]  # file names that are a label: the whole file may be the value
    prefixes: tuple[tuple[bytes, frozenset[int]], ...]  # each prefix and the bytes that glue it
    anchors: tuple[bytes, ...]
    labels: tuple[bytes, ...]
    escapes: _Escapes
    runs: _Runs

    def prepare(self) -> None:
        """For a scan of many texts: compile the gate's own Hyperscan databases now, on their threads."""
        self.escapes.prepare()
        self.runs.prepare()

    def groups(self, data: bytes) -> set[str]:
        """The groups the data holds, found in Python (where Hyperscan is not loaded)."""
        if any(_stands(data, prefix, glue) for prefix, glue in self.prefixes):
            return {PREFIX}
        found = {GLUED} if any(prefix in data for prefix, _ in self.prefixes) else set()
        lowered = data.lower()  # ASCII only, as Hyperscan's caseless matching
        if any(a in lowered for a in self.anchors):
            found.add(ANCHOR)
            if any(label in lowered for label in self.labels):
                found.add(LABEL)
        return found

    def may_yield(self, chunk: Chunk, present: set[str] | None) -> bool:
        """Whether the chunk's plain reading may yield a finding. `present`: the groups its bytes hold
        (None: not looked for yet)."""
        data = chunk.data
        if present is None:
            present = self.groups(data)
        if PREFIX in present or (AFTER_PLUS in present and _may_be_query(data)):
            return True
        if ANCHOR in present and LABEL in present and self.runs.held(data):  # a label, and a value after it?
            return True
        # A prefix glued to what stands before it opens no key id or token, but the text was read
        # for it: an escape there may spell another (`\\x46QoG…`, an STS token's opening).
        if (ANCHOR in present or GLUED in present) and self.escapes.near(data):
            return True
        if chunk.path and posixpath.basename(chunk.path).lower() in self.named_files:
            return True
        return not is_latin1_text(data)


def plain_gate(rules: RuleSet) -> PlainGate | None:
    """The gate for these rules; None (every text read) when a label or prefix holds a character
    outside ASCII: the gate's byte search and Hyperscan's caseless matching are ASCII, while
    detection reads a text as Latin-1 and lower-cases it whole."""
    labels = {label.lower() for label in rules.secret_labels | rules.token_labels} - rules.generic_labels
    prefixes = set(rules.key_id_prefixes) | set(rules.token_prefixes)
    anchors = {tail.anchor for tail in rules.secret_label_tails + rules.token_label_tails}
    words = labels | prefixes | anchors
    if not all(word.isascii() for word in words):
        return None
    chars = _PRODUCED | _READ_AS_ASCII | {c for word in words for c in word}
    escape, python_escape = _escape_expression(chars), _escape_expression(chars, python=True)
    key_glue, token_glue = _glue(rules.key_id_boundary), _glue(f"[{rules.token_body}]")
    glued = {p: (key_glue if p in rules.key_id_prefixes else frozenset(range(256)))
             & (token_glue if p in rules.token_prefixes else frozenset(range(256))) for p in prefixes}
    return PlainGate(
        expressions={PREFIX: [e for p in sorted(glued) for e in _standing(p, glued[p])],
                     GLUED: [(_literal(p).encode(), False) for p in sorted(glued)],
                     AFTER_PLUS: [e for p in sorted(glued) if 0x2B in glued[p] for e in _after_plus(p)],
                     ANCHOR: [(_literal(a).encode(), True) for a in sorted(anchors)],
                     LABEL: [(_literal(label).encode(), True) for label in sorted(labels)]},
        named_files=frozenset(labels),
        prefixes=tuple((p.encode(), glued[p]) for p in sorted(glued)),
        anchors=tuple(a.encode() for a in sorted(anchors)),
        labels=tuple(label.encode() for label in sorted(labels)),
        escapes=_Escapes(escape, python_escape, frozenset(labels | prefixes | anchors)),
        runs=_Runs(rules.secret_alphabet + rules.token_body, rules.shortest_labelled_value),
    )
