"""Malformed config, baseline and report files: one line, exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Run
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)


def _one_line_error(run: Run, words: str) -> None:
    assert run.code == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and words in run.stderr, run.stderr


@pytest.mark.parametrize(("config", "words"), [
    ("max_file_size: lots\n", "max_file_size must be a size"),
    ("exclude: 5\n", "exclude must be a string or a list of strings"),
    ("rules_dir: {a: 1}\n", "rules_dir must be a string or a list of strings"),
    ("format: xml\n", "format must be one of text, json, sarif, github"),
    ("surprise: 1\n", "unknown config key"),
    ("- just\n- a list\n", "is not a mapping"),
])
def test_malformed_config(tmp_path: Path, config: str, words: str) -> None:
    (tmp_path / ".stsleak.yaml").write_text(config)
    _one_line_error(stsleak("scan", ".", cwd=tmp_path), words)


def test_malformed_pyproject_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.stsleak]\nmax_file_size = [1]\n")
    _one_line_error(stsleak("scan", ".", cwd=tmp_path), "max_file_size must be a size")


@pytest.mark.parametrize("content", ['{"findings": 5}', '{"results": {"a": 5}}', "[1, 2]", "not json"])
def test_malformed_baseline(tmp_path: Path, content: str) -> None:
    (tmp_path / "base.json").write_text(content)
    run = stsleak("scan", "--baseline", "base.json", ".", cwd=tmp_path)
    if content == '{"results": {"a": 5}}':  # a detect-secrets baseline with no usable entry
        assert run.code == 0 and "Traceback" not in run.stderr
    else:
        _one_line_error(run, "baseline")


@pytest.mark.parametrize("content", ['{"findings": 5}', '{"findings": [5]}', '{"findings": [{"verification": 5}]}',
                                     "[]", "not json"])
def test_malformed_revoke_report(tmp_path: Path, content: str) -> None:
    (tmp_path / "report.json").write_text(content)
    run = stsleak("revoke", "--from", "report.json", cwd=tmp_path,
                  env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": ""})
    _one_line_error(run, "report.json")
