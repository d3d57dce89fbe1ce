"""Silencing what a team has reviewed: allow markers, baselines (stsleak and detect-secrets), config;
and `--fail-on`."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import assert_no_secrets, ini, run, venv_program


def _keys(result_stdout: str) -> list[str]:
    return [f["access_key_id"] for f in json.loads(result_stdout)["findings"]]


# --- --fail-on -----------------------------------------------------------------------------------


def test_fail_on_live_needs_verify(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("leak", {"creds.ini": ini(creds)})
    result = stsleak("scan", "--fail-on", "live", str(repo.path))
    assert result.code == 2
    assert result.stderr.strip() == "stsleak: error: --fail-on live needs --verify"
    assert result.stdout == ""


def test_fail_on_any_is_the_default(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("leak", {"creds.ini": ini(creds)})
    assert stsleak("scan", str(repo.path)).code == 1
    assert stsleak("scan", "--fail-on", "any", str(repo.path)).code == 1


# --- inline allow markers ------------------------------------------------------------------------


def _marked_file(rng: random.Random) -> tuple[str, list[fakes.FakeCredentials]]:
    a, b, c = (fakes.temporary(rng) for _ in range(3))
    text = (
        ini(a, comment="stsleak:allow  test fixture, revoked")
        + "\n[b]\n"
        + f"aws_access_key_id = {b.access_key_id}\n"
        + f"aws_secret_access_key = {b.secret_access_key}  # pragma: allowlist secret\n"
        + f"aws_session_token = {b.session_token}\n"
        + "\n[c]\n"
        + ini(c).split("\n", 1)[1]
    )
    return text, [a, b, c]


def test_allow_markers_silence_their_lines(repo: GitRepo, rng: random.Random) -> None:
    text, (a, b, c) = _marked_file(rng)
    repo.write("fixtures/profiles.ini", text)
    files = stsleak("scan", "--format", "json", str(repo.path))
    assert files.code == 1 and _keys(files.stdout) == [c.access_key_id]
    unmarked = stsleak("scan", "-", "--format", "json", input_text=text.replace("stsleak:allow", "").replace(
        "pragma: allowlist secret", ""))  # the same text without its markers: all three are found
    assert sorted(_keys(unmarked.stdout)) == sorted([a.access_key_id, b.access_key_id, c.access_key_id])

    repo.git("add", "-A")
    staged = stsleak("scan", "--staged", "--format", "json", str(repo.path))
    assert staged.code == 1 and _keys(staged.stdout) == [c.access_key_id]

    repo.git("commit", "-q", "-m", "fixtures")
    history = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert history.code == 1 and _keys(history.stdout) == [c.access_key_id]


def test_a_fully_marked_file_is_clean(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.write("creds.ini", ini(creds, comment="stsleak:allow"))
    assert stsleak("scan", str(repo.path)).code == 0


# --- baselines -----------------------------------------------------------------------------------


def test_write_baseline_then_report_only_new_findings(repo: GitRepo, tmp_path: Path, rng: random.Random) -> None:
    old, new = fakes.temporary(rng), fakes.temporary(rng)
    repo.commit("old leak", {"legacy/creds.ini": ini(old)})
    baseline = tmp_path / ".stsleak-baseline.json"
    written = stsleak("scan", "--history", "--write-baseline", str(baseline), str(repo.path))
    assert written.code == 1, written.stderr  # writing a baseline still reports what it found
    content = baseline.read_text(encoding="utf-8")
    for value in (old.secret_access_key, old.session_token):
        assert value not in content
    recorded = json.loads(content)["findings"]
    assert [e["access_key_id"] for e in recorded] == [old.access_key_id]
    assert all(len(e["fingerprint"]) == 64 for e in recorded)

    silenced = stsleak("scan", "--history", "--baseline", str(baseline), str(repo.path))
    assert silenced.code == 0, silenced.stdout + silenced.stderr

    repo.commit("new leak", {"app/creds.ini": ini(new)})
    result = stsleak("scan", "--history", "--baseline", str(baseline), "--format", "json", str(repo.path))
    assert result.code == 1 and _keys(result.stdout) == [new.access_key_id]
    # The same baseline works for a files scan and a staged scan.
    assert _keys(stsleak("scan", "--baseline", str(baseline), "--format", "json", str(repo.path)).stdout) == [
        new.access_key_id]
    repo.write("app/more.ini", "# copy\n" + ini(old))
    repo.git("add", "-A")
    assert stsleak("scan", "--staged", "--baseline", str(baseline), str(repo.path)).code == 0


def test_detect_secrets_baseline_silences_a_finding(repo: GitRepo, rng: random.Random) -> None:
    reviewed, fresh = fakes.temporary(rng), fakes.temporary(rng)
    repo.commit("reviewed", {"ops/creds.ini": ini(reviewed)})
    made = run([venv_program("detect-secrets"), "scan"], repo.path)
    assert made.code == 0, made.stderr
    (repo.path / ".secrets.baseline").write_text(made.stdout, encoding="utf-8")
    assert "ops/creds.ini" in json.loads(made.stdout)["results"]

    silenced = stsleak("scan", "--baseline", ".secrets.baseline", str(repo.path), cwd=repo.path)
    assert silenced.code == 0, silenced.stdout + silenced.stderr

    repo.write("ops/fresh.ini", ini(fresh))
    result = stsleak("scan", "--baseline", ".secrets.baseline", "--format", "json", ".", cwd=repo.path)
    assert result.code == 1 and _keys(result.stdout) == [fresh.access_key_id]


def test_missing_baseline_is_an_error(repo: GitRepo) -> None:
    result = stsleak("scan", "--baseline", "nope.json", str(repo.path))
    assert result.code == 2 and "baseline" in result.stderr


# --- config --------------------------------------------------------------------------------------


def _layout(repo: GitRepo, rng: random.Random) -> tuple[fakes.FakeCredentials, fakes.FakeCredentials]:
    fixture, real = fakes.temporary(rng), fakes.temporary(rng)
    repo.write("tests/fixtures/sample.ini", ini(fixture))
    repo.write("src/settings.ini", ini(real))
    return fixture, real


@pytest.mark.parametrize("where", [".stsleak.yaml", "pyproject.toml"])
def test_config_excludes_paths(repo: GitRepo, rng: random.Random, where: str) -> None:
    _fixture, real = _layout(repo, rng)
    if where == ".stsleak.yaml":
        repo.write(".stsleak.yaml", "exclude:\n  - tests/fixtures/*\nformat: json\n")
    else:
        repo.write("pyproject.toml", '[project]\nname = "x"\n\n[tool.stsleak]\nexclude = ["tests/fixtures/*"]\n'
                                     'format = "json"\n')
    result = stsleak("scan", ".", cwd=repo.path)
    assert result.code == 1, result.stderr
    assert _keys(result.stdout) == [real.access_key_id]  # config's format (json) applied

    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "all")
    history = stsleak("scan", "--history", str(repo.path))
    assert _keys(history.stdout) == [real.access_key_id]

    # Flags win: --format text over the config's json; --exclude adds to the config's list.
    text = stsleak("scan", "--format", "text", "--exclude", "src/*", ".", cwd=repo.path)
    assert text.code == 0 and not text.stdout.lstrip().startswith("{")
    assert_no_secrets(text, real)


def test_config_max_file_size_and_flag_wins(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.write(".stsleak.yaml", "max_file_size: 1k\n")
    repo.write("big.ini", "# padding\n" * 200 + ini(creds))
    skipped = stsleak("scan", "--format", "json", str(repo.path))
    assert skipped.code == 0 and json.loads(skipped.stdout)["stats"]["skipped"].get("too-large") == 1
    found = stsleak("scan", "--max-file-size", "1M", "--format", "json", str(repo.path))
    assert found.code == 1 and _keys(found.stdout) == [creds.access_key_id]


def test_config_explicit_file_and_unknown_key(repo: GitRepo, tmp_path: Path, rng: random.Random) -> None:
    fixture, _real = _layout(repo, rng)
    config = tmp_path / "team.yaml"
    config.write_text("exclude: [src/*]\n", encoding="utf-8")
    result = stsleak("scan", "--config", str(config), "--format", "json", ".", cwd=repo.path)
    assert _keys(result.stdout) == [fixture.access_key_id]

    config.write_text("excludes: [src/*]\n", encoding="utf-8")
    bad = stsleak("scan", "--config", str(config), str(repo.path))
    assert bad.code == 2 and "excludes" in bad.stderr


def test_config_exclude_applies_when_scanning_from_another_directory(repo: GitRepo, rng: random.Random) -> None:
    _fixture, real = _layout(repo, rng)
    repo.write(".stsleak.yaml", "exclude:\n  - tests/fixtures/*\n")
    result = stsleak("scan", "--format", "json", str(repo.path), cwd=repo.path.parent)
    assert _keys(result.stdout) == [real.access_key_id]


def test_config_exclude_applies_to_staged(repo: GitRepo, rng: random.Random) -> None:
    _fixture, real = _layout(repo, rng)
    repo.write(".stsleak.yaml", "exclude:\n  - tests/fixtures/*\n")
    repo.git("add", "-A")
    result = stsleak("scan", "--staged", "--format", "json", str(repo.path))
    assert _keys(result.stdout) == [real.access_key_id]


def test_updating_a_baseline_in_place_keeps_what_it_held(repo: GitRepo, tmp_path: Path, rng: random.Random) -> None:
    old, new = fakes.temporary(rng), fakes.temporary(rng)
    repo.commit("old leak", {"legacy/creds.ini": ini(old)})
    baseline = tmp_path / "baseline.json"
    stsleak("scan", "--history", "--write-baseline", str(baseline), str(repo.path))
    repo.commit("new leak", {"app/creds.ini": ini(new)})
    update = stsleak("scan", "--history", "--baseline", str(baseline), "--write-baseline", str(baseline),
                     "--format", "json", str(repo.path))
    assert _keys(update.stdout) == [new.access_key_id]  # reports only what is new ...
    recorded = {e["access_key_id"] for e in json.loads(baseline.read_text(encoding="utf-8"))["findings"]}
    assert recorded == {old.access_key_id, new.access_key_id}  # ... and records everything
