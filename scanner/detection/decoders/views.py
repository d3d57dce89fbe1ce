"""A decoded view of a text: what detection reads instead, and how its lines map back.

A decoder rewrites parts of a text (a base64 run becomes what it decodes to; an escaped value
its plain form). Findings in the view must point at the original: `original_line` maps a line
of the view to the line of the original text it came from.
"""

from __future__ import annotations

from bisect import bisect_right
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
        line_starts.append(view_line)
        origins.append(original_line)
        steps.append(True)
        at = rep.end
    parts.append(text[at:])
    # Where a replacement's last line continues with the original text, both map to one line:
    # bisect_right picks the last mapping starting at that view line, which is the stepping one.
    return View("".join(parts), tuple(line_starts), tuple(origins), tuple(steps))
