"""Issue 20, case 11: the secrets and tokens that competed for a key id (a decoy's, the real set's) are
kept in memory for verification, but no report shows them: every format, with and without
--show-secrets, holds only their count and hashes."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support.cli import stsleak


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
@pytest.mark.parametrize("show", [False, True])
def test_no_report_holds_an_alternative(tmp_path: Path, rng: random.Random, fmt: str, show: bool) -> None:
    real, decoy = fakes.temporary(rng), fakes.temporary(rng)
    (tmp_path / "credentials").write_text(
        f"[default]\naws_access_key_id = {real.access_key_id}\naws_secret_access_key = {decoy.secret_access_key}\n"
        f"aws_session_token = {decoy.session_token}\n\n# the real ones\naws_secret_access_key = "
        f"{real.secret_access_key}\naws_session_token = {real.session_token}\n")
    run = stsleak("scan", "--format", fmt, *(["--show-secrets"] if show else []), str(tmp_path))
    assert run.code == 1, run.stderr
    out = run.stdout + run.stderr
    assert real.secret_access_key not in out and str(real.session_token) not in out  # the alternatives
    assert (decoy.secret_access_key in out) == show  # the winner: shown with --show-secrets only, as before
    if fmt == "json":
        (row,) = json.loads(run.stdout)["findings"]
        assert row["alternatives"]["secret_sha256"] == [hashlib.sha256(real.secret_access_key.encode()).hexdigest()]
    if fmt == "text":
        assert "2 alternative secrets/tokens competed for this key id (1 secret, 1 session token)" in run.stdout
