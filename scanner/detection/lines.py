"""Line numbers of positions in one text: newline offsets found in one pass, looked up by bisect."""

from __future__ import annotations

from bisect import bisect_left


class Lines:
    """Line numbers counted from `first` (0 unless told). Newlines are indexed lazily, only as far as
    the furthest position asked for, and each is found once: the whole cost is one pass over that
    prefix plus a bisect per call."""

    def __init__(self, text: str, first: int = 0) -> None:
        self._text = text
        self._first = first
        self._newlines: list[int] = []
        self._done = 0  # every newline before this offset is in _newlines

    def line_of(self, pos: int) -> int:
        if pos > self._done:
            find, newlines = self._text.find, self._newlines
            at = find("\n", self._done)
            while 0 <= at < pos:
                newlines.append(at)
                at = find("\n", at + 1)
            self._done = len(self._text) if at < 0 else at  # the next newline is not yet recorded
        return bisect_left(self._newlines, pos) + self._first
