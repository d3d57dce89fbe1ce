"""The printable text inside binary bytes, as `strings` shows it: ASCII runs and UTF-16LE runs of
at least four characters, one run a line (so NUL-separated `KEY=value` entries of an environment
dump become lines a label can pair on).

Used for the raw bytes of an archive stsleak cannot open, or could open only in part: what
survives as plain bytes (a stored zip member, a tar's data) is still scanned. Two linear regex
passes; a run's line number is its place among the runs, not a line of the binary.
"""

from __future__ import annotations

import re

_ASCII_RUN = re.compile(rb"[\t\x20-\x7e]{4,}")
_UTF16LE_RUN = re.compile(rb"(?:[\t\x20-\x7e]\x00){4,}")


def printable_runs(data: bytes) -> bytes:
    """The ASCII runs, then the UTF-16LE runs (as ASCII), each on its own line."""
    runs = _ASCII_RUN.findall(data)
    if b"\x00" in data:
        runs += [run[::2] for run in _UTF16LE_RUN.findall(data)]
    return b"\n".join(runs) + b"\n" if runs else b""
