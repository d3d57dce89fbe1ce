"""Process-wide runtime settings every front that scans sets once at start (the CLI, the org fork server)."""

from __future__ import annotations

import gc


def collect_garbage_less_often() -> None:
    """The process-wide collector setting a scan runs with (set once, at start).

    A scan makes many small objects that form no cycles (a Candidate, a set and a Finding per key
    id: one per 21 bytes of a text of key ids), and CPython's default (a collection every 700 new
    objects, a full one whenever the survivors grew by a quarter) then spends 30-40% of the time
    walking them again and again. Collecting every 100,000 allocations, and full collections far
    more rarely, keeps cycles collected while that cost vanishes; what was imported before is
    frozen out of every collection (`gc.freeze`)."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
