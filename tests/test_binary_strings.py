"""Issue 23 #1: text inside binary files is scanned as its printable runs (what `strings` shows).

A binary file (a NUL in its first 8 KiB, not UTF-16/32) used to be counted `binary` and skipped.
Now its ASCII and UTF-16LE runs of four or more characters are scanned, one run a line (so NUL
separates entries, as in `/proc/<pid>/environ`), under the existing size limits, and the file is
counted `binary-strings` in `stats.skipped` (what it holds compressed or encoded is not seen). An
archive stsleak cannot open is read the same way (strings.py serves both). Credentials are generated
at run time (scanner/testing/fakes.py).
"""

from __future__ import annotations

import json
import pickle
import py_compile
import random
import re
import sqlite3
import struct
import zipfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.detection.decoders.expand import ArchiveLimits, Decoders
from scanner.detection.decoders.strings import printable_runs
from scanner.detection.decoding import is_binary, to_text
from scanner.model import Chunk, Finding, ScanStats
from scanner.pipeline import findings_in_chunk
from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.cli import stsleak_in_process as stsleak
from tests.support.core import assert_json_set, assert_set, env_file, only, ruleset

Creds = fakes.FakeCredentials


def decoded(data: bytes, path: str = "blob.bin") -> tuple[list[Finding], dict[str, int]]:
    """Findings in one chunk as the pipeline scans it (decoders included), and what was counted."""
    stats = ScanStats()
    rules = ruleset()
    found = Decoders(rules.key_id_prefixes, ArchiveLimits()).findings(
        Chunk(data=data, path=path), lambda c: findings_in_chunk(c, rules, stats), stats)
    return found, stats.skipped


def _environ(creds: Creds) -> bytes:
    return env_file(creds).replace("\n", "\0").join(["PATH=/usr/bin\0LANG=C.UTF-8\0", "HOME=/root\0"]).encode()


def test_process_environment_dump(tmp_path: Path, creds: Creds) -> None:
    (tmp_path / "environ").write_bytes(_environ(creds))
    run = stsleak("scan", "--format", "json", str(tmp_path))
    assert run.code == 1, run.stderr
    report = run.json()
    assert_json_set(only(report["findings"]), creds)
    assert report["stats"]["skipped"] == {"binary-strings": 1}


def test_pickled_dict(creds: Creds) -> None:
    for protocol in (2, 4, 5):
        data = pickle.dumps({"AccessKeyId": creds.access_key_id, "SecretAccessKey": creds.secret_access_key,
                             "SessionToken": creds.session_token, "Expiration": "2026-11-24T21:00:00Z"},
                            protocol=protocol)
        found, skipped = decoded(data, "cache.pkl")
        assert_set(only(found), creds)
        assert skipped == {"binary-strings": 1}


def test_compiled_python_file(tmp_path: Path, rng: random.Random) -> None:
    creds = fakes.temporary(rng, "IQoJ", 1100)  # marshal frames each constant: `z(` before a 40-char one
    source = tmp_path / "deploy.py"
    source.write_text("import boto3\n\nsession = boto3.Session(\n"
                      f"    aws_access_key_id='{creds.access_key_id}',\n"
                      f"    aws_secret_access_key='{creds.secret_access_key}',\n"
                      f"    aws_session_token='{creds.session_token}',\n)\n")
    compiled = Path(py_compile.compile(str(source), cfile=str(tmp_path / "deploy.cpython-311.pyc")))
    found, skipped = decoded(compiled.read_bytes(), "__pycache__/deploy.cpython-311.pyc")
    assert_set(only(found), creds)
    assert skipped == {"binary-strings": 1}


def test_sqlite_file_holding_a_credentials_document(tmp_path: Path, creds: Creds) -> None:
    db = tmp_path / "cache.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("create table cache (key text primary key, value text)")
        con.execute("insert into cache values (?, ?)", ("aws", json.dumps({
            "Credentials": {"AccessKeyId": creds.access_key_id, "SecretAccessKey": creds.secret_access_key,
                            "SessionToken": creds.session_token}})))
    con.close()
    found, skipped = decoded(db.read_bytes(), "cache.sqlite")
    assert_set(only(found), creds)
    assert skipped == {"binary-strings": 1}


def test_utf16_strings_in_a_binary(creds: Creds) -> None:
    # A Windows binary's UTF-16LE strings (resources, the registry), between binary bytes.
    header = b"MZ\x90\x00\x03\x00\x00\x00" + struct.pack("<I", 0xDEADBEEF)
    data = header + env_file(creds).encode("utf-16-le") + b"\xff\x00"
    assert to_text(data) is None  # binary as a whole: only its UTF-16 run is text
    found, skipped = decoded(data, "tool.exe")
    assert_set(only(found), creds)
    assert skipped == {"binary-strings": 1}


def test_binary_member_of_an_archive(tmp_path: Path, creds: Creds) -> None:
    """A binary member (a pickle in a wheel) is read like a binary file, and counted once."""
    payload = pickle.dumps({"aws_access_key_id": creds.access_key_id, "aws_secret_access_key": creds.secret_access_key,
                            "aws_session_token": creds.session_token})
    archive = tmp_path / "model.whl"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pkg/state.pkl", payload)
        zf.writestr("pkg/__init__.py", "x = 1\n")
    run = stsleak("scan", "--format", "json", str(archive))
    finding = only(run.json()["findings"])
    assert_json_set(finding, creds)
    assert finding["path"].endswith("model.whl!pkg/state.pkl")
    assert run.json()["stats"]["skipped"] == {"binary-strings": 1}


def test_binary_file_over_the_size_limit_is_not_read(tmp_path: Path, creds: Creds) -> None:
    (tmp_path / "core").write_bytes(_environ(creds) + b"\0" * 4096)
    run = stsleak("scan", "--format", "json", "--max-file-size", "2k", str(tmp_path))
    assert run.code == 0
    assert run.json()["stats"]["skipped"] == {"too-large": 1}


def test_binary_without_a_credential_is_counted_and_clean(tmp_path: Path, rng: random.Random) -> None:
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(5000))
    run = stsleak("scan", "--format", "json", str(tmp_path))
    assert run.code == 0
    assert run.json()["findings"] == []
    assert run.json()["stats"]["skipped"] == {"binary-strings": 1}
    assert "binary-strings: 1" in stsleak("scan", str(tmp_path)).stdout


def test_staged_binary_whose_set_was_already_there_is_not_new(creds: Creds) -> None:
    before = _environ(creds)
    after = b"\x00\x01moved\x00" + before
    rules = ruleset()
    stats = ScanStats()
    decoders = Decoders(rules.key_id_prefixes, ArchiveLimits())
    found = decoders.findings(Chunk(data=after, path="environ", previous=before),
                              lambda c: findings_in_chunk(c, rules, stats), stats)
    assert found == []


def test_history_reads_a_binary_blob_as_strings(tmp_path: Path, creds: Creds) -> None:
    repo = GitRepo(tmp_path / "repo")
    commit = repo.commit("dump", {"debug/environ": _environ(creds)})
    run = stsleak("scan", "--history", "--format", "json", str(repo.path))
    finding = only(run.json()["findings"])
    assert_json_set(finding, creds)
    assert (finding["path"], finding["commit"]) == ("debug/environ", commit)
    assert run.json()["stats"]["skipped"] == {"binary-strings": 1}


# --- printable_runs: what `strings` shows, fast -----------------------------------------------------

_ASCII_RUN = re.compile(rb"[\t\x20-\x7e]{4,}")
_UTF16LE_RUN = re.compile(rb"(?:[\t\x20-\x7e]\x00){4,}")


def _strings_reference(data: bytes) -> bytes:
    """The plain regex form of printable_runs (before the framing splits)."""
    runs = _ASCII_RUN.findall(data) + ([r[::2] for r in _UTF16LE_RUN.findall(data)] if b"\0" in data else [])
    return b"\n".join(runs) + b"\n" if runs else b""


_BYTES = st.lists(st.sampled_from([b"\x00", b"\x01", b"\xff", b"\t", b"A", b"a", b"=", b"(", b" ", b"A\x00",
                                   b"ASIA", b"Z3\x00"]) | st.binary(max_size=8), max_size=60).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(_BYTES)
def test_printable_runs_are_the_runs_strings_shows(data: bytes) -> None:
    assert printable_runs(data) == _strings_reference(data)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([b"\x14", b"(", b"\x00\x00", b"\x00", b"z", b"A" * 20, b"ASIA" + b"Q" * 16,
                                 b"a" * 40, b"B" * 70, b",\x01"]), max_size=40).map(b"".join))
def test_framing_cuts_only_split_runs(data: bytes) -> None:
    """Cutting framed values apart only splits runs (a piece under four characters is dropped)."""
    reference = _strings_reference(data).split(b"\n")
    for run in printable_runs(data).split(b"\n")[:-1]:
        assert any(run in whole for whole in reference), run


def test_a_framed_value_glued_to_the_next_ends_its_line(rng: random.Random) -> None:
    """marshal (.pyc): a type code and a one-byte length before each value, the next type code right
    after it; a protocol-2 pickle: four-byte lengths, a memo opcode (`q`) after each value."""
    key, secret, token = fakes.key_id("ASIA", rng), fakes.secret(rng), fakes.session_token("FQoG", 301, rng)[:-1]
    runs = printable_runs(b"\xda\x14" + key.encode() + b"z(" + secret.encode() + b"a,\x01\x00\x00" + token.encode()
                          + b"r\x05\x00")  # ("a," and "r": framing too short to be a run of its own)
    assert runs.split(b"\n")[:3] == [key.encode(), b"z(" + secret.encode(), token.encode()]
    pickled = b"X\x14\x00\x00\x00" + key.encode() + b"q\x01X(\x00\x00\x00" + secret.encode() + b"q\x02"
    assert printable_runs(pickled).split(b"\n")[:2] == [key.encode(), secret.encode()]


def test_is_binary_agrees_with_to_text(rng: random.Random) -> None:
    samples = [b"", b"text\n", b"\x00\x01\x02", "UTF-16 text".encode("utf-16"), "wide".encode("utf-16-le") * 50,
               b"a" * 9000 + b"\x00", rng.randbytes(3000), b"\xff\xfe" + b"x" * 10]
    for data in samples:
        assert is_binary(data) == (to_text(data) is None), data[:20]
