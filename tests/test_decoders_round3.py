"""Issue 23 #3: every encoding people really paste, decoded recursively with a depth limit.

Full percent-decoding (a console federation sign-in URL carries a whole JSON session, `+` for
spaces), quoted-printable (e-mail: `=3D`, soft line breaks through a value), base64 of UTF-16LE
(`powershell -EncodedCommand`), base64 inside base64 and gzip inside base64 (Helm release
Secrets), URL-safe and unpadded base64; a key id glued to a letter of its encoding (`=3DASIA…`,
`%22ASIA…`) is not lost. Each shape is scanned through the decoders the pipeline runs, and in
history through the blob prefilter. Credentials are generated at run time (scanner/testing/fakes.py).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import random
import re
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.detection.decoders import base64 as b64
from scanner.detection.decoders.escapes import unescape
from scanner.detection.decoders.expand import ArchiveLimits, Decoders, prefilter_literals
from scanner.detection.decoders.quoted_printable import qp_view
from scanner.detection.prefilter import make_prefilter
from scanner.model import Chunk, Finding, ScanStats
from scanner.pipeline import findings_in_chunk
from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.cli import stsleak_in_process as stsleak
from tests.support.core import assert_json_set, assert_set, env_file, ini, only, ruleset, sha

Creds = fakes.FakeCredentials


def decoded(data: str | bytes, path: str = "t.txt", limits: ArchiveLimits | None = None,
            stats: ScanStats | None = None) -> list[Finding]:
    """Findings in one chunk as the pipeline scans it (decoders included)."""
    stats = stats if stats is not None else ScanStats()
    rules = ruleset()
    raw = data.encode() if isinstance(data, str) else data
    return Decoders(rules.key_id_prefixes, limits or ArchiveLimits()).findings(
        Chunk(data=raw, path=path), lambda c: findings_in_chunk(c, rules, stats), stats)


@pytest.fixture
def iqoj(rng: random.Random) -> Creds:
    return fakes.temporary(rng, "IQoJ", 1100)


def _session_json(creds: Creds) -> str:
    return json.dumps({"sessionId": creds.access_key_id, "sessionKey": creds.secret_access_key,
                       "sessionToken": creds.session_token})


# --- percent-encoding ---------------------------------------------------------------------------

def test_console_federation_sign_in_url(iqoj: Creds) -> None:
    url = ("https://signin.aws.amazon.com/federation?Action=getSigninToken&SessionDuration=43200&Session="
           + urllib.parse.quote_plus(_session_json(iqoj)))
    assert "+" in url and "%22" in url
    finding = only(decoded(f"curl -s '{url}'\n"))
    assert_set(finding, iqoj)


def test_federation_url_in_html_and_a_har_file(iqoj: Creds) -> None:
    query = "Action=getSigninToken&Session=" + urllib.parse.quote_plus(_session_json(iqoj))
    html = f'<a href="https://signin.aws.amazon.com/federation?{query.replace("&", "&amp;")}">sign in</a>\n'
    assert_set(only(decoded(html, "page.html")), iqoj)
    har = json.dumps({"log": {"entries": [{"request": {"method": "GET", "url": "https://signin.aws.amazon.com/"
                                                        "federation?" + query}}]}}, indent=1)
    assert_set(only(decoded(har, "session.har")), iqoj)


def test_every_percent_escape_is_decoded(creds: Creds) -> None:
    """`%22ASIA…`: read raw, the key id is glued to the "2" of its encoded quote."""
    encoded = urllib.parse.quote(json.dumps({"AccessKeyId": creds.access_key_id,
                                             "SecretAccessKey": creds.secret_access_key,
                                             "SessionToken": creds.session_token}), safe="")
    assert f"%22{creds.access_key_id}%22" in encoded
    assert_set(only(decoded(f"state={encoded}\n")), creds)
    assert unescape("%7B%22a%22%3A%20%22b%22%7D") == '{"a": "b"}'


def test_plus_stays_a_plus_outside_url_encoded_values(rng: random.Random) -> None:
    """A raw token's "+" is no space: only a query value that is URL-encoded throughout (a `%XX`,
    no raw "/") reads "+" as a space."""
    creds = next(c for c in (fakes.temporary(rng) for _ in range(50)) if "+" in (c.session_token or ""))
    raw = (f"https://b.s3.amazonaws.com/k?X-Amz-Credential={creds.access_key_id}%2F20261124%2Fus-east-1%2Fs3%2F"
           f"aws4_request&X-Amz-Security-Token={creds.session_token}&X-Amz-Signature=abc\n")
    finding = only(decoded(raw))
    assert finding.session_token == creds.session_token
    assert unescape("?q=a+b%21") == "?q=a b!" and unescape("x = a+b%21") == "x = a+b!"


# --- quoted-printable ---------------------------------------------------------------------------

def _qp(text: str) -> str:
    return binascii.b2a_qp(text.encode()).decode()


def test_quoted_printable_email(iqoj: Creds) -> None:
    body = _qp(ini(iqoj))
    assert "=3D" in body and "=\n" in body  # `=` escaped; the token cut by soft line breaks
    message = ("From: ops@example.com\nTo: dev@example.com\nSubject: temp creds\nMIME-Version: 1.0\n"
               "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" + body)
    finding = only(decoded(message, "mail.eml"))
    assert_set(finding, iqoj)
    assert finding.line == 9  # the key id's line in the message


def test_quoted_printable_without_headers_and_a_key_id_glued_to_3d(iqoj: Creds) -> None:
    """A QP body pasted alone: `aws_access_key_id=3DASIA…` (read raw, the key id is glued to "D")."""
    body = _qp(ini(iqoj).replace(" = ", "="))
    assert f"=3D{iqoj.access_key_id}" in body
    assert_set(only(decoded(body)), iqoj)


def test_quoted_printable_soft_break_inside_the_prefix(iqoj: Creds, tmp_path: Path) -> None:
    """A soft break cuts `ASIA` itself: the text holds no plain prefix, yet it is found, in history too."""
    body = _qp(env_file(iqoj))
    at = body.index(iqoj.access_key_id)
    cut = body[:at + 2] + "=\n" + body[at + 2:]  # AS=\nIA...
    message = "Content-Transfer-Encoding: quoted-printable\n\n" + cut
    assert "ASIA" not in message
    assert_set(only(decoded(message, "mail.eml")), iqoj)
    assert make_prefilter(ruleset().key_id_prefixes, use_hyperscan=False)(message.encode())
    repo = GitRepo(tmp_path / "repo")
    repo.commit("mail", {"archive/1.eml": message})
    run = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert_json_set(only(run.json()["findings"]), iqoj)


def test_mailbox_with_a_plain_and_a_quoted_printable_message_reports_each_set_once(rng: random.Random) -> None:
    """The QP view of a mixed mailbox decodes only the QP part, and never adds a second, wrong set."""
    plain, encoded = fakes.temporary(rng), fakes.temporary(rng, "IQoJ", 900)
    mbox = ("From a@example.com Mon Nov 24 10:00:00 2026\nSubject: one\n\n" + ini(plain) + "\n"
            "From b@example.com Mon Nov 24 11:00:00 2026\nSubject: two\n"
            "Content-Transfer-Encoding: quoted-printable\n\n" + _qp(ini(encoded)) + "\n")
    found = decoded(mbox, "inbox.mbox")
    assert sorted(f.access_key_id for f in found) == sorted([plain.access_key_id, encoded.access_key_id])
    for finding in found:
        assert_set(finding, plain if finding.access_key_id == plain.access_key_id else encoded)


def test_text_that_is_not_quoted_printable_is_not_decoded() -> None:
    assert qp_view("KEY=value\nx =3D y\n") is None  # a "=" before no hex digits: no QP text
    view = qp_view("a =3D b\nlong line=\ncontinued\n")
    assert view is not None and view.text == "a = b\nlong linecontinued\n"
    assert [view.original_line(n) for n in (1, 2, 3)] == [1, 2, 4]


# --- base64 -------------------------------------------------------------------------------------

def test_powershell_encoded_command(creds: Creds) -> None:
    script = (f"$env:AWS_ACCESS_KEY_ID='{creds.access_key_id}'; $env:AWS_SECRET_ACCESS_KEY='{creds.secret_access_key}';"
              f" $env:AWS_SESSION_TOKEN='{creds.session_token}'; aws s3 ls")
    command = "powershell.exe -NoProfile -EncodedCommand " + base64.b64encode(script.encode("utf-16-le")).decode()
    assert_set(only(decoded(f"steps:\n  - run: {command}\n", "ci.yml")), creds)


def test_base64_inside_base64(creds: Creds) -> None:
    twice = base64.b64encode(base64.b64encode(env_file(creds).encode())).decode()
    finding = only(decoded(f"# bootstrap\nexport CREDS='{twice}'\n"))
    assert_set(finding, creds)
    assert finding.line == 2


def test_kubernetes_secret_inside_a_base64_file(creds: Creds) -> None:
    """A decoded text holding base64 of its own (a Secret manifest, base64-encoded whole)."""
    manifest = ("apiVersion: v1\nkind: Secret\ndata:\n"
                f"  AWS_ACCESS_KEY_ID: {base64.b64encode(creds.access_key_id.encode()).decode()}\n"
                f"  AWS_SECRET_ACCESS_KEY: {base64.b64encode(creds.secret_access_key.encode()).decode()}\n"
                f"  AWS_SESSION_TOKEN: {base64.b64encode((creds.session_token or '').encode()).decode()}\n")
    assert_set(only(decoded("manifest: " + base64.b64encode(manifest.encode()).decode() + "\n")), creds)


def _helm_release(creds: Creds) -> str:
    template = {"name": "templates/deploy.yaml", "data": base64.b64encode(b"kind: Deployment\n").decode()}
    release = {"name": "app", "namespace": "prod", "version": 3, "chart": {"templates": [template]},
               "config": {"aws": {"accessKeyId": creds.access_key_id, "secretAccessKey": creds.secret_access_key,
                                  "sessionToken": creds.session_token}}}
    data = base64.b64encode(base64.b64encode(gzip.compress(json.dumps(release).encode()))).decode()
    return ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: sh.helm.release.v1.app.v3\n  labels:\n    owner: helm\n"
            f"type: helm.sh/release.v1\ndata:\n  release: {data}\n")


def test_helm_release_secret(creds: Creds, tmp_path: Path) -> None:
    finding = only(decoded(_helm_release(creds), "release.yaml"))
    assert_set(finding, creds)
    assert finding.line == 9
    repo = GitRepo(tmp_path / "repo")
    repo.commit("backup", {"backup/release.yaml": _helm_release(creds)})
    run = stsleak("scan", "--history", "--format", "json", str(repo.path))
    assert_json_set(only(run.json()["findings"]), creds)


def test_gzip_inside_base64_is_held_to_the_archive_limits(creds: Creds) -> None:
    bomb = gzip.compress(env_file(creds).encode() + b"\n" * (3 << 20))
    text = "blob: " + base64.b64encode(bomb).decode() + "\n"
    stats = ScanStats()
    found = decoded(text, stats=stats, limits=ArchiveLimits(max_ratio=2))
    assert_set(only(found), creds)  # what came out before the limit is scanned ...
    assert stats.skipped == {"archive-max-ratio": 1}  # ... and the limit is counted
    closed = ScanStats()
    assert decoded(text, stats=closed, limits=ArchiveLimits(max_depth=0)) == []
    assert closed.skipped == {"archive-max-depth": 1}


def test_url_safe_and_unpadded_base64(creds: Creds) -> None:
    text = ini(creds)
    urlsafe = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    assert_set(only(decoded(f"https://ci.example.com/run?env={urlsafe}\n")), creds)
    unpadded = base64.b64encode(text.encode()).decode().rstrip("=")
    assert_set(only(decoded(f"CREDS={unpadded}\n")), creds)


def _standard_pieces_show(encoded: str, key_id: str) -> bool:
    """Whether a piece between the "-" and "_" decodes, as standard base64, to text holding the key id."""
    for piece in re.split("[-_]", encoded):
        piece = piece[:len(piece) // 4 * 4]
        if key_id.encode() in base64.b64decode(piece + "=" * (-len(piece) % 4)):
            return True
    return False


def test_url_safe_base64_with_dash_and_underscore(creds: Creds) -> None:
    """In ASCII text "-" and "_" fall only on the last character of a group of four (so the pieces
    between them decode as standard base64); UTF-8 beyond ASCII puts them anywhere, and a comment
    between the lines leaves no piece that standard base64 would decode to the key id."""
    lines = env_file(creds).splitlines(keepends=True)
    encoded = next(e for pad in ("#" * n for n in range(24)) if not _standard_pieces_show(e := base64.urlsafe_b64encode(
        "".join(f"{pad}# ??? >>> ÿü\n{line}" for line in lines).encode()).decode(), creds.access_key_id))
    assert_set(only(decoded(f"payload: {encoded}\n")), creds)
    assert b64.decode_run("AWS_SECRET_ACCESS_KEY_VALUE") is None  # an identifier is no base64


def _encoded(text: str, times: int) -> str:
    data = text.encode()
    for _ in range(times):
        data = base64.b64encode(data)
    return data.decode()


def test_depth_limit_stops_nesting(creds: Creds, rng: random.Random) -> None:
    """Base64 twice is looked for (its literals); deeper nesting is decoded where another literal
    opened a window (here a k8s value next to it), at most MAX_DEPTH levels."""
    other = "id: " + base64.b64encode(fakes.key_id("AKIA", rng).encode()).decode() + "\n"
    found = decoded(other + "x: " + _encoded(env_file(creds), b64.MAX_DEPTH) + "\n")
    assert_set(next(f for f in found if f.access_key_id == creds.access_key_id), creds)
    too_deep = decoded(other + "x: " + _encoded(env_file(creds), b64.MAX_DEPTH + 3) + "\n")
    assert all(f.access_key_id != creds.access_key_id for f in too_deep)  # not decoded, and no failure


def test_new_literals_are_in_the_history_prefilter() -> None:
    literals = set(prefilter_literals(ruleset().key_id_prefixes))
    assert {b"H4sI", b"SDRzS", b"AS=\nIA"} <= literals
    wide = base64.b64encode("xASIAx".encode("utf-16-le")).decode()
    nested = base64.b64encode(base64.b64encode(b"xxASIAx")).decode()
    escaped = ("%41SIA", "%41%53%49%41", "%41%4bIA", "\\x41\\x53IA", "\\u0041KIA", "&#65;&#83;IA", "\\101\\123IA")
    for text in (wide, nested, *escaped):
        assert any(lit in text.encode() for lit in literals), text


@pytest.mark.parametrize("engine", [(), ("--no-hyperscan",)], ids=["hyperscan", "fallback"])
def test_key_ids_escaped_whole_are_found_in_history(creds: Creds, tmp_path: Path, engine: tuple[str, ...]) -> None:
    """Every character escaped (`%41%53%49%41…`, `\\u0041\\u0053…`) and nothing else in the blob that
    the history prefilter looks for (no label, no token): the escaped prefix alone gets it read."""
    def every(fmt: str, value: str) -> str:
        return "".join(fmt.format(ord(c)) for c in value)

    secret = urllib.parse.quote(creds.secret_access_key, safe="")
    json_key = every("\\u{:04x}", creds.access_key_id)
    py_key = every("\\x{:02x}", creds.access_key_id)
    texts = {"url.txt": f"https://example.test/cb?k={every('%{:02X}', creds.access_key_id)}&s={secret}\n",
             "app.json": f'{{"k": "{json_key}", "s": "{creds.secret_access_key}"}}\n',
             "page.html": f"<i>{every('&#{};', creds.access_key_id)}</i> <b>{creds.secret_access_key}</b>\n",
             # JSON in JSON: every backslash of the inner document doubled (`\\u0041\\u0053…`)
             "nested.json": json.dumps({"doc": f'{{"k": "{json_key}", "s": "{creds.secret_access_key}"}}'}) + "\n",
             "notebook.ipynb": json.dumps({"source": [f'k = "{py_key}"\n',
                                                      f's = "{creds.secret_access_key}"\n']}) + "\n"}
    for name, text in texts.items():
        assert creds.access_key_id[:4] not in text, name
        assert not any(word in text.lower() for word in ("secret", "aws", "key")), name
        repo = GitRepo(tmp_path / name)
        repo.commit("add", {name: text, "noise.txt": "q=%41%44%45 &#65;&#68;\n"})
        run = stsleak("scan", *engine, "--history", "--format", "json", str(repo.path))
        found = only(run.json()["findings"])
        assert (found["access_key_id"], found["secret_sha256"]) == (creds.access_key_id, sha(creds.secret_access_key))


def test_an_escaped_a_alone_does_not_make_a_blob_worth_reading() -> None:
    """URL-encoded and binary text is full of `%41`; only an escaped "A" that starts a key-id prefix counts."""
    literals = set(prefilter_literals(ruleset().key_id_prefixes))
    for text in ("q=%41%44%45", "path%2F%41rchive", "\\x41\\x00\\x41", "&#65;&#68;"):
        assert not any(lit in text.encode() for lit in literals), text


# --- linear time ----------------------------------------------------------------------------------

_PIECES = st.sampled_from(["?a=", "&b=", "%2", "%22", "+", "=\n", "=3D", "=", "\n", "QVNJQ", "H4sI", "SDRzS", "-_",
                           "Content-Transfer-Encoding: quoted-printable\n\n", "AS=\nIA", "A" * 40, "aGVsbG8gd29ybGQ="])
_TEXTS = st.lists(_PIECES | st.text("ABab+/=%?&-_\n", max_size=30), max_size=60).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXTS)
def test_adversarial_encoded_text_never_fails_and_padding_changes_nothing(text: str) -> None:
    whole = decoded(text)
    padded = decoded("\n\n" + text)
    assert sorted((f.access_key_id, f.line) for f in padded) == sorted((f.access_key_id, f.line + 2) for f in whole)
