""".xz, .lzma, .bz2, .tar.xz/.txz, .tar.bz2 (issue 23 #2), under the limits .gz is held to, and
archives stsleak cannot open (7z, rar, ...): counted `archive-unsupported`, never `binary`, and
their printable runs still scanned.

Archives are built here at run time with the standard library (lzma, bz2, tarfile); credentials
by fakes.temporary(rng).
"""

from __future__ import annotations

import bz2
import lzma
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from scanner.detection.decoders.archives import archive_kind, magic_literals
from scanner.testing import fakes
from tests.support.archives import scan_files, tar_of, zip_of
from tests.support.cli import GitRepo, stsleak_in_process
from tests.support.core import assert_json_set, assert_set, only


def _creds_text(creds: fakes.FakeCredentials) -> bytes:
    return (f"# deploy\n\nAWS_ACCESS_KEY_ID={creds.access_key_id}\nAWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"
            f"AWS_SESSION_TOKEN={creds.session_token}\n").encode()


_MEMBER = "home/ci/.aws/credentials"
_FORMATS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "creds.env.xz": (lambda text: lzma.compress(text), "creds.env.xz"),
    "creds.env.lzma": (lambda text: lzma.compress(text, format=lzma.FORMAT_ALONE), "creds.env.lzma"),
    "creds.env.lzma (preset 9)": (lambda text: lzma.compress(text, format=lzma.FORMAT_ALONE, preset=9),
                                  "creds.env.lzma (preset 9)"),
    "creds.env.bz2": (lambda text: bz2.compress(text), "creds.env.bz2"),
    "backup.tar.xz": (lambda text: tar_of({_MEMBER: text}, "w:xz"), f"backup.tar.xz!{_MEMBER}"),
    "backup.txz": (lambda text: tar_of({_MEMBER: text}, "w:xz"), f"backup.txz!{_MEMBER}"),
    "backup.tar.bz2": (lambda text: tar_of({_MEMBER: text}, "w:bz2"), f"backup.tar.bz2!{_MEMBER}"),
    "backup.tar.lzma": (lambda text: lzma.compress(tar_of({_MEMBER: text}), format=lzma.FORMAT_ALONE),
                        f"backup.tar.lzma!{_MEMBER}"),
    "multi-stream.xz": (lambda text: lzma.compress(text[:50]) + lzma.compress(text[50:]), "multi-stream.xz"),
    "multi-stream.bz2": (lambda text: bz2.compress(text[:50]) + bz2.compress(text[50:]), "multi-stream.bz2"),
}


@pytest.mark.parametrize("name", list(_FORMATS))
def test_xz_lzma_bzip2_and_tars_in_them(tmp_path: Path, rng: random.Random, name: str) -> None:
    creds = fakes.temporary(rng)
    build, where = _FORMATS[name]
    (tmp_path / name).write_bytes(build(_creds_text(creds)))
    findings, skipped = scan_files(tmp_path)
    finding = only(findings)
    assert_set(finding, creds)
    assert finding.path.endswith(where)
    assert finding.line == 3
    assert skipped == {}


def test_recognised_by_magic_not_by_name(tmp_path: Path, rng: random.Random) -> None:
    creds = fakes.temporary(rng)
    (tmp_path / "layer").write_bytes(tar_of({"etc/app.env": _creds_text(creds)}, "w:bz2"))
    (tmp_path / "notes.xz").write_text("just text named .xz\n")
    findings, skipped = scan_files(tmp_path)
    assert only(findings).path.endswith("layer!etc/app.env")
    assert skipped == {}


def test_nested_and_the_depth_limit(tmp_path: Path, rng: random.Random) -> None:
    creds = fakes.temporary(rng)
    inner = tar_of({"deploy/.env": _creds_text(creds)}, "w:xz")
    layer = bz2.compress(tar_of({"rootfs.txz": inner}))
    (tmp_path / "release.zip").write_bytes(zip_of({"images/layer.tar.bz2": layer}))
    finding = only(scan_files(tmp_path)[0])
    assert_set(finding, creds)
    assert finding.path.endswith("release.zip!images/layer.tar.bz2!rootfs.txz!deploy/.env")
    findings, skipped = scan_files(tmp_path, max_depth=2)
    assert findings == [] and skipped == {"archive-max-depth": 1}


@pytest.mark.parametrize(("name", "compress"), [
    ("zeros.xz", lambda data: lzma.compress(data, preset=0)),
    ("zeros.lzma", lambda data: lzma.compress(data, format=lzma.FORMAT_ALONE, preset=0)),
    ("zeros.bz2", bz2.compress),
    ("zeros.tar.xz", lambda data: lzma.compress(tar_of({"zeros.bin": data}), preset=0)),
    ("zeros.tar.bz2", lambda data: bz2.compress(tar_of({"zeros.bin": data}))),
])
def test_decompression_bombs_stop_at_the_limits(tmp_path: Path, name: str, compress: Callable[[bytes], bytes]) -> None:
    bomb = compress(bytes(32 << 20))  # 32 MiB of zeros in a few KB
    assert len(bomb) < 100_000
    (tmp_path / name).write_bytes(bomb)
    findings, skipped = scan_files(tmp_path)
    assert findings == [] and skipped == {"archive-max-ratio": 1}
    findings, skipped = scan_files(tmp_path, max_ratio=1 << 30, max_bytes=4 << 20)  # no ratio limit: the bytes one
    assert findings == [] and skipped == {"archive-max-bytes": 1}


def test_a_bomb_member_does_not_hide_the_rest_of_a_tar_xz(tmp_path: Path, rng: random.Random) -> None:
    creds = fakes.temporary(rng)
    (tmp_path / "a.tar.xz").write_bytes(tar_of({"z/.env": _creds_text(creds), "zeros": bytes(8 << 20)}, "w:xz"))
    findings, skipped = scan_files(tmp_path)
    assert_set(only(findings), creds)  # read before the ratio limit stopped the stream
    assert skipped == {"archive-max-ratio": 1}


# --- formats stsleak cannot open ------------------------------------------------------------------

def _seven_zip_like(text: bytes) -> bytes:
    """A 7z signature header, then the text stored as-is (7z's "copy" method) and binary padding."""
    return b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24) + text + bytes(32) + b"\x01\x04\x06\x00"


def _rar_like(text: bytes) -> bytes:
    return b"Rar!\x1a\x07\x01\x00" + bytes([0x33, 0x92, 0xB5, 0xE5, 0x0A, 0x01, 0x05, 0x06, 0x00]) + text + bytes(16)


@pytest.mark.parametrize(("name", "build"), [
    ("backup.7z", _seven_zip_like), ("backup.rar", _rar_like),
    ("backup.zst", lambda text: b"\x28\xb5\x2f\xfd\x04\x00" + bytes(6) + text + bytes(8)),
])
def test_unsupported_archive_is_counted_and_its_printable_runs_scanned(
        tmp_path: Path, rng: random.Random,
        name: str, build: Callable[[bytes], bytes]) -> None:
    creds = fakes.temporary(rng)
    (tmp_path / name).write_bytes(build(_creds_text(creds)))
    findings, skipped = scan_files(tmp_path)
    finding = only(findings)
    assert_set(finding, creds)
    assert finding.path.endswith(name)
    assert skipped == {"archive-unsupported": 1}  # never "binary"


def test_unsupported_archive_inside_a_zip(tmp_path: Path, rng: random.Random) -> None:
    creds = fakes.temporary(rng)
    (tmp_path / "bundle.zip").write_bytes(zip_of({"vendor/old.7z": _seven_zip_like(_creds_text(creds)),
                                                "vendor/empty.7z": b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24)}))
    findings, skipped = scan_files(tmp_path)
    assert only(findings).path.endswith("bundle.zip!vendor/old.7z")
    assert skipped == {"archive-unsupported": 2}


def test_magic_recognition_and_the_prefilter_literals() -> None:
    assert archive_kind(lzma.compress(b"x")) == "xz"
    assert archive_kind(bz2.compress(b"x")) == "bzip2"
    assert archive_kind(bz2.compress(b"")) == "bzip2"
    for preset in range(10):
        assert archive_kind(lzma.compress(b"x", format=lzma.FORMAT_ALONE, preset=preset)) == "lzma"
    for text in (b"BZh is a word\n", b"]\x00\x00\x80\x00 and text", b"Rar is not Rar!\n", b"7z archives\n"):
        assert archive_kind(text) is None
    literals = magic_literals()
    for data in (lzma.compress(b"x"), bz2.compress(b"x"), lzma.compress(b"x", format=lzma.FORMAT_ALONE, preset=9),
                 _seven_zip_like(b"x"), _rar_like(b"x")):
        assert any(lit in data for lit in literals)  # history reads such a blob


def test_history_reads_xz_and_bzip2_blobs(repo: GitRepo, rng: random.Random) -> None:
    first, second = fakes.temporary(rng), fakes.temporary(rng)
    commit = repo.commit("backups", {"backups/home.tar.xz": tar_of({"ci/.aws/credentials": _creds_text(first)}, "w:xz"),
                                     "backups/env.bz2": bz2.compress(_creds_text(second))})
    run = stsleak_in_process("scan", "--history", "--format", "json", str(repo.path))
    assert run.code == 1, run.stderr
    items = sorted(run.json()["findings"], key=lambda item: item["path"])
    assert [(item["path"], item["commit"]) for item in items] == [
        ("backups/env.bz2", commit), ("backups/home.tar.xz!ci/.aws/credentials", commit)]
    assert_json_set(items[0], second)
    assert_json_set(items[1], first)
