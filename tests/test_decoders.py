"""Decoders on text: base64 (k8s Secrets, encoded files, JSON), escapes, HTML split by tags.

Every credential is generated at run time (scanner/testing/fakes.py). Each shape is scanned
through the same decoders the pipeline runs (scanner/detection/decoders/expand.py), and the
finding must be the whole set at the line of the encoded value.
"""

from __future__ import annotations

import base64
import json
import random
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.detection.decoders import base64 as b64
from scanner.detection.decoders.escapes import unescape
from scanner.detection.decoders.expand import ArchiveLimits, Decoders, prefilter_literals
from scanner.detection.decoders.html import without_inline_tags
from scanner.detection.decoders.views import Replacement, rewrite
from scanner.detection.prefilter import make_prefilter
from scanner.model import Chunk, Finding, ScanStats
from scanner.pipeline import findings_in_chunk
from scanner.testing import fakes
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)
from tests.support.core import assert_set, only, ruleset


def decoded(text: str | bytes, path: str = "t.txt") -> list[Finding]:
    """Findings in one chunk through the decoders, as the pipeline scans it."""
    data = text.encode() if isinstance(text, str) else text
    stats = ScanStats()
    rules = ruleset()
    decoders = Decoders(rules.key_id_prefixes, ArchiveLimits())
    return decoders.findings(Chunk(data=data, path=path), lambda c: findings_in_chunk(c, rules, stats), stats)


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _credentials_file(creds: fakes.FakeCredentials) -> str:
    return (f"[default]\naws_access_key_id = {creds.access_key_id}\naws_secret_access_key = "
            f"{creds.secret_access_key}\naws_session_token = {creds.session_token}\n")


# --- base64 ---------------------------------------------------------------------------------------

def test_base64_literals_are_the_fixed_characters_of_each_alignment() -> None:
    literals = b64.prefix_literals(("ASIA",))
    assert sorted(literals) == sorted([b"QVNJQ", b"FTSU", b"BU0lB"])
    for align in range(3):
        encoded = base64.b64encode(b"x" * align + b"ASIA" + b"yz").decode()
        assert any(lit.decode() in encoded for lit in literals), (align, encoded)


def test_kubernetes_secret_data_values_each_base64(creds: fakes.FakeCredentials) -> None:
    manifest = textwrap.dedent(f"""\
        apiVersion: v1
        kind: Secret
        metadata:
          name: deploy-aws
        type: Opaque
        data:
          AWS_ACCESS_KEY_ID: {_b64(creds.access_key_id)}
          AWS_SECRET_ACCESS_KEY: {_b64(creds.secret_access_key)}
          AWS_SESSION_TOKEN: {_b64(creds.session_token or "")}
          AWS_REGION: {_b64("eu-west-1")}
        """)
    finding = only(decoded(manifest, "k8s/secret.yaml"))
    assert_set(finding, creds)
    assert finding.line == 7  # the line of the encoded key id


def test_whole_credentials_file_base64_in_a_ci_script(creds: fakes.FakeCredentials) -> None:
    script = (f"#!/bin/sh\nset -eu\nmkdir -p ~/.aws\necho {_b64(_credentials_file(creds))} | base64 -d > "
              "~/.aws/credentials\naws s3 ls\n")
    finding = only(decoded(script, "ci/deploy.sh"))
    assert_set(finding, creds)
    assert finding.line == 4


def test_base64_dotenv_wrapped_at_76_columns(rng: random.Random) -> None:
    while True:  # an encoded prefix split by the wrap is not looked for (README): draw one it is not
        creds = fakes.temporary(rng)
        env = (f"AWS_ACCESS_KEY_ID={creds.access_key_id}\nAWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"
               f"AWS_SESSION_TOKEN={creds.session_token}\n")
        wrapped = "\n".join(textwrap.wrap(_b64(env), 76))
        if any(lit.decode() in wrapped for lit in b64.prefix_literals(("ASIA",))):
            break
    finding = only(decoded(f"# prod env\n{wrapped}\n", ".env.b64"))
    assert_set(finding, creds)
    assert finding.line == 2


def test_base64_inside_json_with_escaped_slashes(creds: fakes.FakeCredentials) -> None:
    blob = json.dumps({"name": "ci", "credentials": _b64(_credentials_file(creds))})  # json.dumps: no "\/"
    escaped = blob.replace("/", "\\/")
    for text in (blob, escaped):
        finding = only(decoded('{"items": [\n' + text + "\n]}\n", "vars.json"))
        assert_set(finding, creds)
        assert finding.line == 2


def test_base64_that_decodes_to_binary_is_left_alone(rng: random.Random) -> None:
    noise = base64.b64encode(rng.randbytes(3000) + b"\x00ASIA\x01" + rng.randbytes(3000)).decode()
    assert decoded(f"image: {noise}\n") == []
    assert b64.decode_run(noise) is None


def test_plain_and_encoded_copy_of_one_set_reported_once(creds: fakes.FakeCredentials) -> None:
    text = _credentials_file(creds) + f"backup: {_b64(_credentials_file(creds))}\n"
    assert only(decoded(text)).line == 2


def test_rewrite_maps_view_lines_back_to_the_encoded_line() -> None:
    text = "a\nb: XXXX\nc\n"
    view = rewrite(text, [Replacement(5, 9, "one\ntwo\nthree")])
    assert view.text == "a\nb: one\ntwo\nthree\nc\n"
    assert [view.original_line(n) for n in range(1, 6)] == [1, 2, 2, 2, 3]


def test_windows_transform_only_near_hits_and_keep_lines() -> None:
    from scanner.detection.decoders.views import in_windows

    text = "a&amp;\n" * 5000 + "HIT&amp;\n" + "b&amp;\n" * 5000
    out = in_windows(text, [text.index("HIT")], 100, lambda t: t.replace("&amp;", "&"))
    assert out.count("\n") == text.count("\n")
    assert "HIT&\n" in out and out.startswith("a&amp;") and out.endswith("b&amp;\n")


def test_hostile_text_full_of_escapes_and_encoded_prefixes_stays_bounded(rng: random.Random) -> None:
    text = ("\\x41" * 50_000 + "&#x41;S" * 20_000 + "QVNJQ" * 50_000 + "AS<span>" * 20_000 + "\n") * 2
    assert decoded(text) == []


# --- escapes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("escaped", "plain"), [
    ("a\\x2Fb", "a/b"), ("\\u002F", "/"), ("\\u{41}SIA", "ASIA"), ("\\U00000041", "A"), ("\\101", "A"),
    ("&#x2F;", "/"), ("&#47;", "/"), ("&#x41;", "A"), ("&sol;&plus;&equals;", "/+="), ("&amp;#x2F;", "/"),
    ("%252F", "/"), ("x\\ny", "x y"), ("&#10;", " "), ("\\u{110000}", "\ufffd"),
])
def test_unescape(escaped: str, plain: str) -> None:
    assert unescape(escaped) == plain


# One escape at a time, left to right, at most three passes: what unescape did before a run of
# escaped backslashes became one match (the alphabet below can spell only these escapes).
_ONE_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|([0-3][0-7]{2})|([/\\])|n)")


def _one_escape_at_a_time(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        code = int(m.group(1), 16) if m.group(1) else int(m.group(2), 8) if m.group(2) else None
        return m.group(3) or (" " if code is None or chr(code) in "\r\n\x0b\x0c\x85" else chr(code))
    for _ in range(3):
        decoded = _ONE_ESCAPE.sub(one, text)
        if decoded == text:
            break
        text = decoded
    return text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["\\", "\\" * 7, "n", "x", "4", "1", "a", "/", " "]), max_size=40).map("".join))
def test_runs_of_backslashes_unescape_as_one_escape_at_a_time(text: str) -> None:
    assert unescape(text) == _one_escape_at_a_time(text)


def _hex(value: str) -> str:
    return "".join(f"\\x{ord(c):02x}" for c in value)


@pytest.mark.parametrize("shape", ["hex", "js-braces", "json-u", "html-hex", "html-decimal"])
def test_escaped_key_id_and_secret(creds: fakes.FakeCredentials, shape: str) -> None:
    key, secret = creds.access_key_id, creds.secret_access_key
    enc = {
        "hex": lambda v: _hex(v),
        "js-braces": lambda v: "".join(f"\\u{{{ord(c):x}}}" for c in v),
        "json-u": lambda v: "".join(f"\\u{ord(c):04x}" for c in v),
        "html-hex": lambda v: "".join(f"&#x{ord(c):X};" for c in v),
        "html-decimal": lambda v: "".join(f"&#{ord(c)};" for c in v),
    }[shape]
    text = (f"// generated\nconst k = \"{enc(key)}\";\nconst s = \"{secret.replace('/', enc('/'))}\";\n"
            f"const t = \"{creds.session_token}\";\n")
    finding = only(decoded(text, "app.js"))
    assert_set(finding, creds)
    assert finding.line == 2


def test_only_the_first_letter_of_the_key_id_escaped(creds: fakes.FakeCredentials) -> None:
    text = (f"<input value=\"&#x41;{creds.access_key_id[1:]}\">\n<input value=\"{creds.secret_access_key}\">\n"
            f"<input value=\"{creds.session_token}\">\n")
    assert_set(only(decoded(text, "form.html")), creds)


def test_escaped_secret_with_a_plain_key_id(creds: fakes.FakeCredentials) -> None:
    for slash in ("\\x2F", "&#x2F;", "&#47;", "&sol;", "\\u002F"):
        text = (f"aws_access_key_id={creds.access_key_id}\naws_secret_access_key="
                f"{creds.secret_access_key.replace('/', slash)}\naws_session_token={creds.session_token}\n")
        assert_set(only(decoded(text)), creds)


def test_html_value_split_by_inline_tags(creds: fakes.FakeCredentials) -> None:
    key, secret = creds.access_key_id, creds.secret_access_key
    page = (f"<table>\n<tr><td>key</td><td><code>AS<span class=\"hl\">{key[2:9]}</span>{key[9:]}</code></td></tr>\n"
            f"<tr><td>secret</td><td><b>{secret[:17]}</b><i>{secret[17:]}</i></td></tr>\n"
            f"<tr><td>token</td><td>{creds.session_token}</td></tr>\n</table>\n")
    finding = only(decoded(page, "docs/setup.html"))
    assert_set(finding, creds)
    assert finding.line == 2


def test_block_tags_still_separate_values(creds: fakes.FakeCredentials) -> None:
    assert without_inline_tags("<td>ab</td><td>cd</td>") == "<td>ab</td><td>cd</td>"
    assert without_inline_tags("A<b>S</b>I<span\nclass=x>A") == "ASI<span\nclass=x>A"  # a tag over lines stays


# --- prefilter: the cheap path and history selection -----------------------------------------------

def test_ordinary_text_builds_no_view(rng: random.Random) -> None:
    decoders = Decoders(ruleset().key_id_prefixes, ArchiveLimits())
    words = ["def", "return", "value", "config", "client", "&amp;", "\\n", "<span>", "</b>", "QVNJ"]
    text = " ".join(rng.choice(words) for _ in range(20_000)).encode()
    assert list(decoders._views(text, decoders._literals.present(text))) == []


@pytest.mark.parametrize("use_hyperscan", [True, False])
def test_history_prefilter_selects_encoded_escaped_and_archived_blobs(creds: fakes.FakeCredentials,
                                                                      use_hyperscan: bool) -> None:
    prefilter = make_prefilter(ruleset().key_id_prefixes, use_hyperscan)
    assert all(prefilter(lit) for lit in prefilter_literals(ruleset().key_id_prefixes))
    assert prefilter(f"k: {_b64(creds.access_key_id)}".encode())
    assert prefilter(_hex(creds.access_key_id).encode())
    assert prefilter(b"PK\x03\x04\x14\x00")
    assert not prefilter(b"def value(config):\n    return client.request(index)\n")


def test_history_scan_of_a_blob_with_only_an_encoded_credential(tmp_path: Path,
                                                                creds: fakes.FakeCredentials) -> None:
    from tests.support.cli import GitRepo

    repo = GitRepo(tmp_path / "r")
    commit = repo.commit("add secret", {"k8s/secret.yaml": (
        f"data:\n  AWS_ACCESS_KEY_ID: {_b64(creds.access_key_id)}\n"
        f"  AWS_SECRET_ACCESS_KEY: {_b64(creds.secret_access_key)}\n"
        f"  AWS_SESSION_TOKEN: {_b64(creds.session_token or '')}\n"),
        "app.c": f'const char *k = "{_hex(creds.access_key_id)}";\n'})
    repo.commit("remove", {})
    repo.git("rm", "-q", "k8s/secret.yaml", "app.c")
    repo.commit("removed")
    run = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert run.code == 1, run.stderr
    found = {(f["path"], f["line"], f["commit"], tuple(f["missing"])) for f in run.json()["findings"]}
    assert found == {("k8s/secret.yaml", 2, commit, ()), ("app.c", 1, commit, ("secret", "session_token"))}
