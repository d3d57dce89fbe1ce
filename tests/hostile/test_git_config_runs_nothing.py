"""§1: a scanned repository's git config can neither run a program nor reach the network.

One real repository whose config points every key of `git help config` that names a program (and
every hook) at a marker script; every scan mode, install-hook and the pre-push range code run on
it; the marker file must never appear.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.hostile.conftest import Listener, marker_script
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import CHECKOUT, ini, run

PROGRAM_KEYS = (
    "core.fsmonitor", "core.pager", "core.sshCommand", "core.askPass", "core.editor", "sequence.editor",
    "core.gitProxy", "core.alternateRefsCommand", "diff.external", "diff.m.textconv", "diff.m.command",
    "filter.m.clean", "filter.m.smudge", "filter.m.process", "merge.m.driver", "gpg.program",
    "gpg.openpgp.program", "gpg.x509.program", "gpg.ssh.program", "gpg.ssh.defaultKeyCommand",
    "credential.helper", "credential.https://example.com.helper", "pager.log", "pager.diff", "pager.ls-files",
    "uploadpack.packObjectsHook", "remote.origin.uploadpack", "remote.origin.receivepack",
    "difftool.m.cmd", "mergetool.m.cmd", "man.m.cmd", "browser.m.cmd", "web.browser",
)
HOOKS = ("pre-commit", "post-commit", "post-checkout", "post-index-change", "reference-transaction",
         "pre-auto-gc", "post-rewrite", "fsmonitor-watchman", "pre-push", "push-to-checkout")
SIGNATURE = ("gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEEfakefakefakefakefakefake\n"
             " =abcd\n -----END PGP SIGNATURE-----\n")


def _sign(repo: GitRepo) -> str:
    """Make HEAD a commit carrying a (bogus) signature: log.showSignature would run gpg.program."""
    raw = repo.git("cat-file", "commit", "HEAD")
    head, _, message = raw.partition("\n\n")
    signed = repo.git("hash-object", "-t", "commit", "-w", "--stdin", input_text=f"{head}\n{SIGNATURE}\n{message}")
    repo.git("update-ref", "refs/heads/main", signed.strip())
    return signed.strip()


@pytest.fixture
def hostile(repo: GitRepo, tmp_path: Path, creds: fakes.FakeCredentials) -> tuple[GitRepo, Path]:
    markers = tmp_path / "markers"
    markers.mkdir()
    marker = tmp_path / "RAN"
    repo.commit("init", {"README.md": "hello\n", ".gitattributes": "* diff=m filter=m merge=m\n"})
    repo.commit("leak", {"aws.ini": ini(creds)})
    _sign(repo)
    repo.write("staged.ini", ini(fakes.temporary()))
    repo.git("add", "staged.ini")
    for key in PROGRAM_KEYS:
        repo.git("config", key, str(marker_script(markers, key, marker)))
    hooks = tmp_path / "outside-hooks"
    hooks.mkdir()
    for name in HOOKS:
        for directory in (hooks, repo.path / ".git" / "hooks"):
            marker_script(directory, f"hook-{name}", marker).rename(directory / name)
    for key, value in (("core.hooksPath", str(hooks)), ("log.showSignature", "true"), ("protocol.allow", "always"),
                       ("protocol.ext.allow", "always"), ("filter.m.required", "true"), ("gc.auto", "1"),
                       ("maintenance.auto", "true"), ("core.untrackedCache", "true"),
                       ("remote.origin.url", f"ext::{marker_script(markers, 'ext-remote', marker)}"),
                       ("remote.origin.promisor", "true"), ("remote.origin.partialclonefilter", "blob:none")):
        repo.git("config", key, value)
    return repo, marker


MODES = {
    "files": lambda r: ["scan", str(r)],
    "explicit-file": lambda r: ["scan", str(r / "aws.ini")],
    "staged": lambda r: ["scan", "--staged", str(r)],
    "history": lambda r: ["scan", "--history", str(r)],
    "since": lambda r: ["scan", "--since", "HEAD~1", str(r)],
    "since-tip": lambda r: ["scan", "--since", "HEAD~1", "--tip", "main", str(r)],
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_no_scan_mode_runs_the_repositorys_programs(hostile: tuple[GitRepo, Path], mode: str) -> None:
    repo, marker = hostile
    result = stsleak(*MODES[mode](repo.path), "--format", "json", cwd=repo.path)
    assert result.code == 1, result.stderr  # each mode still finds its credential
    assert not marker.exists(), f"{mode} ran: {marker.read_text()}"


def test_install_hook_refuses_a_hooks_path_outside_the_repository(hostile: tuple[GitRepo, Path]) -> None:
    repo, marker = hostile
    result = stsleak("install-hook", str(repo.path))
    assert result.code == 2
    assert "outside this repository" in result.stderr and "core.hooksPath" in result.stderr
    assert "--force" in result.stderr
    assert "stsleak-hook" not in (Path(repo.git("config", "core.hooksPath").strip()) / "pre-commit").read_text()
    assert not marker.exists()


def test_install_hook_into_a_hooks_path_inside_the_repository_says_where(repo: GitRepo) -> None:
    repo.commit("init", {"README.md": "hello\n"})
    repo.git("config", "core.hooksPath", ".githooks")
    result = stsleak("install-hook", str(repo.path))
    assert result.code == 0, result.stderr
    assert "core.hooksPath = .githooks" in result.stdout
    assert "stsleak-hook" in (repo.path / ".githooks" / "pre-commit").read_text()


def test_install_hook_outside_with_force_says_so(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit("init", {"README.md": "hello\n"})
    shared = tmp_path / "shared-hooks"
    repo.git("config", "core.hooksPath", str(shared))
    result = stsleak("install-hook", "--force", str(repo.path))
    assert result.code == 0 and "core.hooksPath" in result.stdout
    assert (shared / "pre-commit").is_file()


def test_pre_push_range_code_runs_none_of_the_repositorys_programs(hostile: tuple[GitRepo, Path]) -> None:
    repo, marker = hostile
    head = repo.git("rev-parse", "HEAD").strip()
    pushed = run(["sh", str(CHECKOUT / "hooks" / "pre-push"), "origin", "ext::x"], repo.path,
                 input_text=f"refs/heads/main {head} refs/heads/main {'0' * 40}\n")
    assert pushed.code == 1, pushed.stdout + pushed.stderr  # the pushed commits hold the credential
    assert not marker.exists(), marker.read_text()


def test_partial_clone_missing_blob_is_reported_never_fetched(tmp_path: Path, listener: Listener,
                                                              creds: fakes.FakeCredentials) -> None:
    server = GitRepo(tmp_path / "server")
    server.git("config", "uploadpack.allowFilter", "true")
    server.commit("one", {"old.ini": ini(creds)})
    server.commit("two", {"new.txt": "nothing here\n"})
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", "--filter=blob:none", "--no-checkout", f"file://{server.path}", str(clone)], tmp_path)
    marker = tmp_path / "RAN"
    cloned = GitRepo.__new__(GitRepo)
    cloned.path = clone
    cloned.git("config", "remote.origin.url", listener.url)
    cloned.git("config", "core.sshCommand", str(marker_script(tmp_path, "ssh", marker)))
    cloned.git("config", "protocol.allow", "always")
    for args in (["--history"], ["--since", "HEAD~1"]):
        result = stsleak("scan", *args, "--format", "json", str(clone))
        assert result.code == 0, result.stderr  # nothing readable held a credential; a note, no error
        assert "partial clone" in result.stderr and "never fetched" in result.stderr
        assert result.json()["stats"]["errors"] == []
    assert listener.requests == []
    # A commit made in the clone on top of the missing blobs: found and placed, still no request.
    new = fakes.temporary()
    blob = cloned.git("hash-object", "-w", "--stdin", input_text=ini(new)).strip()
    tree = cloned.git("mktree", input_text=f"100644 blob {blob}\told.ini\n").strip()
    commit = cloned.git("commit-tree", tree, "-p", "HEAD", "-m", "local").strip()
    cloned.git("update-ref", "HEAD", commit)
    for args in (["--history"], ["--since", "HEAD~1"]):
        result = stsleak("scan", *args, "--format", "json", str(clone))
        assert result.code == 1, result.stderr
        (finding,) = result.json()["findings"]
        assert finding["commit"] == commit and finding["path"] == "old.ini"
        assert result.json()["stats"]["errors"] == []
    assert listener.requests == []
    assert not marker.exists()
    # The blob really is missing: the same read by plain git asks the listener.
    run(["git", "-c", "protocol.allow=always", "cat-file", "-p", "HEAD~1:old.ini"], clone)
    assert listener.requests, "the test's listener saw no lazy fetch from plain git"


def _refused(result_stderr: str) -> None:
    assert "dubious ownership" in result_stderr and "safe.directory" in result_stderr
    assert "not a git repository" not in result_stderr


@pytest.mark.parametrize("args", [["--history"], ["--staged"], ["--since", "HEAD"]])
def test_repository_owned_by_another_user_shows_gits_reason(repo: GitRepo, args: list[str]) -> None:
    repo.commit("init", {"README.md": "hello\n"})
    # git's own switch for "the repository is owned by someone else" (what a chown would do)
    result = stsleak("scan", *args, str(repo.path), env={"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"})
    assert result.code == 2
    _refused(result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1


def test_files_scan_of_a_refused_repository_says_so_and_scans_every_file(repo: GitRepo,
                                                                         creds: fakes.FakeCredentials) -> None:
    repo.commit("init", {".gitignore": "*.ini\n"})
    repo.write("ignored.ini", ini(creds))
    result = stsleak("scan", str(repo.path), env={"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"})
    assert result.code == 1
    _refused(result.stderr)


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() != 0,
                    reason="chown to another user needs root")
def test_repository_chowned_to_another_user(repo: GitRepo) -> None:
    import os

    repo.commit("init", {"README.md": "hello\n"})
    for root, dirs, files in os.walk(repo.path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), 12345, 12345)
    os.lchown(repo.path, 12345, 12345)
    result = stsleak("scan", "--history", str(repo.path), env={"HOME": str(repo.path.parent)})
    assert result.code == 2
    _refused(result.stderr)
    assert re.search(r"git config --global --add safe\.directory \S+", result.stderr)


def test_the_markers_do_fire_for_plain_git(hostile: tuple[GitRepo, Path]) -> None:
    """The control: the same repository runs the attacker's programs for git without stsleak's
    hardening (so the tests above would see it)."""
    repo, marker = hostile
    run(["git", "ls-files"], repo.path)
    run(["git", "log", "-1", "--format=%H"], repo.path)
    ran = marker.read_text()
    assert "core.fsmonitor" in ran and "gpg.openpgp.program" in ran
