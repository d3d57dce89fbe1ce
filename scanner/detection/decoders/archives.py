"""Archives and compression: .zip (.jar, .whl, Lambda packages, .docx), .gz, .tar, .tar.gz/.tgz,
nested up to a depth; a `docker save` or OCI image tarball is a tar of (gzipped) tars.

Recognised by magic bytes, never by name: `PK\\x03\\x04` (zip), `1f 8b 08` (gzip), `ustar` at
offset 257 (POSIX and GNU tar; old v7 tars without that magic are not recognised). A member
becomes a chunk of its own whose path reads `archive.zip!dir/file.py`; a gzip file's single
stream keeps the file's path. In history the chunk path starts with `!` and the pipeline puts the
blob's path in front.

Against bombs (`ArchiveLimits`, all configurable): decompressed bytes per outermost archive,
decompressed/compressed ratio (once a member is past 1 MiB), nesting depth and member count.
Members are read one at a time with capped reads; tar and gzip are streamed. An exceeded limit
or a corrupt, encrypted or unsupported member is counted in `stats.skipped` (`archive-…`) and
the scan goes on.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import IO, Any

from scanner.model import Chunk, ScanStats

ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b\x08"
TAR_MAGICS = (b"ustar\x0000", b"ustar  \x00")
_TAR_MAGIC_AT = 257
_RATIO_FLOOR = 1 << 20  # the ratio limit applies past this many bytes (small files compress well)


@dataclass(frozen=True)
class ArchiveLimits:
    max_bytes: int = 256 * 1024 * 1024  # decompressed, per outermost archive
    max_depth: int = 4  # archives inside archives; 0: archives are not opened
    max_members: int = 10_000  # per archive
    max_ratio: int = 200  # decompressed / compressed, per member
    max_member: int = 50 * 1024 * 1024  # one member (the scan's --max-file-size)


def magic_literals() -> list[bytes]:
    return [ZIP_MAGIC, GZIP_MAGIC, *TAR_MAGICS]


def archive_kind(data: bytes) -> str | None:
    if data.startswith(ZIP_MAGIC):
        return "zip"
    if data.startswith(GZIP_MAGIC):
        return "gzip"
    if data[_TAR_MAGIC_AT:_TAR_MAGIC_AT + 8] in TAR_MAGICS:
        return "tar"
    return None


class _Exceeded(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


@dataclass
class _Budget:
    limits: ArchiveLimits
    stats: ScanStats
    used: int = 0

    def cap(self) -> int:
        """The most one member may decompress to: within the member limit and what is left."""
        return max(0, min(self.limits.max_member, self.limits.max_bytes - self.used))

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.limits.max_bytes:
            raise _Exceeded("archive-max-bytes")


def _ratio_cap(compressed: int, limits: ArchiveLimits) -> int:
    return max(_RATIO_FLOOR, compressed * limits.max_ratio)


class _Counted(io.RawIOBase):
    """A decompressing stream whose output is charged to the budget and held to the ratio."""

    def __init__(self, inner: IO[bytes] | io.BufferedIOBase, budget: _Budget, ratio_cap: int) -> None:
        self._inner, self._budget, self._ratio_cap, self.total = inner, budget, ratio_cap, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.total += n
        if self.total > self._ratio_cap:
            raise _Exceeded("archive-max-ratio")
        self._budget.take(n)
        return n


def _read_capped(raw: IO[bytes], budget: _Budget, compressed: int, cap: int) -> bytes:
    counted = io.BufferedReader(_Counted(raw, budget, _ratio_cap(compressed, budget.limits)))
    return counted.read(cap + 1)


def _safe_name(name: str) -> str:
    """A member name as shown: no control characters (no forged report lines)."""
    return "".join(c if c.isprintable() else "\ufffd" for c in name)[:1024]


def _member(chunk: Chunk, name: str | None, data: bytes) -> Chunk:
    path = chunk.path if name is None else f"{chunk.path or ''}!{_safe_name(name)}"
    return replace(chunk, data=data, path=path, previous=None)


def _zip_entries(data: bytes) -> int | None:
    """How many members the end-of-central-directory record announces (None: none found)."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if at < 0 or at + 22 > len(data):
        return None
    entries, cd_size = struct.unpack_from("<HI", data, at + 10)
    return cd_size // 46 if entries == 0xFFFF else entries  # zip64: bounded by the directory's size


def _zip_members(chunk: Chunk, budget: _Budget) -> Iterator[Chunk]:
    import zipfile

    entries = _zip_entries(chunk.data)
    if entries is not None and entries > budget.limits.max_members:
        budget.stats.skip("archive-max-members")
        return
    with zipfile.ZipFile(io.BytesIO(chunk.data)) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                budget.stats.skip("archive-encrypted")
                continue
            if info.file_size > budget.limits.max_member:
                budget.stats.skip("too-large")
                continue
            cap = budget.cap()
            try:
                with archive.open(info) as raw:
                    data = _read_capped(raw, budget, info.compress_size, cap)
            except NotImplementedError:  # a compression method zipfile lacks
                budget.stats.skip("archive-unsupported")
                continue
            except _Exceeded as exc:
                if exc.reason != "archive-max-ratio":
                    raise
                budget.stats.skip(exc.reason)  # this member only
                continue
            if len(data) > cap:
                raise _Exceeded("archive-max-bytes")
            yield _member(chunk, info.filename, data)


def _tar_members(chunk: Chunk, stream: IO[bytes], budget: _Budget) -> Iterator[Chunk]:
    import tarfile

    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for entries, info in enumerate(archive, 1):
            if entries > budget.limits.max_members:  # directories and links count: tarfile keeps each header
                budget.stats.skip("archive-max-members")
                return
            if not info.isfile():
                continue
            if info.size > budget.limits.max_member:
                budget.stats.skip("too-large")
                continue
            if info.size > budget.cap():
                raise _Exceeded("archive-max-bytes")
            handle = archive.extractfile(info)
            if handle is not None:
                yield _member(chunk, info.name, handle.read(info.size))


class _Prepended(io.RawIOBase):
    """`head` followed by the rest of a stream (what was peeked at, then the remainder)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _gzip_members(chunk: Chunk, budget: _Budget) -> Iterator[Chunk]:
    import gzip

    cap = budget.cap()
    with gzip.GzipFile(fileobj=io.BytesIO(chunk.data)) as raw:
        counted = io.BufferedReader(_Counted(raw, budget, _ratio_cap(len(chunk.data), budget.limits)))
        head = counted.read(512)
        if archive_kind(head) == "tar":  # .tar.gz / .tgz / an OCI layer: stream the tar
            yield from _tar_members(chunk, io.BufferedReader(_Prepended(head, counted)), budget)
            return
        data = head + counted.read(max(0, cap + 1 - len(head)))
    if len(data) > cap:
        raise _Exceeded("archive-max-bytes")
    yield _member(chunk, None, data)


def _members(chunk: Chunk, kind: str, budget: _Budget) -> Iterator[Chunk]:
    if kind == "zip":
        return _zip_members(chunk, budget)
    if kind == "gzip":
        return _gzip_members(chunk, budget)
    return _tar_members(chunk, io.BytesIO(chunk.data), budget)


def _expand(chunk: Chunk, kind: str, depth: int, budget: _Budget) -> Iterator[Chunk]:
    import tarfile
    import zipfile
    import zlib

    count = 0
    try:
        for member in _members(chunk, kind, budget):
            count += 1
            if count > budget.limits.max_members:
                budget.stats.skip("archive-max-members")
                return
            inner = archive_kind(member.data)
            if inner is None:
                yield member
            elif depth >= budget.limits.max_depth:
                budget.stats.skip("archive-max-depth")
            else:
                yield from _expand(member, inner, depth + 1, budget)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError, ValueError,
            struct.error, RuntimeError):
        budget.stats.skip("archive-corrupt")
    except _Exceeded as exc:
        if exc.reason != "archive-max-ratio":
            raise  # the whole outermost archive is over budget
        budget.stats.skip(exc.reason)  # a gzip stream: this (inner) archive stops here


_OPTION = {"archive-max-bytes": "--archive-max-bytes", "archive-max-depth": "--archive-max-depth",
           "archive-max-members": "--archive-max-members", "archive-max-ratio": "--archive-max-ratio"}


def limit_notes(skipped: dict[str, int]) -> list[str]:
    """One note per archive limit that kept content from being scanned."""
    return [f"{count} archive(s) or member(s) not scanned in full: {reason.removeprefix('archive-')} limit "
            f"reached (raise it with {option})" for reason, option in _OPTION.items() if (count := skipped.get(reason))]


def expand_archives(chunk: Chunk, limits: ArchiveLimits, stats: ScanStats) -> Iterator[Chunk]:
    """The chunk itself when it is no archive; otherwise the (non-archive) chunks inside it."""
    kind = archive_kind(chunk.data) if limits.max_depth > 0 else None
    if kind is None:
        yield chunk
        return
    budget = _Budget(limits, stats)
    try:
        yield from _expand(chunk, kind, 1, budget)
    except _Exceeded as exc:
        stats.skip(exc.reason)
