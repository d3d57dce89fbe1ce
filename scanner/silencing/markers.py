"""Inline allow comments: a line holding a marker silences the credential sets with a part on it."""

from __future__ import annotations

from scanner.detection.decoders.views import find_all
from scanner.detection.lines import Lines

ALLOW_MARKERS = ("stsleak:allow", "pragma: allowlist secret")


class MarkedLines:
    """The lines of one text that hold an allow marker, found once; each set is then judged by the
    line numbers of its parts (a bisect each), so ten thousand sets on one long marked line cost
    what ten thousand lookups cost, not ten thousand copies of the line."""

    def __init__(self, text: str, lines: Lines) -> None:
        self._lines = lines
        every = len(text) + 1  # no limit: each marker counts
        self._marked = {lines.line_of(at) for at in find_all(text, list(ALLOW_MARKERS), limit=every)}

    def allow(self, positions: list[int]) -> bool:
        """True when the line of any of these positions (a set's parts) holds an allow marker."""
        return bool(self._marked) and any(self._lines.line_of(pos) in self._marked for pos in positions)

