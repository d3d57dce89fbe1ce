"""Archives and compression: .zip (.jar, .whl, Lambda packages, .docx), .tar, and one compressed
stream -- .gz, .xz, .lzma, .bz2 -- which may hold a tar (.tar.gz/.tgz, .tar.xz/.txz, .tar.bz2);
nested up to a depth; a `docker save` or OCI image tarball is a tar of (gzipped) tars.

Recognised by magic bytes, never by name: `PK\\x03\\x04` (zip), `1f 8b 08` (gzip), `fd 37 7a 58 5a
00` (xz), `BZh` + a block (bzip2), an lzma-alone header with a usual dictionary, `ustar` at offset
257 (POSIX and GNU tar; old v7 tars without that magic are not recognised). A member becomes a
chunk of its own whose path reads `archive.zip!dir/file.py`; a compressed file's single stream
keeps the file's path. In history the chunk path starts with `!` and the pipeline puts the blob's
path in front.

Damaged archives, as zcat and unzip treat them: what decompresses is scanned, then the raw bytes
(as text when they are text, else their printable runs, strings.py), and the archive is counted
`archive-corrupt`: a `.env` that merely starts with `PK\\x03\\x04`, a gzip with a trailing byte or
cut short, a zip member with a bad CRC lose nothing. An archive stsleak cannot open (7z, rar, zstd,
...) is counted `archive-unsupported` and its printable runs are scanned, as are those of an
archive the depth limit leaves closed. The raw bytes' findings that a member already gave are
dropped (expand.py).

Sizes in headers are claims (tar.py, zips.py): work is bounded by the bytes present, never by what
a header says. Against bombs (`ArchiveLimits`, budget.py, all configurable): decompressed bytes per
outermost archive, decompressed/compressed ratio (once a member is past 1 MiB), nesting depth and
member count; an exceeded limit or an encrypted member is counted in `stats.skipped` (`archive-…`)
and the scan goes on.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import replace

from scanner.detection.decoders.budget import ArchiveLimits, Budget, Counted, Exceeded, count_limit, read_up_to
from scanner.detection.decoders.compressed import COMPRESSED_KINDS, Decompressed
from scanner.detection.decoders.strings import strings_of
from scanner.detection.decoders.tar import BLOCK, TarDamaged, TarReader
from scanner.detection.decoders.zips import ZIP_MAGIC, Damage, take, zip_members
from scanner.detection.decoding import is_binary
from scanner.model import Chunk, ScanStats

__all__ = ["ArchiveLimits", "archive_kind", "archive_parts", "expand_archives", "limit_notes", "magic_literals"]

GZIP_MAGIC = b"\x1f\x8b\x08"
XZ_MAGIC = b"\xfd7zXZ\x00"
BZIP2_BLOCK = b"1AY&SY"  # after "BZh" and the level digit: the first block's magic (pi)
TAR_MAGICS = (b"ustar\x0000", b"ustar  \x00")
_TAR_MAGIC_AT = 257
# lzma-alone (.lzma) has no magic: properties 0x5D (every encoder's default) and a dictionary of a
# power of two from 64 KiB to 64 MiB (xz/lzma presets 0-9, 7-Zip); its size field is checked too.
_LZMA_HEADS = tuple(b"\x5d" + (1 << bits).to_bytes(4, "little") for bits in range(16, 27))
UNSUPPORTED = {
    b"7z\xbc\xaf\x27\x1c": "7z", b"Rar!\x1a\x07": "rar", b"\x28\xb5\x2f\xfd": "zstd", b"\x04\x22\x4d\x18": "lz4",
    b"\x1f\x9d\x90": "compress", b"LZIP\x01": "lzip", b"MSCF\x00\x00\x00\x00": "cab", b"xar!\x00\x1c": "xar",
    b"\x89LZO\x00\r\n\x1a\n": "lzop",
}
_SUPPORTED = ((ZIP_MAGIC, "zip"), (GZIP_MAGIC, "gzip"), (XZ_MAGIC, "xz"))
_STARTS = (ZIP_MAGIC, GZIP_MAGIC, XZ_MAGIC, b"BZh", *_LZMA_HEADS, *UNSUPPORTED)
_CORRUPT = (TarDamaged, struct.error, ValueError, EOFError, OSError, RuntimeError)


def magic_literals() -> list[bytes]:
    """What the history prefilter looks for so that a blob holding an archive is read."""
    return [ZIP_MAGIC, GZIP_MAGIC, XZ_MAGIC, BZIP2_BLOCK, *_LZMA_HEADS, *TAR_MAGICS, *UNSUPPORTED]


def archive_kind(data: bytes) -> str | None:
    """zip, tar, gzip, xz, lzma or bzip2; the name of a format stsleak cannot open (7z, rar, ...);
    None for anything else."""
    if data.startswith(_STARTS):
        for magic, kind in _SUPPORTED:
            if data.startswith(magic):
                return kind
        if data.startswith(b"BZh") and data[3:4].isdigit() and data[4:10] in (BZIP2_BLOCK, b"\x17\x72\x45\x38\x50\x90"):
            return "bzip2"
        if data.startswith(_LZMA_HEADS) and (data[5:13] == b"\xff" * 8 or data[10:13] == b"\x00\x00\x00"):
            return "lzma"  # the size: unknown, or under 2^40
        for magic, kind in UNSUPPORTED.items():
            if data.startswith(magic):
                return kind
    if data[_TAR_MAGIC_AT:_TAR_MAGIC_AT + 8] in TAR_MAGICS:
        return "tar"
    return None


def _safe_name(name: str) -> str:
    """A member name as shown: no control characters (no forged report lines)."""
    if name.isprintable() and len(name) <= 1024:
        return name
    return "".join(c if c.isprintable() else "\ufffd" for c in name)[:1024]


def _member(chunk: Chunk, name: str | None, data: bytes) -> Chunk:
    path = chunk.path if name is None else f"{chunk.path or ''}!{_safe_name(name)}"
    return replace(chunk, data=data, path=path, previous=None)


def _raw(chunk: Chunk) -> Chunk | None:
    """The archive's own bytes as a binary file is scanned: as they are when they are text (a
    `.env` that only starts like an archive), else their printable runs."""
    if not is_binary(chunk.data):
        return replace(chunk, previous=None)
    runs = strings_of(chunk)
    return replace(runs, previous=None) if runs.data else None


class _InMemory:
    """Bytes read front to back; skipping costs nothing (a plain tar)."""

    def __init__(self, data: bytes) -> None:
        self._view, self._pos = memoryview(data), 0

    def read(self, n: int) -> bytes:
        piece = self._view[self._pos:self._pos + n]
        self._pos += len(piece)
        return bytes(piece)

    def skip(self, n: int) -> int:
        passed = min(n, len(self._view) - self._pos)
        self._pos += passed
        return passed


class _Prepended:
    """`head` (what was peeked at), then the rest of a stream."""

    def __init__(self, head: bytes, rest: Callable[[int], bytes]) -> None:
        self._head, self._rest = head, rest

    def read(self, n: int) -> bytes:
        if not self._head:
            return self._rest(n)
        out, self._head = self._head[:n], self._head[n:]
        return out if len(out) == n else out + self._rest(n - len(out))


def _tar_members(chunk: Chunk, reader: TarReader, budget: Budget) -> Iterator[Chunk]:
    for entries, entry in enumerate(reader.entries(), 1):
        if entries > budget.limits.max_members:  # directories and links count
            budget.limit("archive-max-members")
            return
        if not entry.is_file:
            continue
        data = take(reader.read, budget, entry.size)
        if data is not None and reader.cut:
            data = data.rstrip(b"\x00")  # a member cut short: its "data" ran into the zero blocks
        if data:
            yield _member(chunk, entry.name, data)


def _stream_members(chunk: Chunk, kind: str, budget: Budget, damage: Damage) -> Iterator[Chunk]:
    """One compressed stream: a tar in it is streamed; anything else is one chunk."""
    stream = Decompressed(chunk.data, kind, budget.limits.max_members)
    read = Counted(stream.read, budget, len(chunk.data)).read
    try:
        head = read_up_to(read, BLOCK)
        if archive_kind(head) == "tar":
            yield from _tar_members(chunk, TarReader(_Prepended(head, read).read), budget)
            return
        data = take(_Prepended(head, read).read, budget, budget.limits.max_bytes)
        if data:
            yield _member(chunk, None, data)
    finally:
        if stream.damaged:
            damage.note(stream.damaged)
        if stream.too_many_streams:
            budget.limit("archive-max-members")


def _members(chunk: Chunk, kind: str, budget: Budget, damage: Damage) -> Iterator[Chunk]:
    if kind == "zip":
        return (_member(chunk, name, data) for name, data in zip_members(chunk.data, budget, damage))
    if kind in COMPRESSED_KINDS:
        return _stream_members(chunk, kind, budget, damage)
    source = _InMemory(chunk.data)
    return _tar_members(chunk, TarReader(source.read, source.skip), budget)


Part = tuple[Chunk, bool]  # a chunk to scan; True: an archive's raw bytes (its findings may repeat a member's)


def _open(chunk: Chunk, kind: str, depth: int, budget: Budget) -> Iterator[Part]:
    """An archive met `depth` deep (1: the file itself)."""
    closed = ("archive-unsupported" if kind in UNSUPPORTED.values() else
              "archive-max-depth" if depth > budget.limits.max_depth else None)
    if closed is None:
        yield from _expand(chunk, kind, depth, budget)
        return
    budget.limit(closed)
    if (raw := _raw(chunk)) is not None:
        yield raw, True


def _expand(chunk: Chunk, kind: str, depth: int, budget: Budget) -> Iterator[Part]:
    import zipfile

    damage = Damage()
    try:
        for count, member in enumerate(_members(chunk, kind, budget, damage), 1):
            if count > budget.limits.max_members:
                budget.limit("archive-max-members")
                break
            inner = archive_kind(member.data)
            if inner is None:
                yield member, False
            else:
                yield from _open(member, inner, depth + 1, budget)
    except (*_CORRUPT, zipfile.BadZipFile) as exc:
        damage.note(exc.__class__.__name__)
    except Exceeded as exc:
        if exc.reason != "archive-max-ratio":
            raise  # the whole outermost archive is over budget
        budget.limit(exc.reason)  # a compressed stream: this (inner) archive stops here
    if damage.why is not None:
        budget.stats.skip("archive-corrupt")
        if (raw := _raw(chunk)) is not None:
            yield raw, True


_OPTION = {"archive-max-bytes": "--archive-max-bytes", "archive-max-depth": "--archive-max-depth",
           "archive-max-members": "--archive-max-members", "archive-max-ratio": "--archive-max-ratio"}


def limit_notes(skipped: dict[str, int]) -> list[str]:
    """One note per archive limit that kept content from being scanned."""
    return [f"{count} archive(s) or member(s) not scanned in full: {reason.removeprefix('archive-')} limit "
            f"reached (raise it with {option})" for reason, option in _OPTION.items() if (count := skipped.get(reason))]


def archive_parts(chunk: Chunk, limits: ArchiveLimits, stats: ScanStats) -> Iterator[Part]:
    """(chunk, False) when it is no archive; otherwise the (non-archive) chunks inside it, and the
    raw bytes of each archive that could not be opened whole, flagged True."""
    kind = archive_kind(chunk.data)
    if kind is None:
        yield chunk, False
        return
    budget = Budget(limits, stats)
    try:
        yield from _open(chunk, kind, 1, budget)
    except Exceeded as exc:
        count_limit(exc.reason, limits, stats)


def expand_archives(chunk: Chunk, limits: ArchiveLimits, stats: ScanStats) -> Iterator[Chunk]:
    """The chunk itself when it is no archive; otherwise the chunks inside it (and raw bytes)."""
    return (part for part, _ in archive_parts(chunk, limits, stats))
