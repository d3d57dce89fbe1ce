"""Issue 20, case 11: a decoy secret and token right after a key id must not hide the real ones a few
lines further. Pairing keeps every competing secret/token as the set's alternatives (bounded,
counted past the bound); reports show their count and hashes, never their values. Verification
tries them: tests/test_verify_alternatives.py, and on moto tests/aws/test_verify_alternatives.py.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from scanner.model import MAX_ALTERNATIVES, Alternatives, Chunk, Finding, ScanResult, ScanStats
from scanner.pairing import credential_sets
from scanner.pipeline import drop_sets_already_in, place_in_history
from scanner.redact import secrets_of
from scanner.reports.json_report import render_json
from scanner.reports.text import render_text
from scanner.testing import fakes
from tests.support.core import decoy_file, ini, only, ruleset, scan_text, sha


@pytest.fixture
def real(rng: random.Random) -> fakes.FakeCredentials:
    return fakes.temporary(rng)


@pytest.fixture
def decoy(rng: random.Random) -> fakes.FakeCredentials:
    return fakes.temporary(rng)


def test_the_real_set_after_a_decoy_is_kept_as_an_alternative(real, decoy) -> None:
    _, sets = credential_sets(decoy_file(real, [decoy]).encode(), ruleset()) or ("", [])
    (cset,) = sets
    assert cset.values == (real.access_key_id, decoy.secret_access_key, decoy.session_token)  # the nearest wins
    assert cset.alternatives == Alternatives((real.secret_access_key,), (real.session_token,), 0)
    finding = only(scan_text(decoy_file(real, [decoy])))
    assert (finding.secret, finding.session_token) == (decoy.secret_access_key, decoy.session_token)
    assert finding.alternatives == Alternatives((real.secret_access_key,), (real.session_token,), 0)
    assert finding.alternatives.summary == \
        "2 alternative secrets/tokens competed for this key id (1 secret, 1 session token)"


def test_a_plain_set_has_no_alternatives_and_keeps_its_fingerprint(real) -> None:
    finding = only(scan_text(ini(real)))
    assert finding.alternatives is None
    assert finding.fingerprint == sha(f"{real.access_key_id}:{real.secret_access_key}:{real.session_token}")
    assert "alternatives" not in json.loads(render_json(ScanResult([finding], ScanStats())))["findings"][0]


def test_other_profiles_parts_and_repeated_values_are_no_alternatives(rng: random.Random) -> None:
    profiles = [fakes.temporary(rng) for _ in range(3)]
    text = "".join(ini(c, f"p{i}") for i, c in enumerate(profiles))
    assert all(f.alternatives is None for f in scan_text(text))
    c = profiles[0]  # the same secret and token written twice (JSON, then a comment): one value each
    twice = (f"aws_access_key_id = {c.access_key_id}\naws_secret_access_key = {c.secret_access_key}\n"
             f"aws_session_token = {c.session_token}\n# aws_secret_access_key = {c.secret_access_key}\n")
    assert only(scan_text(twice)).alternatives is None


def test_the_same_set_twice_is_one_finding_with_the_alternatives_of_both(real, rng: random.Random) -> None:
    first, second = fakes.secret(rng), fakes.secret(rng)
    filler = ("# " + "-" * 97 + "\n") * 60  # 6,000 characters: the two places are out of each other's reach
    text = f"{ini(real)}aws_secret_access_key = {first}\n{filler}{ini(real)}aws_secret_access_key = {second}\n"
    finding = only(scan_text(text))
    assert finding.line == 2 and finding.secret == real.secret_access_key
    assert finding.alternatives == Alternatives((first, second), (), 0)


def test_a_real_set_before_the_key_id_and_a_decoy_after_it(real, decoy) -> None:
    text = (f"aws_secret_access_key = {real.secret_access_key}\naws_session_token = {real.session_token}\n"
            f"aws_access_key_id = {real.access_key_id}\naws_secret_access_key = {decoy.secret_access_key}\n"
            f"aws_session_token = {decoy.session_token}\n")
    finding = only(scan_text(text))
    assert {finding.secret, *finding.alternatives.secrets} == {real.secret_access_key, decoy.secret_access_key}
    assert {finding.session_token, *finding.alternatives.tokens} == {real.session_token, decoy.session_token}


def test_a_part_between_two_key_ids_competes_for_the_one_it_follows(rng: random.Random) -> None:
    """Written key-first, the extra 40-character run after a block is its key id's rival, not the next one's."""
    blocks = [(fakes.temporary(rng), fakes.secret(rng)) for _ in range(3)]
    text = "".join(f"key = '{c.access_key_id}'\nsecret = '{c.secret_access_key}'\ndigest = '{extra}'\n\n"
                   for c, extra in blocks)
    found = scan_text(text)
    assert [(f.secret, f.alternatives) for f in found] == \
        [(c.secret_access_key, Alternatives((extra,), (), 0)) for c, extra in blocks]


def test_a_long_term_key_takes_no_token_alternatives(rng: random.Random) -> None:
    key, near, far = fakes.key_id("AKIA", rng), fakes.secret(rng), fakes.secret(rng)
    text = (f"aws_access_key_id = {key}\naws_secret_access_key = {near}\naws_session_token = {fakes.session_token()}\n"
            f"aws_secret_access_key = {far}\n")
    finding = only(scan_text(text))
    assert finding.secret == near and finding.session_token is None
    assert finding.alternatives == Alternatives((far,), (), 0)


def test_alternatives_are_bounded_and_the_rest_counted(rng: random.Random) -> None:
    real = fakes.temporary(rng, token_length=200)  # short tokens: every part within the key id's window
    decoys = [fakes.temporary(rng, token_length=200) for _ in range(MAX_ALTERNATIVES + 3)]
    finding = only(scan_text(decoy_file(real, decoys)))
    alt = finding.alternatives
    assert alt is not None and finding.secret == decoys[0].secret_access_key
    assert len(alt.secrets) == len(alt.tokens) == MAX_ALTERNATIVES  # nearest first: decoys 1..8
    assert alt.secrets == tuple(d.secret_access_key for d in decoys[1:MAX_ALTERNATIVES + 1])
    assert alt.more == 2 * 3  # decoys 9, 10 and the real set: counted, not kept
    assert alt.total == 2 * (MAX_ALTERNATIVES + 3)


def test_reports_show_counts_and_hashes_never_the_values(real, decoy) -> None:
    finding = only(scan_text(decoy_file(real, [decoy])))
    result = ScanResult([finding], ScanStats())
    row = json.loads(render_json(result))["findings"][0]
    assert row["alternatives"] == {"count": 2, "secret_sha256": [sha(real.secret_access_key)],
                                   "session_token_sha256": [sha(str(real.session_token))], "not_kept": 0}
    for output in (render_json(result), render_json(result, show_secrets=True), render_text(result),
                   render_text(result, show_secrets=True)):
        assert real.secret_access_key not in output and str(real.session_token) not in output
    assert "2 alternative secrets/tokens competed for this key id" in render_text(result)
    assert real.secret_access_key in secrets_of([finding])  # scrubbed from audit logs and incident reports


def test_the_fingerprint_covers_every_candidate_in_any_order(real, decoy) -> None:
    finding = only(scan_text(decoy_file(real, [decoy])))
    decoy_only = only(scan_text(ini(Creds(real.access_key_id, decoy.secret_access_key, decoy.session_token))))
    assert finding.fingerprint != decoy_only.fingerprint  # a baseline of the decoy set does not hide the real one
    swapped = Finding(**{**_fields(finding), "secret": real.secret_access_key, "session_token": real.session_token,
                         "alternatives": Alternatives((decoy.secret_access_key,), (decoy.session_token,))})
    assert swapped.fingerprint == finding.fingerprint  # the same before and after verification swaps


Creds = fakes.FakeCredentials


def _fields(finding: Finding) -> dict[str, Any]:
    return {name: getattr(finding, name) for name in Finding.__dataclass_fields__}


def test_adding_the_real_set_below_a_decoy_is_new(real, decoy) -> None:
    """Staged and history scans compare sets by their alternatives too: the change that adds the real
    set under an existing decoy is reported, and the later blob is not folded into the earlier one."""
    before = ini(Creds(real.access_key_id, decoy.secret_access_key, decoy.session_token)).encode()
    after = decoy_file(real, [decoy])
    finding = only(scan_text(after))
    assert drop_sets_already_in(before, [finding], ruleset()) == [finding]
    old = only(scan_text(before.decode()))
    old.blob, finding.blob = "a" * 40, "b" * 40
    placed = place_in_history([old, finding], lambda blobs: {})
    assert len(placed) == 2


def test_chunks_carry_alternatives_through_the_pipeline(real, decoy) -> None:
    from scanner.pipeline import findings_in_chunk

    data = decoy_file(real, [decoy]).encode()
    (finding,) = findings_in_chunk(Chunk(data=data, path="a.ini"), ruleset(), ScanStats())
    assert finding.alternatives is not None and finding.alternatives.secrets == (real.secret_access_key,)
