"""One compressed stream (gzip, xz, lzma, bzip2), decompressed on demand, as `zcat`/`xzcat` do.

`Decompressed(data, kind).read(n)` gives up to n bytes (fewer only at the end) and never raises
for damaged input: decompression stops where the damage is, what came before is kept, and
`damaged` says why ("truncated", "corrupt", "trailing data"). Streams written back to back (`cat
a.gz b.gz`, pbzip2, multi-stream xz) are read one after another; zero padding after the last one
is ignored (tape blocks, xz stream padding).

The input is fed in 64 KiB pieces and every call asks for at most the bytes wanted, so the work
is bounded by the bytes present and the bytes asked for, never by a size a header claims.
"""

from __future__ import annotations

import re
import zlib
from typing import Protocol

_FEED = 1 << 16
_LZMA_MEMLIMIT = 1 << 28  # xz -9 needs 65 MiB to decompress; a header asking for more is refused
_NONZERO = re.compile(rb"[^\x00]")


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int = -1, /) -> bytes: ...


class _Gzip:
    """zlib's gzip decoder with the interface of lzma's and bz2's decompressors."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(31)  # 16 + 15: a gzip header and trailer, checked

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def needs_input(self) -> bool:
        return not self._d.unconsumed_tail

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data

    def decompress(self, data: bytes, max_length: int = -1, /) -> bytes:
        tail = self._d.unconsumed_tail
        return self._d.decompress(tail + data if tail else data, max(0, max_length))


def _decompressor(kind: str) -> _Decompressor:
    if kind == "gzip":
        return _Gzip()
    if kind == "bzip2":
        import bz2

        return bz2.BZ2Decompressor()
    import lzma

    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ if kind == "xz" else lzma.FORMAT_ALONE,
                                 memlimit=_LZMA_MEMLIMIT)


def _errors() -> tuple[type[BaseException], ...]:
    import lzma

    return (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, MemoryError)


COMPRESSED_KINDS = ("gzip", "xz", "lzma", "bzip2")


class Decompressed:
    """`max_streams`: streams back to back past this many are not read (`too_many_streams`): a
    file of a million 20-byte gzip streams costs what 10,000 do."""

    def __init__(self, data: bytes, kind: str, max_streams: int = 10_000) -> None:
        self._data, self._kind, self._pos, self._streams = data, kind, 0, 1
        self._max_streams, self.too_many_streams = max_streams, False
        self._view = memoryview(data)
        self._d = _decompressor(kind)
        self._errors = _errors()
        self.damaged: str | None = None
        self._done = False

    def read(self, n: int) -> bytes:
        parts: list[bytes] = []
        got = idle = 0
        while got < n and not self._done:
            before = (self._pos, self._streams)
            try:
                piece = self._step(n - got)
            except self._errors:
                self._stop("corrupt" if self._streams == 1 else "trailing data")
                break
            if piece:
                parts.append(piece)
                got += len(piece)
            idle = 0 if piece or (self._pos, self._streams) != before else idle + 1
            if idle > 16:  # neither output nor input moved: never spin
                self._stop("corrupt")
        return b"".join(parts)

    def _stop(self, why: str | None) -> None:
        self._done = True
        if why and self.damaged is None:
            self.damaged = why

    def _step(self, want: int) -> bytes:
        d = self._d
        if d.eof:
            self._next_stream()
            return b""
        if not d.needs_input:
            return d.decompress(b"", want)
        if self._pos >= len(self._data):
            out = d.decompress(b"", want)  # what the decompressor still holds
            if not out and not d.eof:
                self._stop("truncated" if self._streams == 1 else "trailing data")
            return out
        feed = self._view[self._pos:self._pos + _FEED]
        self._pos += len(feed)
        return d.decompress(bytes(feed), want)

    def _next_stream(self) -> None:
        self._pos -= len(self._d.unused_data)
        if _NONZERO.search(self._data, self._pos) is None:  # the end, or zero padding only
            self._stop(None)
            return
        if self._streams >= self._max_streams:
            self.too_many_streams = True
            self._stop(None)
            return
        self._streams += 1
        self._d = _decompressor(self._kind)
