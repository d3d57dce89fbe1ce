"""Issue 20 #7: one unreadable object must not lose a whole history scan.

`git cat-file --batch` dies on a corrupt object; the stream goes on after it in a new process, the
object is named in stats.errors, every credential in the rest is reported and the exit code says
so (1). The damaged repositories are built here at run time: packed (`git gc`, then bytes of the
pack flipped, as the before-stop hook's smoke check does) and loose (a zlib stream broken midway).
"""

from __future__ import annotations

import base64
import errno
import random
import subprocess
import threading
import time
from pathlib import Path

import pytest

from scanner.detection.prefilter import make_prefilter
from scanner.detection.rules import load_ruleset
from scanner.sources.git import blobstream
from scanner.sources.git.blobstream import BlobList, stream
from scanner.sources.git.run import read_blobs
from scanner.testing import fakes
from tests.support.cli import GitRepo, Run, stsleak
from tests.support.core import ini


def _noise(rng: random.Random, size: int = 4000) -> str:
    """Random text like `head -c 4000 /dev/urandom | base64`, without the prefilter's literals."""
    text = base64.encodebytes(rng.randbytes(size)).decode()
    return text.replace("A", "a")  # no key-id prefix, so no prefilter hit


def _flip(path: Path, start: int, count: int = 32) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    for i in range(start, start + count):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _pack(repo: GitRepo) -> tuple[Path, dict[str, tuple[int, int]]]:
    """The repository's one pack, and each object's (offset, size in pack)."""
    (index,) = (repo.path / ".git" / "objects" / "pack").glob("*.idx")
    where = {}
    for line in repo.git("verify-pack", "-v", str(index)).splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[1] in ("blob", "commit", "tree"):
            where[fields[0]] = (int(fields[4]), int(fields[3]))
    return index.with_suffix(".pack"), where


def _loose(repo: GitRepo, oid: str) -> Path:
    return repo.path / ".git" / "objects" / oid[:2] / oid[2:]


def _history(repo: GitRepo) -> Run:
    return stsleak("scan", "--history", "--format", "json", str(repo.path))


def _assert_found_and_named(run: Run, creds: list[fakes.FakeCredentials], bad: list[str]) -> None:
    assert run.code == 1, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    report = run.json()
    assert {f["access_key_id"] for f in report["findings"]} == {c.access_key_id for c in creds}
    for oid in bad:
        assert any(oid in error and "cannot be read" in error for error in report["stats"]["errors"]), report
        assert oid in run.stderr and "warning" in run.stderr


def test_the_hooks_smoke_check_a_damaged_pack_region(repo: GitRepo, rng: random.Random,
                                                     creds: fakes.FakeCredentials) -> None:
    """3 random files and a credential file, `git gc`, 32 bytes XORed in the middle of the pack."""
    repo.commit("x", {**{f"f{i}": _noise(rng) for i in (1, 2, 3)}, "leak.ini": ini(creds)})
    repo.git("gc", "-q")
    pack, where = _pack(repo)
    middle = pack.stat().st_size // 2
    (hit,) = [oid for oid, (offset, size) in where.items() if offset <= middle < offset + size]
    assert hit != repo.git("rev-parse", "HEAD:leak.ini").strip()  # the damage is in one of the random files
    _flip(pack, middle)
    _assert_found_and_named(_history(repo), [creds], [hit])


def test_credentials_after_several_damaged_packed_blobs(repo: GitRepo, rng: random.Random) -> None:
    sets = [fakes.temporary(rng) for _ in range(4)]
    files = {f"noise{i}.txt": _noise(rng, 6000) for i in range(6)}
    repo.commit("x", {**files, **{f"c{i}.ini": ini(c) for i, c in enumerate(sets)}})
    repo.git("gc", "-q")
    pack, where = _pack(repo)
    bad = [repo.git("rev-parse", f"HEAD:noise{i}.txt").strip() for i in (0, 2, 5)]
    for oid in bad:
        offset, size = where[oid]
        _flip(pack, offset + size // 2, 16)
    _assert_found_and_named(_history(repo), sets, bad)


def test_a_loose_blob_broken_midway(repo: GitRepo, rng: random.Random) -> None:
    """A loose object whose header inflates but whose content does not: git streams it, then dies."""
    sets = [fakes.temporary(rng) for _ in range(3)]
    repo.commit("x", {"big.txt": _noise(rng, 60_000), **{f"c{i}.ini": ini(c) for i, c in enumerate(sets)}})
    bad = repo.git("rev-parse", "HEAD:big.txt").strip()
    path = _loose(repo, bad)
    _flip(path, path.stat().st_size // 2)
    _assert_found_and_named(_history(repo), sets, [bad])


@pytest.mark.parametrize("packed", [True, False])
def test_the_stream_goes_on_after_the_object_git_dies_on(repo: GitRepo, rng: random.Random, packed: bool) -> None:
    """In stream order the damaged blob comes first: the hit after it is still found, by index."""
    creds = fakes.temporary(rng)
    repo.commit("x", {"big.txt": _noise(rng, 60_000), "c.ini": ini(creds), "more.txt": "hello\n"})
    oids = [repo.git("rev-parse", f"HEAD:{name}").strip() for name in ("big.txt", "c.ini", "more.txt")]
    if packed:
        repo.git("gc", "-q")
        pack, where = _pack(repo)
        offset, size = where[oids[0]]
        _flip(pack, offset + size // 2)
    else:
        _flip(_loose(repo, oids[0]), _loose(repo, oids[0]).stat().st_size // 2)
    blobs = BlobList()
    sizes = [int(repo.git("cat-file", "-s", oid)) for oid in oids]
    blobs.extend([(size, oid.encode()) for size, oid in zip(sizes, oids, strict=True)])
    prefilter = make_prefilter(load_ruleset().key_id_prefixes, False)
    (result,) = stream(str(repo.path), [blobs], prefilter, 1)
    assert result.hits == [1]
    assert [index for index, _ in result.unreadable] == [0] and result.unreached == 0
    assert result.unreadable[0][1].startswith(("fatal:", "error:"))  # git's own reason
    # Reading objects again: git restarted after the one it died on.
    read = list(read_blobs(repo.path, oids))
    assert [oid for oid, _ in read] == oids
    assert read[0][1] is None and read[1][1] == ini(creds).encode() and read[2][1] == b"hello\n"


def test_past_the_restart_limit_the_rest_is_counted_not_lost_silently(repo: GitRepo, rng: random.Random,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    repo.commit("x", {"a.txt": _noise(rng, 60_000), "b.txt": _noise(rng, 60_000), "c.txt": "x\n", "d.txt": "y\n"})
    oids = [repo.git("rev-parse", f"HEAD:{name}").strip() for name in ("a.txt", "b.txt", "c.txt", "d.txt")]
    for oid in oids[:2]:
        _flip(_loose(repo, oid), _loose(repo, oid).stat().st_size // 2)
    blobs = BlobList()
    blobs.extend([(int(repo.git("cat-file", "-s", oid)), oid.encode()) for oid in oids])
    monkeypatch.setattr(blobstream, "_MAX_RESTARTS", 1)
    prefilter = make_prefilter(load_ruleset().key_id_prefixes, False)
    (result,) = stream(str(repo.path), [blobs], prefilter, 1)
    assert [index for index, _ in result.unreadable] == [0, 1]
    assert result.unreached == 2  # c and d: never read, and said so


def test_a_git_that_cannot_be_started_for_a_restart_is_an_error_not_a_hang(repo: GitRepo, rng: random.Random,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pieces ([a, b] and [c]), one process at a time. `a` is unreadable, so the first piece must
    start again at `b`; but when it ended, its reader tried to start the next piece and the system
    refused (what EMFILE or EAGAIN does), which stopped the pool. The stream raises that error: it
    never waits for a restart nothing will start."""
    repo.commit("x", {"a.txt": _noise(rng, 60_000), "b.txt": _noise(rng, 60_000), "c.txt": _noise(rng, 120_000)})
    oids = [repo.git("rev-parse", f"HEAD:{name}").strip() for name in ("a.txt", "b.txt", "c.txt")]
    loose = _loose(repo, oids[0])
    loose.chmod(0o644)
    loose.write_bytes(loose.read_bytes()[: loose.stat().st_size // 2])
    blobs = BlobList()
    blobs.extend([(int(repo.git("cat-file", "-s", oid)), oid.encode()) for oid in oids])
    prefilter = make_prefilter(load_ruleset().key_id_prefixes, False)
    monkeypatch.setattr(blobstream, "_SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(blobstream, "_PIECE_MIN_BYTES", 1)
    monkeypatch.setattr(blobstream, "_PIECES_PER_PROCESS", 2)
    assert [(p.lo, p.hi) for p in blobstream._pieces([blobs], 1)] == [(0, 2), (2, 3)]
    real_popen, started = subprocess.Popen, []

    def popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        if "cat-file" in str(args):
            started.append(args)
        if len(started) > 1:
            time.sleep(0.3)  # the refusal comes after the caller has seen the first piece end
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        return real_popen(*args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(subprocess, "Popen", popen)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            stream(str(repo.path), [blobs], prefilter, 1)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the stream waits forever for a piece that was never started"
    assert isinstance(outcome[0], OSError) and outcome[0].errno == errno.EAGAIN
