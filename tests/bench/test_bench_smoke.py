"""Smoke test: the benchmark script builds its inputs, runs every scenario and prints its table.

No timing is asserted here (speed is measured by bench/run.py only); this only proves the
benchmark works and that its correctness checks pass on the small repo.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_quick_runs_and_prints_the_table() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "scenario" in out and "x floor" in out
    for row in ("git floor", "stsleak scan --history", "stsleak scan --staged", "stsleak scan .", "verify",
                "worst case"):
        assert row in out, out
    assert "FAIL" not in out
    assert "Traceback" not in proc.stderr
