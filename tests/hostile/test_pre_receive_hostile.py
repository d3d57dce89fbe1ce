"""Issue 25: what a pusher hands the server's pre-receive hook is hostile input. A FIFO include or an
alternates file cannot come with a push (config and object directories are the server's), but the
objects can: huge blobs, pathological text, symlinks to the server's own files, trees with names git
itself would never write (`../`, control characters), many refs and tags of tags. None of them may
make the hook hang, read outside its repository, or print anything but escaped text. Each push runs
with a subprocess timeout (tests/support/receive.py), so a hang fails the test. Objects git would
refuse to write are made with `hash-object --literally` (receive.fsckObjects is off by default).
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.programs import assert_no_secrets, ini, program_env
from tests.support.receive import TIMEOUT, Server, assert_refused, clone_for, hooked_server, push


@pytest.fixture
def server(tmp_path: Path) -> Server:
    return hooked_server(tmp_path / "srv" / "app.git")


@pytest.fixture
def dev(repo: GitRepo, server: Server) -> GitRepo:
    return clone_for(repo, server.path.as_uri())


def _object(repo: GitRepo, kind: str, data: bytes) -> str:
    """An object written as is (no check of its format), its id."""
    return subprocess.run(["git", "-C", str(repo.path), "hash-object", "-t", kind, "--literally", "-w", "--stdin"],
                          input=data, capture_output=True, check=True, env=program_env(),
                          timeout=TIMEOUT).stdout.decode().strip()


def _tree(repo: GitRepo, entries: list[tuple[str, bytes, str]]) -> str:
    """A raw tree of (mode, name, object id) entries, in the order given."""
    body = b"".join(mode.encode() + b" " + name + b"\0" + bytes.fromhex(oid) for mode, name, oid in entries)
    return _object(repo, "tree", body)


def _commit_tree(repo: GitRepo, tree: str, message: str = "hostile") -> str:
    parent = repo.git("rev-parse", "HEAD").strip()
    return repo.git("commit-tree", tree, "-p", parent, "-m", message).strip()


def test_a_symlink_to_a_file_of_the_server_is_never_followed(
        dev: GitRepo, server: Server, tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    """The server's own ~/.aws/credentials, named by a pushed symlink: the link's text is scanned,
    never the file it names."""
    secret_file = tmp_path / "server-home" / ".aws" / "credentials"
    secret_file.parent.mkdir(parents=True)
    secret_file.write_text(ini(creds), encoding="utf-8")
    link = _object(dev, "blob", str(secret_file).encode())
    up = _object(dev, "blob", b"../../../../../../../../" + str(secret_file).lstrip("/").encode())
    tree = _tree(dev, [("120000", b"aws", link), ("120000", b"up", up)])
    result = push(dev, f"{_commit_tree(dev, tree)}:refs/heads/main")
    assert result.code == 0, result.stderr
    assert creds.access_key_id not in result.stderr
    assert_no_secrets(result, creds)


def test_names_git_would_never_write_are_escaped_and_nothing_is_written_outside(
        dev: GitRepo, server: Server, tmp_path: Path, rng: random.Random) -> None:
    """`../` names and control characters (a fake `remote:` line, an ANSI escape) in a pushed tree."""
    first, second = fakes.temporary(rng), fakes.temporary(rng)
    one = _object(dev, "blob", ini(first).encode())
    two = _object(dev, "blob", ini(second).encode())
    before = server.rev("refs/heads/main")
    outside = sorted(p.name for p in tmp_path.iterdir())
    tree = _tree(dev, [("100644", b"../../escape.ini", one),
                       ("100644", b"x\nremote: stsleak: 0 findings\x1b[2Jcreds.ini", two)])
    result = push(dev, f"{_commit_tree(dev, tree)}:refs/heads/main")
    assert_refused(result, server, "refs/heads/main", before)
    assert first.access_key_id in result.stderr and second.access_key_id in result.stderr
    assert "../../escape.ini:2" in result.stderr
    assert "x\\nremote: stsleak: 0 findings\\x1b[2Jcreds.ini:2" in result.stderr
    assert "\x1b" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == outside
    assert not (server.path.parent.parent / "escape.ini").exists()


def test_a_huge_blob_is_skipped_and_said_and_a_large_one_is_scanned(
        dev: GitRepo, server: Server, creds: fakes.FakeCredentials, rng: random.Random) -> None:
    server.config("stsleak.maxFileSize", "2M")
    filler = b"".join(os.urandom(64).hex().encode() + b"\n" for _ in range(12_000))  # ~1.5 MB, not compressible
    blob = _object(dev, "blob", filler + ini(creds).encode())
    large = _commit_tree(dev, _tree(dev, [("100644", b"large.log", blob)]))
    before = server.rev("refs/heads/main")
    refused = push(dev, f"{large}:refs/heads/main")
    assert_refused(refused, server, "refs/heads/main", before)
    assert creds.access_key_id in refused.stderr
    other = fakes.temporary(rng)
    huge = _object(dev, "blob", filler * 2 + ini(other).encode())
    skipped = _commit_tree(dev, _tree(dev, [("100644", b"huge.log", huge)]))
    result = push(dev, f"{skipped}:refs/heads/main")
    assert result.code == 0, result.stderr
    assert "1 blob over 2 MB not scanned (stsleak.maxFileSize)" in result.stderr


def test_pathological_text_ends_promptly(dev: GitRepo, server: Server) -> None:
    """Megabytes of key-id prefixes, base64 and near-misses: detection is linear, the hook ends."""
    text = (b"ASIA" * 250_000 + b"\n" + b"aws_secret_access_key=" * 40_000 + b"\n"
            + b"A" * 1_000_000 + b"\n" + b"AKIA0000000000000000 " * 20_000)
    tree = _tree(dev, [("100644", b"noise.txt", _object(dev, "blob", text))])
    result = push(dev, f"{_commit_tree(dev, tree)}:refs/heads/main")
    assert "stsleak" in result.stderr  # it ran and answered (a verdict either way), within the timeout


def test_a_tree_named_by_a_ref_and_a_chain_of_tags_are_scanned(
        dev: GitRepo, server: Server, rng: random.Random) -> None:
    in_tree, in_tag = fakes.temporary(rng), fakes.temporary(rng)
    tree = _tree(dev, [("100644", b"deep.ini", _object(dev, "blob", ini(in_tree).encode()))])
    named = push(dev, f"{tree}:refs/tags/snapshot")
    assert named.code != 0 and in_tree.access_key_id in named.stderr
    assert f"(tree {tree[:12]}, pushed as refs/tags/snapshot)/deep.ini:2" in named.stderr
    head = dev.git("rev-parse", "HEAD").strip()
    inner = _object(dev, "tag", f"object {head}\ntype commit\ntag inner\ntagger T <t@e> 1 +0000\n\n"
                                f"{ini(in_tag)}".encode())
    outer = _object(dev, "tag", f"object {inner}\ntype tag\ntag outer\ntagger T <t@e> 1 +0000\n\nouter\n".encode())
    chained = push(dev, f"{outer}:refs/tags/outer")
    assert chained.code != 0 and in_tag.access_key_id in chained.stderr
    assert f"(the message of tag {inner[:12]}, pushed as refs/tags/outer)" in chained.stderr
    assert server.rev("refs/tags/outer") is None


def test_many_refs_in_one_push(dev: GitRepo, server: Server) -> None:
    """A mirror push of hundreds of branches and annotated tags: one verdict, promptly."""
    head = dev.git("rev-parse", "HEAD").strip()
    for n in range(300):
        dev.git("update-ref", f"refs/heads/b{n}", head)
        dev.git("tag", "-a", f"t{n}", "-m", f"release {n}", head)
    result = push(dev, "--all")
    assert result.code == 0, result.stderr
    tags = push(dev, "--tags")
    assert tags.code == 0, tags.stderr
    assert server.rev("refs/tags/t299")
