"""Issue 23 #5 and #6: `--history` finds what `scan .` finds when a blob holds no key id — a
sibling file's secret and token complete a key id's set, and a labelled secret alone is a finding.
Every value is generated at run time (scanner.testing.fakes)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from scanner.detection.rules import load_ruleset
from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)
from tests.support.core import assert_json_set, sha

ENGINES = [pytest.param((), id="hyperscan"), pytest.param(("--no-hyperscan",), id="fallback")]


@pytest.fixture
def rng() -> random.Random:
    return random.Random(2305)


def _findings(*args: str) -> list[dict[str, Any]]:
    run = stsleak("scan", "--format", "json", *args)
    assert run.code in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    return run.json()["findings"]


def _both(repo: GitRepo, engine: tuple[str, ...]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What `scan --history` and `scan .` report on the repository."""
    return _findings("--history", *engine, str(repo.path)), _findings(*engine, str(repo.path))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("secret_label", "token_label"), [("aws_secret_access_key", "aws_session_token"),
                                                           ("SecretAccessKey", "SessionToken")])
def test_history_pairs_a_key_id_with_a_sibling_files_secret_and_token(
        tmp_path: Path, rng: random.Random, engine: tuple[str, ...], secret_label: str, token_label: str) -> None:
    creds = fakes.temporary(rng)
    assert creds.session_token
    repo = GitRepo(tmp_path / "repo")
    repo.commit("config and secrets", {
        "a/config.ini": f"[default]\nregion = eu-west-1\naws_access_key_id = {creds.access_key_id}\n",
        "a/secrets.ini": f"[default]\n{secret_label} = {creds.secret_access_key}\n"
                         f"{token_label} = {creds.session_token}\n",
    })
    history, tree = _both(repo, engine)
    assert len(tree) == 1
    assert len(history) == 1, history
    assert_json_set(history[0], creds)
    assert history[0]["path"] == "a/config.ini"
    assert history[0]["parts_at"] == {"secret": "a/secrets.ini:2", "session_token": "a/secrets.ini:3"}
    assert tree[0]["parts_at"] == {part: str(repo.path / where) for part, where in history[0]["parts_at"].items()}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("label", ["aws_secret_access_key", "SecretAccessKey", "AWS_SECRET_ACCESS_KEY",
                                   "secret_key", "SECRET_KEY", "secretKey"])
def test_history_reports_a_labelled_secret_alone(tmp_path: Path, rng: random.Random, engine: tuple[str, ...],
                                                 label: str) -> None:
    secret = fakes.secret(rng)
    repo = GitRepo(tmp_path / "repo")
    repo.commit("deploy settings", {"deploy/env.sh": f"export REGION=eu-west-1\nexport {label}={secret}\n"})
    history, tree = _both(repo, engine)
    assert [f["rule"] for f in tree] == ["aws-secret-without-key-id"]
    assert [(f["rule"], f["secret_sha256"], f["path"], f["line"]) for f in history] == \
        [(f["rule"], sha(secret), "deploy/env.sh", f["line"]) for f in tree]
    assert history[0]["commit"]


def test_a_credential_free_blob_with_generic_labels_stays_unread(tmp_path: Path) -> None:
    """`secret`/`token` alone name nothing AWS: code full of them is not read in history."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("code", {"app.py": "token = request.headers['token']\nsecret = vault.read('secret')\n"})
    run = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert run.code == 0, run.stderr
    assert run.json()["findings"] == []


def test_label_literals_and_both_engines_agree() -> None:
    from scanner.detection.prefilter import _FindPrefilter, _HyperscanPrefilter, label_literals, prefix_literals

    rules = load_ruleset()
    labels = label_literals(rules.secret_labels | rules.token_labels, rules.generic_labels)
    assert "secret" not in labels and "token" not in labels
    assert all(not any(other != label and other in label for other in labels) for label in labels)
    literals, caseless = prefix_literals(("ASIA",)), prefix_literals(tuple(labels))
    engines = (_HyperscanPrefilter(literals, caseless), _FindPrefilter(literals, caseless))
    for text, hit in [("x = 1\nSecretAccessKey: y", True), ("AWS_SESSION_TOKEN=", True),
                      ("X-Amz-Security-Token", True), ("a secret token", False), ("ASIA", True)]:
        for encoded in (text.encode(), text.encode("utf-16-le")):
            assert [engine(encoded) for engine in engines] == [hit, hit], text
            for engine in engines:
                ends: list[int] = []
                engine.buffer_scanner().scan(bytearray(encoded), 0, len(encoded),
                                             lambda end, seen=ends: seen.append(end) or end)
                assert bool(ends) is hit, text
