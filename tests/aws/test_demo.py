"""`stsleak demo` end to end, as a user runs it."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.cli import stsleak


def test_demo_tells_the_whole_story(tmp_path) -> None:
    run = stsleak("demo", "--keep", env={"AWS_CONFIG_FILE": str(tmp_path / "none"),
                                         "AWS_EC2_METADATA_DISABLED": "true"}, timeout=180)
    assert run.code == 0, run.stdout + run.stderr
    out = run.stdout
    assert "AWS IS EMULATED" in out
    assert "LIVE: arn:aws:sts::123456789012:assumed-role/data-pipeline/alice-laptop" in out
    assert "role: arn:aws:iam::123456789012:role/pipelines/data-pipeline" in out
    steps = [out.index(s) for s in ("READ    s3://acme-payroll", "DRY RUN", "revoked: arn:aws:iam::", "DENIED")]
    assert steps == sorted(steps)
    assert "CreateUser x1 (AccessDenied)" in out and "ListBuckets x1" in out  # the investigation step
    assert "Traceback" not in run.stderr
    kept = Path(out.split("\nkept: ")[1].split(" ")[0])
    try:
        audit = out.split("audit log: ")[1].split("\n")[0]
        assert Path(audit).is_file() and Path(audit).parent == kept  # what it points at still exists
        assert (kept / "leaky-repo" / ".git").is_dir()
        assert "Each step by hand" in out and f"stsleak scan --history {kept / 'leaky-repo'}" in out
        assert f"stsleak revoke --from report.json --yes --audit-log {audit}" in out
    finally:
        shutil.rmtree(kept, ignore_errors=True)


def test_demo_without_keep_points_at_nothing_it_deletes(tmp_path) -> None:
    run = stsleak("demo", env={"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true"},
                  timeout=180)
    assert run.code == 0, run.stdout + run.stderr
    assert "kept:" not in run.stdout and "(`stsleak demo --keep` keeps it)" in run.stdout
    assert "stsleak scan --history REPO" in run.stdout
    assert "stsleak-demo-" not in run.stdout + run.stderr  # no path into the directory it deletes
