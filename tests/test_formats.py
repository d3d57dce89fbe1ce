"""Leak formats that need more than a rule example can say, and the output contracts.

The single-set formats (INI, env, JSON, code, YAML, logs, URLs, …) and the negatives are the
`examples:` and `negative_examples:` of rules/aws.yaml, the one home of formats, run by
tests/test_rules.py and `stsleak rules check`. Here: several sets in one text, generated
shapes (token lengths, digit-less values), window edges, and the JSON/text/SARIF contracts.
"""

from __future__ import annotations

import json
import random
import urllib.parse
from pathlib import Path

import pytest

from scanner.detection.filters import key_id_looks_like_words
from scanner.testing import fakes
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)
from tests.support.core import (
    FINDING_KEYS,
    STATS_KEYS,
    assert_json_set,
    assert_set,
    ini,
    only,
    ruleset,
    scan_text,
    sha,
)

Creds = fakes.FakeCredentials


# --- formats ---------------------------------------------------------------------------------


def test_aws_credentials_ini_several_profiles(rng: random.Random) -> None:
    sets = [fakes.temporary(rng) for _ in range(3)]
    long_term = fakes.FakeCredentials(fakes.key_id("AKIA", rng), fakes.secret(rng), None)
    text = "[default]\nregion = eu-west-1\noutput = json\n\n"
    for i, c in enumerate(sets):
        text += ini(c, f"profile-{i}") + "region = us-east-1\n\n"
    text += (f"[long]\naws_access_key_id={long_term.access_key_id}\n"
             f"aws_secret_access_key={long_term.secret_access_key}\n")
    findings = scan_text(text, "credentials")
    assert len(findings) == 4
    for finding, c in zip(findings, sets, strict=False):
        assert_set(finding, c)
    last = findings[-1]
    assert (last.rule, last.access_key_id, last.secret, last.missing) == (
        "aws-long-term-access-key", long_term.access_key_id, long_term.secret_access_key, [])
    assert [f.line for f in findings] == [6, 12, 18, 24]


def test_ini_profiles_with_token_before_secret_and_key_last(rng: random.Random) -> None:
    sets = [fakes.temporary(rng) for _ in range(2)]
    text = "".join(
        f"[p{i}]\naws_session_token = {c.session_token}\naws_secret_access_key = {c.secret_access_key}\n"
        f"aws_access_key_id = {c.access_key_id}\n\n"
        for i, c in enumerate(sets)
    )
    findings = scan_text(text)
    assert len(findings) == 2
    for finding, c in zip(findings, sets, strict=True):
        assert_set(finding, c)


def _notebook(source_lines: list[str], outputs: list[str]) -> str:
    nb = {
        "cells": [{
            "cell_type": "code", "execution_count": 1, "metadata": {},
            "source": source_lines,
            "outputs": [{"name": "stdout", "output_type": "stream", "text": outputs}],
        }],
        "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=1)


def test_jupyter_notebook_json_inside_string(creds: Creds) -> None:
    # A cell printed the assume-role response: JSON, inside a JSON string, inside the notebook.
    inner = json.dumps({"Credentials": {"AccessKeyId": creds.access_key_id,
                                        "SecretAccessKey": creds.secret_access_key,
                                        "SessionToken": creds.session_token}}, indent=2)
    code = f"creds = json.loads({json.dumps(inner)})\n"
    text = _notebook(["import json\n", code], [inner])
    assert '\\\\\\"' in text  # a string inside a string inside a string
    finding = only(scan_text(text, "nb.ipynb"))
    assert_set(finding, creds)


def _presigned(creds: Creds) -> str:
    assert creds.session_token is not None
    return ("https://bucket.s3.us-east-1.amazonaws.com/report.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential={creds.access_key_id}%2F20261124%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20261124T200000Z&X-Amz-Expires=3600"
            f"&X-Amz-Security-Token={urllib.parse.quote(creds.session_token, safe='')}"
            "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "ab12" * 16)


def test_s3_presigned_url(rng: random.Random) -> None:
    creds = fakes.temporary(rng, token_prefix="IQoJ", token_length=1200)
    assert creds.session_token is not None
    url = _presigned(creds)
    assert "%2F" in url.split("Security-Token=")[1] or "%2B" in url.split("Security-Token=")[1]
    finding = only(scan_text(f"see {url}\n", "mail.txt"))
    assert finding.access_key_id == creds.access_key_id
    assert finding.session_token_sha256 == sha(creds.session_token)
    assert finding.secret is None
    assert finding.missing == ["secret"]


def test_s3_presigned_url_token_with_lowercase_escapes(creds: Creds) -> None:
    assert creds.session_token is not None
    url = _presigned(creds)
    head, _, tail = url.partition("X-Amz-Security-Token=")
    token_part, _, rest = tail.partition("&")
    url = head + "X-Amz-Security-Token=" + token_part.replace("%2F", "%2f").replace("%2B", "%2b") + "&" + rest
    finding = only(scan_text(url))
    assert finding.session_token_sha256 == sha(creds.session_token)


@pytest.mark.parametrize("prefix", ["IQoJ", "FwoG", "FQoG", "AQoD"])
def test_long_tokens_found_whole(prefix: str, rng: random.Random) -> None:
    creds = fakes.temporary(rng, token_prefix=prefix, token_length=1400)
    assert creds.session_token is not None and len(creds.session_token) >= 1100
    text = ini(creds)
    assert_set(only(scan_text(text)), creds)


@pytest.mark.parametrize("length", [1100, 2500, 6000])
def test_unlabelled_prefixed_token_found_whole(length: int, rng: random.Random) -> None:
    creds = fakes.temporary(rng, token_prefix="IQoJ", token_length=length)
    text = f"{creds.access_key_id} {creds.secret_access_key} {creds.session_token}\n"
    assert_set(only(scan_text(text)), creds)


def test_sets_far_apart_do_not_mix(rng: random.Random) -> None:
    a, b = fakes.temporary(rng), fakes.temporary(rng)
    filler = "# padding\n" * 2000
    text = (f"AWS_ACCESS_KEY_ID={a.access_key_id}\nAWS_SECRET_ACCESS_KEY={a.secret_access_key}\n"
            f"AWS_SESSION_TOKEN={a.session_token}\n{filler}AWS_ACCESS_KEY_ID={b.access_key_id}\n")
    first, second = scan_text(text)
    assert_set(first, a)
    assert second.access_key_id == b.access_key_id and second.missing == ["secret", "session_token"]


# --- negatives -------------------------------------------------------------------------------


def test_allow_marker_suppresses(creds: Creds) -> None:
    assert scan_text(f"AWS_ACCESS_KEY_ID={creds.access_key_id}  # stsleak:allow\n") == []


# --- output contract through the CLI ---------------------------------------------------------


def _write_set(tmp_path: Path, creds: Creds) -> Path:
    target = tmp_path / "creds.ini"
    target.write_text(ini(creds))
    return target


def test_json_contract(tmp_path: Path, rng: random.Random) -> None:
    base = fakes.temporary(rng)
    creds = Creds(fakes.key_id("ASIA", rng, account=210987654321), base.secret_access_key, base.session_token)
    _write_set(tmp_path, creds)
    run = stsleak("scan", "--format", "json", ".", cwd=tmp_path)
    assert run.code == 1, run.stderr
    report = run.json()
    assert set(report) == {"version", "findings", "stats"}
    assert report["version"] == 1
    assert set(report["stats"]) == STATS_KEYS
    stats = report["stats"]
    assert (stats["files"], stats["blobs"], stats["bytes"]) == (1, 0, (tmp_path / "creds.ini").stat().st_size)
    assert isinstance(stats["seconds"], float)
    (item,) = report["findings"]
    assert set(item) == FINDING_KEYS
    assert item["rule"] == "aws-temporary-credentials"
    assert item["account_id"] == "210987654321"
    assert (item["path"], item["line"]) == ("creds.ini", 2)
    assert (item["commit"], item["author"], item["date"], item["blob"]) == (None, None, None, None)
    assert len(item["fingerprint"]) == 64
    assert_json_set(item, creds)
    assert creds.secret_access_key not in run.stdout and str(creds.session_token) not in run.stdout


def test_json_show_secrets(tmp_path: Path, creds: Creds) -> None:
    _write_set(tmp_path, creds)
    run = stsleak("scan", "--format", "json", "--show-secrets", ".", cwd=tmp_path)
    (item,) = run.json()["findings"]
    assert set(item) == FINDING_KEYS | {"secret", "session_token"}
    assert item["secret"] == creds.secret_access_key
    assert item["session_token"] == creds.session_token


def test_json_partial_set_hashes_are_null(tmp_path: Path, rng: random.Random) -> None:
    key = fakes.key_id("ASIA", rng)
    (tmp_path / "notes.md").write_text(f"old key: {key}\n")
    (item,) = stsleak("scan", "--format", "json", ".", cwd=tmp_path).json()["findings"]
    assert (item["secret_sha256"], item["session_token_sha256"]) == (None, None)
    assert item["missing"] == ["secret", "session_token"]


def test_json_no_findings(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("nothing here\n")
    run = stsleak("scan", "--format", "json", ".", cwd=tmp_path)
    assert run.code == 0 and run.json()["findings"] == []


def test_text_output_redacts(tmp_path: Path, creds: Creds) -> None:
    _write_set(tmp_path, creds)
    run = stsleak("scan", ".", cwd=tmp_path)
    assert run.code == 1
    assert creds.access_key_id in run.stdout
    assert creds.secret_access_key not in run.stdout
    assert str(creds.session_token) not in run.stdout
    assert creds.secret_access_key[:4] + "…" in run.stdout
    assert str(creds.session_token)[:4] + "…" in run.stdout
    assert creds.secret_access_key[:5] not in run.stdout.replace(creds.access_key_id, "")
    assert "creds.ini:2" in run.stdout


def test_text_output_show_secrets(tmp_path: Path, creds: Creds) -> None:
    _write_set(tmp_path, creds)
    run = stsleak("scan", "--show-secrets", ".", cwd=tmp_path)
    assert creds.secret_access_key in run.stdout and str(creds.session_token) in run.stdout


def test_text_output_names_missing_parts(tmp_path: Path, rng: random.Random) -> None:
    (tmp_path / "a.txt").write_text(f"{fakes.key_id('ASIA', rng)}\n")
    run = stsleak("scan", ".", cwd=tmp_path)
    assert run.code == 1 and "missing: secret, session_token" in run.stdout


def test_output_file(tmp_path: Path, creds: Creds) -> None:
    _write_set(tmp_path, creds)
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    run = stsleak("scan", "--format", "json", "--output", str(out), "creds.ini", cwd=tmp_path)
    assert run.code == 1 and run.stdout == ""
    assert json.loads(out.read_text())["findings"][0]["access_key_id"] == creds.access_key_id


def test_sarif_shape(tmp_path: Path, creds: Creds) -> None:
    _write_set(tmp_path, creds)
    run = stsleak("scan", "--format", "sarif", ".", cwd=tmp_path)
    assert run.code == 1
    sarif = run.json()
    assert sarif["version"] == "2.1.0" and "$schema" in sarif
    (run0,) = sarif["runs"]
    rule_ids = {r["id"] for r in run0["tool"]["driver"]["rules"]}
    assert "aws-temporary-credentials" in rule_ids
    (result,) = run0["results"]
    assert result["ruleId"] == "aws-temporary-credentials"
    assert run0["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "creds.ini" and location["region"]["startLine"] == 2
    fingerprint = result["partialFingerprints"]["stsleakCredential/v1"]
    assert creds.secret_access_key not in run.stdout and str(creds.session_token) not in run.stdout
    # Stable: the same set elsewhere (another file, another line) has the same fingerprint.
    (tmp_path / "other.txt").write_text("\n\n\n" + (tmp_path / "creds.ini").read_text())
    again = stsleak("scan", "--format", "sarif", ".", cwd=tmp_path).json()["runs"][0]["results"]
    assert {r["partialFingerprints"]["stsleakCredential/v1"] for r in again} == {fingerprint}


# --- more formats and window edges ------------------------------------------------------------


def test_s3_presigned_url_inside_a_url(creds: Creds) -> None:
    assert creds.session_token is not None
    inner = _presigned(creds)
    outer = "https://login.example.com/redirect?next=" + urllib.parse.quote(inner, safe="")
    assert "%252F" in outer
    finding = only(scan_text(outer))
    assert finding.access_key_id == creds.access_key_id
    assert finding.session_token_sha256 == sha(creds.session_token)


def test_run_crossing_the_window_end_is_not_cut_into_a_secret(rng: random.Random) -> None:
    key = fakes.key_id("ASIA", rng)
    window = ruleset().pairing_window
    run = fakes.secret(rng) + fakes.secret(rng)[:20]  # 60 chars: too long to be a secret
    text = key + "\n" * (window - 40) + run + "\n"
    assert only(scan_text(text)).secret is None


def test_token_longer_than_any_cap_is_found_whole(rng: random.Random) -> None:
    creds = fakes.temporary(rng, token_prefix="IQoJ", token_length=40_000)
    text = ini(creds)
    assert_set(only(scan_text(text)), creds)


# --- the no-digit rule --------------------------------------------------------------------------


def _digitless_random_body(rng: random.Random) -> str:
    rules = ruleset()
    while True:
        body = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(16))
        if not key_id_looks_like_words("ASIA" + body, rules.word_like_min_vowels, rules.word_like_max_entropy):
            return body


def test_random_key_id_without_digit_is_reported_alone(rng: random.Random) -> None:
    key = "ASIA" + _digitless_random_body(rng)
    finding = only(scan_text(f"aws_access_key_id = {key}\n"))
    assert finding.access_key_id == key and finding.missing == ["secret", "session_token"]


def test_word_like_key_id_is_reported_with_its_secret(rng: random.Random) -> None:
    secret = fakes.secret(rng)
    finding = only(scan_text(f"aws_access_key_id = ASIAPACIFICREGIONALX\naws_secret_access_key = {secret}\n"))
    assert finding.access_key_id == "ASIAPACIFICREGIONALX" and finding.secret == secret


def test_same_set_twice_in_one_file_reported_once_at_first(creds: Creds) -> None:
    block = (f"aws_access_key_id={creds.access_key_id}\naws_secret_access_key={creds.secret_access_key}\n"
             f"aws_session_token={creds.session_token}\n")
    finding = only(scan_text("# prod\n" + block + "# again\n" + block))
    assert finding.line == 2


def test_two_sets_on_one_line(rng: random.Random) -> None:
    a, b = fakes.temporary(rng), fakes.temporary(rng)
    text = json.dumps([{"AccessKeyId": c.access_key_id, "SecretAccessKey": c.secret_access_key,
                        "SessionToken": c.session_token} for c in (a, b)])
    first, second = scan_text(text)
    assert_set(first, a)
    assert_set(second, b)


def test_profile_without_secret_does_not_steal_neighbours(rng: random.Random) -> None:
    a, b = fakes.temporary(rng), fakes.temporary(rng)
    text = (f"[a]\naws_access_key_id = {a.access_key_id}\naws_secret_access_key = {a.secret_access_key}\n"
            f"aws_session_token = {a.session_token}\n[b]\naws_access_key_id = {b.access_key_id}\n"
            "aws_secret_access_key = ${SECRET}\n")
    first, second = scan_text(text)
    assert_set(first, a)
    assert (second.access_key_id, second.missing) == (b.access_key_id, ["secret", "session_token"])


def _digitless(secret: str) -> str:
    return "".join("Q" if c.isdigit() else c for c in secret)


def test_k8s_env_name_value_secret_is_labelled(creds: Creds) -> None:
    # A secret without a digit is only taken when labelled: the `value:` under the name labels it.
    secret = _digitless(creds.secret_access_key)
    text = ("    env:\n"
            f"    - name: AWS_ACCESS_KEY_ID\n      value: {creds.access_key_id}\n"
            f"    - name: AWS_SECRET_ACCESS_KEY\n      value: {secret}\n"
            f"    - name: AWS_SESSION_TOKEN\n      value: {creds.session_token}\n")
    finding = only(scan_text(text, "deploy.yaml"))
    assert (finding.secret, finding.session_token, finding.missing) == (secret, creds.session_token, [])


def test_ecs_task_definition_environment(creds: Creds) -> None:
    secret = _digitless(creds.secret_access_key)
    env = [{"name": "AWS_ACCESS_KEY_ID", "value": creds.access_key_id},
           {"name": "AWS_SECRET_ACCESS_KEY", "value": secret},
           {"name": "AWS_SESSION_TOKEN", "value": creds.session_token}]
    text = json.dumps({"containerDefinitions": [{"name": "app", "environment": env}]}, indent=2)
    finding = only(scan_text(text, "taskdef.json"))
    assert (finding.secret, finding.session_token, finding.missing) == (secret, creds.session_token, [])
