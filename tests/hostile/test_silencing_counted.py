"""§2: a scanned repository cannot silence the scan unseen.

Config only at the scan root; every suppression counted by cause in JSON, SARIF and text, in every
mode; `--no-suppress` (`--strict`) shows what the repository's own silencing hid.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import ini

DOCUMENTED_EXAMPLE = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id


def _json(*args: str, cwd: Path | None = None) -> tuple[int, dict, str]:
    result = stsleak("scan", "--format", "json", *args, cwd=cwd)
    assert "Traceback" not in result.stderr
    return result.code, result.json(), result.stderr


def test_a_config_above_the_scanned_directory_does_not_apply(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    (tmp_path / ".stsleak.yaml").write_text('exclude: ["*"]\nmax_file_size: 1\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "leak.ini").write_text(ini(creds))
    code, report, _ = _json(str(tmp_path / "sub"))
    assert code == 1 and report["stats"]["config"] is None and report["stats"]["suppressed"] == {}
    code, report, _ = _json(".", cwd=tmp_path / "sub")
    assert code == 1


def test_a_config_in_a_subdirectory_of_a_work_tree_is_not_the_scan_roots(repo: GitRepo,
                                                                        creds: fakes.FakeCredentials) -> None:
    repo.commit("init", {"sub/.stsleak.yaml": 'exclude: ["*"]\n', "sub/leak.ini": ini(creds)})
    code, report, _ = _json(str(repo.path / "sub"))
    assert code == 1 and report["stats"]["config"] is None


@pytest.fixture
def excluding(repo: GitRepo, creds: fakes.FakeCredentials) -> GitRepo:
    """A repository whose own config excludes everything, with a committed leak."""
    repo.commit("leak", {".stsleak.yaml": 'exclude: ["*"]\n', "aws.ini": ini(creds)})
    return repo


@pytest.mark.parametrize("mode", [[], ["--staged"], ["--history"], ["--since", "HEAD~0"]])
def test_config_exclude_is_counted_and_lifted_by_no_suppress(excluding: GitRepo, mode: list[str]) -> None:
    if mode == ["--since", "HEAD~0"]:
        excluding.commit("more", {"more.ini": ini(fakes.temporary())})
        mode = ["--since", "HEAD~1"]
    if mode == ["--staged"]:
        excluding.write("staged.ini", ini(fakes.temporary()))
        excluding.git("add", "staged.ini")
    code, report, stderr = _json(*mode, str(excluding.path))
    assert code == 0 and report["findings"] == []
    assert report["stats"]["suppressed"].get("config-exclude", 0) >= 1
    assert report["stats"]["config"] == str((excluding.path / ".stsleak.yaml").resolve())
    assert "config-exclude" in stderr and ".stsleak.yaml" in stderr
    for flag in ("--no-suppress", "--strict"):
        code, report, stderr = _json(*mode, flag, str(excluding.path))
        assert code == 1 and report["findings"], stderr
        assert report["stats"]["config"] is None and "config-exclude" not in report["stats"]["suppressed"]
        assert "--no-suppress: not applied: config" in stderr


def test_text_report_names_the_config_and_counts(excluding: GitRepo) -> None:
    result = stsleak("scan", str(excluding.path))
    assert result.code == 0
    assert "suppressed: config-exclude" in result.stdout
    assert f"config: {(excluding.path / '.stsleak.yaml').resolve()}" in result.stdout


def test_sarif_carries_the_suppressions(excluding: GitRepo) -> None:
    result = stsleak("scan", "--format", "sarif", str(excluding.path))
    props = json.loads(result.stdout)["runs"][0]["properties"]
    assert props["suppressed"]["config-exclude"] >= 1 and props["config"].endswith(".stsleak.yaml")


@pytest.mark.parametrize("mode", [[], ["--staged"], ["--history"]])
def test_allow_comments_are_counted_in_every_mode(repo: GitRepo, creds: fakes.FakeCredentials,
                                                  mode: list[str]) -> None:
    repo.write("allowed.ini", ini(creds, comment="stsleak:allow"))
    repo.git("add", "allowed.ini")
    if mode == ["--history"]:
        repo.git("commit", "-q", "-m", "allowed")
    code, report, _ = _json(*mode, str(repo.path))
    assert code == 0 and report["stats"]["suppressed"] == {"allow-comment": 1}
    code, report, _ = _json(*mode, "--no-suppress", str(repo.path))
    assert code == 1 and report["findings"][0]["access_key_id"] == creds.access_key_id


def test_baseline_is_counted_and_lifted(repo: GitRepo, creds: fakes.FakeCredentials, tmp_path: Path) -> None:
    repo.commit("leak", {"aws.ini": ini(creds)})
    baseline = tmp_path / "baseline.json"
    assert stsleak("scan", "--history", "--write-baseline", str(baseline), str(repo.path)).code == 1
    code, report, _ = _json("--history", "--baseline", str(baseline), str(repo.path))
    assert code == 0 and report["stats"]["suppressed"] == {"baseline": 1}
    # --write-baseline still records what the baseline hid
    again = tmp_path / "again.json"
    _json("--history", "--baseline", str(baseline), "--write-baseline", str(again), str(repo.path))
    assert len(json.loads(again.read_text())["findings"]) == 1
    code, report, stderr = _json("--history", "--baseline", str(baseline), "--no-suppress", str(repo.path))
    assert code == 1 and f"baseline {baseline}" in stderr


def test_allowlist_rejections_are_counted(tmp_path: Path) -> None:
    (tmp_path / "docs.md").write_text(f"aws_access_key_id = {DOCUMENTED_EXAMPLE}\n")
    code, report, _ = _json(str(tmp_path))
    assert code == 0 and report["stats"]["suppressed"] == {"allowlist": 1}


def test_a_rules_dir_from_the_repositorys_config_is_counted_and_dropped_by_no_suppress(
        repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    rules = f"allowlist:\n  value_substrings: [{creds.access_key_id[4:]}]\n"
    repo.commit("leak", {".stsleak.yaml": "rules_dir: [quiet]\n", "quiet/allow.yaml": rules, "aws.ini": ini(creds)})
    code, report, _ = _json(str(repo.path))
    if code == 2:  # the rules helper may refuse such an entry outright: that is silencing seen too
        return
    assert code == 0 and report["stats"]["suppressed"]["allowlist"] == 1
    code, report, _ = _json("--no-suppress", str(repo.path))
    assert code == 1 and report["findings"][0]["access_key_id"] == creds.access_key_id


@pytest.mark.parametrize("mode", [[], ["--history"]])
def test_max_file_size_from_config_is_counted(repo: GitRepo, creds: fakes.FakeCredentials, mode: list[str]) -> None:
    repo.commit("leak", {".stsleak.yaml": "max_file_size: 10\n", "aws.ini": ini(creds)})
    code, report, _ = _json(*mode, str(repo.path))
    assert code == 0 and report["stats"]["suppressed"].get("config-max-file-size", 0) >= 1
    code, report, _ = _json(*mode, "--no-suppress", str(repo.path))
    assert code == 1


def test_pyproject_config_at_the_root_applies_and_is_named(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("leak", {"pyproject.toml": '[tool.stsleak]\nexclude = ["*.ini"]\n', "aws.ini": ini(creds)})
    code, report, _ = _json(str(repo.path))
    assert code == 0 and report["stats"]["config"].endswith("pyproject.toml")
    assert report["stats"]["suppressed"] == {"config-exclude": 1}
