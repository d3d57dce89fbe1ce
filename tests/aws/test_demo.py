"""`stsleak demo` end to end, as a user runs it."""

from __future__ import annotations

from tests.support.cli import stsleak


def test_demo_tells_the_whole_story(tmp_path) -> None:
    run = stsleak("demo", env={"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true"},
                  timeout=180)
    assert run.code == 0, run.stdout + run.stderr
    out = run.stdout
    assert "AWS IS EMULATED" in out
    assert "LIVE: arn:aws:sts::123456789012:assumed-role/data-pipeline/alice-laptop" in out
    assert "role: arn:aws:iam::123456789012:role/pipelines/data-pipeline" in out
    steps = [out.index(s) for s in ("READ    s3://acme-payroll", "DRY RUN", "revoked: arn:aws:iam::", "DENIED")]
    assert steps == sorted(steps)
    assert "CreateUser x1 (AccessDenied)" in out and "ListBuckets x1" in out  # the investigation step
    assert "Traceback" not in run.stderr
