"""Sources: bytes plus where they came from (`Chunk`s). They know nothing of AWS.

Every source is an iterable of `Chunk`s (`Source`). A history source takes a `Prefilter` so that it
reads again only the blobs worth detecting in; the prefilter itself is built by the detection stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from scanner.model import Chunk

PathFilter = Callable[[str], bool]
"""True when a path is excluded; the pipeline builds it from the excludes (silencing/excludes.py)."""


class Source(Protocol):
    def __iter__(self) -> Iterator[Chunk]: ...


OnHit = Callable[[int], int]
"""Called with a match's end offset in the buffer; returns the offset to go on scanning from."""


class BufferScanner(Protocol):
    def scan(self, buf: bytearray, start: int, end: int, on_hit: OnHit) -> None: ...


class Prefilter(Protocol):
    longest: int  # length of the longest literal: a match spans at most this many bytes

    def __call__(self, data: bytes | bytearray | memoryview) -> bool: ...

    def buffer_scanner(self) -> BufferScanner: ...


class Progress(Protocol):
    """How far a long scan has got, told by the sources; the CLI renders it (scanner/cli/progress.py).

    Sources never import a renderer. `stage` starts a step (totals 0 when unknown); `update` gives
    the counts done so far in it (absolute, not increments). Both may be called often: the
    renderer throttles itself, so a call must stay cheap. Called from one thread at a time.
    """

    def stage(self, label: str, total_objects: int = 0, total_bytes: int = 0) -> None: ...

    def update(self, objects: int, nbytes: int = 0) -> None: ...


class NoProgress:
    """Progress that shows nothing (not a terminal, --quiet, --staged, library use)."""

    def stage(self, label: str, total_objects: int = 0, total_bytes: int = 0) -> None:
        pass

    def update(self, objects: int, nbytes: int = 0) -> None:
        pass


NO_PROGRESS: Progress = NoProgress()
