"""Zip members (.zip .jar .whl .docx, Lambda packages), as `unzip` gives them: a member whose
CRC is wrong, or whose data ends early, is still given (what decompressed) and the archive is
marked damaged. A zip with no central directory (truncated, or a text that only starts with
`PK\\x03\\x04`) is walked front to back by its local headers, as `bsdtar` does, taking stored
and deflated members up to where the data ends.

Sizes in headers are claims: a member is skipped as too large without reading only when the
archive's bytes could hold it; otherwise it is read, bounded by the bytes present and the limits.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from itertools import pairwise

from scanner.detection.decoders.budget import Budget, Counted, Exceeded, read_up_to

ZIP_MAGIC = b"PK\x03\x04"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # signature, version, flags, method, time, date, crc, sizes, name/extra lengths
_NEXT_HEADER = re.compile(rb"PK\x03\x04|PK\x01\x02")
_FEED = 1 << 16
_DEFLATE_MAX_RATIO = 1032  # deflate cannot expand more than this


class Damage:
    """Why an archive could be read only in part (None: it could be read whole)."""

    def __init__(self) -> None:
        self.why: str | None = None

    def note(self, why: str) -> None:
        if self.why is None:
            self.why = why


def _errors() -> tuple[type[BaseException], ...]:
    import lzma

    return (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError, struct.error,
            RuntimeError, KeyError)


def central_entries(data: bytes) -> int | None:
    """At most how many members zipfile would list (None: no end-of-central-directory record): the
    entry signatures in the directory's span, counted in C -- the count the record announces may lie,
    and zipfile makes an object of every entry it parses."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if at < 0 or at + 22 > len(data):
        return None
    entries, cd_size = struct.unpack_from("<HI", data, at + 10)
    start = 0 if entries == 0xFFFF or cd_size == 0xFFFF_FFFF else max(0, at - cd_size - 76)  # 76: zip64 records
    return max(entries, data.count(b"PK\x01\x02", start, at))


def take(read: Callable[[int], bytes], budget: Budget, claimed: int) -> bytes | None:
    """A member's bytes (up to what it claims and what is there); None when it is too large. Over
    what is left of the archive's budget: Exceeded."""
    cap = budget.cap()
    data = read_up_to(read, min(claimed, cap + 1))
    if len(data) > cap:
        if cap < budget.limits.max_member:
            raise Exceeded("archive-max-bytes")
        budget.stats.skip("too-large")
        return None
    return data


def zip_members(data: bytes, budget: Budget, damage: Damage) -> Iterator[tuple[str, bytes]]:
    entries = central_entries(data)
    if entries is not None and entries > budget.limits.max_members:
        budget.limit("archive-max-members")
        return
    errors = _errors()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except errors:
        damage.note("no central directory")
        yield from _local_members(data, budget, damage)
        return
    with archive:
        next_header = _next_headers(archive, len(data))
        for info in archive.infolist():
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                budget.stats.skip("archive-encrypted")
                continue
            if info.file_size > budget.limits.max_member and _holds(info, len(data)):
                budget.stats.skip("too-large")
                continue
            claimed = info.file_size
            if info.compress_type == zipfile.ZIP_STORED:  # its data cannot run into the next header
                claimed = min(claimed, max(0, next_header.get(info.header_offset, len(data)) - _data_start(data, info)))
            member = _read_member(archive, info, claimed, budget, damage, errors)
            if member is not None:
                yield info.filename, member


def _holds(info: zipfile.ZipInfo, available: int) -> bool:
    """Could the archive's bytes hold what the member claims? (Else the claim is a lie: read it.)"""
    if info.compress_size > available:
        return False
    most = info.compress_size if info.compress_type == zipfile.ZIP_STORED else info.compress_size * _DEFLATE_MAX_RATIO
    return info.file_size <= most + 1024


def _next_headers(archive: zipfile.ZipFile, size: int) -> dict[int, int]:
    """Each member's local header offset -> where the next member's header (or the directory) starts."""
    offsets = sorted({info.header_offset for info in archive.infolist()} | {getattr(archive, "start_dir", size), size})
    return dict(pairwise(offsets))


def _data_start(data: bytes, info: zipfile.ZipInfo) -> int:
    at = info.header_offset
    if data[at:at + 4] != ZIP_MAGIC or at + _LOCAL.size > len(data):
        return at
    name_len, extra_len = struct.unpack_from("<HH", data, at + 26)
    return at + _LOCAL.size + name_len + extra_len


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, claimed: int, budget: Budget, damage: Damage,
                 errors: tuple[type[BaseException], ...]) -> bytes | None:
    try:
        raw = archive.open(info)
    except NotImplementedError:  # a compression method zipfile lacks
        budget.stats.skip("archive-unsupported")
        return None
    except errors:
        damage.note("bad member header")
        return None
    with raw:
        # unzip's way: keep the data of a member whose CRC is wrong (checked below), not raise at its end
        setattr(raw, "_expected_crc", None)  # noqa: B010
        guarded = _Guarded(raw.read, errors)
        try:
            data = take(Counted(guarded.read, budget, info.compress_size).read, budget, claimed)
        except Exceeded as exc:
            if exc.reason != "archive-max-ratio":
                raise
            budget.limit(exc.reason)  # this member only
            return None
    if guarded.failed:
        damage.note("corrupt member")
    elif data is not None and (len(data) != info.file_size or zlib.crc32(data) != info.CRC):
        damage.note("bad CRC or size")
    return data


class _Guarded:
    """A member's read that stops, instead of raising, where its data is damaged."""

    def __init__(self, read: Callable[[int], bytes], errors: tuple[type[BaseException], ...]) -> None:
        self._read, self._errors, self.failed = read, errors, False

    def read(self, n: int) -> bytes:
        if self.failed:
            return b""
        try:
            return self._read(n)
        except self._errors:
            self.failed = True
            return b""


def _local_members(data: bytes, budget: Budget, damage: Damage) -> Iterator[tuple[str, bytes]]:
    """Stored and deflated members by their local headers, front to back; stops at anything else."""
    pos, count = data.find(ZIP_MAGIC), 0
    while pos >= 0 and pos + _LOCAL.size <= len(data):
        _, _, flags, method, _, _, _, size, _, name_len, extra_len = _LOCAL.unpack_from(data, pos)
        start = pos + _LOCAL.size + name_len + extra_len
        if method not in (0, 8) or start > len(data):
            return  # not a header we can read (or garbage after the magic): the raw bytes are scanned
        count += 1
        if count > budget.limits.max_members:
            budget.limit("archive-max-members")
            return
        name = data[pos + _LOCAL.size:pos + _LOCAL.size + name_len].decode("utf-8" if flags & 0x800 else "cp437",
                                                                          "replace")
        member: bytes | None = None
        if flags & 0x1:
            budget.stats.skip("archive-encrypted")
            end = start + size
        elif method == 0:
            if size == 0 and flags & 0x8:  # stored, size in a trailing descriptor: up to the next header
                found = _NEXT_HEADER.search(data, start)
                size = (found.start() if found else len(data)) - start
            member = take(io.BytesIO(data[start:start + size]).read, budget, size)
            budget.take(len(member or b""))
            end = start + size
        else:
            member, end = _inflate(data, start, budget, damage)
        if member:
            yield name, member
        pos = data.find(ZIP_MAGIC, max(end, pos + 1))


def _inflate(data: bytes, start: int, budget: Budget, damage: Damage) -> tuple[bytes | None, int]:
    """A raw deflate stream from `start`: what it gives (within the limits) and where it ends."""
    view = memoryview(data)
    inflater = zlib.decompressobj(-15)
    cap, ratio_floor = budget.cap(), budget.ratio_cap(0)
    parts: list[bytes] = []
    got, pos = 0, start
    try:
        while pos < len(data) and not inflater.eof and got <= cap:
            feed = bytes(view[pos:pos + _FEED])
            pos += len(feed)
            piece = inflater.decompress(feed, cap + 1 - got)
            parts.append(piece)
            got += len(piece)
            if got > max(ratio_floor, (pos - start) * budget.limits.max_ratio):
                budget.limit("archive-max-ratio")
                return None, pos
            budget.take(len(piece))
    except zlib.error:
        damage.note("corrupt member")
    if got > cap:
        if cap < budget.limits.max_member:
            raise Exceeded("archive-max-bytes")
        budget.stats.skip("too-large")
        return None, pos
    if not inflater.eof:
        damage.note("truncated member")
    return b"".join(parts), pos - len(inflater.unused_data)
