"""stsleak's detect-secrets plugin, run by the real `detect-secrets` program."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from scanner.integrations import detect_secrets_plugin
from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import ini, run, venv_program

PLUGIN = Path(detect_secrets_plugin.__file__).resolve()
TYPE = detect_secrets_plugin.SECRET_TYPE


def _scan(where: Path, *args: str) -> dict[str, Any]:
    result = run([venv_program("detect-secrets"), "scan", "--plugin", str(PLUGIN), *args], where)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def _ours(baseline: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {name: [e for e in entries if e["type"] == TYPE] for name, entries in baseline["results"].items()
            if any(e["type"] == TYPE for e in entries)}


def _sha1(value: str) -> str:
    return hashlib.sha1(value.encode()).hexdigest()


def test_plugin_reports_a_complete_temporary_set(tmp_path: Path, creds: fakes.FakeCredentials,
                                                 rng: random.Random) -> None:
    (tmp_path / "creds.ini").write_text("# profile\n" + ini(creds), encoding="utf-8")
    bare = fakes.key_id("ASIA", rng)
    (tmp_path / "notes.txt").write_text(f"the old key id was {bare}\n", encoding="utf-8")
    partial = fakes.temporary(rng)  # key id and secret, no token: not a complete temporary set
    (tmp_path / "partial.env").write_text(
        f"AWS_ACCESS_KEY_ID={partial.access_key_id}\nAWS_SECRET_ACCESS_KEY={partial.secret_access_key}\n",
        encoding="utf-8")

    baseline = _scan(tmp_path, "--all-files")
    names = [p["name"] for p in baseline["plugins_used"]]
    assert "AWSTemporaryCredentialSetDetector" in names
    assert _ours(baseline) == {"creds.ini": [{
        "type": TYPE, "filename": "creds.ini", "hashed_secret": _sha1(creds.access_key_id),
        "is_verified": False, "line_number": 3,
    }]}
    # detect-secrets' own AWS detector still sees the bare key id: we add to it, not replace it.
    assert "notes.txt" in baseline["results"]
    assert creds.secret_access_key not in json.dumps(baseline)


def test_plugin_handles_json_and_env_layouts(tmp_path: Path, rng: random.Random) -> None:
    env, js = fakes.temporary(rng), fakes.temporary(rng)
    (tmp_path / "session.env").write_text(
        f"export AWS_SESSION_TOKEN={env.session_token}\nexport AWS_ACCESS_KEY_ID={env.access_key_id}\n"
        f"export AWS_SECRET_ACCESS_KEY={env.secret_access_key}\n", encoding="utf-8")
    (tmp_path / "sts.json").write_text(json.dumps({"Credentials": {
        "AccessKeyId": js.access_key_id, "SecretAccessKey": js.secret_access_key, "SessionToken": js.session_token,
        "Expiration": "2026-01-01T00:00:00Z"}}, indent=2), encoding="utf-8")
    ours = _ours(_scan(tmp_path, "--all-files"))
    assert {name: [e["line_number"] for e in entries] for name, entries in ours.items()} == {
        "session.env": [2], "sts.json": [3]}


def test_plugin_respects_detect_secrets_allowlist_pragma(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    (tmp_path / "creds.ini").write_text(ini(creds, comment="pragma: allowlist secret"), encoding="utf-8")
    assert _ours(_scan(tmp_path, "--all-files")) == {}


def test_plugin_in_a_git_repo_and_stsleak_honours_the_resulting_baseline(repo: GitRepo,
                                                                         creds: fakes.FakeCredentials) -> None:
    repo.commit("leak", {"deploy/creds.ini": ini(creds)})
    made = run([venv_program("detect-secrets"), "scan", "--plugin", str(PLUGIN)], repo.path)
    assert made.code == 0, made.stderr
    baseline = json.loads(made.stdout)
    assert _ours(baseline)["deploy/creds.ini"][0]["line_number"] == 2
    assert baseline["plugins_used"][[p["name"] for p in baseline["plugins_used"]].index(
        "AWSTemporaryCredentialSetDetector")]["path"] == f"file://{PLUGIN}"
    (repo.path / ".secrets.baseline").write_text(made.stdout, encoding="utf-8")
    assert stsleak("scan", "--baseline", ".secrets.baseline", ".", cwd=repo.path).code == 0


def test_analyze_string_in_process(creds: fakes.FakeCredentials, rng: random.Random) -> None:
    """The class also works through detect-secrets' line API without context (`scan --string`)."""
    detector = detect_secrets_plugin.AWSTemporaryCredentialSetDetector()
    one_line = (f"key={creds.access_key_id} secret={creds.secret_access_key} "
                f"token={creds.session_token}")
    assert list(detector.analyze_string(one_line)) == [creds.access_key_id]
    assert list(detector.analyze_string(f"key={fakes.key_id('ASIA', rng)}")) == []
    found = detector.analyze_line(filename="x.txt", line=one_line, line_number=7)
    assert [(s.type, s.line_number, s.secret_value) for s in found] == [(TYPE, 7, creds.access_key_id)]
