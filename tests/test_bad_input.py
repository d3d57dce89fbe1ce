"""Bad input: each gets a clear message and the documented exit code; everything else is scanned."""

from __future__ import annotations

import codecs
import os
import sys
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support.cli import GitRepo, Run
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)
from tests.support.core import assert_json_set, ini, only, scan_bytes

Creds = fakes.FakeCredentials



def _json_scan(*args: str, cwd: Path) -> Run:
    run = stsleak("scan", "--format", "json", *args, cwd=cwd)
    assert "Traceback" not in run.stderr, run.stderr
    return run


def _warnings(run: Run) -> list[str]:
    return [line for line in run.stderr.splitlines() if line]


def test_missing_path_other_paths_still_scanned(tmp_path: Path) -> None:
    (tmp_path / "clean.txt").write_text("nothing\n")
    run = _json_scan("nope.txt", "clean.txt", cwd=tmp_path)
    assert run.code == 2
    (line,) = _warnings(run)
    assert "nope.txt" in line and "no such file" in line
    assert run.json()["stats"]["files"] == 1
    assert run.json()["stats"]["errors"] == ["nope.txt: no such file or directory"]


def test_missing_path_does_not_hide_findings(tmp_path: Path, creds: Creds) -> None:
    (tmp_path / "leak.ini").write_text(ini(creds))
    run = _json_scan("nope.txt", "leak.ini", cwd=tmp_path)
    assert run.code == 1  # findings win over errors (README, exit codes)
    assert_json_set(only(run.json()["findings"]), creds)
    (line,) = _warnings(run)
    assert "nope.txt" in line


def test_explicit_broken_symlink(tmp_path: Path) -> None:
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    run = _json_scan("dangling", cwd=tmp_path)
    assert run.code == 2
    (line,) = _warnings(run)
    assert "dangling" in line and "broken symbolic link" in line


def test_broken_symlink_inside_directory_is_counted(tmp_path: Path, creds: Creds) -> None:
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    (tmp_path / "leak.ini").write_text(ini(creds))
    run = _json_scan(".", cwd=tmp_path)
    assert run.code == 1 and run.json()["stats"]["skipped"] == {"broken-symlink": 1}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_met_while_walking_is_skipped_not_waited_on(tmp_path: Path, creds: Creds) -> None:
    # (A FIFO named explicitly is read: tests/hostile/test_unread_inputs.py.)
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "leak.ini").write_text(ini(creds))
    run = stsleak("scan", "--format", "json", ".", cwd=tmp_path, timeout=30)
    assert run.code == 1
    assert run.json()["stats"]["skipped"] == {"not-a-regular-file": 1}


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_file_that_fails_to_read_even_as_root(tmp_path: Path, creds: Creds) -> None:
    # Reading /proc/self/mem at offset 0 fails with EIO for every user, root included.
    (tmp_path / "unreadable").symlink_to("/proc/self/mem")
    (tmp_path / "leak.ini").write_text(ini(creds))
    run = _json_scan("unreadable", "leak.ini", cwd=tmp_path)
    assert run.code == 1
    (line,) = _warnings(run)
    assert "unreadable" in line and "cannot read" in line
    alone = _json_scan("unreadable", cwd=tmp_path)
    assert alone.code == 2 and len(_warnings(alone)) == 1


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root reads a chmod 000 file")
def test_permission_denied_file(tmp_path: Path, creds: Creds) -> None:
    secret_file = tmp_path / "locked.ini"
    secret_file.write_text(ini(creds))
    secret_file.chmod(0)
    (tmp_path / "clean.txt").write_text("x\n")
    try:
        run = _json_scan(".", cwd=tmp_path)
    finally:
        secret_file.chmod(0o600)
    assert run.code == 2
    (line,) = _warnings(run)
    assert "locked.ini" in line and "cannot read" in line


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root reads a chmod 000 directory")
def test_permission_denied_directory(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.txt").write_text("x\n")
    locked.chmod(0)
    try:
        run = _json_scan(".", cwd=tmp_path)
    finally:
        locked.chmod(0o700)
    assert run.code == 2
    (line,) = _warnings(run)
    assert "locked" in line and "cannot read directory" in line


def test_directory_symlink_loop(tmp_path: Path, creds: Creds) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "up").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "a" / "self").symlink_to(".", target_is_directory=True)
    (tmp_path / "a" / "b" / "leak.ini").write_text(ini(creds))
    run = stsleak("scan", "--format", "json", "a", cwd=tmp_path, timeout=30)
    assert run.code == 1, run.stderr
    report = run.json()
    assert len(report["findings"]) == 1 and report["findings"][0]["path"] == "a/b/leak.ini"
    assert report["stats"]["skipped"]["symlink-loop"] == 2
    clean = tmp_path / "a" / "b" / "leak.ini"
    clean.write_text("nothing\n")
    assert stsleak("scan", "a", cwd=tmp_path, timeout=30).code == 0


def test_binary_file_read_as_strings_and_noted(tmp_path: Path, creds: Creds) -> None:
    # Issue 23 #1: a binary file is read as its printable runs (and counted so); a key id glued to
    # the letters before it ("IHDRASIA…") is still no key id there.
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + creds.access_key_id.encode())
    (tmp_path / "clean.txt").write_text("x\n")
    run = _json_scan(".", cwd=tmp_path)
    assert run.code == 0
    assert run.json()["stats"]["skipped"] == {"binary-strings": 1}
    assert "binary-strings: 1" in stsleak("scan", ".", cwd=tmp_path).stdout


def test_file_over_max_size_skipped_and_noted(tmp_path: Path, creds: Creds) -> None:
    (tmp_path / "big.log").write_text("x" * 4096 + "\n" + ini(creds))
    (tmp_path / "small.ini").write_text("x\n")
    run = _json_scan("--max-file-size", "2k", ".", cwd=tmp_path)
    assert run.code == 0
    stats = run.json()["stats"]
    assert stats["skipped"] == {"too-large": 1} and stats["files"] == 1
    assert _json_scan(".", cwd=tmp_path).code == 1  # under the default limit it is scanned


def test_bad_max_file_size(tmp_path: Path) -> None:
    run = stsleak("scan", "--max-file-size", "lots", ".", cwd=tmp_path)
    assert run.code == 2 and "Traceback" not in run.stderr


def test_invalid_utf8_around_credential(creds: Creds) -> None:
    data = b"\xc3(garbage\x80\x81\n" + ini(creds).encode() + b"\xe2\x28\xa1 more \xf0\x90\n"
    finding = only(scan_bytes(data))
    assert finding.secret == creds.secret_access_key and finding.line == 3


def test_latin1_text_opening_with_utf16_bom_bytes(creds: Creds) -> None:
    data = b"\xff\xfe\xc3(garbage\x80\x81\n" + ini(creds).encode() + b"\xe2\x28\xa1 more \xf0\x90\n"
    finding = only(scan_bytes(data))
    assert finding.secret == creds.secret_access_key and finding.line == 3


def test_invalid_utf8_through_the_cli(tmp_path: Path, creds: Creds) -> None:
    (tmp_path / "mixed.ini").write_bytes(b"\xc0\xc1 \xfe\n" + ini(creds).encode("latin-1") + b"\xff\n")
    assert_json_set(only(_json_scan(".", cwd=tmp_path).json()["findings"]), creds)


def test_utf8_with_bom_and_non_ascii_text(creds: Creds) -> None:
    data = codecs.BOM_UTF8 + ("# clé d'accès — ключ\n" + ini(creds)).encode("utf-8")
    assert only(scan_bytes(data)).line == 3


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(encoding: str, tmp_path: Path, creds: Creds) -> None:
    bom = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
    (tmp_path / "creds.ini").write_bytes(bom + ("# é\r\n" + ini(creds)).encode(encoding))
    run = _json_scan(".", cwd=tmp_path)
    finding = only(run.json()["findings"])
    assert_json_set(finding, creds)
    assert finding["line"] == 3


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom(encoding: str, creds: Creds) -> None:
    finding = only(scan_bytes(ini(creds).encode(encoding)))
    assert finding.secret == creds.secret_access_key


def test_stdin(creds: Creds) -> None:
    run = stsleak("scan", "--format", "json", "-", input_text="some log\n" + ini(creds))
    assert run.code == 1, run.stderr
    finding = only(run.json()["findings"])
    assert_json_set(finding, creds)
    assert (finding["path"], finding["line"]) == ("<stdin>", 3)


def test_stdin_empty() -> None:
    run = stsleak("scan", "-", input_text="")
    assert run.code == 0 and "Traceback" not in run.stderr


def test_stdin_with_other_paths_is_a_usage_error(tmp_path: Path) -> None:
    run = stsleak("scan", "-", "x.txt", cwd=tmp_path, input_text="")
    assert run.code == 2 and len(_warnings(run)) == 1


def test_empty_file_and_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty.txt").write_text("")
    run = _json_scan("empty", "empty.txt", cwd=tmp_path)
    assert run.code == 0 and run.json()["stats"]["files"] == 1


def test_output_to_unwritable_place(tmp_path: Path) -> None:
    run = stsleak("scan", "--output", str(tmp_path / "no" / "such" / "dir" / "r.json"), ".", cwd=tmp_path)
    assert run.code == 2 and len(_warnings(run)) == 1 and "Traceback" not in run.stderr


def test_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    run = stsleak("scan", "--no-such-option", cwd=tmp_path)
    assert run.code == 2 and "Traceback" not in run.stderr


def test_unreadable_directory_is_reported_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root can list a chmod 000 directory, so make listing fail the way it does for other users.
    from scanner.model import ScanStats
    from scanner.sources import files

    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.txt").write_text("x\n")
    (tmp_path / "b.txt").write_text("y\n")
    real_scandir = os.scandir

    def scandir(path: os.PathLike[str] | str = ".") -> os.ScandirIterator[str]:  # type: ignore[name-defined]
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    stats = ScanStats()
    chunks = list(files.iter_file_chunks([tmp_path], 1 << 20, stats))
    assert [Path(c.path or "").name for c in chunks] == ["b.txt"]
    (error,) = stats.errors
    assert "locked" in error and "cannot read directory (Permission denied)" in error


def test_file_name_that_is_not_utf8_is_scanned(tmp_path: Path, creds: Creds) -> None:
    content = ini(creds)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / os.fsdecode(b"caf\xe9.env")).write_text(content)
    repo = GitRepo(tmp_path / "repo")
    (repo.path / os.fsdecode(b"caf\xe9.env")).write_text(content)
    repo.git("add", "-A")
    for where in (plain, repo.path):
        for fmt in ("text", "json"):
            run = stsleak("scan", "--format", fmt, ".", cwd=where)
            assert run.code == 1, run.stderr
            assert creds.access_key_id in run.stdout and "Traceback" not in run.stderr
