"""What a push adds (scanner/sources/git/prereceive.py), the pre-receive hook's settings and
overrides, and `stsleak hook pre-receive` run by hand in a bare repository (no quarantine: the
objects are already in it, as with git before 2.11). Real git in temp dirs; the CLI in this process.
The pushes themselves, through git, are tests/integrations/test_pre_receive.py."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from scanner.cli.receive_settings import read_settings
from scanner.cli.receive_verdict import requested_overrides
from scanner.errors import StsleakError
from scanner.sources.git import prereceive
from scanner.sources.git.prereceive import RefUpdate
from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.cli import stsleak_in_process as stsleak
from tests.support.core import ini

Z40 = "0" * 40


def test_parse_receive_lines() -> None:
    text = f"{'1' * 40} {'2' * 40} refs/heads/main\n\n{'3' * 40} {Z40} refs/heads/old\n{Z40} {'a' * 64} refs/tags/v\n"
    assert prereceive.parse_receive_lines(text) == [
        RefUpdate("1" * 40, "2" * 40, "refs/heads/main"), RefUpdate("3" * 40, Z40, "refs/heads/old"),
        RefUpdate(Z40, "a" * 64, "refs/tags/v")]
    assert prereceive.parse_receive_lines("")[1:] == []
    assert prereceive.parse_receive_lines(f"{'3' * 40} {Z40} refs/heads/old")[0].deleted
    for bad in ("garbage", f"{'1' * 40} {'2' * 40}", f"{'1' * 39} {'2' * 40} refs/heads/x", f"{'g' * 40} {Z40} r"):
        with pytest.raises(StsleakError, match="cannot read the pushed refs"):
            prereceive.parse_receive_lines(bad)


def test_push_options_and_overrides() -> None:
    env = {"GIT_PUSH_OPTION_COUNT": "3", "GIT_PUSH_OPTION_0": "ci.skip", "GIT_PUSH_OPTION_1": "stsleak.allow=AB,cd",
           "GIT_PUSH_OPTION_2": "stsleak.allow= ef "}
    assert prereceive.push_options(env) == ["ci.skip", "stsleak.allow=AB,cd", "stsleak.allow= ef "]
    assert requested_overrides(prereceive.push_options(env)) == {"ab", "cd", "ef"}
    assert prereceive.push_options({}) == [] and prereceive.push_options({"GIT_PUSH_OPTION_COUNT": "x"}) == []


@pytest.fixture
def server(tmp_path: Path) -> Path:
    path = tmp_path / "srv.git"
    GitRepo(tmp_path / "init").git("init", "-q", "--bare", str(path))
    return path


def test_settings_come_from_the_servers_git_config(server: Path, repo: GitRepo) -> None:
    default = read_settings(server)
    assert not (default.allow_push_option or default.verify or default.fail_open or default.allow_comments)
    assert default.override_log == server / "stsleak" / "overrides.jsonl" and default.max_size == 50 * 1024 * 1024
    for key, value in (("stsleak.allowPushOption", "yes"), ("stsleak.failOpen", "on"), ("stsleak.maxFileSize", "2M"),
                       ("stsleak.overrideLog", "logs/o.jsonl"), ("stsleak.region", "eu-west-1"),
                       ("stsleak.allowPushOptions", "true")):
        repo.git("config", "-f", str(server / "config"), key, value)
    settings = read_settings(server, verify=True)
    assert settings.allow_push_option and settings.fail_open and settings.verify and not settings.allow_comments
    assert settings.max_size == 2 * 1024 * 1024 and settings.override_log == server / "logs" / "o.jsonl"
    assert settings.region == "eu-west-1" and settings.unknown == ("stsleak.allowpushoptions",)
    repo.git("config", "-f", str(server / "config"), "stsleak.verify", "maybe")
    with pytest.raises(StsleakError, match=r"stsleak\.verify = 'maybe'"):
        read_settings(server)


@pytest.fixture
def history(tmp_path: Path, server: Path) -> tuple[GitRepo, dict[str, str]]:
    """A clone; the server's main is at `a`; `b` (a child of a) and a tag object of `a` are in the
    server's object store but no ref reaches them (as if pushed and waiting for the verdict)."""
    dev = GitRepo(tmp_path / "dev")
    dev.git("remote", "add", "origin", str(server))
    a = dev.commit("a", {"README.md": "a\n"})
    dev.git("push", "-q", "--no-verify", "origin", "main")
    b = dev.commit("b", {"b.txt": "b\n"})
    dev.git("tag", "-a", "v1", "-m", "release", a)
    tag = dev.git("rev-parse", "v1").strip()
    dev.git("push", "-q", "--no-verify", "origin", f"{b}:refs/tmp/b", "refs/tags/v1:refs/tmp/t")
    dev.git("push", "-q", "--no-verify", "origin", ":refs/tmp/b", ":refs/tmp/t")
    return dev, {"a": a, "b": b, "tag": tag}


def test_what_is_pushed(server: Path, history: tuple[GitRepo, dict[str, str]]) -> None:
    _, ids = history
    a, b, tag = ids["a"], ids["b"], ids["tag"]
    forward = prereceive.what_is_pushed(server, [RefUpdate(a, b, "refs/heads/main")])
    assert forward.new_commits == 1 and forward.boundary == (a,) and list(forward.tips) == [b]
    assert forward.base_tree and not forward.carried
    assert prereceive.what_is_pushed(server, [RefUpdate(Z40, a, "refs/heads/topic")]).empty  # a known commit
    assert prereceive.what_is_pushed(server, [RefUpdate(a, Z40, "refs/heads/main")]).empty  # a deletion
    tagged = prereceive.what_is_pushed(server, [RefUpdate(Z40, tag, "refs/tags/v1")])
    assert tagged.new_commits == 0
    assert [(c.kind, c.oid, c.ref) for c in tagged.carried] == [("tag", tag, "refs/tags/v1")]
    assert tagged.messages[tag] == b"release\n"
    with pytest.raises(StsleakError, match="missing"):
        prereceive.what_is_pushed(server, [RefUpdate(a, "e" * 40, "refs/heads/main")])


def test_the_hook_run_by_hand(server: Path, tmp_path: Path, rng: random.Random) -> None:
    dev = GitRepo(tmp_path / "dev2")
    dev.git("remote", "add", "origin", str(server))
    a = dev.commit("a", {"README.md": "a\n"})
    dev.git("push", "-q", "--no-verify", "origin", "main")
    creds = fakes.temporary(rng)
    b = dev.commit("b", {"deploy/aws.ini": ini(creds)})
    dev.git("push", "-q", "--no-verify", "origin", f"{b}:refs/tmp/b")
    dev.git("push", "-q", "--no-verify", "origin", ":refs/tmp/b")  # in the object store, reached by no ref
    refused = stsleak("hook", "pre-receive", cwd=server, input_text=f"{a} {b} refs/heads/main\n")
    assert refused.code == 1, refused.stderr
    assert "deploy/aws.ini:2" in refused.stderr and creds.access_key_id in refused.stderr
    assert creds.secret_access_key not in refused.stderr
    clean = stsleak("hook", "pre-receive", cwd=server, input_text=f"{Z40} {a} refs/heads/other\n")
    assert clean.code == 0 and clean.stderr == ""
    bad = stsleak("hook", "pre-receive", cwd=server, input_text="nonsense\n")
    assert bad.code == 2 and bad.stderr.count("\n") == 1 and "push refused: the scan failed" in bad.stderr


def test_many_pushed_refs_are_read_in_batches(server: Path, history: tuple[GitRepo, dict[str, str]],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of one ref: a commit both batches reach is counted once, the boundary is named once."""
    dev, ids = history
    c = dev.commit("c", {"c.txt": "c\n"})  # a child of b
    dev.git("push", "-q", "--no-verify", "origin", f"{c}:refs/tmp/c")
    dev.git("push", "-q", "--no-verify", "origin", ":refs/tmp/c")
    monkeypatch.setattr(prereceive, "_BATCH", 1)
    pushed = prereceive.what_is_pushed(server, [RefUpdate(ids["a"], ids["b"], "refs/heads/main"),
                                                RefUpdate(Z40, c, "refs/heads/topic")])
    assert pushed.new_commits == 2 and pushed.boundary == (ids["a"],)
    assert pushed.base_tree == dev.git("rev-parse", f"{ids['a']}^{{tree}}").strip()
