"""A tar reader that trusts no size: POSIX ustar, pax and GNU tars (long names, base-256 sizes,
sparse members), read from a stream once, front to back.

A header's size is a claim. Member data is read and skipped by the bytes actually present: a
2 KB tar whose pax header claims a 68.7 GB member (git/git's `t/t5000/huge-and-future.tar`) costs
what its 2 KB cost, and the member's real bytes are still given to the caller. The reader stops
at the end-of-archive block or at the real end of the data; a damaged header or data that ends
before a header said it would raises `TarDamaged` (after everything read so far was given out),
where Python's tarfile in stream mode reads through the claimed size in 10 KB steps, and stops
without a word at a bad header after the first.

Every step consumes at least one 512-byte block or ends the archive, so the work is linear in the
bytes present.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
_POSIX_MAGIC = b"ustar\x0000"
_NO_DATA = frozenset(b"123456")  # hard and symbolic links, devices, directories, FIFOs: a size means nothing
_META_MAX = 1 << 20  # of a pax header or GNU long name, what is read (the rest is skipped)
_HIGH = bytes(range(128, 256))
_SKIP_PIECE = 1 << 16


class TarDamaged(Exception):
    pass


@dataclass(frozen=True)
class TarEntry:
    name: str
    size: int  # as claimed (a pax size wins over the header's)
    is_file: bool  # its data is a file's content (regular, contiguous, sparse, or a type tar does not know)


def _number(field: bytes) -> int:
    """An octal number, or GNU base-256 (high bit of the first byte set)."""
    if field[:1] and field[0] & 0x80:
        if field[0] == 0xFF:
            raise TarDamaged("negative number")
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.split(b"\x00", 1)[0].strip(b" ")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarDamaged("bad number") from None


def _checksum_ok(header: bytes) -> bool:
    claimed = _number(header[148:156])
    unsigned = sum(header) - sum(header[148:156]) + 8 * 0x20
    high = len(header) - len(header.translate(None, _HIGH)) - (8 - len(header[148:156].translate(None, _HIGH)))
    return claimed in (unsigned, unsigned - 256 * high)  # some old tars summed signed bytes


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    """`%d key=value\\n` records, front to back; a malformed one ends the list."""
    records: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos, pos + 24)
        if space < 0 or not data[pos:space].isdigit():
            break
        length = int(data[pos:space])
        end = pos + length
        if length <= space - pos or end > len(data):
            break
        key, equals, value = data[space + 1:end - 1].partition(b"=")
        if equals:
            records[key] = value
        pos = end
    return records


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace")


class TarReader:
    """`read(n)` gives up to n bytes (fewer only at the end); `skip(n)`, if given, passes over up
    to n bytes and says how many there were (for bytes in memory); otherwise skipping reads."""

    def __init__(self, read: Callable[[int], bytes], skip: Callable[[int], int] | None = None) -> None:
        self._read, self._skip = read, skip
        self._left = 0  # of the current member's data, not read yet
        self._padding = 0
        self.cut = False

    def entries(self) -> Iterator[TarEntry]:
        pax: dict[bytes, bytes] = {}
        long_name: str | None = None
        while True:
            self._pass(self._left + self._padding)
            self._left = self._padding = 0
            header = self._read(BLOCK)
            if not header or header == _ZERO_BLOCK:
                return  # the end (a tar that lacks its end-of-archive blocks ends here too)
            if len(header) < BLOCK:
                raise TarDamaged("truncated header")
            if not _checksum_ok(header):
                raise TarDamaged("bad header checksum")
            kind = header[156:157]
            size = _number(header[124:136])
            if kind in (b"x", b"g", b"L", b"K"):  # pax headers, GNU long names: about the next entry
                meta = self._data_of(size, _META_MAX)
                if kind == b"x":
                    pax = _pax_records(meta)
                elif kind == b"L":
                    long_name = _text(meta)
                continue
            if kind == b"S" and header[482]:  # old GNU sparse: more sparse maps before the data
                self._sparse_extensions()
            name = header[0:100]
            if header[257:265] == _POSIX_MAGIC and header[345]:
                name = header[345:500].split(b"\x00", 1)[0] + b"/" + name
            shown = long_name or (pax[b"path"].decode("utf-8", "replace") if b"path" in pax else _text(name))
            if b"size" in pax:
                if not (pax[b"size"].isdigit() and len(pax[b"size"]) <= 20):
                    raise TarDamaged("bad pax size")
                size = int(pax[b"size"])
            has_data = not (kind and kind[0] in _NO_DATA)
            self._left = size if has_data else 0
            self._padding = -self._left % BLOCK
            pax, long_name = {}, None
            yield TarEntry(shown, size, has_data and not shown.endswith("/"))

    def read(self, n: int) -> bytes:
        """Up to n bytes of the current entry's data (fewer when it has less, or the data ends)."""
        want = min(n, self._left)
        data = self._read(want)
        self._left -= len(data)
        if len(data) < want:  # the data ends inside this entry: what there was is given, then TarDamaged
            self.cut = True
            self._left = self._padding = 0
        return data

    def _data_of(self, size: int, keep: int) -> bytes:
        data = self._read(min(size, keep))
        if len(data) < min(size, keep):
            raise TarDamaged("truncated")
        self._left, self._padding = size - len(data), -size % BLOCK
        return data

    def _sparse_extensions(self) -> None:
        while True:
            block = self._read(BLOCK)
            if len(block) < BLOCK:
                raise TarDamaged("truncated sparse map")
            if not block[504]:
                return

    def _pass(self, n: int) -> None:
        if self.cut:
            raise TarDamaged("data ends before the size its header claims")
        while n > 0:
            passed = self._skip(n) if self._skip else len(self._read(min(n, _SKIP_PIECE)))
            if passed == 0:
                raise TarDamaged("data ends before the size its header claims")
            n -= passed
