"""Issue 26 #5: progress says how long. On a pseudo-terminal (as the interactive revoke tests drive one):
each step shows its own counts ("reading N objects with hits" counts those N, never a bar with 0/?),
history steps their rate (MB/s, objects/s) and an ETA once totals are known, walks files/s; rich draws
at most 10 frames a second and the counts are handed to it no more often. A fake clock stands in for
time where rates are checked: nothing here measures time."""

from __future__ import annotations

import io
import random
import sys
import textwrap
from typing import Any

import pytest

from scanner.cli.progress import REFRESH_PER_SECOND, Step, TerminalProgress, _make_bar
from scanner.testing import fakes
from tests.cli.test_progress import _run_on_terminal, _stderr_on_terminal
from tests.support.cli import GitRepo
from tests.support.core import ini

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")


def _terminal_of(script: str) -> str:
    """What a Python script writing progress to a pseudo-terminal (its stderr) showed."""
    proc, terminal = _stderr_on_terminal([sys.executable, "-c", textwrap.dedent(script)],
                                         env={"COLUMNS": "160"}, what="script")
    assert proc.wait() == 0, terminal
    return terminal


# Each step of a scan, on a fake clock: the frame rich draws last (when the bar stops) shows its counts.
_STEPS = """
    import sys
    from scanner.cli.progress import TerminalProgress

    now = [1000.0]
    def clock():
        return now[0]

    with TerminalProgress(sys.stderr, delay=0, clock=clock) as progress:
        progress.stage("streaming blobs", 460, 3_400_000_000)
        for i in range(1, 101):
            now[0] += 0.1
            progress.update(i * 12 // 10, i * 12_000_000)
    print("STREAMED", file=sys.stderr)
    with TerminalProgress(sys.stderr, delay=0, clock=clock) as progress:
        progress.stage("reading 7 objects with hits", 7)
        for i in range(1, 4):
            now[0] += 1.0
            progress.update(i)
    with TerminalProgress(sys.stderr, delay=0, unit="files", clock=clock) as progress:
        progress.stage("scanning files")
        now[0] += 3.0
        progress.update(1234, 56_700_000)
"""


def test_each_step_shows_its_rate_and_eta_on_a_terminal() -> None:
    terminal = _terminal_of(_STEPS)
    streamed, rest = terminal.split("STREAMED", 1)
    # 10 s in: 1.2 of 3.4 GB at 120 MB/s, 120 of 460 objects: 18 s to go
    assert "streaming blobs" in streamed
    for text in ("1.2 GB/3.4 GB", "120/460 objects", "120.0 MB/s", "12 objects/s", "ETA 0:18"):
        assert text in streamed, (text, streamed)
    reading, walk = rest.split("scanning files", 1)
    assert "reading 7 objects with hits" in reading
    for text in ("3/7 objects", "1 objects/s", "ETA 0:04"):
        assert text in reading, (text, reading)
    assert "0/?" not in terminal and " B/? " not in terminal
    for text in ("1,234 files", "56.7 MB", "18.9 MB/s", "411 files/s"):
        assert text in walk, (text, walk)
    assert "ETA" not in walk  # a walk has no totals


def test_the_reading_step_counts_its_own_objects_in_a_real_scan(repo: GitRepo) -> None:
    """A credential only in a commit message: the scan's last step is "reading 1 object with hits"."""
    repo.commit("readme", {"README.md": "hello\n"})
    repo.git("commit", "--allow-empty", "-q", "-m", "deploy\n\n" + ini(fakes.temporary(random.Random(7))))
    code, _, terminal = _run_on_terminal("scan", "--history", "--format", "json", str(repo.path))
    assert code == 1, terminal
    assert "reading 1 object with hits" in terminal and "1/1 objects" in terminal, terminal
    assert "0/?" not in terminal and "Traceback" not in terminal


def test_a_walk_counts_files(repo: GitRepo) -> None:
    for i in range(3):
        repo.write(f"f{i}.txt", "hello\n")
    code, _, terminal = _run_on_terminal("scan", "--format", "json", ".", cwd=repo.path)
    assert code == 0, terminal
    assert "scanning files" in terminal and "3 files" in terminal, terminal
    assert "objects" not in terminal


class _Bar:
    """Stands in for rich's Progress: counts what TerminalProgress hands over."""

    def __init__(self, _stream: Any) -> None:
        self.updates = 0
        self.refreshes = 0
        self.started = self.stopped = False

    def add_task(self, *_: Any, **__: Any) -> int:
        return 1

    def update(self, *_: Any, **__: Any) -> None:
        self.updates += 1

    def refresh(self) -> None:
        self.refreshes += 1

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True


def test_counts_are_handed_over_at_most_ten_times_a_second() -> None:
    now = [0.0]
    bars: list[_Bar] = []

    def make(stream: Any) -> _Bar:
        bars.append(_Bar(stream))
        return bars[-1]

    progress = TerminalProgress(io.StringIO(), delay=0, clock=lambda: now[0], make_bar=make)
    progress.stage("streaming blobs", 100_000, 10**9)
    for i in range(100_000):  # 100,000 updates over 5 s of the fake clock
        now[0] += 0.00005
        progress.update(i, i * 10_000)
    progress.close()
    (bar,) = bars
    assert bar.started and bar.stopped and bar.refreshes == 0  # frames are rich's, at its own pace
    assert bar.updates <= 5 * REFRESH_PER_SECOND + 2, bar.updates


def test_rich_draws_at_most_ten_frames_a_second() -> None:
    bar = _make_bar(io.StringIO())
    assert bar.live.auto_refresh and bar.live.refresh_per_second <= 10


def test_no_rate_in_the_first_half_second() -> None:
    step = Step("streaming blobs", "objects", started=0.0, total_objects=10, total_bytes=1000, objects=1, nbytes=100)
    assert "/s" not in step.detail(0.2) and "ETA" not in step.detail(0.2)
    assert "ETA 0:05" in step.detail(0.5) and "200 B/s" in step.detail(0.5)


def test_the_bar_follows_bytes_else_objects_else_none() -> None:
    assert Step("s", "objects", 0.0, 5, 900, 2, 300).bar == (900, 300)
    assert Step("r", "objects", 0.0, 7, 0, 3, 0).bar == (7, 3)
    assert Step("l", "objects", 0.0, 0, 0, 50, 4000).bar == (None, 0)

