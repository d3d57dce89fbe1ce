"""A decoded view of a text: what detection reads instead, and how its lines map back.

A decoder rewrites parts of a text (a base64 run becomes what it decodes to; an escaped value
its plain form). Findings in the view must point at the original: `original_line` maps a line
of the view to the line of the original text it came from.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class View:
    text: str
    line_starts: tuple[int, ...] = ()  # view line numbers (1-based) where a new mapping starts
    origins: tuple[int, ...] = ()  # the original line each mapping starts at
    steps: tuple[bool, ...] = ()  # True: the mapping advances one original line per view line

    def original_line(self, line: int) -> int:
        if not self.line_starts:
            return line  # a view with the same lines as the original
        i = bisect_right(self.line_starts, line) - 1
        return self.origins[i] + (line - self.line_starts[i] if self.steps[i] else 0)


@dataclass(frozen=True)
class Replacement:
    start: int
    end: int
    text: str  # what the original text[start:end] decodes to


def rewrite(text: str, replacements: list[Replacement]) -> View:
    """The text with each (non-overlapping, sorted) replacement applied; every line of a
    replacement maps to the original line its encoded form starts on."""
    parts: list[str] = []
    line_starts: list[int] = [1]
    origins: list[int] = [1]
    steps: list[bool] = [True]
    view_line, original_line, at = 1, 1, 0
    for rep in replacements:
        kept = text[at:rep.start]
        parts.append(kept)
        view_line += kept.count("\n")
        original_line += kept.count("\n")
        parts.append(rep.text)
        line_starts.append(view_line)
        origins.append(original_line)
        steps.append(False)
        view_line += rep.text.count("\n")
        original_line += text.count("\n", rep.start, rep.end)
        line_end = text.find("\n", rep.end)
        if not rep.text.endswith("\n") and not text[rep.end:len(text) if line_end < 0 else line_end].strip():
            # Nothing of the original continues the replacement's last line: that line is the
            # replacement's, so it keeps the replacement's mapping (a soft-broken QP line).
            view_line, original_line = view_line + 1, original_line + 1
        line_starts.append(view_line)
        origins.append(original_line)
        steps.append(True)
        at = rep.end
    parts.append(text[at:])
    # Where a replacement's last line continues with the original text, both map to one line:
    # bisect_right picks the last mapping starting at that view line, which is the stepping one.
    return View("".join(parts), tuple(line_starts), tuple(origins), tuple(steps))


def find_all(text: str, literals: list[str], limit: int = 10_000) -> list[int]:
    """Where the literals start (at most `limit` places: enough windows for any real file)."""
    found: list[int] = []
    for literal in literals:
        at = text.find(literal)
        while at >= 0 and len(found) < limit:
            found.append(at)
            at = text.find(literal, at + 1)
    return sorted(found)


def in_windows(text: str, hits: list[int], reach: int, transform: Callable[[str], str]) -> str:
    """The text with `transform` (which must keep every newline) applied only within `reach`
    characters of each hit, windows widened to whole lines where a line break is near. So the
    cost of a decoder follows the places that need it, not the size of the file."""
    spans: list[tuple[int, int]] = []
    for hit in hits:
        lo, hi = max(0, hit - reach), min(len(text), hit + reach)
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], hi)
        else:
            spans.append((lo, hi))
    parts: list[str] = []
    at = 0
    for lo, hi in spans:
        start = text.rfind("\n", max(at, lo - reach), lo) + 1 or lo
        start = max(start, at)
        end = text.find("\n", hi, hi + reach)
        end = len(text) if end < 0 and hi + reach >= len(text) else (hi if end < 0 else end)
        parts += [text[at:start], transform(text[start:end])]
        at = end
    parts.append(text[at:])
    return "".join(parts)
