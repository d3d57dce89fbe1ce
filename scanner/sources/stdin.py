"""Standard input as one chunk, read in bounded pieces and never past --max-file-size."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import BinaryIO

from scanner.model import Chunk, ScanStats

PIECE = 1 << 20  # read this much at a time: memory grows with what was read, never more


def read_bounded(stream: BinaryIO, max_size: int) -> bytes | None:
    """Up to max_size bytes of the stream, or None once it holds more (the rest is left unread)."""
    pieces: list[bytes] = []
    total = 0
    while True:
        piece = stream.read(min(PIECE, max_size + 1 - total))
        if not piece:
            return b"".join(pieces)
        pieces.append(piece)
        total += len(piece)
        if total > max_size:
            return None


def iter_stdin_chunks(stats: ScanStats, max_size: int = 50 * 1024 * 1024, notes: list[str] | None = None,
                      stream: BinaryIO | None = None) -> Iterator[Chunk]:
    data = read_bounded(stream or sys.stdin.buffer, max_size)
    if data is None:
        stats.skip("too-large")
        if notes is not None:
            notes.append(f"<stdin> holds more than --max-file-size ({max_size:,} bytes): not scanned")
        return
    stats.files += 1
    stats.bytes += len(data)
    yield Chunk(data=data, path="<stdin>")
