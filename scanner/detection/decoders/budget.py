"""What opening archives may cost (`ArchiveLimits`) and the running account of one outermost
archive (`Budget`): decompressed bytes, the decompressed/compressed ratio, and how a limit that
stopped content is counted.

A limit that stopped content is counted in `stats.skipped` (`archive-max-bytes`, ...). When the
scanned repository's own config file lowered that limit (`ArchiveLimits.lowered`), it is a
silencing the repository chose, so it is counted in `stats.suppressed` too
(`config-archive-limit`): a pull request that adds `archive_max_depth: 0` cannot hide an archive
unseen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from scanner.model import ScanStats, Suppression

_RATIO_FLOOR = 1 << 20  # the ratio limit applies past this many bytes (small files compress well)
_PIECE = 1 << 16  # members are read in pieces, so damage late in one keeps what came before


@dataclass(frozen=True)
class ArchiveLimits:
    max_bytes: int = 256 * 1024 * 1024  # decompressed, per outermost archive
    max_depth: int = 4  # archives inside archives; 0: archives are not opened
    max_members: int = 10_000  # per archive
    max_ratio: int = 200  # decompressed / compressed, per member
    max_member: int = 50 * 1024 * 1024  # one member (the scan's --max-file-size)
    # The limits (field names: "max_depth") the scanned repository's config file set below the
    # defaults: what they stop is counted in stats.suppressed as well.
    lowered: frozenset[str] = field(default_factory=frozenset)


class Exceeded(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_CONFIG_NOTE = ("archive content was not scanned because the config file lowered an archive limit "
                "(counted in suppressed: {cause}; the --archive-max-* flags or --no-suppress override it)")


@dataclass
class Budget:
    limits: ArchiveLimits
    stats: ScanStats
    used: int = 0

    def cap(self) -> int:
        """The most one member may decompress to: within the member limit and what is left."""
        return max(0, min(self.limits.max_member, self.limits.max_bytes - self.used))

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.limits.max_bytes:
            raise Exceeded("archive-max-bytes")

    def ratio_cap(self, compressed: int) -> int:
        return max(_RATIO_FLOOR, compressed * self.limits.max_ratio)

    def limit(self, reason: str) -> None:
        """Count a limit (`archive-max-depth`, ...) that kept content from being scanned."""
        count_limit(reason, self.limits, self.stats)


def count_limit(reason: str, limits: ArchiveLimits, stats: ScanStats) -> None:
    stats.skip(reason)
    if reason.removeprefix("archive-").replace("-", "_") in limits.lowered:
        stats.suppress(Suppression.CONFIG_ARCHIVE_LIMIT)
        note = _CONFIG_NOTE.format(cause=Suppression.CONFIG_ARCHIVE_LIMIT.value)
        if note not in stats.notes:
            stats.notes.append(note)


class Counted:
    """Reads from a decompressing stream, charged to the budget and held to the ratio."""

    def __init__(self, read: Callable[[int], bytes], budget: Budget, compressed: int) -> None:
        self._read, self._budget, self._ratio_cap, self.total = read, budget, budget.ratio_cap(compressed), 0

    def read(self, n: int) -> bytes:
        data = self._read(n)
        self.total += len(data)
        if self.total > self._ratio_cap:
            raise Exceeded("archive-max-ratio")
        self._budget.take(len(data))
        return data


def read_up_to(read: Callable[[int], bytes], n: int) -> bytes:
    """At most n bytes, read in pieces (fewer only at the end of the data)."""
    parts: list[bytes] = []
    held = 0
    while held < n and (part := read(min(_PIECE, n - held))):
        parts.append(part)
        held += len(part)
    return b"".join(parts)
