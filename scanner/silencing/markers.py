"""Inline allow comments: a line holding a marker silences the credential sets with a part on it."""

from __future__ import annotations

from scanner.detection.lines import Lines

ALLOW_MARKERS = ("stsleak:allow", "pragma: allowlist secret")


class MarkedLines:
    """The lines of one text that hold an allow marker, found once; each set is then judged by the
    line numbers of its parts (a bisect each), so ten thousand sets on one long marked line cost
    what ten thousand lookups cost, not ten thousand copies of the line."""

    def __init__(self, text: str, lines: Lines) -> None:
        self._lines = lines
        self._marked = {lines.line_of(at) for marker in ALLOW_MARKERS for at in _find_all(text, marker)}

    def allow(self, positions: list[int]) -> bool:
        """True when the line of any of these positions (a set's parts) holds an allow marker."""
        return bool(self._marked) and any(self._lines.line_of(pos) in self._marked for pos in positions)


def _find_all(text: str, literal: str) -> list[int]:
    found, at = [], text.find(literal)
    while at >= 0:
        found.append(at)
        at = text.find(literal, at + 1)
    return found
