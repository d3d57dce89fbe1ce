"""Standard input as one chunk."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from scanner.model import Chunk, ScanStats


def iter_stdin_chunks(stats: ScanStats) -> Iterator[Chunk]:
    data = sys.stdin.buffer.read()
    stats.files += 1
    stats.bytes += len(data)
    yield Chunk(data=data, path="<stdin>")
