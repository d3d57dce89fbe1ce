"""Progress on a terminal: renders what the sources report (scanner.sources.Progress) with rich.

Shown only on a terminal's stderr, never with --quiet or for --staged (see `for_scan`). rich is
imported only once something is about to be drawn, and nothing is drawn before `delay` seconds
have passed: a short scan neither imports rich nor flickers. Redrawn at most `1 / interval`
times a second; an update in between costs one clock read. The bar is transient: it is gone
before the report is printed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import IO, Any

from scanner.sources import NO_PROGRESS, Progress

_DELAY = 0.3


class TerminalProgress:
    """A `Progress` drawn with rich on a terminal stream."""

    def __init__(self, stream: IO[str], delay: float = _DELAY, interval: float = 0.1) -> None:
        self._stream, self._interval = stream, interval
        self._show_at = time.monotonic() + delay
        self._next = self._show_at
        self._bar: Any = None  # rich.progress.Progress, once shown
        self._task: Any = None
        self._label, self._objects, self._bytes = "", 0, 0
        self._total_objects = self._total_bytes = 0
        self._changed = False

    def stage(self, label: str, total_objects: int = 0, total_bytes: int = 0) -> None:
        self._label, self._total_objects, self._total_bytes = label, total_objects, total_bytes
        self._objects = self._bytes = 0
        self._changed = True
        self._draw(time.monotonic())

    def update(self, objects: int, nbytes: int = 0) -> None:
        self._objects, self._bytes = objects, nbytes
        now = time.monotonic()
        if now >= self._next:
            self._draw(now)

    def _draw(self, now: float) -> None:
        if now < self._show_at:
            return
        self._next = now + self._interval
        if self._bar is None:
            self._bar = _make_bar(self._stream)
            self._bar.start()
        if self._changed or self._task is None:
            if self._task is not None:
                self._bar.remove_task(self._task)
            self._task = self._bar.add_task(self._label, total=self._total_bytes or None, objects="")
            self._changed = False
        self._bar.update(self._task, completed=self._bytes, objects=self._count_text())
        self._bar.refresh()

    def _count_text(self) -> str:
        if self._total_objects:
            return f"{self._objects:,}/{self._total_objects:,} objects"
        return f"{self._objects:,} objects" if self._objects else ""

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _make_bar(stream: IO[str]) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import (
        Progress as RichProgress,
    )

    console = Console(file=stream, stderr=stream is sys.stderr)
    return RichProgress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                        TextColumn("{task.fields[objects]}"), TimeElapsedColumn(), console=console,
                        auto_refresh=False, transient=True)


@contextmanager
def scan_progress(mode: str, quiet: bool, stream: IO[str] | None = None) -> Iterator[Progress]:
    """The progress a scan in this mode shows: on a terminal's stderr, for history and file walks,
    unless --quiet; otherwise none. Cleared when the block ends."""
    stream = stream if stream is not None else sys.stderr
    if quiet or mode not in ("history", "files") or not _is_terminal(stream):
        yield NO_PROGRESS
        return
    with TerminalProgress(stream, _delay()) as progress:
        yield progress


def _delay() -> float:
    """Seconds before anything is drawn; STSLEAK_PROGRESS_DELAY changes it (tests use 0)."""
    import os

    try:
        return max(0.0, float(os.environ.get("STSLEAK_PROGRESS_DELAY", _DELAY)))
    except ValueError:
        return _DELAY


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
