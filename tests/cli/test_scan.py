"""`stsleak scan` as a user runs it: paths, work trees, options, exit codes."""

from __future__ import annotations

import random
from pathlib import Path

from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.core import env_file

Creds = fakes.FakeCredentials



def _paths(run_stdout: str) -> list[str]:
    import json

    return sorted(f["path"] for f in json.loads(run_stdout)["findings"])


def test_default_path_is_current_directory(tmp_path: Path, creds: Creds) -> None:
    (tmp_path / ".env").write_text(env_file(creds))
    run = stsleak("scan", "--format", "json", cwd=tmp_path)
    assert run.code == 1 and _paths(run.stdout) == [".env"]


def test_clean_directory_exits_zero(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello\n")
    run = stsleak("scan", ".", cwd=tmp_path)
    assert run.code == 0 and run.stderr == ""
    assert "0 findings" in run.stdout


def test_work_tree_scans_tracked_and_untracked_not_ignored(repo: GitRepo, rng: random.Random) -> None:
    tracked, untracked, ignored = (fakes.temporary(rng) for _ in range(3))
    repo.commit("init", {".gitignore": "secret.env\nbuild/\n", "tracked.env": env_file(tracked)})
    repo.write("untracked.env", env_file(untracked))
    repo.write("secret.env", env_file(ignored))
    repo.write("build/out.env", env_file(ignored))
    run = stsleak("scan", "--format", "json", str(repo.path))
    assert run.code == 1
    keys = {f["access_key_id"] for f in run.json()["findings"]}
    assert keys == {tracked.access_key_id, untracked.access_key_id}


def test_work_tree_scan_from_inside_reports_relative_paths(repo: GitRepo, creds: Creds) -> None:
    repo.commit("init", {"sub/dir/c.env": env_file(creds)})
    run = stsleak("scan", "--format", "json", cwd=repo.path / "sub")
    assert _paths(run.stdout) == ["dir/c.env"]


def test_work_tree_file_deleted_but_still_in_index(repo: GitRepo, creds: Creds) -> None:
    repo.commit("init", {"c.env": env_file(creds), "x.txt": "x\n"})
    (repo.path / "c.env").unlink()
    run = stsleak("scan", "--format", "json", str(repo.path))
    assert run.code == 0 and "Traceback" not in run.stderr


def test_several_paths(tmp_path: Path, rng: random.Random) -> None:
    a, b = fakes.temporary(rng), fakes.temporary(rng)
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "a.env").write_text(env_file(a))
    (tmp_path / "b.env").write_text(env_file(b))
    run = stsleak("scan", "--format", "json", "one", "b.env", cwd=tmp_path)
    assert _paths(run.stdout) == ["b.env", "one/a.env"]


def test_exclude(tmp_path: Path, rng: random.Random) -> None:
    a, b = fakes.temporary(rng), fakes.temporary(rng)
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "a.env").write_text(env_file(a))
    (tmp_path / "b.env").write_text(env_file(b))
    run = stsleak("scan", "--format", "json", "--exclude", "fixtures", ".", cwd=tmp_path)
    assert _paths(run.stdout) == ["b.env"]
    assert run.json()["stats"]["skipped"] == {"excluded": 1}


def test_no_color_and_no_ansi_when_piped(tmp_path: Path, creds: Creds) -> None:
    (tmp_path / "c.env").write_text(env_file(creds))
    for args in (["--no-color"], []):
        run = stsleak("scan", *args, ".", cwd=tmp_path, env={"NO_COLOR": ""})
        assert "\x1b[" not in run.stdout


def test_text_block_per_finding(tmp_path: Path, rng: random.Random) -> None:
    sets = [fakes.temporary(rng) for _ in range(2)]
    (tmp_path / "a.env").write_text(env_file(sets[0]))
    (tmp_path / "b.env").write_text(env_file(sets[1]))
    run = stsleak("scan", ".", cwd=tmp_path)
    assert run.code == 1
    blocks = run.stdout.strip().split("\n\n")
    assert len(blocks) == 4  # two findings, the summary, the next steps
    assert blocks[3].startswith("To see only new findings")
    for block, c in zip(blocks, sets, strict=False):
        assert block.startswith(f"aws-temporary-credentials  {c.access_key_id}")


def test_version_and_help() -> None:
    assert stsleak("--version").stdout.startswith("stsleak ")
    run = stsleak("scan", "--help")
    assert run.code == 0 and "exit codes" in run.stdout


def test_scan_imports_no_boto3(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from scanner.cli import main; rc = main(['scan', '-q', '.']); "
            "print('boto3' in sys.modules or 'botocore' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert out.stdout.strip().endswith("False"), out


def test_ignored_directory_named_explicitly_is_scanned(repo: GitRepo, creds: Creds) -> None:
    repo.commit("init", {".gitignore": "build/\n", "README.md": "x\n"})
    repo.write("build/out/app.env", env_file(creds))
    assert stsleak("scan", str(repo.path)).code == 0  # ignored: not part of the work tree scan
    run = stsleak("scan", "--format", "json", "build", cwd=repo.path)
    assert run.code == 1 and _paths(run.stdout) == ["build/out/app.env"]
