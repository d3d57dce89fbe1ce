"""Line numbers of positions in one text: newline offsets found in one pass, looked up by bisect."""

from __future__ import annotations

import re
from bisect import bisect_left

_NEWLINE = re.compile("\n")


class Lines:
    """0-based line numbers and line bounds; the newline offsets are found once, on first use."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._newlines: list[int] | None = None

    @property
    def newlines(self) -> list[int]:
        if self._newlines is None:
            self._newlines = [m.start() for m in _NEWLINE.finditer(self._text)]
        return self._newlines

    def line_of(self, pos: int) -> int:
        return bisect_left(self.newlines, pos)

    def start_of(self, line: int) -> int:
        """Offset of the first character of a line (clamped to the text)."""
        if line <= 0:
            return 0
        newlines = self.newlines
        return newlines[min(line, len(newlines)) - 1] + 1

    def end_of(self, line: int) -> int:
        """Offset of the newline that ends a line (the text's length for the last line)."""
        newlines = self.newlines
        return newlines[line] if 0 <= line < len(newlines) else len(self._text)
