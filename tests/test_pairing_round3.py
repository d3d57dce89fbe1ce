"""Issue 23, pairing: several sets in one JSON document (#7) and the line of a finding (#11).
Every value is generated at run time (scanner.testing.fakes)."""

from __future__ import annotations

import itertools
import json
import random
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from scanner.model import Finding
from scanner.testing import fakes
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)
from tests.support.core import assert_json_set, assert_set, only, scan_text

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
