"""#26 7: other scanners' baselines as `--baseline`: a gitleaks JSON report, `.gitleaksignore`
fingerprints, trufflehog `--json` output — each hides exactly the finding it records (file, line,
commit, the value's hash when it has one) and counts it (`stats.suppressed.baseline`); an entry of
another rule, file, line, commit or value hides nothing; a file of no known format fails with one
line naming the formats (and never its content)."""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.cli import stsleak_in_process as stsleak
from tests.support.programs import ini

REVIEWED_PATH, FRESH_PATH = "ops/creds.ini", "app/creds.ini"


@dataclass
class Leaks:
    repo: GitRepo
    reviewed: fakes.FakeCredentials  # what the other scanner's baseline records
    fresh: fakes.FakeCredentials  # what it does not
    commit: str  # where `reviewed` was committed
    line: int  # the line of its key id


@pytest.fixture
def leaks(repo: GitRepo, rng: random.Random) -> Leaks:
    reviewed, fresh = fakes.temporary(rng), fakes.temporary(rng)
    commit = repo.commit("reviewed", {REVIEWED_PATH: "# ops\n" + ini(reviewed)})
    repo.commit("fresh", {FRESH_PATH: ini(fresh)})
    return Leaks(repo, reviewed, fresh, commit, 3)


def _scan(leaks: Leaks, baseline: Path, *args: str, cwd: Path | None = None) -> tuple[list[str], dict[str, int]]:
    """(key ids reported, stats.suppressed) of a JSON scan of the repository (a files scan by default)."""
    target = args or (".",)
    run = stsleak("scan", "--baseline", str(baseline), "--format", "json", *target, cwd=cwd or leaks.repo.path)
    assert run.code in (0, 1), run.stderr
    for value in (leaks.reviewed.secret_access_key, leaks.fresh.secret_access_key):
        assert value not in run.stdout + run.stderr
    report = run.json()
    keys = sorted(f["access_key_id"] for f in report["findings"])
    assert run.code == (1 if keys else 0)
    return keys, report["stats"]["suppressed"]


def _gitleaks_row(file: str, line: int, secret: str, commit: str = "",
                  rule: str = "aws-access-token") -> dict[str, Any]:
    """A finding as `gitleaks git|dir --report-format json` writes it."""
    fingerprint = f"{commit}:{file}:{rule}:{line}" if commit else f"{file}:{rule}:{line}"
    return {"RuleID": rule, "Description": "AWS", "StartLine": line, "EndLine": line, "StartColumn": 21,
            "EndColumn": 40, "Match": secret, "Secret": secret, "File": file, "SymlinkFile": "", "Commit": commit,
            "Entropy": 3.9, "Author": "Test Author" if commit else "", "Email": "", "Date": "", "Message": "",
            "Tags": [], "Fingerprint": fingerprint}


def _write(path: Path, content: Any) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=1), encoding="utf-8")
    return path


# --- gitleaks JSON report ------------------------------------------------------------------------


def test_a_gitleaks_report_hides_what_it_records(leaks: Leaks, tmp_path: Path) -> None:
    key = leaks.reviewed.access_key_id
    report = _write(tmp_path / "gitleaks.json", [
        _gitleaks_row(REVIEWED_PATH, leaks.line, key, leaks.commit),
        _gitleaks_row(FRESH_PATH, 1, "ghp_" + "x" * 36, leaks.commit, rule="github-pat"),  # another rule: ignored
    ])
    fresh = [leaks.fresh.access_key_id]
    assert _scan(leaks, report, "--history", ".") == (fresh, {"baseline": 1})
    # Its value's hash is recorded: the same key id at the same file and line in the work tree too.
    assert _scan(leaks, report) == (fresh, {"baseline": 1})
    # An empty report (gitleaks found nothing) is an empty baseline.
    assert _scan(leaks, _write(tmp_path / "empty.json", []))[0] == sorted([key, *fresh])


@pytest.mark.parametrize("secret", ["whole", "REDACTED", "beginning..."])
def test_a_redacted_gitleaks_report_still_matches_by_place(leaks: Leaks, tmp_path: Path, secret: str) -> None:
    key = leaks.reviewed.access_key_id
    shown = {"whole": key, "REDACTED": "REDACTED", "beginning...": key[:10] + "..."}[secret]  # --redact[=50]
    fresh = [leaks.fresh.access_key_id]
    history = _write(tmp_path / "git.json", [_gitleaks_row(REVIEWED_PATH, leaks.line, shown, leaks.commit)])
    assert _scan(leaks, history, "--history", ".") == (fresh, {"baseline": 1})
    # A commit's entry that does not record the value cannot tell the work tree's key id is that one.
    assert _scan(leaks, history)[0] == (fresh if secret == "whole" else sorted([key, *fresh]))
    directory = _write(tmp_path / "dir.json", [_gitleaks_row(REVIEWED_PATH, leaks.line, shown)])  # `gitleaks dir`
    assert _scan(leaks, directory) == (fresh, {"baseline": 1})
    assert _scan(leaks, directory, "--history", ".") == (fresh, {"baseline": 1})  # no commit: any commit


@pytest.mark.parametrize("change", ["rule", "file", "line", "commit", "value", "beginning", "sub-rule"])
def test_a_gitleaks_entry_of_something_else_hides_nothing(leaks: Leaks, tmp_path: Path, rng: random.Random,
                                                         change: str) -> None:
    key, other_key = leaks.reviewed.access_key_id, fakes.key_id("ASIA", rng)
    row = _gitleaks_row(REVIEWED_PATH, leaks.line, key, leaks.commit)
    row.update({
        "rule": {"RuleID": "generic-api-key"},
        "file": {"File": "ops/other.ini"},
        "line": {"StartLine": leaks.line + 1},
        "commit": {"Commit": leaks.repo.git("rev-parse", "HEAD").strip()},
        "value": {"Secret": other_key},
        "beginning": {"Secret": other_key[:10] + "..."},
        "sub-rule": {"RuleID": "aws-secret-access-key", "Secret": "REDACTED"},  # a secret, not this key id
    }[change])
    report = _write(tmp_path / "gitleaks.json", [row])
    everything = sorted([key, leaks.fresh.access_key_id])
    assert _scan(leaks, report, "--history", ".") == (everything, {})
    if change == "commit":  # outside history, the value's hash at that file and line is what tells
        assert _scan(leaks, report) == ([leaks.fresh.access_key_id], {"baseline": 1})
    else:
        assert _scan(leaks, report) == (everything, {})


# --- .gitleaksignore -----------------------------------------------------------------------------


def test_gitleaksignore_fingerprints_hide_what_they_name(leaks: Leaks, tmp_path: Path) -> None:
    key, fresh = leaks.reviewed.access_key_id, [leaks.fresh.access_key_id]
    everything = sorted([key, *fresh])
    ignore = leaks.repo.path / ".gitleaksignore"
    _write(ignore, f"# reviewed 2026-01-02\n\n{leaks.commit}:{REVIEWED_PATH}:aws-access-token:{leaks.line}\n"
                   f"{FRESH_PATH}:generic-api-key:{leaks.line}\n")  # another rule: hides nothing
    assert _scan(leaks, ignore, "--history", ".") == (fresh, {"baseline": 1})
    assert _scan(leaks, ignore) == (everything, {})  # a commit's fingerprint: not the work tree's file

    _write(ignore, f"{REVIEWED_PATH}:aws-access-token:{leaks.line}\n")  # a global fingerprint: any commit
    assert _scan(leaks, ignore) == (fresh, {"baseline": 1})
    assert _scan(leaks, ignore, "--history", ".") == (fresh, {"baseline": 1})
    # Scanned by absolute path from elsewhere: the fingerprint's path is taken relative to its file's folder.
    assert _scan(leaks, ignore, str(leaks.repo.path), cwd=tmp_path) == (fresh, {"baseline": 1})

    for other in (f"{REVIEWED_PATH}:aws-access-token:{leaks.line + 1}", f"{FRESH_PATH}:aws-access-token:{leaks.line}",
                  f"{'0' * 40}:{REVIEWED_PATH}:aws-access-token:{leaks.line}"):
        _write(ignore, other + "\n")
        assert _scan(leaks, ignore, "--history", ".") == (everything, {}), other


def test_the_pre_commit_scan_honours_a_gitleaksignore_named_in_the_config(repo: GitRepo, rng: random.Random) -> None:
    reviewed, fresh = fakes.temporary(rng), fakes.temporary(rng)
    repo.write(".stsleak.yaml", "baseline: .gitleaksignore\n")
    repo.write(".gitleaksignore", f"{REVIEWED_PATH}:aws-access-token:2\n")
    repo.write(REVIEWED_PATH, ini(reviewed))  # its key id on line 2
    repo.git("add", "-A")
    clean = stsleak("scan", "--staged", "--format", "json", str(repo.path))
    assert clean.code == 0 and clean.json()["stats"]["suppressed"] == {"baseline": 1}, clean.stdout + clean.stderr
    repo.write(FRESH_PATH, ini(fresh))
    repo.git("add", "-A")
    run = stsleak("scan", "--staged", "--format", "json", str(repo.path))
    assert run.code == 1 and [f["access_key_id"] for f in run.json()["findings"]] == [fresh.access_key_id]


# --- trufflehog --json ---------------------------------------------------------------------------


def _trufflehog_line(source: str, where: dict[str, Any], detector: str, raw: str) -> str:
    """A result as `trufflehog git|filesystem --json` prints it (stdout, one a line)."""
    return json.dumps({
        "SourceMetadata": {"Data": {source: where}}, "SourceID": 1, "SourceType": 16 if source == "Git" else 15,
        "SourceName": f"trufflehog - {source.lower()}", "DetectorType": 2, "DetectorName": detector,
        "DecoderName": "PLAIN", "Verified": False, "Raw": raw, "RawV2": raw + "<secret>", "Redacted": raw,
        "ExtraData": {"account": "123456789012"}, "StructuredData": None})


def test_trufflehog_json_output_hides_what_it_records(leaks: Leaks, tmp_path: Path, rng: random.Random) -> None:
    key, fresh = leaks.reviewed.access_key_id, [leaks.fresh.access_key_id]
    at = {"file": REVIEWED_PATH, "line": leaks.line}
    log = json.dumps({"level": "info-0", "ts": "2026-01-02T00:00:00Z", "logger": "trufflehog", "msg": "running source"})
    output = _write(tmp_path / "trufflehog.json", "\n".join([
        log,
        _trufflehog_line("Git", {**at, "commit": leaks.commit, "email": "a@example.com"}, "AWS", key),
        _trufflehog_line("Filesystem", {"file": FRESH_PATH, "line": 2}, "Github", "ghp_" + "x" * 36),
    ]) + "\n")
    assert _scan(leaks, output, "--history", ".") == (fresh, {"baseline": 1})
    assert _scan(leaks, output) == (fresh, {"baseline": 1})  # the value's hash: the same key id there

    one = _write(tmp_path / "filesystem.json", _trufflehog_line("Filesystem", at, "AWSSessionKey", key) + "\n")
    assert _scan(leaks, one) == (fresh, {"baseline": 1})
    other = _write(tmp_path / "other.json", _trufflehog_line("Filesystem", at, "AWS", fakes.key_id("ASIA", rng)))
    assert _scan(leaks, other) == (sorted([key, *fresh]), {})


# --- stsleak's and detect-secrets' baselines, as before ------------------------------------------


def test_stsleak_and_detect_secrets_baselines_still_work(leaks: Leaks, tmp_path: Path) -> None:
    key, fresh = leaks.reviewed.access_key_id, [leaks.fresh.access_key_id]
    detect_secrets = _write(tmp_path / ".secrets.baseline", {"version": "1.5.0", "results": {REVIEWED_PATH: [
        {"type": "AWS Access Key", "filename": REVIEWED_PATH, "line_number": leaks.line, "is_verified": False,
         "hashed_secret": hashlib.sha1(key.encode()).hexdigest()}]}})
    assert _scan(leaks, detect_secrets) == (fresh, {"baseline": 1})
    written = tmp_path / "stsleak-baseline.json"
    assert stsleak("scan", "--write-baseline", str(written), REVIEWED_PATH, cwd=leaks.repo.path).code == 1
    assert _scan(leaks, written) == (fresh, {"baseline": 1})


# --- anything else -------------------------------------------------------------------------------


def _not_a_baseline(leaks: Leaks) -> dict[str, str]:
    key, secret = leaks.fresh.access_key_id, leaks.fresh.secret_access_key
    return {
        "an .env file": f"AWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={secret}\n",
        "a SARIF report": json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "gitleaks"}}}]}),
        "a list of something else": json.dumps([{"file": "a", "line": 1, "secret": secret}]),
        "JSON lines of something else": json.dumps({"path": "a", "value": secret}) + "\n" + json.dumps({"b": 1}),
        "a .gitleaksignore with a stray line": f"{REVIEWED_PATH}:aws-access-token:3\n{key}:{secret}\n",
        "stsleak-like findings without fingerprints": json.dumps({"findings": [{"access_key_id": key}]}),
        "binary": "\udcff",
    }


@pytest.mark.parametrize("kind", ["an .env file", "a SARIF report", "a list of something else",
                                  "JSON lines of something else", "a .gitleaksignore with a stray line",
                                  "stsleak-like findings without fingerprints", "binary"])
def test_a_file_of_no_known_format_fails_with_one_line_naming_the_formats(leaks: Leaks, tmp_path: Path,
                                                                         kind: str) -> None:
    baseline = tmp_path / "baseline"
    content = _not_a_baseline(leaks)[kind]
    baseline.write_bytes(content.encode("utf-8", "surrogateescape"))
    run = stsleak("scan", "--baseline", str(baseline), ".", cwd=leaks.repo.path)
    assert run.code == 2 and run.stdout == "", run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"stsleak: error: baseline {baseline} "), run.stderr
    for name in ("stsleak baseline", "detect-secrets", "gitleaks JSON report", ".gitleaksignore", "trufflehog"):
        assert name in lines[0]
    for value in (leaks.fresh.access_key_id, leaks.fresh.secret_access_key):
        assert value not in run.stderr  # what the file holds is never printed


def test_a_device_is_not_read_as_a_baseline(leaks: Leaks) -> None:
    """/dev/zero, /dev/stdin on a terminal, ... named by a hostile config: refused, never read."""
    run = stsleak("scan", "--baseline", "/dev/null", ".", cwd=leaks.repo.path)
    assert run.code == 2 and run.stderr.strip() == "stsleak: error: cannot read baseline /dev/null: not a regular file"


def test_a_pipe_with_no_writer_does_not_hang_the_scan(leaks: Leaks, tmp_path: Path) -> None:
    """A pipe is read (`--baseline <(gitleaks …)`); one nobody writes to is an empty baseline, not a hang."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    run = stsleak("scan", "--baseline", str(fifo), "--format", "json", ".", cwd=leaks.repo.path, timeout=20)
    assert run.code == 1 and run.json()["stats"]["suppressed"] == {}, run.stderr
