"""Damaged archives, texts that only look like archives, and archives whose headers lie about
sizes (issue 20 #6, issue 24 §2).

As zcat and unzip do: what decompresses is scanned, then the raw bytes (as text when they are
text), and the archive is counted `archive-corrupt`. A header's size is a claim: a 2 KB tar whose
pax header claims 68.7 GB (git/git's `t/t5000/huge-and-future.tar`) is read by its 2 KB. Every
input is built here at run time, credentials by fakes.temporary(rng); speed is measured in
bench/archives.py, never here.
"""

from __future__ import annotations

import gzip
import io
import lzma
import random
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from scanner.detection.decoders.tar import TarReader
from scanner.detection.decoders.zips import central_entries
from scanner.model import Finding
from scanner.testing import fakes
from tests.support.archives import scan_files, zip_of
from tests.support.core import assert_set, only

GB_68 = 68_719_476_737  # 64 GiB + 1: the claim of git/git's huge-and-future.tar
GB_275 = 275_000_000_000


def _creds_text(creds: fakes.FakeCredentials, lead: str = "# settings\n") -> bytes:
    return (f"{lead}AWS_ACCESS_KEY_ID={creds.access_key_id}\nAWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"
            f"AWS_SESSION_TOKEN={creds.session_token}\n").encode()


def _filler(size: int) -> bytes:
    rng = random.Random(5)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"config", b"value", b"index"]
    return b"".join(b" ".join(rng.choices(words, k=9)) + b"\n" for _ in range(size // 50))


def _scan_one(tmp_path: Path, name: str, data: bytes) -> tuple[list[Finding], dict[str, int]]:
    (tmp_path / name).write_bytes(data)
    return scan_files(tmp_path)


# --- issue 20 #6: damaged, or only looking like an archive ----------------------------------------

def _bad_crc_zip(member: bytes, method: int) -> bytes:
    good = zip_of({"conf/.env": member}, method)
    at = good.rfind(b"PK\x01\x02") + 16  # the central directory's CRC-32 (unzip checks that one)
    crc = int.from_bytes(good[at:at + 4], "little") ^ 0x5A5A5A5A
    local = 14  # and the local header's
    return good[:local] + crc.to_bytes(4, "little") + good[local + 4:at] + crc.to_bytes(4, "little") + good[at + 4:]


_SHAPES: dict[str, tuple[str, Callable[[bytes], bytes], str]] = {
    # name: (file name, build from the credentials text, where the finding is)
    "text starting with the zip magic": (".env", lambda text: b"PK\x03\x04" + text, ".env"),
    "text starting with the gzip magic": (".env", lambda text: b"\x1f\x8b\x08" + text, ".env"),
    "gzip with one trailing byte": ("creds.env.gz", lambda text: gzip.compress(text) + b"\n", "creds.env.gz"),
    "gzip cut short": ("creds.env.gz", lambda text: gzip.compress(text + _filler(400_000))[:-20_000],
                       "creds.env.gz"),
    "zip member with a bad CRC (deflated)": ("app.zip", lambda text: _bad_crc_zip(text, zipfile.ZIP_DEFLATED),
                                             "app.zip!conf/.env"),
    "zip member with a bad CRC (stored)": ("app.zip", lambda text: _bad_crc_zip(text, zipfile.ZIP_STORED),
                                           "app.zip!conf/.env"),
    "xz cut short": ("creds.env.xz", lambda text: lzma.compress(text + _filler(400_000))[:-5_000], "creds.env.xz"),
    "tar.gz cut inside its second member": (
        "backup.tgz", lambda text: _tar_gz({"a/.env": text, "b/big.txt": _filler(300_000)})[:-10_000],
        "backup.tgz!a/.env"),
}


def _tar_gz(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize("shape", list(_SHAPES))
def test_damaged_or_look_alike_archive_is_scanned_and_counted(tmp_path: Path, rng: random.Random, shape: str) -> None:
    creds = fakes.temporary(rng)
    name, build, where = _SHAPES[shape]
    findings, skipped = _scan_one(tmp_path, name, build(_creds_text(creds)))
    finding = only(findings)  # found once: the raw bytes' repeat of a member's set is dropped
    assert_set(finding, creds)
    assert finding.path.endswith(where)
    assert finding.line == 2
    assert skipped == {"archive-corrupt": 1}


def test_raw_bytes_of_a_damaged_archive_keep_what_its_members_lost(tmp_path: Path, rng: random.Random) -> None:
    """A tar whose second header is garbage: the first member is read as a member, the rest of the
    tar's bytes as its printable runs (tarfile would stop there without a word)."""
    first, second = fakes.temporary(rng), fakes.temporary(rng)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in (("one/.env", _creds_text(first)), ("two/.env", _creds_text(second))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    data = bytearray(out.getvalue())
    second_header = 512 + (len(_creds_text(first)) + 511) // 512 * 512
    data[second_header + 148:second_header + 156] = b"0000000\x00"  # its checksum no longer holds
    findings, skipped = _scan_one(tmp_path, "backup.tar", bytes(data))
    assert sorted(f.access_key_id for f in findings) == sorted([first.access_key_id, second.access_key_id])
    by_key = {f.access_key_id: f for f in findings}
    assert by_key[first.access_key_id].path.endswith("backup.tar!one/.env")
    assert by_key[second.access_key_id].path.endswith("backup.tar")  # the raw bytes
    assert_set(by_key[second.access_key_id], second)
    assert skipped == {"archive-corrupt": 1}


def test_a_damaged_archive_inside_an_archive(tmp_path: Path, rng: random.Random) -> None:
    creds = fakes.temporary(rng)
    inner = gzip.compress(_creds_text(creds)) + b"\x00garbage"
    findings, skipped = _scan_one(tmp_path, "bundle.zip", zip_of({"deploy/creds.env.gz": inner}))
    finding = only(findings)
    assert_set(finding, creds)
    assert finding.path.endswith("bundle.zip!deploy/creds.env.gz")
    assert skipped == {"archive-corrupt": 1}


def test_undamaged_archives_count_nothing(tmp_path: Path, rng: random.Random) -> None:
    creds = fakes.temporary(rng)
    text = _creds_text(creds)
    (tmp_path / "a.gz").write_bytes(gzip.compress(text) + bytes(64))  # zero padding, as tape blocks leave
    (tmp_path / "b.gz").write_bytes(gzip.compress(text[:100]) + gzip.compress(text[100:]))  # two streams
    findings, skipped = scan_files(tmp_path)
    assert [f.path.rsplit("/", 1)[-1] for f in findings] == ["a.gz", "b.gz"]
    assert skipped == {}


def test_garbage_after_the_magic_never_crashes(tmp_path: Path) -> None:
    rng = random.Random(11)
    magics = [b"PK\x03\x04", b"\x1f\x8b\x08", b"\xfd7zXZ\x00", b"BZh91AY&SY", b"\x5d\x00\x00\x80\x00" + b"\xff" * 8]
    for i, magic in enumerate(magics):
        for j in range(20):
            (tmp_path / f"f{i}-{j}").write_bytes(magic + rng.randbytes(rng.randrange(0, 3000)))
    (tmp_path / "t.tar").write_bytes(gzip.decompress(_tar_gz({"x": b"y" * 2000}))[:700])  # cut in its data
    findings, skipped = scan_files(tmp_path)
    assert findings == []
    assert set(skipped) <= {"archive-corrupt", "binary"} and skipped["archive-corrupt"] >= 90


# --- issue 24 §2: sizes in headers are claims ----------------------------------------------------

def lying_tar(claim: int, payload: bytes, name: str = "file") -> bytes:
    """A 2 KB tar: a pax header claiming `claim` bytes (and an mtime that far in the future, as in
    git/git's fixture), the ustar header, and one block of real data."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime = claim, claim  # above the ustar fields' range: both go into the pax header
    return info.tobuf(tarfile.PAX_FORMAT) + payload[:512].ljust(512, b"\x00")


def _gnu_base256_tar(claim: int, payload: bytes) -> bytes:
    info = tarfile.TarInfo("file")
    info.size = claim  # GNU format writes a size this large in base-256
    return info.tobuf(tarfile.GNU_FORMAT) + payload[:512].ljust(512, b"\x00")


@pytest.mark.parametrize(("name", "build"), [
    ("huge-and-future.tar", lambda text: lying_tar(GB_68, text)),
    ("huge-275.tar", lambda text: lying_tar(GB_275, text)),
    ("gnu-base256.tar", lambda text: _gnu_base256_tar(GB_275, text)),
    ("huge.tar.gz", lambda text: gzip.compress(lying_tar(GB_68, text))),
    ("huge.tar.xz", lambda text: lzma.compress(lying_tar(GB_275, text))),
])
def test_tar_claiming_a_huge_member_is_read_by_its_real_bytes(tmp_path: Path, rng: random.Random, name: str,
                                                              build: Callable[[bytes], bytes]) -> None:
    creds = fakes.temporary(rng, token_length=120)
    data = build(_creds_text(creds, lead="\n"))
    assert len(data) <= 2048
    findings, skipped = _scan_one(tmp_path, name, data)
    finding = only(findings)  # the member's present bytes are scanned
    assert_set(finding, creds)
    assert finding.path.endswith(f"{name}!file")
    assert skipped == {"archive-corrupt": 1}  # its data ends before the size its header claims


def test_lying_tar_is_read_once_front_to_back() -> None:
    """Work follows the bytes present, not the claim: a handful of reads, none past the end."""
    data = lying_tar(GB_275, b"x" * 100)
    asked: list[int] = []
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        asked.append(n)
        piece = data[pos:pos + n]
        pos += len(piece)
        return piece

    reader = TarReader(read)
    entry = next(reader.entries())
    assert (entry.name, entry.size, entry.is_file) == ("file", GB_275, True)
    assert len(reader.read(1 << 20)) == 512 and reader.cut
    assert len(asked) <= 8 and pos == len(data)


def test_lying_sizes_in_a_stream_and_in_a_zip(tmp_path: Path, rng: random.Random) -> None:
    """A .tar.gz of lying tars back to back, and a zip whose directory claims a 4 GB member: read by
    what is there (the zip's claim does not make the member skipped as too large)."""
    creds = fakes.temporary(rng)
    text = _creds_text(creds)
    good = zip_of({"conf/.env": text}, zipfile.ZIP_STORED)
    at = good.rfind(b"PK\x01\x02")
    claims = (0xFFFF_FFF0).to_bytes(4, "little")  # compressed and uncompressed sizes
    lying = good[:at + 20] + claims + claims + good[at + 28:]
    findings, skipped = _scan_one(tmp_path, "app.zip", lying)
    finding = only(findings)
    assert_set(finding, creds)
    assert finding.path.endswith("app.zip!conf/.env")
    assert skipped == {"archive-corrupt": 1}


def test_a_zip_with_no_central_directory_is_walked_by_its_local_headers(tmp_path: Path, rng: random.Random) -> None:
    first, second = fakes.temporary(rng), fakes.temporary(rng)
    whole = zip_of({"a/.env": _creds_text(first), "b/.env": _creds_text(second), "c.txt": _filler(20_000)})
    cut = whole[:whole.rfind(b"PK\x01\x02") - 200]  # into the last member's data, before the directory
    findings, skipped = _scan_one(tmp_path, "upload.zip", cut)
    assert sorted(f.path.rsplit("!", 1)[-1] for f in findings) == ["a/.env", "b/.env"]
    for finding, creds in zip(sorted(findings, key=lambda f: f.path or ""), (first, second), strict=True):
        assert_set(finding, creds)
    assert skipped == {"archive-corrupt": 1}


def test_deflate_stream_errors_keep_what_came_before(tmp_path: Path, rng: random.Random) -> None:
    creds = fakes.temporary(rng)
    body = zlib.compressobj(9, zlib.DEFLATED, 31)
    data = body.compress(_creds_text(creds) + _filler(200_000)) + body.flush()
    broken = data[:len(data) // 2] + bytes(b ^ 0xFF for b in data[len(data) // 2:len(data) // 2 + 64]) + \
        data[len(data) // 2 + 64:]
    findings, skipped = _scan_one(tmp_path, "log.gz", broken)
    assert_set(only(findings), creds)
    assert skipped == {"archive-corrupt": 1}


def test_member_counts_that_lie_are_bounded(tmp_path: Path, rng: random.Random) -> None:
    """An end-of-central-directory record announcing 1 entry before a directory of 50, and a gzip of
    30 streams back to back: both held to the member limit (zipfile makes an object per entry)."""
    creds = fakes.temporary(rng)
    many = zip_of({f"f{i}.txt": b"x\n" for i in range(50)})
    at = many.rfind(b"PK\x05\x06")
    lying = many[:at + 8] + (1).to_bytes(2, "little") * 2 + many[at + 12:]
    assert central_entries(lying) == 50  # checked before zipfile parses the directory
    (tmp_path / "many.zip").write_bytes(lying)
    (tmp_path / "streams.gz").write_bytes(gzip.compress(_creds_text(creds)) +
                                          b"".join(gzip.compress(b"line %d\n" % i) for i in range(30)))
    findings, skipped = scan_files(tmp_path, max_members=10)
    assert_set(only(findings), creds)  # from the streams read before the limit
    assert only(findings).path.endswith("streams.gz")
    assert skipped == {"archive-max-members": 2}
