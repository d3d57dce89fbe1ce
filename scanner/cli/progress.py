"""Progress on a terminal: renders what the sources report (scanner.sources.Progress) with rich.

Shown only on a terminal's stderr, never with --quiet or for --staged (see `scan_progress`). rich
is imported only once something is about to be drawn, and nothing is drawn before `delay` seconds
have passed: a short scan neither imports rich nor flickers. rich draws at most 10 frames a second
(its own refresh thread, so a long step without updates still shows its spinner and clock); counts
are handed to it at most as often, so an update in between costs one clock read, and a new step is
handed over at once but drawn with the next frame (a step shorter than a frame may never be seen).
The bar is transient: it is gone before the report is printed.

Each step shows its own counts: a bar only when the step has totals (bytes, else objects), the
rate (MB/s and objects/s, files/s for a walk) once it has run a moment, and an ETA when the totals
are known.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

from scanner.sources import NO_PROGRESS, Progress

_DELAY = 0.3
REFRESH_PER_SECOND = 10  # the most frames a second
_RATE_AFTER = 0.5  # seconds into a step before a rate (and so an ETA) means anything


@dataclass
class Step:
    """One step of a scan as the sources told it, and what to show of it."""

    label: str
    unit: str  # what the objects are: "objects" (history) or "files" (a walk)
    started: float
    total_objects: int = 0
    total_bytes: int = 0
    objects: int = 0
    nbytes: int = 0

    def detail(self, now: float) -> str:
        """The counts, rates and ETA shown after the bar, e.g. "1.2/3.4 GB  120/460 objects  85.0 MB/s
        4,000 objects/s  ETA 0:27"."""
        parts = []
        if self.total_bytes:
            parts.append(f"{size(self.nbytes)}/{size(self.total_bytes)}")
        if self.total_objects:
            parts.append(f"{self.objects:,}/{self.total_objects:,} {self.unit}")
        elif self.objects:
            parts.append(f"{self.objects:,} {self.unit}")
        if self.nbytes and not self.total_bytes:
            parts.append(size(self.nbytes))
        elapsed = now - self.started
        if elapsed >= _RATE_AFTER and (self.objects or self.nbytes):
            if self.nbytes:
                parts.append(f"{size(self.nbytes / elapsed)}/s")
            if self.objects:
                parts.append(f"{self.objects / elapsed:,.0f} {self.unit}/s")
            eta = self.eta(elapsed)
            if eta is not None:
                parts.append(f"ETA {clock(eta)}")
        return "  ".join(parts)

    def eta(self, elapsed: float) -> float | None:
        """Seconds left at the rate so far: by bytes when their total is known, else by objects."""
        done, total = (self.nbytes, self.total_bytes) if self.total_bytes else (self.objects, self.total_objects)
        if not total or not done or elapsed <= 0:
            return None
        return max(total - done, 0) / (done / elapsed)

    @property
    def bar(self) -> tuple[int | None, int]:
        """(total, completed) of the bar: bytes when their total is known, else objects; no total, no bar."""
        if self.total_bytes:
            return self.total_bytes, self.nbytes
        if self.total_objects:
            return self.total_objects, self.objects
        return None, 0


def size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class TerminalProgress:
    """A `Progress` drawn with rich on a terminal stream."""

    def __init__(self, stream: IO[str], delay: float = _DELAY, interval: float = 1 / REFRESH_PER_SECOND,
                 unit: str = "objects", clock: Callable[[], float] = time.monotonic,
                 make_bar: Callable[[IO[str]], Any] | None = None) -> None:
        self._stream, self._interval, self._unit, self._clock = stream, interval, unit, clock
        self._make_bar = make_bar or _make_bar
        self._show_at = clock() + delay
        self._next = self._show_at
        self._bar: Any = None  # rich.progress.Progress, once shown
        self._task: Any = None
        self._step = Step("", unit, self._show_at)

    def stage(self, label: str, total_objects: int = 0, total_bytes: int = 0) -> None:
        now = self._clock()
        self._step = Step(label, self._unit, now, total_objects, total_bytes)
        self._hand_over(now)  # the new step, in rich's next frame

    def update(self, objects: int, nbytes: int = 0) -> None:
        self._step.objects, self._step.nbytes = objects, nbytes
        now = self._clock()
        if now >= self._next:
            self._hand_over(now)

    def _hand_over(self, now: float) -> None:
        """Give rich the step's counts; it draws them with its next frame."""
        if now < self._show_at:
            return
        self._next = now + self._interval
        step = self._step
        total, completed = step.bar
        fields = {"detail": step.detail(now), "bar": total is not None}
        if self._bar is None:
            self._bar = self._make_bar(self._stream)
            self._task = self._bar.add_task(step.label, total=total, completed=completed, **fields)
            self._bar.start()  # its first frame shows this step
            return
        # One task for the whole scan, changed in place: rich draws it with its next frame (a new
        # task or a reset would draw at once, past the 10 frames a second). A total rich cannot
        # unset: the "bar" field hides the bar of a step without one.
        self._bar.update(self._task, description=step.label, total=total, completed=completed, **fields)

    def close(self) -> None:
        if self._bar is not None:
            if self._task is not None:
                self._hand_over(max(self._clock(), self._show_at))  # the last counts, in rich's last frame
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _make_bar(stream: IO[str]) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress
    from rich.text import Text

    class TotalsBar(BarColumn):
        """A bar only for a step whose total is known: none rather than a bar that says nothing."""

        def render(self, task: Any) -> Any:
            return super().render(task) if task.fields.get("bar") else Text("")

    console = Console(file=stream, stderr=stream is sys.stderr)
    return RichProgress(SpinnerColumn(), TextColumn("{task.description}"), TotalsBar(),
                        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=console,
                        auto_refresh=True, refresh_per_second=REFRESH_PER_SECOND, transient=True)


@contextmanager
def scan_progress(mode: str, quiet: bool, stream: IO[str] | None = None) -> Iterator[Progress]:
    """The progress a scan in this mode shows: on a terminal's stderr, for history and file walks,
    unless --quiet; otherwise none. Cleared when the block ends."""
    stream = stream if stream is not None else sys.stderr
    if quiet or mode not in ("history", "files") or not _is_terminal(stream):
        yield NO_PROGRESS
        return
    with TerminalProgress(stream, _delay(), unit="files" if mode == "files" else "objects") as progress:
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
