"""§4: nothing found is lost, nothing readable is skipped silently."""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import ini


def _corrupt_packed_commit(repo: GitRepo, commit: str) -> None:
    """Pack everything, then overwrite the middle of one commit's compressed data in the pack."""
    repo.git("repack", "-a", "-d", "-q")
    (index,) = (repo.path / ".git" / "objects" / "pack").glob("*.idx")
    for line in repo.git("verify-pack", "-v", str(index)).splitlines():
        fields = line.split()
        if fields and fields[0] == commit:
            size_in_pack, offset = int(fields[3]), int(fields[4])
            break
    else:
        raise AssertionError("commit not in pack")
    pack = index.with_suffix(".pack")
    pack.chmod(0o644)
    data = bytearray(pack.read_bytes())
    start = offset + size_in_pack // 2
    data[start : start + 6] = b"\xff\x00\xff\x00\xff\x00"
    pack.write_bytes(bytes(data))


def test_findings_win_over_an_unreadable_commit(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("init", {"README.md": "hello\n"})
    leak = repo.commit("leak", {"aws.ini": ini(creds)})
    repo.commit("more", {"other.txt": "nothing\n"})
    _corrupt_packed_commit(repo, leak)
    result = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert result.code == 1, result.stderr
    (finding,) = result.json()["findings"]
    assert finding["access_key_id"] == creds.access_key_id and finding["commit"] is None
    assert "stsleak: warning:" in result.stderr and "Traceback" not in result.stderr


def test_utf16le_with_bom_and_cjk_text_first(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    text = "設定ファイル。本番環境の認証情報。\n" + ini(creds)
    (tmp_path / "le.txt").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    (tmp_path / "be.txt").write_bytes(codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    (tmp_path / "32le.txt").write_bytes(codecs.BOM_UTF32_LE + text.encode("utf-32-le"))
    (tmp_path / "32be.txt").write_bytes(codecs.BOM_UTF32_BE + text.encode("utf-32-be"))
    result = stsleak("scan", "--format", "json", str(tmp_path))
    assert result.code == 1
    found = {Path(f["path"]).name: f for f in result.json()["findings"]}
    assert set(found) == {"le.txt", "be.txt", "32le.txt", "32be.txt"}
    assert all(f["line"] == 3 and f["missing"] == [] for f in found.values())


def test_utf16_and_utf32_with_bom_in_history(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    """The history prefilter looks for the key-id prefixes in the wide encodings too."""
    text = "設定ファイル。\n" + ini(creds)
    names = {"16le.txt": ("utf-16-le", codecs.BOM_UTF16_LE), "32le.txt": ("utf-32-le", codecs.BOM_UTF32_LE),
             "32be.txt": ("utf-32-be", codecs.BOM_UTF32_BE)}
    for name, (codec, bom) in names.items():
        (repo.path / name).write_bytes(bom + text.encode(codec))
    repo.git("add", ".")
    repo.git("commit", "-q", "-m", "wide")
    result = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert result.code == 1, result.stderr
    assert {f["path"] for f in result.json()["findings"]} == set(names)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_explicitly_is_read(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"cat > '{fifo}'"], stdin=subprocess.PIPE)
    proc = subprocess.Popen([sys.executable, "-m", "scanner", "scan", "--format", "json", str(fifo)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert writer.stdin is not None
    writer.stdin.write(ini(creds).encode())
    writer.stdin.close()
    writer.wait(timeout=30)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert creds.access_key_id in out


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_process_substitution_is_read(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    (tmp_path / "leak.ini").write_text(ini(creds))
    script = f"exec '{sys.executable}' -m scanner scan --format json <(cat leak.ini)"
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert creds.access_key_id in proc.stdout


def test_a_device_named_explicitly_is_read_bounded(tmp_path: Path) -> None:
    result = stsleak("scan", "--format", "json", "--max-file-size", "1M", "/dev/zero", timeout=60)
    assert result.code == 0, result.stderr
    assert result.json()["stats"]["skipped"] == {"too-large": 1}
    empty = stsleak("scan", "--format", "json", "/dev/null")
    assert empty.code == 0 and empty.json()["stats"]["files"] == 1


def test_ignored_files_are_counted_and_no_ignore_scans_them(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("init", {".gitignore": "*.ini\nbuild/\n"})
    repo.write("leak.ini", ini(creds))
    repo.write("build/out.txt", "x\n")
    result = stsleak("scan", "--format", "json", str(repo.path))
    assert result.code == 0
    assert result.json()["stats"]["skipped"]["ignored"] == 2  # leak.ini and build/ (a directory counts once)
    assert "--no-ignore" in result.stderr
    included = stsleak("scan", "--format", "json", "--no-ignore", str(repo.path))
    assert included.code == 1 and "ignored" not in included.json()["stats"]["skipped"]


def test_a_directory_that_is_not_a_work_tree_is_scanned_in_full(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    (tmp_path / ".gitignore").write_text("*.ini\n")  # not a repository: .gitignore means nothing
    (tmp_path / "leak.ini").write_text(ini(creds))
    assert stsleak("scan", str(tmp_path)).code == 1


def test_a_bare_repository_without_history_is_a_usage_error(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "bare.git")], check=True)
    result = stsleak("scan", str(tmp_path / "bare.git"))
    assert result.code == 2 and "bare repository" in result.stderr and "--history" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("size", ["0", "-1", "-5M", "0k"])
def test_max_file_size_zero_or_negative_is_a_usage_error(tmp_path: Path, size: str) -> None:
    result = stsleak("scan", f"--max-file-size={size}", str(tmp_path))
    assert result.code == 2 and "positive size" in result.stderr and "Traceback" not in result.stderr


def test_max_file_size_zero_in_config_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".stsleak.yaml").write_text("max_file_size: 0\n")
    result = stsleak("scan", str(tmp_path))
    assert result.code == 2 and "max_file_size" in result.stderr


def test_symlinks_out_of_the_scanned_tree_are_not_followed(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    """A repository's `creds -> ~/.aws/credentials` must not make stsleak read the scanning machine's files."""
    outside = tmp_path / "home"
    outside.mkdir()
    (outside / "credentials").write_text(ini(creds))
    for kind in ("plain", "git"):
        tree = tmp_path / kind
        if kind == "git":
            GitRepo(tree).commit("links", {})
        tree.mkdir(exist_ok=True)
        (tree / "creds").symlink_to(outside / "credentials")
        (tree / "home").symlink_to(outside, target_is_directory=True)
        (tree / "inside").symlink_to(tree / "creds")
        if kind == "git":
            GitRepo(tree).git("add", "-A")
        result = stsleak("scan", "--format", "json", str(tree))
        assert result.code == 0, (kind, result.stdout)
        assert result.json()["stats"]["skipped"].get("symlink-outside-root", 0) >= 2
    # named explicitly, a link is followed: the user asked for it
    assert stsleak("scan", str(tmp_path / "plain" / "creds")).code == 1
