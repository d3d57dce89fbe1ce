"""Which groups of decoder literals occur in a buffer, cheaply.

Small scans (a pre-commit run) use one `bytes.find` per literal: no import, no compile. Once a
scan has looked at more than HYPERSCAN_AFTER bytes (or Hyperscan is loaded already, as in a
history scan), one Hyperscan database (when its wheel is
installed) finds every literal of every group in a single pass at memory speed.
"""

from __future__ import annotations

import contextlib
import sys

HYPERSCAN_AFTER = 512 << 10  # about what importing Hyperscan and compiling the literals cost


class LiteralGroups:
    def __init__(self, groups: dict[str, list[bytes]]) -> None:
        self._groups = groups
        self._owner = [(name, lit) for name, lits in groups.items() for lit in lits]
        self._seen = 0
        self._scan: object | None = None  # the compiled database's scan, once built
        self._tried = False

    def present(self, data: bytes) -> set[str]:
        self._seen += len(data)
        if not self._tried and (self._seen > HYPERSCAN_AFTER or "hyperscan" in sys.modules):
            self._tried = True
            with contextlib.suppress(ImportError):
                self._scan = _compile([lit for _, lit in self._owner])
        if self._scan is None:
            return {name for name, lits in self._groups.items() if any(lit in data for lit in lits)}
        found: set[str] = set()

        def on_match(index: int, _start: int, _end: int, _flags: int, _ctx: object) -> None:
            found.add(self._owner[index][0])

        self._scan(data, match_event_handler=on_match)  # type: ignore[operator]
        return found


def _compile(literals: list[bytes]) -> object:
    import hyperscan

    db = hyperscan.Database()
    db.compile(expressions=["".join(f"\\x{b:02x}" for b in lit).encode() for lit in literals],
               ids=list(range(len(literals))), elements=len(literals),
               flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(literals))
    return db.scan
