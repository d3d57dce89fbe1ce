"""action.yml's scan step against what a pull request or a shallow checkout can hide (issue 20, #9 and #10).

#9: an allow comment the pull request itself adds does not silence the pull request's check (its
config and baseline already come from the base; `--no-allow-comments` makes its own lines count).
#10: with actions/checkout's default `fetch-depth: 1`, a push that adds and then removes a credential
must be seen: the step fetches what its range needs (here from a local file:// remote, as GitHub is
for a real checkout), or fails loudly; it never passes with `findings=0, exit-code=0`.
The step's own bash runs as the runner runs it (tests/integrations/test_action.py).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.integrations.test_action import _pr_env, _run_step, _scan_env, _step
from tests.support.cli import GitRepo
from tests.support.programs import ini, run


def _sarif_keys(repo: Path) -> list[str]:
    sarif = json.loads((repo / "stsleak.sarif").read_text(encoding="utf-8"))
    return [r["properties"]["accessKeyId"] for r in sarif["runs"][0]["results"]]


def _allowed(creds: fakes.FakeCredentials, marker: str) -> str:
    """An ini whose every line of the set carries an allow marker."""
    return "".join(f"{line}  # {marker}\n" for line in ini(creds).splitlines())


# --- #9: allow markers the pull request adds --------------------------------------------------------

@pytest.mark.parametrize("marker", ["stsleak:allow", "pragma: allowlist secret"])
def test_an_allow_comment_the_pull_request_adds_does_not_silence_it(repo: GitRepo, rng: random.Random,
                                                                    tmp_path: Path, marker: str) -> None:
    base = repo.commit("base", {"README.md": "hello\n"})
    leaked = fakes.temporary(rng)
    repo.git("checkout", "-q", "-b", "pr")
    head = repo.commit("pr", {"src/creds.ini": _allowed(leaked, marker)})
    result, outputs = _run_step(_step("scan"), repo.path, _pr_env(base, head), tmp_path)
    assert outputs["findings"] == "1" and outputs["exit-code"] == "1", result.stdout + result.stderr
    assert _sarif_keys(repo.path) == [leaked.access_key_id]
    assert "--no-allow-comments" in result.stdout and "allow comments" in result.stderr  # said, not silent
    # Pushed to a branch (history the repository already trusts), the same comment applies.
    pushed, pushed_outputs = _run_step(_step("scan"), repo.path, _scan_env(PUSH_BEFORE=base, HEAD_SHA=head), tmp_path)
    assert pushed_outputs["findings"] == "0" and pushed_outputs["exit-code"] == "0", pushed.stdout + pushed.stderr


def test_an_allowed_credential_already_in_the_base_is_not_the_pull_requests(repo: GitRepo, rng: random.Random,
                                                                             tmp_path: Path) -> None:
    """A reviewed, allowed fixture in the base stays quiet when a pull request edits its file."""
    fixture = _allowed(fakes.temporary(rng), "stsleak:allow")
    base = repo.commit("base", {"tests/fixture.ini": fixture})
    repo.git("checkout", "-q", "-b", "pr")
    head = repo.commit("pr", {"tests/fixture.ini": "# a comment the pull request adds\n" + fixture})
    result, outputs = _run_step(_step("scan"), repo.path, _pr_env(base, head), tmp_path)
    assert outputs["findings"] == "0" and outputs["exit-code"] == "0", result.stdout + result.stderr


def test_the_bases_config_may_name_its_baseline(repo: GitRepo, rng: random.Random, tmp_path: Path) -> None:
    """`baseline:` in the base's .stsleak.yaml applies on a pull request, read from the base."""
    from tests.support.cli import stsleak

    known = fakes.temporary(rng)
    repo.commit("known", {"tests/known.ini": ini(known)})
    assert stsleak("scan", "--write-baseline", ".stsleak-baseline.json", "tests", cwd=repo.path).code == 1
    base = repo.commit("base", {".stsleak.yaml": "baseline: .stsleak-baseline.json\nexclude: ['.stsleak-*']\n"})
    repo.git("checkout", "-q", "-b", "pr")
    leaked = fakes.temporary(rng)
    head = repo.commit("pr", {"tests/known.ini": "# moved below\n" + ini(known), "src/creds.ini": ini(leaked)})
    result, outputs = _run_step(_step("scan"), repo.path, _pr_env(base, head), tmp_path)
    assert outputs["exit-code"] == "1", result.stdout + result.stderr
    assert _sarif_keys(repo.path) == [leaked.access_key_id]  # the known one is in the base's baseline


# --- #10: shallow checkouts ------------------------------------------------------------------------

def _added_then_removed(repo: GitRepo, rng: random.Random) -> tuple[str, str, fakes.FakeCredentials]:
    """`before` (already on the remote), then a push of two commits: one adds a set, the next removes it."""
    before = repo.commit("before", {"README.md": "hello\n"})
    creds = fakes.temporary(rng)
    repo.commit("add config", {"deploy/creds.ini": ini(creds)})
    (repo.path / "deploy" / "creds.ini").unlink()
    after = repo.commit("remove it again")
    return before, after, creds


def _shallow_clone(upstream: GitRepo, tmp_path: Path, branch: str = "main") -> Path:
    """What actions/checkout leaves by default: one commit, its remote `origin`."""
    clone = tmp_path / "checkout"
    cloned = run(["git", "clone", "-q", "--depth", "1", "--branch", branch, f"file://{upstream.path}", str(clone)],
                 tmp_path)
    assert cloned.code == 0, cloned.stderr
    assert run(["git", "rev-parse", "--is-shallow-repository"], clone).stdout.strip() == "true"
    return clone


def test_shallow_push_is_deepened_and_the_removed_credential_found(repo: GitRepo, rng: random.Random,
                                                                   tmp_path: Path) -> None:
    before, after, creds = _added_then_removed(repo, rng)
    clone = _shallow_clone(repo, tmp_path)
    result, outputs = _run_step(_step("scan"), clone, _scan_env(PUSH_BEFORE=before, HEAD_SHA=after), tmp_path)
    assert outputs["findings"] == "1" and outputs["exit-code"] == "1", result.stdout + result.stderr
    assert f"--since {before} --tip {after}" in result.stdout  # the pushed range, not the whole history
    assert _sarif_keys(clone) == [creds.access_key_id]
    failed, _ = _run_step(_step("Fail on findings"), clone, {"CODE": outputs["exit-code"], "FINDINGS": "1"}, tmp_path)
    assert failed.code == 1


def test_shallow_push_whose_remote_cannot_deepen_fails_loudly(repo: GitRepo, rng: random.Random,
                                                              tmp_path: Path) -> None:
    before, after, _creds = _added_then_removed(repo, rng)
    clone = _shallow_clone(repo, tmp_path)
    assert run(["git", "remote", "set-url", "origin", f"file://{tmp_path / 'gone'}"], clone).code == 0
    result, outputs = _run_step(_step("scan"), clone, _scan_env(PUSH_BEFORE=before, HEAD_SHA=after), tmp_path)
    assert outputs["exit-code"] == "2" and outputs["findings"] == "0", result.stdout + result.stderr
    assert "::error::stsleak: the scan cannot see what it must" in result.stdout
    assert "fetch-depth: 0" in result.stdout
    failed, _ = _run_step(_step("Fail on findings"), clone, {"CODE": "2", "FINDINGS": "0"}, tmp_path)
    assert failed.code == 2  # never a pass


@pytest.mark.parametrize("env", [{"HISTORY": "true"}, {"PUSH_BEFORE": "0" * 40}, {"EVENT_NAME": "workflow_dispatch"}],
                         ids=["history-input", "new-branch", "no-range"])
def test_shallow_full_history_scan_unshallows_first(repo: GitRepo, rng: random.Random, tmp_path: Path,
                                                    env: dict[str, str]) -> None:
    _before, _after, creds = _added_then_removed(repo, rng)
    clone = _shallow_clone(repo, tmp_path)
    result, outputs = _run_step(_step("scan"), clone, _scan_env(**env), tmp_path)
    assert "--history" in result.stdout and outputs["exit-code"] == "1", result.stdout + result.stderr
    assert _sarif_keys(clone) == [creds.access_key_id]
    assert run(["git", "rev-parse", "--is-shallow-repository"], clone).stdout.strip() == "false"


def test_shallow_pull_request_fetches_its_base_and_range(repo: GitRepo, rng: random.Random, tmp_path: Path) -> None:
    base = repo.commit("base", {"README.md": "hello\n"})
    repo.git("checkout", "-q", "-b", "pr")
    creds = fakes.temporary(rng)
    repo.commit("add", {"deploy/creds.ini": ini(creds)})
    (repo.path / "deploy" / "creds.ini").unlink()
    head = repo.commit("remove")
    repo.git("checkout", "-q", "main")
    repo.commit("main moves on", {"CHANGELOG.md": "later\n"})  # the base branch moved: base is not an ancestor
    new_base = repo.git("rev-parse", "HEAD").strip()
    clone = _shallow_clone(repo, tmp_path, branch="pr")
    result, outputs = _run_step(_step("scan"), clone, _pr_env(new_base, head), tmp_path)
    assert outputs["findings"] == "1" and outputs["exit-code"] == "1", result.stdout + result.stderr
    assert _sarif_keys(clone) == [creds.access_key_id]
    assert "no config and no baseline apply" not in result.stdout  # the base was fetched: its config applies
    assert base != new_base
