"""action.yml, the composite GitHub Action. GitHub Actions cannot run here, so: its structure is
checked, and its own shell steps (scan, fail) are run with bash as the runner would run them."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.testing import fakes
from tests.support.cli import GitRepo, Run
from tests.support.programs import CHECKOUT, ini, run

ACTION = CHECKOUT / "action.yml"


def _action() -> dict[str, Any]:
    return yaml.safe_load(ACTION.read_text(encoding="utf-8"))


def _step(step_id_or_name: str) -> dict[str, Any]:
    for step in _action()["runs"]["steps"]:
        if step_id_or_name in (step.get("id"), step.get("name")):
            return step
    raise AssertionError(f"no step {step_id_or_name!r}")


def test_is_a_composite_action_that_scans_to_sarif_and_uploads() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    assert {"history", "since", "fail-on", "verify", "sarif-file"} <= set(action["inputs"])
    steps = action["runs"]["steps"]
    install = _step("Install stsleak")
    assert "pip install" in install["run"] and "$ACTION_PATH" in install["run"]
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    scan = _step("scan")
    assert "stsleak scan" in scan["run"] and "--format github" in scan["run"] and "sarif:" in scan["run"]
    assert "python" not in scan["run"]  # annotations and summary come from the github reporter
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@")]
    assert len(uploads) == 1 and "always()" in uploads[0]["if"]
    assert steps[-1]["name"] == "Fail on findings" and "always()" in steps[-1]["if"]
    for step in steps:
        if "run" in step:
            assert step["shell"] == "bash"  # composite run steps must name their shell
            # Inputs reach scripts through env only: no ${{ }} expanded into shell code (injection).
            assert "${{" not in step["run"], step["name"]
    for name, value in action["outputs"].items():
        assert re.fullmatch(r"\$\{\{ steps\.scan\.outputs\.[a-z-]+ \}\}", value["value"]), name


def _run_step(step: dict[str, Any], cwd: Path, env: dict[str, str], tmp_path: Path) -> tuple[Run, dict[str, str]]:
    output = tmp_path / "github_output"
    output.write_text("", encoding="utf-8")
    script = tmp_path / "step.sh"
    script.write_text(step["run"], encoding="utf-8")
    result = run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd,
                 env={**env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")})
    outputs = dict(line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines() if "=" in line)
    return result, outputs


def _scan_env(**overrides: str) -> dict[str, str]:
    env = {"REPO_PATH": ".", "HISTORY": "false", "SINCE": "", "FAIL_ON": "any", "VERIFY": "false",
           "SARIF_FILE": "stsleak.sarif", "EXTRA_ARGS": "", "EVENT_NAME": "push", "PUSH_BEFORE": "", "PR_BASE": "",
           "PR_HEAD": "", "HEAD_SHA": "", "BASELINE": ""}
    return {**env, **overrides}


@pytest.fixture
def pushed(repo: GitRepo, rng: random.Random) -> tuple[GitRepo, str, fakes.FakeCredentials, fakes.FakeCredentials]:
    """A repository whose first commit (already 'on the remote') and new commit each hold a set."""
    old, new = fakes.temporary(rng), fakes.temporary(rng)
    before = repo.commit("old", {"old/creds.ini": ini(old)})
    repo.commit("pushed", {"new/creds.ini": ini(new)})
    return repo, before, old, new


def test_scan_step_on_push_scans_the_pushed_range(pushed, tmp_path: Path) -> None:
    repo, before, _old, new = pushed
    result, outputs = _run_step(_step("scan"), repo.path, _scan_env(PUSH_BEFORE=before), tmp_path)
    assert result.code == 0, result.stdout + result.stderr  # the scan step records, the last step fails
    assert outputs == {"sarif-file": "stsleak.sarif", "findings": "1", "exit-code": "1"}
    assert f"--since {before}" in result.stdout
    sarif = json.loads((repo.path / "stsleak.sarif").read_text(encoding="utf-8"))
    assert [r["properties"]["accessKeyId"] for r in sarif["runs"][0]["results"]] == [new.access_key_id]
    assert "::error file=new/creds.ini,line=2,title=stsleak%3A aws-temporary-credentials::" in result.stderr
    assert "new/creds.ini:2" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    for value in (new.secret_access_key, new.session_token):
        assert value not in result.stdout + result.stderr

    failed, _ = _run_step(_step("Fail on findings"), repo.path, {"CODE": outputs["exit-code"], "FINDINGS": "1"},
                          tmp_path)
    assert failed.code == 1 and "1 AWS credential finding" in failed.stdout


def test_scan_step_on_push_ignores_other_branches(pushed, rng: random.Random, tmp_path: Path) -> None:
    repo, before, _old, new = pushed
    head = repo.git("rev-parse", "HEAD").strip()
    repo.git("checkout", "-q", "-b", "other")
    repo.commit("elsewhere", {"other/creds.ini": ini(fakes.temporary(rng))})
    repo.git("checkout", "-q", "main")
    result, outputs = _run_step(_step("scan"), repo.path, _scan_env(PUSH_BEFORE=before, HEAD_SHA=head), tmp_path)
    assert f"--since {before} --tip {head}" in result.stdout
    sarif = json.loads((repo.path / "stsleak.sarif").read_text(encoding="utf-8"))
    assert [r["properties"]["accessKeyId"] for r in sarif["runs"][0]["results"]] == [new.access_key_id]
    assert outputs["findings"] == "1"


@pytest.mark.parametrize("env", [
    {"HISTORY": "true"},
    {"EVENT_NAME": "workflow_dispatch"},
    {"PUSH_BEFORE": "0" * 40},  # a new branch
    {"PUSH_BEFORE": "1234567890abcdef1234567890abcdef12345678"},  # not in a shallow clone
], ids=["history-input", "no-range", "new-branch", "missing-commit"])
def test_scan_step_falls_back_to_full_history(pushed, tmp_path: Path, env: dict[str, str]) -> None:
    repo, _before, _old, _new = pushed
    result, outputs = _run_step(_step("scan"), repo.path, _scan_env(**env), tmp_path)
    assert result.code == 0, result.stderr
    assert "--history" in result.stdout and outputs["findings"] == "2" and outputs["exit-code"] == "1"


def test_scan_step_clean_and_error(repo: GitRepo, tmp_path: Path) -> None:
    first = repo.commit("clean", {"README.md": "hello\n"})
    repo.commit("clean 2", {"src/a.py": "x = 1\n"})
    result, outputs = _run_step(_step("scan"), repo.path, _scan_env(EVENT_NAME="pull_request", PR_BASE=first),
                                tmp_path)
    assert outputs["exit-code"] == "0" and outputs["findings"] == "0", result.stderr
    passed, _ = _run_step(_step("Fail on findings"), repo.path, {"CODE": "0", "FINDINGS": "0"}, tmp_path)
    assert passed.code == 0

    (repo.path / "stsleak.sarif").unlink()
    bad, outputs = _run_step(_step("scan"), repo.path, _scan_env(FAIL_ON="live"), tmp_path)  # live needs verify
    assert outputs["exit-code"] == "2" and "--fail-on live needs --verify" in bad.stderr
    assert "sarif-file" not in outputs  # so the upload step is skipped
    failed, _ = _run_step(_step("Fail on findings"), repo.path, {"CODE": "2", "FINDINGS": "0"}, tmp_path)
    assert failed.code == 2


def test_scan_step_extra_args_are_not_globbed(pushed, tmp_path: Path) -> None:
    repo, _before, _old, new = pushed
    result, outputs = _run_step(_step("scan"), repo.path, _scan_env(HISTORY="true", EXTRA_ARGS="--exclude old/*"),
                                tmp_path)
    assert outputs["findings"] == "1", result.stdout + result.stderr
    sarif = json.loads((repo.path / "stsleak.sarif").read_text(encoding="utf-8"))
    assert [r["properties"]["accessKeyId"] for r in sarif["runs"][0]["results"]] == [new.access_key_id]


@pytest.fixture
def pull_request(repo: GitRepo, rng: random.Random) -> tuple[GitRepo, str, str, fakes.FakeCredentials]:
    """A base commit and a PR head that adds a leaked set."""
    base = repo.commit("base", {"README.md": "hello\n"})
    leaked = fakes.temporary(rng)
    repo.git("checkout", "-q", "-b", "pr")
    head = repo.commit("pr", {"src/creds.ini": ini(leaked)})
    return repo, base, head, leaked


def _pr_env(base: str, head: str, **overrides: str) -> dict[str, str]:
    return _scan_env(EVENT_NAME="pull_request", PR_BASE=base, PR_HEAD=head, **overrides)


@pytest.mark.parametrize("config", [
    (".stsleak.yaml", "exclude: ['*']\n"),
    (".stsleak.yaml", "max_file_size: 1\n"),
    ("pyproject.toml", "[tool.stsleak]\nexclude = ['src/*']\n"),
], ids=["exclude-all", "tiny-max-size", "pyproject"])
def test_pull_request_cannot_silence_itself_with_its_own_config(repo: GitRepo, rng: random.Random, tmp_path: Path,
                                                                config: tuple[str, str]) -> None:
    base = repo.commit("base", {"README.md": "hello\n"})
    leaked = fakes.temporary(rng)
    repo.git("checkout", "-q", "-b", "pr")
    name, text = config
    head = repo.commit("pr", {"src/creds.ini": ini(leaked), name: text})  # the config rides along
    result, outputs = _run_step(_step("scan"), repo.path, _pr_env(base, head), tmp_path)
    assert outputs["findings"] == "1" and outputs["exit-code"] == "1", result.stdout + result.stderr
    # The same config on a push (trusted history) does apply: the PR is what is not trusted.
    pushed, pushed_outputs = _run_step(_step("scan"), repo.path, _scan_env(PUSH_BEFORE=base, HEAD_SHA=head), tmp_path)
    assert pushed_outputs["findings"] == "0", pushed.stdout + pushed.stderr


def test_pull_request_uses_the_base_config_and_rules(repo: GitRepo, rng: random.Random, tmp_path: Path) -> None:
    rules = "secret:\n  labels: [vault_blob]\nrules: []\n"
    base = repo.commit("base", {".stsleak.yaml": "exclude: ['vendor/*']\nrules_dir: [ci/rules]\n",
                                "ci/rules/extra.yaml": rules})
    vendored, leaked = fakes.temporary(rng), fakes.temporary(rng)
    repo.git("checkout", "-q", "-b", "pr")
    head = repo.commit("pr", {"vendor/creds.ini": ini(vendored), "src/creds.ini": ini(leaked),
                              ".stsleak.yaml": "exclude: ['*']\n"})
    result, outputs = _run_step(_step("scan"), repo.path, _pr_env(base, head), tmp_path)
    assert outputs["findings"] == "1", result.stdout + result.stderr  # the base's exclude applies, not the head's
    sarif = json.loads((repo.path / "stsleak.sarif").read_text(encoding="utf-8"))
    assert [r["properties"]["accessKeyId"] for r in sarif["runs"][0]["results"]] == [leaked.access_key_id]
    assert "--config" in result.stdout


def _sarif_paths(repo: GitRepo) -> list[str]:
    sarif = json.loads((repo.path / "stsleak.sarif").read_text(encoding="utf-8"))
    return [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]]


def test_pull_request_baseline_comes_from_the_base(pull_request, tmp_path: Path) -> None:
    repo, base, head, _leaked = pull_request
    # The PR writes a baseline holding its own leak: it must not count. (The baseline file names
    # the key id, so it is a partial finding of its own: only src/creds.ini is looked at here.)
    from tests.support.cli import stsleak

    assert stsleak("scan", "--write-baseline", "baseline.json", "src", cwd=repo.path).code == 1
    head = repo.commit("pr baseline")
    result, _ = _run_step(_step("scan"), repo.path, _pr_env(base, head, BASELINE="baseline.json"), tmp_path)
    assert "src/creds.ini" in _sarif_paths(repo), result.stdout + result.stderr
    # On a push the working tree's baseline is the trusted one and hides the known finding.
    env = _scan_env(PUSH_BEFORE=base, HEAD_SHA=head, BASELINE="baseline.json")
    pushed, _ = _run_step(_step("scan"), repo.path, env, tmp_path)
    assert "src/creds.ini" not in _sarif_paths(repo), pushed.stdout + pushed.stderr


def test_pull_request_whose_base_is_not_in_the_clone_gets_no_config(pull_request, tmp_path: Path) -> None:
    repo, _base, head, _leaked = pull_request
    repo.write(".stsleak.yaml", "exclude: ['*']\n")
    result, outputs = _run_step(_step("scan"), repo.path, _pr_env("1234567890abcdef1234567890abcdef12345678", head),
                                tmp_path)
    assert outputs["findings"] == "1", result.stdout + result.stderr
    assert "no config and no baseline apply" in result.stdout
