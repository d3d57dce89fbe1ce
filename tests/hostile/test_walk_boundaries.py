"""Issue 20, cases 1 and 4: a files scan reads nothing outside the scan root, whatever path
component leads out of it, and scans (or counts) every file under it, nested repositories and
submodules included. Every repository here is built at run time; every credential is generated."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.core import ini


def _outside(tmp_path: Path, creds: fakes.FakeCredentials) -> Path:
    """A directory next to the repository (the scanning user's ~/.aws, say) holding a credential."""
    home = tmp_path / "home" / ".aws"
    home.mkdir(parents=True)
    (home / "credentials").write_text(ini(creds))
    return home


def _stage_at(repo: GitRepo, path: str, content: Path) -> None:
    """An index entry `path` for `content`'s blob, whatever the work tree holds there."""
    blob = repo.git("hash-object", "-w", str(content)).strip()
    repo.git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")


def _write_index(repo: GitRepo, names: list[str], content: Path) -> None:
    """An index git itself would never write (`git update-index` refuses these names): version 2,
    one entry per name, each for `content`'s blob."""
    oid = bytes.fromhex(repo.git("hash-object", "-w", str(content)).strip())
    body = b"DIRC" + struct.pack(">II", 2, len(names))
    for name in sorted(n.encode() for n in names):
        # ctime, mtime, dev, ino; mode; uid, gid, size; blob id; flags (the name's length)
        entry = bytes(24) + struct.pack(">I", 0o100644) + bytes(12) + oid + struct.pack(">H", min(len(name), 0xFFF))
        entry += name
        body += entry + bytes(8 - len(entry) % 8)
    (repo.path / ".git" / "index").write_bytes(body + hashlib.sha1(body).digest())


# --- case 1: nothing outside the root is read ---------------------------------------------------


def test_the_smoke_check_an_index_path_through_a_linked_directory(tmp_path: Path,
                                                                  creds: fakes.FakeCredentials) -> None:
    """Exactly the before-stop smoke check: `cloud/credentials` in the index, `cloud -> ~/.aws`."""
    outside = _outside(tmp_path, creds)
    repo = GitRepo(tmp_path / "r")
    repo.write("a", "hi\n")
    repo.git("add", "a")
    (repo.path / "cloud").symlink_to(outside, target_is_directory=True)
    _stage_at(repo, "cloud/credentials", outside / "credentials")
    text = stsleak("scan", "--no-suppress", str(repo.path))
    assert text.code == 0, text.stdout + text.stderr
    assert creds.access_key_id not in text.stdout + text.stderr
    assert "outside-root: 1" in text.stdout  # the summary says what was not read
    report = stsleak("scan", "--no-suppress", "--format", "json", "--show-secrets", str(repo.path))
    assert report.code == 0 and report.json()["findings"] == []
    assert report.json()["stats"]["skipped"]["outside-root"] == 1


@pytest.mark.parametrize("link", ["cloud", "conf/cloud", "conf/cloud/deeper"])
def test_any_linked_directory_on_the_way_is_checked(tmp_path: Path, creds: fakes.FakeCredentials,
                                                    link: str) -> None:
    """The link may be any directory of the path, and the repository's own tracked files pass."""
    outside = _outside(tmp_path, creds)
    (outside / "a" / "b").mkdir(parents=True)
    (outside / "a" / "b" / "credentials").write_text(ini(fakes.temporary()))
    repo = GitRepo(tmp_path / "r")
    repo.commit("init", {"conf/ok.txt": "nothing here\n"})
    (repo.path / link).parent.mkdir(parents=True, exist_ok=True)
    (repo.path / link).symlink_to(outside, target_is_directory=True)
    for path in (f"{link}/credentials", f"{link}/a/b/credentials"):
        _stage_at(repo, path, outside / "credentials")
    result = stsleak("scan", "--no-suppress", "--format", "json", str(repo.path))
    assert result.code == 0, result.stdout + result.stderr
    stats = result.json()["stats"]
    assert result.json()["findings"] == [] and stats["skipped"]["outside-root"] == 2
    assert stats["skipped"]["symlink-outside-root"] == 1  # the link itself, untracked
    assert stats["files"] == 1  # conf/ok.txt


def test_a_link_inside_the_root_is_still_followed(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.commit("init", {"real/credentials": ini(creds)})
    (repo.path / "alias").symlink_to("real", target_is_directory=True)
    _stage_at(repo, "alias/credentials", repo.path / "real" / "credentials")
    result = stsleak("scan", "--format", "json", ".", cwd=repo.path)
    assert result.code == 1
    assert sorted(f["path"] for f in result.json()["findings"]) == ["alias/credentials", "real/credentials"]
    assert "outside-root" not in result.json()["stats"]["skipped"]


def test_absolute_and_dot_dot_index_entries_are_not_read(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    """git prints an index entry named `/home/me/.aws/credentials` or `../..` as it is."""
    outside = _outside(tmp_path, creds)
    repo = GitRepo(tmp_path / "r")
    repo.write("a.txt", "hi\n")
    inside = repo.write("in/ok.txt", "nothing\n")
    names = [str(outside / "credentials"), "../home/.aws/credentials", "in/../../home/.aws/credentials",
             "in/../in/ok.txt", ".", "a.txt"]
    _write_index(repo, names, inside)
    assert str(outside / "credentials") in repo.git("ls-files")  # git lists them as they are
    result = stsleak("scan", "--no-suppress", "--format", "json", str(repo.path))
    assert result.code == 0, result.stdout + result.stderr
    stats = result.json()["stats"]
    assert result.json()["findings"] == [] and stats["skipped"]["outside-root"] == 3
    assert stats["files"] == 3  # a.txt, in/ok.txt and (the same file) in/../in/ok.txt; `.` is the root itself


def test_a_plain_directory_walk_does_not_follow_links_out(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    """Not a work tree: the walk itself keeps to the root (here a link two levels down, and a
    link inside the root to a directory holding a link out)."""
    outside = _outside(tmp_path, creds)
    tree = tmp_path / "tree"
    (tree / "conf" / "real").mkdir(parents=True)
    (tree / "conf" / "cloud").symlink_to(outside, target_is_directory=True)
    (tree / "conf" / "real" / "up").symlink_to(outside.parent, target_is_directory=True)
    (tree / "alias").symlink_to(tree / "conf", target_is_directory=True)
    (tree / "ok.txt").write_text("nothing\n")
    result = stsleak("scan", "--no-suppress", "--format", "json", str(tree))
    assert result.code == 0, result.stdout + result.stderr
    assert result.json()["findings"] == [] and result.json()["stats"]["skipped"]["symlink-outside-root"] >= 2


# --- case 4: nested repositories and submodules are scanned or counted ---------------------------


def test_an_untracked_nested_repository_is_scanned(tmp_path: Path) -> None:
    committed, untracked, ignored = (fakes.temporary() for _ in range(3))
    outer = GitRepo(tmp_path / "outer")
    outer.commit("init", {"README.md": "outer\n"})
    inner = GitRepo(outer.path / "vendor" / "lib")
    inner.commit("lib", {"config/aws.ini": ini(committed), ".gitignore": "*.local\n"})
    inner.write("new.ini", ini(untracked))
    inner.write("secret.local", ini(ignored))  # the nested repository's own .gitignore applies
    assert outer.git("ls-files", "--others", "--exclude-standard").strip() == "vendor/lib/"
    for flags in ([], ["--no-suppress"]):
        result = stsleak("scan", *flags, "--format", "json", ".", cwd=outer.path)
        assert result.code == 1, result.stdout + result.stderr
        found = {f["access_key_id"]: f["path"] for f in result.json()["findings"]}
        assert found == {committed.access_key_id: "vendor/lib/config/aws.ini",
                         untracked.access_key_id: "vendor/lib/new.ini"}
        assert result.json()["stats"]["skipped"] == {"ignored": 1}
    everything = stsleak("scan", "--no-ignore", "--format", "json", ".", cwd=outer.path)
    assert ignored.access_key_id in everything.stdout


def _superproject(tmp_path: Path, creds: fakes.FakeCredentials) -> GitRepo:
    """A repository with a real submodule (`sub`) whose committed file holds a credential."""
    lib = GitRepo(tmp_path / "lib")
    lib.commit("lib", {"aws.ini": ini(creds)})
    top = GitRepo(tmp_path / "top")
    top.commit("init", {"README.md": "top\n"})
    top.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib.path), "sub")
    top.git("commit", "-q", "-m", "submodule")
    assert top.git("ls-files", "--stage", "sub").startswith("160000")
    return top


def test_a_checked_out_submodule_is_scanned(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    top = _superproject(tmp_path, creds)
    result = stsleak("scan", "--format", "json", ".", cwd=top.path)
    assert result.code == 1, result.stdout + result.stderr
    found = [(f["path"], f["access_key_id"]) for f in result.json()["findings"]]
    assert found == [("sub/aws.ini", creds.access_key_id)]
    assert "gitlink" not in result.json()["stats"]["skipped"]


def test_a_submodule_with_nothing_checked_out_is_counted(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    top = _superproject(tmp_path, creds)
    clone = tmp_path / "clone"  # a clone without --recurse-submodules: `sub` is an empty directory
    subprocess.run(["git", "clone", "-q", str(top.path), str(clone)], check=True, capture_output=True)
    assert (clone / "sub").is_dir() and not any((clone / "sub").iterdir())
    for flags in ([], ["--no-suppress"]):
        result = stsleak("scan", *flags, "--format", "json", ".", cwd=clone)
        assert result.code == 0, result.stdout + result.stderr
        assert result.json()["stats"]["skipped"] == {"gitlink": 1}
        assert "1 submodule(s) have nothing checked out" in result.stderr
        assert "git submodule update --init" in result.stderr
    text = stsleak("scan", ".", cwd=clone)
    assert "gitlink: 1" in text.stdout


def test_a_submodule_whose_git_dir_is_gone_is_walked(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    """An empty `.git` in a submodule's directory makes git fall back to the repository around
    it (which lists the directory as itself, `./`): its files are walked, once."""
    top = _superproject(tmp_path, creds)
    (top.path / "sub" / ".git").unlink()
    (top.path / "sub" / ".git").mkdir()
    result = stsleak("scan", "--format", "json", ".", cwd=top.path, timeout=60)
    assert result.code == 1, result.stdout + result.stderr
    assert [f["path"] for f in result.json()["findings"]] == ["sub/aws.ini"]


def test_a_staged_submodule_commit_is_counted(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    top = _superproject(tmp_path, creds)
    lib = GitRepo(top.path / "sub")
    lib.commit("more", {"more.ini": ini(fakes.temporary())})
    old = top.git("rev-parse", "HEAD:sub").strip()
    new = lib.git("rev-parse", "HEAD").strip()
    top.git("add", "sub")
    result = stsleak("scan", "--staged", "--format", "json", cwd=top.path)
    assert result.code == 0, result.stdout + result.stderr
    assert result.json()["stats"]["skipped"] == {"gitlink": 1}
    assert f"stsleak scan --since {old} --tip {new} sub" in result.stderr
    scanned = stsleak("scan", "--since", old, "--tip", new, "--format", "json", "sub", cwd=top.path)
    assert scanned.code == 1  # the command the note gives finds what the submodule's new commit added


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_a_nested_repository_cannot_lead_out_either(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    """A nested repository's index is the repository author's too."""
    outside = _outside(tmp_path, creds)
    outer = GitRepo(tmp_path / "outer")
    outer.commit("init", {"README.md": "outer\n"})
    inner = GitRepo(outer.path / "vendor")
    inner.commit("init", {"ok.txt": "nothing\n"})
    (inner.path / "cloud").symlink_to(outside, target_is_directory=True)
    _stage_at(inner, "cloud/credentials", outside / "credentials")
    result = stsleak("scan", "--no-suppress", "--format", "json", str(outer.path))
    assert result.code == 0, result.stdout + result.stderr
    skipped = result.json()["stats"]["skipped"]
    assert skipped["outside-root"] == 1 and skipped["symlink-outside-root"] == 1
