"""§5: output cannot be used against the reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from scanner.redact import scrub
from scanner.reports.escape import escape
from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import ini

EVIL = "evil\n  at forged.txt:1\x1b[2J\u202e.ini"


def test_escape_like_quotepath() -> None:
    assert escape("a\nb\tc\x1b[31m\x7f\\d\u202e") == "a\\nb\\tc\\x1b[31m\\x7f\\\\d\\u202e"
    assert escape("ünïcødé/日本.txt") == "ünïcødé/日本.txt"


def test_a_newline_in_a_path_cannot_forge_an_at_line(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    (tmp_path / EVIL).write_text(ini(creds))
    text = stsleak("scan", ".", cwd=tmp_path)
    assert text.code == 1
    assert not any(line.startswith("  at forged") for line in text.stdout.splitlines())
    assert "\x1b" not in text.stdout and "\u202e" not in text.stdout
    assert "evil\\n  at forged.txt:1\\x1b[2J\\u202e.ini:2" in text.stdout
    report = stsleak("scan", "--format", "json", ".", cwd=tmp_path).json()
    assert report["findings"][0]["path"] == EVIL  # JSON stays exact


def test_commit_authors_are_escaped(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.write("aws.ini", ini(creds))
    repo.git("add", "-A")
    repo.git("-c", "user.name=Mallory\x1b]0;pwned\x07\nfake", "-c", "user.email=m@example.com",
             "commit", "-q", "-m", "x")
    text = stsleak("scan", "--history", str(repo.path))
    assert text.code == 1 and "\x1b" not in text.stdout and "\x07" not in text.stdout


def test_warnings_escape_paths(tmp_path: Path) -> None:
    missing = "gone\n\x1b[31mstsleak: note: all clear"
    result = stsleak("scan", str(tmp_path / missing))
    assert result.code == 2 and "\x1b" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_scrub_removes_encoded_forms(creds: fakes.FakeCredentials) -> None:
    token, secret = creds.session_token, creds.secret_access_key
    assert token
    message = (f"GET /?X-Amz-Security-Token={quote(token, safe='')} body={json.dumps({'s': secret, 't': token})}"
               f" escaped={secret.replace('/', chr(92) + '/')} plus={quote(secret, safe='')}")
    cleaned = scrub(message, [secret, token])
    for value in (token, secret, quote(token, safe=""), quote(secret, safe=""), secret.replace("/", "\\/")):
        assert value not in cleaned
    # a token nobody named, URL-encoded, is still cut
    assert quote(token, safe="") not in scrub(f"url {quote(token, safe='')}", [])


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    for i in range(300):  # more output than a pipe holds
        (tmp_path / f"leak{i:03}.ini").write_text(ini(fakes.temporary()))
    return tmp_path


def test_a_closed_stdout_ends_quietly_with_the_scans_exit_code(leaky: Path) -> None:
    read, write = os.pipe()
    os.close(read)
    proc = subprocess.run([sys.executable, "-m", "scanner", "scan", str(leaky)], stdout=write,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(write)
    assert proc.returncode == 1 and proc.stderr == ""


def test_head_minus_one(leaky: Path) -> None:
    script = f"'{sys.executable}' -m scanner scan '{leaky}' | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}"
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stderr == ""


def test_stdout_that_cannot_encode_the_report(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    (tmp_path / "clé-密钥.ini").write_text(ini(creds))  # a name an ASCII console cannot show
    result = stsleak("scan", str(tmp_path), env={"PYTHONIOENCODING": "ascii"})
    assert result.code == 2 and "internal error" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("stsleak: error: stdout cannot show the report") and "PYTHONIOENCODING" in line


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    (tmp_path / "aws.ini").write_text(ini(creds))
    to_file = stsleak("scan", "-o", "/dev/full", str(tmp_path))
    assert to_file.code == 2 and "internal error" not in to_file.stderr and "No space left" in to_file.stderr
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "scanner", "scan", str(tmp_path)], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 2 and "No space left" in proc.stderr and "internal error" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["missing-dir/report.json", "."])
def test_an_unwritable_output(tmp_path: Path, creds: fakes.FakeCredentials, where: str) -> None:
    (tmp_path / "aws.ini").write_text(ini(creds))
    result = stsleak("scan", "-o", str(tmp_path / where), str(tmp_path))
    assert result.code == 2 and "cannot write" in result.stderr and "internal error" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_error_lines_escape_repository_text(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit("init", {"README.md": "hi\n"})
    repo.git("config", "core.hooksPath", str(tmp_path / "x\n\x1b[2Jstsleak: installed"))
    result = stsleak("install-hook", str(repo.path))
    assert result.code == 2 and "\x1b" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "\\x1b[2J" in result.stderr


def test_our_own_typography_made_plain_on_an_ascii_console(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    (tmp_path / "aws.ini").write_text(ini(creds))
    result = stsleak("scan", str(tmp_path), env={"PYTHONIOENCODING": "ascii"})
    assert result.code == 1, result.stderr
    assert creds.access_key_id in result.stdout and "..." in result.stdout  # the redaction's ellipsis
    result.stdout.encode("ascii")
