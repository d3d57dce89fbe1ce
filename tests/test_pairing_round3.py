"""Issue 23, pairing: parts in different directories (#4), several sets in one JSON document (#7),
and the line of a finding (#11). Every value is generated at run time (scanner.testing.fakes)."""

from __future__ import annotations

import itertools
import json
import random
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from scanner.model import Finding, PartKind
from scanner.pairing import pair_across_files
from scanner.testing import fakes
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)
from tests.support.core import assert_json_set, assert_set, only, scan_text, sha

Creds = fakes.FakeCredentials
LABELS = {"k": "AccessKeyId", "s": "SecretAccessKey", "t": "SessionToken"}
ORDERS = ["".join(p) for p in itertools.permutations("kst")]  # the order an object writes its fields in


def _fields(creds: Creds, order: str) -> list[tuple[str, str]]:
    values = {"k": creds.access_key_id, "s": creds.secret_access_key, "t": creds.session_token or ""}
    return [(LABELS[x], values[x]) for x in order]


def _presigned_url(creds: Creds) -> str:
    assert creds.session_token
    return ("https://b.s3.amazonaws.com/report.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
            f"{creds.access_key_id}%2F20261124%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261124T101010Z"
            f"&X-Amz-Expires=3600&X-Amz-Security-Token={urllib.parse.quote(creds.session_token, safe='')}"
            "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "ab12" * 16)


def _by_key(text: str, path: str = "creds.json") -> dict[str, Finding]:
    found = scan_text(text, path)
    assert all(f.access_key_id for f in found), "a part was reported without its key id"
    by_key = {f.access_key_id: f for f in found}
    assert len(by_key) == len(found), "a key id was reported twice"
    return by_key


def _json_scan(root: Path, *extra: str) -> list[dict[str, Any]]:
    run = stsleak("scan", "--format", "json", *extra, ".", cwd=root)
    assert run.code in (0, 1), run.stderr
    return run.json()["findings"]


# --- #7: several sets in one JSON document ------------------------------------------------------

def _orders(rng: random.Random) -> list[tuple[str, ...]]:
    """Every pair of field orders, and 60 triples (each mixing orders) drawn from the 216."""
    triples = list(itertools.product(ORDERS, repeat=3))
    return list(itertools.product(ORDERS, repeat=2)) + rng.sample(triples, 60)


@pytest.mark.parametrize("indent", [None, 2], ids=["one-line", "indented"])
def test_each_set_pairs_within_its_object_whatever_order_it_writes(rng: random.Random, indent: int | None) -> None:
    """Serialisers keep the order each code path wrote: a secret before its key id in one object,
    after it in the next. The proximity vote alone gave a set the next set's secret."""
    wrong = []
    for orders in _orders(rng):
        sets = [fakes.temporary(rng) for _ in orders]
        doc = json.dumps({"Credentials": [dict(_fields(c, o)) for c, o in zip(sets, orders, strict=True)]},
                         indent=indent)
        by_key = _by_key(doc)
        if set(by_key) != {c.access_key_id for c in sets} or any(
                (by_key[c.access_key_id].secret, by_key[c.access_key_id].session_token)
                != (c.secret_access_key, c.session_token) for c in sets):
            wrong.append(orders)
    assert wrong == []


INI_LABELS = {"k": "aws_access_key_id", "s": "aws_secret_access_key", "t": "aws_session_token"}


def test_each_profile_of_a_credentials_file_pairs_within_its_section(rng: random.Random) -> None:
    """The same in an INI/TOML file: a profile's section ([profile p1] up to the next header) is its record."""
    wrong = []
    for orders in _orders(rng):
        sets = [fakes.temporary(rng) for _ in orders]
        text = ""
        for i, (c, order) in enumerate(zip(sets, orders, strict=True)):
            values = {"k": c.access_key_id, "s": c.secret_access_key, "t": c.session_token}
            text += f"[profile p{i}]\n" + "".join(f"{INI_LABELS[x]} = {values[x]}\n" for x in order) + "\n"
        by_key = _by_key(text, "credentials")
        if {k: (f.secret, f.session_token) for k, f in by_key.items()} != \
                {c.access_key_id: (c.secret_access_key, c.session_token) for c in sets}:
            wrong.append(orders)
    assert wrong == []


URL_PLACES = ["own-object", "list-item", "top-level", "inside-a-set-first", "inside-a-set-between",
              "inside-a-set-last"]


def _with_url(sets: list[Creds], orders: tuple[str, ...], url: str, place: str, rng: random.Random) -> Any:
    objects: list[Any] = [_fields(c, o) for c, o in zip(sets, orders, strict=True)]
    at = rng.randrange(len(sets))
    if place == "own-object":
        objects.insert(rng.randrange(len(sets) + 1), [("url", url)])
    elif place == "list-item":
        objects.insert(rng.randrange(len(sets) + 1), url)
    elif place.startswith("inside-a-set"):
        fields = objects[at]
        where = {"inside-a-set-first": 0, "inside-a-set-between": 1 + rng.randrange(2), "inside-a-set-last": 3}[place]
        objects[at] = [*fields[:where], ("presigned", url), *fields[where:]]
    doc: dict[str, Any] = {"items": [o if isinstance(o, str) else dict(o) for o in objects]}
    return {"download": url, **doc} if place == "top-level" else doc


@pytest.mark.parametrize("place", URL_PLACES)
def test_a_presigned_urls_key_id_between_sets_takes_its_own_token_only(rng: random.Random, place: str) -> None:
    """The URL's key id (its credential scope follows it) never holds the secret: it takes the token
    of its own URL, and no set loses a part to it or to its neighbour."""
    wrong = []
    for orders in rng.sample(list(itertools.product(ORDERS, repeat=2)), 18):
        sets, signer = [fakes.temporary(rng) for _ in orders], fakes.temporary(rng)
        for indent in (None, 2):
            doc = json.dumps(_with_url(sets, orders, _presigned_url(signer), place, rng), indent=indent)
            by_key = _by_key(doc)
            expected = {c.access_key_id: (c.secret_access_key, c.session_token) for c in sets}
            expected[signer.access_key_id] = (None, signer.session_token)
            if {k: (f.secret, f.session_token) for k, f in by_key.items()} != expected:
                wrong.append((orders, indent))
    assert wrong == []


@pytest.mark.parametrize("order", ORDERS)
def test_presigned_urls_between_sets_in_a_shell_script(rng: random.Random, order: str) -> None:
    """No braces: the URLs' key ids take their own tokens, choose last and do not vote on how the
    sets around them are written."""
    labels = {"k": "AWS_ACCESS_KEY_ID", "s": "AWS_SECRET_ACCESS_KEY", "t": "AWS_SESSION_TOKEN"}
    wrong = []
    for _ in range(12):
        blocks, expected = [], {}
        for c in (fakes.temporary(rng) for _ in range(rng.randrange(2, 4))):
            values = {"k": c.access_key_id, "s": c.secret_access_key, "t": c.session_token}
            blocks.append("".join(f"export {labels[x]}={values[x]}\n" for x in order))
            expected[c.access_key_id] = (c.secret_access_key, c.session_token)
        for _ in range(rng.randrange(1, 3)):
            signer = fakes.temporary(rng)
            blocks.insert(rng.randrange(len(blocks) + 1), f"curl '{_presigned_url(signer)}'\n")
            expected[signer.access_key_id] = (None, signer.session_token)
        text = "\n".join(blocks)
        if {k: (f.secret, f.session_token) for k, f in _by_key(text, "fetch.sh").items()} != expected:
            wrong.append(text)
    assert wrong == []


def test_a_signatures_key_id_alone_still_pairs_with_the_secret_near_it(creds: Creds) -> None:
    """Objects and URLs only settle what proximity left contested: a debug log with the secret and
    then the signed request's key id pairs as before."""
    log = (f"DEBUG credentials: aws_secret_access_key={creds.secret_access_key}\n"
           f"DEBUG headers: Authorization: AWS4-HMAC-SHA256 Credential={creds.access_key_id}/20261124/us-east-1/"
           f"sts/aws4_request, SignedHeaders=host;x-amz-date, Signature={'cd34' * 16}\n")
    finding = only(scan_text(log, "debug.log"))
    assert (finding.access_key_id, finding.secret) == (creds.access_key_id, creds.secret_access_key)


def test_an_object_with_two_key_ids_is_no_record(rng: random.Random) -> None:
    """Braces that hold two key ids say nothing of which part is whose: proximity decides, as before."""
    first, second = fakes.temporary(rng), fakes.temporary(rng)
    doc = json.dumps({"old": dict(_fields(first, "kst")), "AccessKeyId": second.access_key_id,
                      "SecretAccessKey": second.secret_access_key, "SessionToken": second.session_token}, indent=2)
    by_key = _by_key(doc)
    assert_set(by_key[first.access_key_id], first)
    assert_set(by_key[second.access_key_id], second)


def test_an_unlabelled_run_in_the_object_does_not_beat_a_labelled_secret(rng: random.Random) -> None:
    """An object's part is taken first only when labelled (or when the reach holds no labelled one)."""
    first, second = fakes.temporary(rng), fakes.temporary(rng)
    digest = fakes.secret(rng)  # an unlabelled 40-character run in the first object
    text = (f'{{"id": "{first.access_key_id}", "etag": "{digest}"}}\n'
            f"aws_secret_access_key = {first.secret_access_key}\n"
            f'{{"SecretAccessKey": "{second.secret_access_key}", "AccessKeyId": "{second.access_key_id}"}}\n')
    by_key = _by_key(text, "mixed.txt")
    assert by_key[first.access_key_id].secret == first.secret_access_key
    assert by_key[second.access_key_id].secret == second.secret_access_key


# --- #11: the line is the key id's -------------------------------------------------------------

def test_the_line_is_the_key_ids_when_secret_and_token_come_first(creds: Creds) -> None:
    text = (f"# rotated daily\naws_secret_access_key = {creds.secret_access_key}\n"
            f"aws_session_token = {creds.session_token}\naws_access_key_id = {creds.access_key_id}\n")
    finding = only(scan_text(text, "creds.ini"))
    assert_set(finding, creds)
    assert finding.line == 4 and finding.parts_at is None


def test_the_line_is_the_key_ids_in_every_set_of_a_json_document(rng: random.Random) -> None:
    sets = [fakes.temporary(rng) for _ in range(3)]
    doc = json.dumps([dict(_fields(c, o)) for c, o in zip(sets, ("stk", "kst", "tsk"), strict=True)], indent=2)
    lines = doc.split("\n")
    for finding in scan_text(doc, "creds.json"):
        assert finding.access_key_id in lines[finding.line - 1]


def test_the_json_report_gives_the_key_ids_line(tmp_path: Path, creds: Creds) -> None:
    (tmp_path / "cache.json").write_text(json.dumps({"Credentials": dict(_fields(creds, "tsk"))}, indent=4))
    item = only(_json_scan(tmp_path))
    assert_json_set(item, creds)
    assert item["line"] == 5 and "parts_at" not in item


# --- #4: parts in different directories ----------------------------------------------------------

def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _kustomize(creds: Creds, app: str = "deploy", overlay: str = "prod") -> dict[str, str]:
    return {
        f"{app}/base/configmap.yaml": ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws\ndata:\n"
                                       f"  AWS_ACCESS_KEY_ID: {creds.access_key_id}\n  AWS_REGION: eu-west-1\n"),
        f"{app}/base/kustomization.yaml": "resources:\n  - configmap.yaml\n",
        f"{app}/overlays/{overlay}/kustomization.yaml": (
            "resources:\n  - ../../base\nsecretGenerator:\n  - name: aws\n    literals:\n"
            f"      - AWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"
            f"      - AWS_SESSION_TOKEN={creds.session_token}\n"),
    }


def _helm(creds: Creds) -> dict[str, str]:
    return {
        "charts/billing/values.yaml": f"replicas: 2\naws:\n  region: eu-west-1\n  accessKeyId: {creds.access_key_id}\n",
        "charts/billing/secrets/prod/secrets.yaml": (f"aws:\n  secretAccessKey: {creds.secret_access_key}\n"
                                                     f"  sessionToken: {creds.session_token}\n"),
    }


def _terraform(creds: Creds) -> dict[str, str]:
    return {
        "infra/envs/prod/terraform.tfvars": f'region         = "eu-west-1"\naws_access_key = "{creds.access_key_id}"\n',
        "infra/secrets.auto.tfvars": (f'aws_secret_key = "{creds.secret_access_key}"\n'
                                      f'aws_token      = "{creds.session_token}"\n'),
    }


LAYOUTS = {
    "kustomize": (_kustomize, "deploy/base/configmap.yaml", 6,
                  {"secret": "deploy/overlays/prod/kustomization.yaml:6",
                   "session_token": "deploy/overlays/prod/kustomization.yaml:7"}),
    "helm": (_helm, "charts/billing/values.yaml", 4,
             {"secret": "charts/billing/secrets/prod/secrets.yaml:2",
              "session_token": "charts/billing/secrets/prod/secrets.yaml:3"}),
    "terraform": (_terraform, "infra/envs/prod/terraform.tfvars", 2,
                  {"secret": "infra/secrets.auto.tfvars:1", "session_token": "infra/secrets.auto.tfvars:2"}),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_parts_in_different_directories_pair(tmp_path: Path, creds: Creds, layout: str) -> None:
    make, path, line, parts_at = LAYOUTS[layout]
    _write(tmp_path, make(creds))
    item = only(_json_scan(tmp_path))
    assert_json_set(item, creds)
    assert (item["path"], item["line"], item["parts_at"]) == (path, line, parts_at)


def test_every_layout_at_once_pairs_each_in_its_own_subtree(tmp_path: Path, rng: random.Random) -> None:
    """Nearest directories first: two apps side by side, a chart and a module each pair within their
    own subtree, next to a complete set elsewhere in the tree."""
    sets = [fakes.temporary(rng) for _ in range(5)]
    _write(tmp_path, {**_kustomize(sets[0], "shop"), **_kustomize(sets[1], "billing"), **_helm(sets[2]),
                      **_terraform(sets[3]),
                      "tests/fixtures/credentials": (f"[default]\naws_access_key_id = {sets[4].access_key_id}\n"
                                                     f"aws_secret_access_key = {sets[4].secret_access_key}\n"
                                                     f"aws_session_token = {sets[4].session_token}\n")})
    items = _json_scan(tmp_path)
    assert len(items) == 5
    by_key = {item["access_key_id"]: item for item in items}
    for creds in sets:
        assert_json_set(by_key[creds.access_key_id], creds)
    assert by_key[sets[0].access_key_id]["parts_at"]["secret"].startswith("shop/overlays/prod/")
    assert by_key[sets[1].access_key_id]["parts_at"]["secret"].startswith("billing/overlays/prod/")
    assert "parts_at" not in by_key[sets[4].access_key_id]


def test_two_overlays_with_different_secrets_are_not_paired(tmp_path: Path, rng: random.Random) -> None:
    prod, dev = fakes.temporary(rng), fakes.temporary(rng)
    _write(tmp_path, {**_kustomize(prod), **{k: v for k, v in _kustomize(dev, overlay="dev").items()
                                             if "/overlays/" in k}})
    items = _json_scan(tmp_path)
    assert len(items) == 3 and not any(item["access_key_id"] and item["missing"] == [] for item in items)
    assert {item["secret_sha256"] for item in items if not item["access_key_id"]} == \
        {sha(prod.secret_access_key), sha(dev.secret_access_key)}


def test_two_key_ids_for_one_secret_are_not_paired(tmp_path: Path, rng: random.Random) -> None:
    creds, other = fakes.temporary(rng), fakes.temporary(rng)
    _write(tmp_path, {**_kustomize(creds), "deploy/base/legacy.env": f"AWS_ACCESS_KEY_ID={other.access_key_id}\n"})
    items = _json_scan(tmp_path)
    assert len(items) == 3 and not any("parts_at" in item and item["access_key_id"] for item in items)


def test_the_secret_goes_to_the_nearer_key_id(tmp_path: Path, rng: random.Random) -> None:
    """A key id in a sibling subtree is nearer than one higher up: it pairs, the other stays alone."""
    creds, far = fakes.temporary(rng), fakes.temporary(rng)
    _write(tmp_path, {**_kustomize(creds), "README.md": f"old key: {far.access_key_id}\n"})
    by_key = {item["access_key_id"]: item for item in _json_scan(tmp_path)}
    assert_json_set(by_key[creds.access_key_id], creds)
    assert by_key[far.access_key_id]["missing"] == ["secret", "session_token"]


def test_a_presigned_urls_key_id_takes_no_secret_from_another_directory(tmp_path: Path, rng: random.Random) -> None:
    signer, creds = fakes.temporary(rng), fakes.temporary(rng)
    _write(tmp_path, {"docs/download.md": f"Fetch it from {_presigned_url(signer)}\n",
                      "deploy/secret.env": f"AWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"})
    items = _json_scan(tmp_path)
    assert len(items) == 2 and not any("parts_at" in item for item in items if item["access_key_id"])


def test_a_key_id_complete_elsewhere_takes_nothing_more(tmp_path: Path, rng: random.Random) -> None:
    creds, stray = fakes.temporary(rng), fakes.secret(rng)
    _write(tmp_path, {"app/.env": (f"AWS_ACCESS_KEY_ID={creds.access_key_id}\n"
                                   f"AWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"),
                      "app/docs/setup.md": f"Set AWS_ACCESS_KEY_ID to {creds.access_key_id}.\n",
                      "ops/vault.env": f"AWS_SECRET_ACCESS_KEY={stray}\n"})
    items = _json_scan(tmp_path)
    assert not any(item.get("parts_at") for item in items if item["access_key_id"])
    assert sha(stray) in {item["secret_sha256"] for item in items if not item["access_key_id"]}


def test_a_long_term_key_takes_no_token_from_another_directory(tmp_path: Path, rng: random.Random) -> None:
    key, creds = fakes.key_id("AKIA", rng), fakes.temporary(rng)
    _write(tmp_path, {"base/config.env": f"AWS_ACCESS_KEY_ID={key}\n",
                      "prod/secret.env": (f"AWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"
                                          f"AWS_SESSION_TOKEN={creds.session_token}\n")})
    assert not any("parts_at" in item for item in _json_scan(tmp_path) if item["access_key_id"])


def _finding(path: str | None, key: str = "", secret: str | None = None, token: str | None = None,
             commit: str | None = None) -> Finding:
    return Finding(rule="r", access_key_id=key, secret=secret, session_token=token, account_id=None, path=path,
                   line=1, commit=commit, expected_parts=(PartKind.SECRET, PartKind.SESSION_TOKEN))


def test_history_pairs_within_one_commit_only(rng: random.Random) -> None:
    """In history, findings are placed at the commit that introduced them: a key id pairs with the
    parts another directory of the same commit holds, never with another commit's."""
    creds, later = fakes.temporary(rng), fakes.temporary(rng)
    findings = [_finding("svc/base/configmap.yaml", creds.access_key_id, commit="c1"),
                _finding("svc/overlays/prod/secret.env", secret=creds.secret_access_key,
                         token=creds.session_token, commit="c1"),
                _finding("app/base/configmap.yaml", later.access_key_id, commit="c2"),
                _finding("app/overlays/prod/secret.env", secret=later.secret_access_key, commit="c3")]
    paired = pair_across_files(findings)
    assert len(paired) == 3
    first = paired[0]
    assert (first.access_key_id, first.secret, first.session_token, first.commit) == \
        (creds.access_key_id, creds.secret_access_key, creds.session_token, "c1")
    assert first.parts_at == {"secret": "svc/overlays/prod/secret.env:1",
                              "session_token": "svc/overlays/prod/secret.env:1"}
    assert paired[1:] == findings[2:]


def test_deep_and_many_paths_stay_cheap(rng: random.Random) -> None:
    """Directories are walked once per finding (a trie), so 4,000 findings 300 levels deep pair fast."""
    findings = []
    for n in range(2_000):
        deep = "/".join(f"d{n}-{level}" for level in range(300))
        findings += [_finding(f"{deep}/base/a.yaml", fakes.key_id("ASIA", rng)),
                     _finding(f"{deep}/prod/b.yaml", secret=fakes.secret(rng))]
    paired = pair_across_files(findings)
    assert len(paired) == 2_000 and all(f.secret and f.parts_at for f in paired)
