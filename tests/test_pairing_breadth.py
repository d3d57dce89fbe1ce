"""Pairing breadth (issue 12, "Pairing"): split values, far-apart parts, parts in other files,
secret-only leaks, and the three pairing defects. Values are generated at run time."""

from __future__ import annotations

import json
import random
import urllib.parse
from pathlib import Path

from scanner.model import Finding
from scanner.testing import fakes
from scanner.verification.sts import offline_verification
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)
from tests.support.core import FINDING_KEYS, assert_set, only, scan_text, sha

Creds = fakes.FakeCredentials


def _halves(value: str, at: int | None = None) -> tuple[str, str]:
    cut = at if at is not None else len(value) // 2
    return value[:cut], value[cut:]


# --- split values --------------------------------------------------------------------------------

def test_java_concatenation_rebuilds_key_id_secret_and_token(creds: Creds) -> None:
    assert creds.session_token
    k1, k2 = _halves(creds.access_key_id, 8)
    s1, s2 = _halves(creds.secret_access_key)
    t1, t2 = _halves(creds.session_token, 150)
    text = (f'class Leak {{\n  String id = "{k1}" +\n      "{k2}";\n  String secret = "{s1}"\n      + "{s2}";\n'
            f'  String token = "{t1}" + "{t2}";\n}}\n')
    finding = only(scan_text(text, "Leak.java"))
    assert_set(finding, creds)
    assert finding.line == 2


def test_python_implicit_concatenation_of_a_token(creds: Creds) -> None:
    assert creds.session_token
    t1, t2 = _halves(creds.session_token)
    text = (f"AWS_ACCESS_KEY_ID = '{creds.access_key_id}'\nAWS_SECRET_ACCESS_KEY = '{creds.secret_access_key}'\n"
            f"AWS_SESSION_TOKEN = ('{t1}'\n                     '{t2}')\nafter = 1\n"
            f"OTHER = '{fakes.key_id('AKIA', random.Random(1))}'\n")
    findings = scan_text(text, "settings.py")
    assert_set(findings[0], creds)
    assert findings[1].line == 6  # lines after a rebuilt value keep their numbers


def test_shell_backslash_continuation_inside_quotes(creds: Creds) -> None:
    """Defect 2: a token wrapped with `\\` was reported as its first line with missing: []."""
    assert creds.session_token
    t1, t2 = _halves(creds.session_token, 100)
    text = (f'export AWS_ACCESS_KEY_ID="{creds.access_key_id}"\nexport AWS_SECRET_ACCESS_KEY="'
            f'{creds.secret_access_key}"\nexport AWS_SESSION_TOKEN="{t1}\\\n{t2}"\n')
    assert_set(only(scan_text(text, "env.sh")), creds)


def test_a_cut_token_is_never_reported_whole(creds: Creds) -> None:
    assert creds.session_token
    t1 = creds.session_token[:200]
    text = (f'export AWS_ACCESS_KEY_ID="{creds.access_key_id}"\nexport AWS_SECRET_ACCESS_KEY="'
            f'{creds.secret_access_key}"\nexport AWS_SESSION_TOKEN="{t1}\\\n  # the rest was lost"\n')
    finding = only(scan_text(text, "env.sh"))
    assert finding.session_token is None
    assert finding.missing == ["session_token"]


# --- far apart --------------------------------------------------------------------------------

def test_parts_a_long_line_apart_pair_by_lines(creds: Creds, rng: random.Random) -> None:
    bundle = "".join(rng.choice(fakes._B64) for _ in range(200_000))
    text = (f"AWS_ACCESS_KEY_ID={creds.access_key_id}\nCA_BUNDLE=\"-----BEGIN CERTIFICATE-----{bundle}\"\n"
            f"AWS_SECRET_ACCESS_KEY={creds.secret_access_key}\nAWS_SESSION_TOKEN={creds.session_token}\n")
    assert_set(only(scan_text(text, ".env")), creds)


def test_far_apart_is_bounded(creds: Creds, rng: random.Random) -> None:
    """Beyond pairing_max_reach (1 MiB) the parts are not paired: the key id and the secret stand alone."""
    filler = "x" * 1_100_000
    text = f"AWS_ACCESS_KEY_ID={creds.access_key_id}\n{filler}\nAWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"
    findings = scan_text(text, ".env")
    assert [(f.access_key_id, f.missing) for f in findings] == [
        (creds.access_key_id, ["secret", "session_token"]), ("", ["access_key_id"])]


# --- defects -------------------------------------------------------------------------------------

def test_presigned_url_key_does_not_take_the_next_sets_secret(rng: random.Random) -> None:
    """Defect 1: the orientation vote must not hand a secret-first set's secret to the URL's key id."""
    url_creds, creds = fakes.temporary(rng), fakes.temporary(rng)
    assert url_creds.session_token
    url = ("https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
           f"{url_creds.access_key_id}%2F20261124%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Security-Token="
           f"{urllib.parse.quote(url_creds.session_token, safe='')}&X-Amz-Signature=abc")
    doc = json.dumps({"url": url, "creds": {"SecretAccessKey": creds.secret_access_key,
                                            "AccessKeyId": creds.access_key_id, "SessionToken": creds.session_token}})
    by_key = {f.access_key_id: f for f in scan_text(doc, "out.json")}
    assert by_key[url_creds.access_key_id].secret is None
    assert by_key[url_creds.access_key_id].session_token == url_creds.session_token
    assert_set(by_key[creds.access_key_id], creds)


def test_word_like_key_id_needs_a_labelled_secret_or_a_token(rng: random.Random) -> None:
    """Defect 3: ASIAPACIFICREGIONALX next to any random 40-char run is not a credential."""
    word = "ASIA" + "PACIFICREGIONALX"
    nonce = fakes.secret(rng)
    assert scan_text(f'var r="{word}";var n="{nonce}";\n', "app.min.js") == []
    labelled = only(scan_text(f"region_key = {word}\naws_secret_access_key = {nonce}\n"))
    assert labelled.access_key_id == word and labelled.secret == nonce


# --- secret-only leaks -------------------------------------------------------------------------

def test_labelled_secret_alone_is_a_finding(creds: Creds) -> None:
    finding = only(scan_text(f"[default]\naws_secret_access_key = {creds.secret_access_key}\n"))
    assert finding.rule == "aws-secret-without-key-id"
    assert finding.missing == ["access_key_id"] and finding.line == 2
    assert finding.account_id is None
    verdict = offline_verification(finding, verify_canaries=False)
    assert verdict is not None and verdict.status == "unverifiable"
    assert verdict.error == "unverifiable without the key id"


def test_secret_and_token_alone_are_one_finding(creds: Creds) -> None:
    finding = only(scan_text(f"SecretAccessKey: {creds.secret_access_key}\nSessionToken: {creds.session_token}\n"))
    assert finding.secret == creds.secret_access_key and finding.session_token == creds.session_token
    assert finding.missing == ["access_key_id"]
    assert finding.parts_at == {"secret": "t.txt:1", "session_token": "t.txt:2"}


def test_generic_label_or_low_entropy_alone_is_not_a_finding(rng: random.Random) -> None:
    assert scan_text(f"secret = {fakes.secret(rng)}\n") == []
    assert scan_text("aws_secret_access_key = " + "ab" * 20 + "\n") == []


def test_token_next_to_a_long_term_key_is_still_not_reported(rng: random.Random) -> None:
    key, secret, token = fakes.key_id("AKIA", rng), fakes.secret(rng), fakes.session_token(rng=rng)
    finding = only(scan_text(f"aws_access_key_id={key}\naws_secret_access_key={secret}\naws_session_token={token}\n"))
    assert finding.access_key_id == key and finding.session_token is None


# --- across files ---------------------------------------------------------------------------------

def _json_scan(root: Path) -> list[dict[str, object]]:
    result = stsleak("scan", "--format", "json", str(root), cwd=root)
    return json.loads(result.stdout)["findings"]


def test_docker_secrets_one_value_per_file_pair_across_files(tmp_path: Path, creds: Creds) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "aws_access_key_id").write_text(creds.access_key_id + "\n")
    (secrets / "aws_secret_access_key").write_text(creds.secret_access_key + "\n")
    (secrets / "aws_session_token").write_text(f"{creds.session_token}\n")
    (item,) = _json_scan(tmp_path)
    assert item["access_key_id"] == creds.access_key_id
    assert item["secret_sha256"] == sha(creds.secret_access_key)
    assert item["session_token_sha256"] == sha(creds.session_token or "")
    assert item["missing"] == []
    assert item["parts_at"] == {"secret": "secrets/aws_secret_access_key:1",
                                "session_token": "secrets/aws_session_token:1"}
    assert set(item) == FINDING_KEYS | {"parts_at"}


def test_configmap_and_secret_in_one_directory(tmp_path: Path, creds: Creds) -> None:
    (tmp_path / "configmap.yaml").write_text(
        f"kind: ConfigMap\ndata:\n  AWS_ACCESS_KEY_ID: {creds.access_key_id}\n")
    (tmp_path / "secret.yaml").write_text(
        f"kind: Secret\nstringData:\n  AWS_SECRET_ACCESS_KEY: {creds.secret_access_key}\n"
        f"  AWS_SESSION_TOKEN: {creds.session_token}\n")
    (item,) = _json_scan(tmp_path)
    assert item["path"] == "configmap.yaml" and item["line"] == 3 and item["missing"] == []
    assert item["parts_at"] == {"secret": "secret.yaml:3", "session_token": "secret.yaml:4"}


def test_ambiguous_directory_is_not_paired(tmp_path: Path, rng: random.Random) -> None:
    (tmp_path / "a.env").write_text(f"AWS_ACCESS_KEY_ID={fakes.key_id('ASIA', rng)}\n")
    (tmp_path / "b.env").write_text(f"AWS_ACCESS_KEY_ID={fakes.key_id('ASIA', rng)}\n")
    (tmp_path / "c.env").write_text(f"AWS_SECRET_ACCESS_KEY={fakes.secret(rng)}\n")
    items = _json_scan(tmp_path)
    assert len(items) == 3 and not any("parts_at" in item for item in items)


def test_findings_in_one_file_keep_the_json_contract(creds: Creds) -> None:
    finding: Finding = only(scan_text(f"aws_access_key_id={creds.access_key_id}\n"))
    assert finding.parts_at is None


def test_a_base32_run_without_a_prefix_is_no_key_id(rng: random.Random) -> None:
    """The rule without a key id has no prefix; it must not turn every 16-char base32 run into a key id."""
    body = fakes.key_id("ASIA", rng)[4:]
    assert scan_text(f"ref: {body}\nid = '{body}'\n") == []
