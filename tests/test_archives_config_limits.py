"""Archive limits the scanned repository's own config file lowers (issue 20 #9, archive part).

A pull request that adds `archive_max_depth: 0` or a tiny `archive_max_bytes` to `.stsleak.yaml`
must not hide an archive unseen: what such a lowered limit stops is counted in `stats.suppressed`
(`config-archive-limit`) and said on stderr, and the archive is never counted as `binary`. The
same limits set by the operator's own flags are counted in `stats.skipped` only.
"""

from __future__ import annotations

import argparse
import io
import random
import zipfile
from pathlib import Path
from typing import Any

from scanner.cli.config import apply_config, archive_limits
from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak_in_process


def _package(creds: fakes.FakeCredentials) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("CHANGES", "".join(f"line {i} of the changelog\n" for i in range(2000)))
        archive.writestr("config/settings.py", f"AWS_ACCESS_KEY_ID = '{creds.access_key_id}'\n"
                                               f"AWS_SECRET_ACCESS_KEY = '{creds.secret_access_key}'\n")
    return out.getvalue()


def _stats(root: Path, *flags: str) -> tuple[int, dict[str, Any], str]:
    run = stsleak_in_process("scan", "--format", "json", *flags, str(root))
    assert run.code in (0, 1), run.stderr
    return run.code, run.json()["stats"], run.stderr


def test_config_depth_zero_is_counted_as_suppressed_not_binary(tmp_path: Path, rng: random.Random) -> None:
    (tmp_path / "lambda.zip").write_bytes(_package(fakes.temporary(rng)))
    (tmp_path / ".stsleak.yaml").write_text("archive_max_depth: 0\n")
    code, stats, stderr = _stats(tmp_path)
    assert code == 0
    assert stats["skipped"] == {"archive-max-depth": 1}  # not "binary"
    assert stats["suppressed"] == {"config-archive-limit": 1}
    assert "config file lowered an archive limit" in stderr
    text = stsleak_in_process("scan", str(tmp_path))
    assert "config-archive-limit 1" in text.stdout + text.stderr


def test_config_max_bytes_is_counted_as_suppressed(tmp_path: Path, rng: random.Random) -> None:
    (tmp_path / "lambda.zip").write_bytes(_package(fakes.temporary(rng)))
    (tmp_path / ".stsleak.yaml").write_text("archive_max_bytes: 1k\narchive_max_members: 5\n")
    code, stats, _ = _stats(tmp_path)
    assert code == 0
    assert stats["skipped"] == {"archive-max-bytes": 1}
    assert stats["suppressed"] == {"config-archive-limit": 1}


def test_the_same_limits_from_the_flags_are_not_suppressions(tmp_path: Path, rng: random.Random) -> None:
    (tmp_path / "lambda.zip").write_bytes(_package(fakes.temporary(rng)))
    _, stats, stderr = _stats(tmp_path, "--archive-max-depth", "0")
    assert stats["skipped"] == {"archive-max-depth": 1} and stats["suppressed"] == {}
    assert "config file lowered" not in stderr
    (tmp_path / ".stsleak.yaml").write_text("archive_max_depth: 0\n")
    code, stats, _ = _stats(tmp_path, "--archive-max-depth", "4")  # the flag wins: the archive is opened
    assert code == 1 and stats["skipped"] == {} and stats["suppressed"] == {}


def test_a_limit_the_config_raises_suppresses_nothing(tmp_path: Path, rng: random.Random) -> None:
    (tmp_path / "lambda.zip").write_bytes(_package(fakes.temporary(rng)))
    (tmp_path / ".stsleak.yaml").write_text("archive_max_depth: 8\narchive_max_bytes: 1G\n")
    code, stats, _ = _stats(tmp_path)
    assert code == 1 and stats["suppressed"] == {}


def test_history_counts_the_config_limit_too(repo: GitRepo, rng: random.Random) -> None:
    repo.commit("package", {"dist/lambda.zip": _package(fakes.temporary(rng)),
                            ".stsleak.yaml": "archive_max_depth: 0\n"})
    run = stsleak_in_process("scan", "--history", "--format", "json", str(repo.path))
    assert run.code == 0, run.stderr
    stats = run.json()["stats"]
    assert stats["skipped"].get("archive-max-depth") == 1 and "binary" not in stats["skipped"]
    assert stats["suppressed"] == {"config-archive-limit": 1}


def test_archive_limits_names_what_the_config_lowered(tmp_path: Path) -> None:
    (tmp_path / ".stsleak.yaml").write_text("archive_max_depth: 1\narchive_max_ratio: 500\narchive_max_members: 3\n")
    args = argparse.Namespace(config=None, no_suppress=False, rules_dir=[], format=None, max_file_size=None,
                              archive_max_bytes=None, archive_max_depth=None, archive_max_members=None,
                              archive_max_ratio=None)
    apply_config(args, tmp_path)
    limits = archive_limits(args)
    assert (limits.max_depth, limits.max_ratio, limits.max_members) == (1, 500, 3)
    assert limits.lowered == {"max_depth", "max_members"}  # the ratio was raised
