"""Exclude globs (`--exclude`, `exclude:` in the config), matched on the path and on each path part.

The globs of an in-repo config are the repository's to choose, twenty thousand of them if it likes,
so they are compiled once into one matcher whose cost per path does not grow with their number
(fnmatch semantics: `*` matches any text, `/` included; `?` one character; `[...]` a set):

- a glob without wildcards is a set lookup;
- `P*`, `*S`, `P*S` and `*M*` (literal P, S, M) are looked up by the path's own prefixes, suffixes
  and substrings of the lengths the globs have (a handful), never glob by glob;
- any other glob (`?`, `[...]`, several stars) is filed under its longest literal run: only the
  globs whose run the path holds are tried, as one regular expression per run (fnmatch's
  translation, which has no catastrophic backtracking), compiled when first needed; globs without
  any literal (`[a-c]?*`) are one regular expression.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable

_WILD = re.compile(r"[*?[]")
_STARS = re.compile(r"\*+")


class _Literals:
    """Strings of a few lengths; `at(text, where)` asks whether text holds one at the start, the end
    or anywhere: one set lookup per length (per position, for anywhere)."""

    def __init__(self) -> None:
        self.by_length: dict[int, set[str]] = {}

    def add(self, literal: str) -> None:
        self.by_length.setdefault(len(literal), set()).add(literal)

    def prefix_of(self, text: str) -> bool:
        return any(text[:n] in found for n, found in self.by_length.items() if n <= len(text))

    def suffix_of(self, text: str) -> bool:
        return any(text[len(text) - n:] in found for n, found in self.by_length.items() if n <= len(text))

    def inside(self, text: str) -> bool:
        return any(text[i:i + n] in found for n, found in self.by_length.items()
                   for i in range(len(text) - n + 1))


def literal_runs(pattern: str) -> list[str]:
    """The literal text between a glob's wildcards, as fnmatch reads it (a `[` without its `]` is
    literal)."""
    runs, current, i, n = [], "", 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "[":
            j = i + (i < n and pattern[i] == "!")
            j += j < n and pattern[j] == "]"
            close = pattern.find("]", j)
            if close >= 0:
                runs.append(current)
                current, i = "", close + 1
                continue
        if c in "*?":
            runs.append(current)
            current = ""
            continue
        current += c
    runs.append(current)
    return [run for run in runs if run]


class _Anchored:
    """Globs filed under a literal each must find in the path; a regular expression per literal."""

    def __init__(self) -> None:
        self.by_length: dict[int, dict[str, list[str]]] = {}
        self._compiled: dict[str, re.Pattern[str]] = {}

    def add(self, anchor: str, pattern: str) -> None:
        self.by_length.setdefault(len(anchor), {}).setdefault(anchor, []).append(pattern)

    def _regex(self, anchor: str, globs: list[str]) -> re.Pattern[str]:
        rx = self._compiled.get(anchor)
        if rx is None:
            rx = self._compiled[anchor] = re.compile("|".join(fnmatch.translate(g) for g in globs))
        return rx

    def match(self, text: str) -> bool:
        for n, anchors in self.by_length.items():
            seen: set[str] = set()
            for i in range(len(text) - n + 1):
                piece = text[i:i + n]
                globs = anchors.get(piece)
                if globs is not None and piece not in seen:
                    seen.add(piece)
                    if self._regex(piece, globs).match(text):
                        return True
        return False


class ExcludeMatcher:
    """Every glob of a list, compiled once; `matches(path)` is True when any glob matches the path or
    one of its parts (what `excluded` did glob by glob)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.everything = False
        self._exact: set[str] = set()
        self._prefixes, self._suffixes, self._infixes = _Literals(), _Literals(), _Literals()
        self._bounded: dict[int, dict[str, _Literals]] = {}  # P*S: len(P) -> P -> the S's
        self._anchored = _Anchored()
        no_literal: list[str] = []
        for raw in dict.fromkeys(patterns):
            self._add(os.path.normcase(raw), no_literal)
        self._no_literal = re.compile("|".join(fnmatch.translate(p) for p in no_literal)) if no_literal else None

    def _add(self, pattern: str, no_literal: list[str]) -> None:
        if not _WILD.search(pattern):
            self._exact.add(pattern)
            return
        if "?" not in pattern and "[" not in pattern:
            pieces = _STARS.split(pattern)  # literals between runs of stars
            if len(pieces) == 2:
                head, tail = pieces
                if not head and not tail:
                    self.everything = True
                elif not tail:
                    self._prefixes.add(head)
                elif not head:
                    self._suffixes.add(tail)
                else:
                    self._bounded.setdefault(len(head), {}).setdefault(head, _Literals()).add(tail)
                return
            if len(pieces) == 3 and not pieces[0] and not pieces[2]:
                self._infixes.add(pieces[1])
                return
        runs = literal_runs(pattern)
        if runs:
            self._anchored.add(max(runs, key=len), pattern)
        else:
            no_literal.append(pattern)

    def _one(self, text: str) -> bool:
        if text in self._exact or self._prefixes.prefix_of(text) or self._suffixes.suffix_of(text):
            return True
        if self._infixes.by_length and self._infixes.inside(text):
            return True
        for n, heads in self._bounded.items():  # P*S: one lookup per length of P
            tails = heads.get(text[:n]) if n <= len(text) else None
            if tails is not None and tails.suffix_of(text[n:]):
                return True
        if self._anchored.by_length and self._anchored.match(text):
            return True
        return self._no_literal is not None and self._no_literal.match(text) is not None

    def matches(self, display_path: str) -> bool:
        if self.everything:
            return True
        path = os.path.normcase(display_path)
        if self._one(path):
            return True
        parts = display_path.split("/")
        return len(parts) > 1 and any(self._one(os.path.normcase(part)) for part in parts)


_compiled: dict[int, tuple[tuple[str, ...], ExcludeMatcher]] = {}


def matcher(patterns: tuple[str, ...]) -> ExcludeMatcher:
    """The matcher of a tuple of globs, compiled on first use (keyed by the tuple itself, so that a
    scan's thousands of paths do not hash its thousands of globs each time)."""
    known = _compiled.get(id(patterns))
    if known is not None and known[0] is patterns:
        return known[1]
    compiled = ExcludeMatcher(patterns)
    if len(_compiled) > 16:
        _compiled.clear()
    _compiled[id(patterns)] = (patterns, compiled)
    return compiled


def excluded(display_path: str, patterns: tuple[str, ...]) -> bool:
    return matcher(patterns).matches(display_path)
