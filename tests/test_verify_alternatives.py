"""Issue 20, case 11: verification tries a key id's alternatives (scanner/verification/sts.py) when its
nearest set is invalid, guided by STS's answers, against a fake STS client that answers as AWS does
(a wrong token: InvalidClientTokenId whatever the secret; the right token and a wrong secret:
SignatureDoesNotMatch). The same against a real moto server: tests/aws/test_verify_alternatives.py.
"""

from __future__ import annotations

import json
import random

import pytest
from botocore.exceptions import ClientError

from scanner.aws_session import AwsOptions
from scanner.model import MAX_ALTERNATIVES, Alternatives, Finding, ScanResult, ScanStats
from scanner.model import VerificationStatus as Status
from scanner.reports.json_report import render_json
from scanner.testing import fakes
from scanner.verification.sts import MAX_COMBINATIONS, verify_findings
from tests.support.core import decoy_file, only, scan_text, sha

Creds = fakes.FakeCredentials


@pytest.fixture
def real(rng: random.Random) -> Creds:
    return fakes.temporary(rng)


@pytest.fixture
def decoy(rng: random.Random) -> Creds:
    return fakes.temporary(rng)


class FakeSts:
    """GetCallerIdentity as AWS answers it for a session: a wrong token is InvalidClientTokenId
    whatever the secret; the right token with a wrong secret is SignatureDoesNotMatch."""

    def __init__(self, live: Creds, error_for: set[tuple[str, str | None]] | None = None) -> None:
        self.live, self.error_for = live, error_for or set()
        self.options = AwsOptions()
        self.region = "us-east-1"
        self.calls: list[tuple[str, str, str | None]] = []

    def get_caller_identity(self, key_id: str, secret: str, token: str | None, region: str | None = None) -> dict:
        self.calls.append((key_id, secret, token))
        if (secret, token) in self.error_for:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "GetCallerIdentity")
        if key_id != self.live.access_key_id or token != self.live.session_token:
            raise ClientError({"Error": {"Code": "InvalidClientTokenId", "Message": "bad token"}}, "GetCallerIdentity")
        if secret != self.live.secret_access_key:
            raise ClientError({"Error": {"Code": "SignatureDoesNotMatch", "Message": "no"}}, "GetCallerIdentity")
        return {"Arn": "arn:aws:sts::123456789012:assumed-role/etl/s1", "Account": "123456789012",
                "UserId": "AROAEXAMPLE:s1", "ResponseMetadata": {"RequestId": f"req-{len(self.calls)}"}}


def _verify(findings: list[Finding], sts: FakeSts) -> list[str]:
    return verify_findings(findings, AwsOptions(), client=sts, operator=_NoOperator())  # type: ignore[arg-type]


class _NoOperator:
    def has_credentials(self) -> bool:
        return False


def test_a_live_alternative_becomes_the_finding(real, decoy) -> None:
    finding = only(scan_text(decoy_file(real, [decoy])))
    fingerprint = finding.fingerprint
    sts = FakeSts(real)
    _verify([finding], sts)
    v = finding.verification
    assert v is not None and v.status == Status.LIVE
    assert (finding.secret, finding.session_token) == (real.secret_access_key, real.session_token)
    assert finding.alternatives == Alternatives((decoy.secret_access_key,), (decoy.session_token,), 0)
    assert finding.fingerprint == fingerprint
    assert v.live_alternative == f"secret {real.secret_access_key[:4]}… and session token {real.session_token[:4]}…"
    assert v.note and "live with the alternative" in v.note
    # (decoy, decoy) twice (a 403 is retried), (decoy secret, real token) twice, (real, real): no product
    assert len(sts.calls) == 5 and v.combinations_tried == 3
    assert v.request_ids == ["req-5"]
    row = json.loads(render_json(ScanResult([finding], ScanStats())))["findings"][0]
    assert row["secret_sha256"] == sha(real.secret_access_key) and row["verification"]["status"] == "live"
    assert row["alternatives"]["secret_sha256"] == [sha(decoy.secret_access_key)]


def test_the_search_is_linear_in_the_alternatives(rng: random.Random) -> None:
    real = fakes.temporary(rng, token_length=200)
    decoys = [fakes.temporary(rng, token_length=200) for _ in range(MAX_ALTERNATIVES)]
    finding = only(scan_text(decoy_file(real, decoys)))
    sts = FakeSts(real)
    _verify([finding], sts)
    assert finding.verification and finding.verification.status == Status.LIVE
    assert finding.secret == real.secret_access_key
    # every token once with the nearest secret, then every secret with the right token
    assert finding.verification.combinations_tried == 2 * MAX_ALTERNATIVES + 1 <= MAX_COMBINATIONS
    assert len(sts.calls) <= 2 * MAX_COMBINATIONS


def test_nothing_live_stays_invalid_and_says_so(real, decoy, rng: random.Random) -> None:
    finding = only(scan_text(decoy_file(real, [decoy])))
    _verify([finding], FakeSts(fakes.temporary(rng)))  # another session is the live one: none of these
    v = finding.verification
    assert v and v.status == Status.INVALID and v.note and "combination(s) tried, none live" in v.note
    assert finding.secret == decoy.secret_access_key


def test_an_alternative_that_cannot_be_checked_is_no_all_clear(real, decoy) -> None:
    finding = only(scan_text(decoy_file(real, [decoy])))
    _verify([finding], FakeSts(real, error_for={(decoy.secret_access_key, real.session_token)}))
    v = finding.verification
    assert v and v.status == Status.ERROR and "could not be checked" in (v.error or "")
    assert real.secret_access_key not in (v.error or "") and str(real.session_token) not in (v.error or "")


def test_alternatives_past_the_bound_make_an_invalid_verdict_unknown(rng: random.Random) -> None:
    real = fakes.temporary(rng, token_length=200)
    decoys = [fakes.temporary(rng, token_length=200) for _ in range(MAX_ALTERNATIVES + 1)]
    finding = only(scan_text(decoy_file(real, decoys)))
    _verify([finding], FakeSts(real))  # the real set is past the bound: never tried
    v = finding.verification
    assert v and v.status == Status.ERROR and "were not tried" in (v.error or "")


def test_a_live_nearest_set_tries_nothing_else(real, decoy) -> None:
    finding = only(scan_text(decoy_file(decoy, [real])))  # the real set nearest, a decoy below
    sts = FakeSts(Creds(decoy.access_key_id, real.secret_access_key, real.session_token))
    _verify([finding], sts)
    assert finding.verification and finding.verification.status == Status.LIVE
    assert len(sts.calls) == 1 and finding.verification.live_alternative is None
