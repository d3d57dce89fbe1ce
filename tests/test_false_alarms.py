"""Issue 23 #8-#10: no false alarm on documentation, ciphertext or another service's keys.

#8  AWS's documentation example session tokens, and any token holding the documented EXAMPLE
    marker, are allowlisted as the example key ids are.
#9  Ciphertext under a token label (Bitnami SealedSecrets `encryptedData:`, SOPS `ENC[AES256_GCM,…]`,
    age and PGP, armoured or as one base64 value) is no session token: a token opens with a known
    STS prefix or decodes to the header every STS token has (a byte, 0x0a, a length, the issuer's
    name: "origin_ec", "er/aws", "aws").
#10 A MinIO/JWT-style secret next to a non-AWS access key is not an AWS secret-only finding.

Credentials and ciphertexts are generated at run time (scanner/testing/fakes.py); the documentation
tokens are AWS's published EXAMPLE values.
"""

from __future__ import annotations

import base64
import random
import textwrap

import pytest

from scanner.detection import filters
from scanner.detection.decoders.expand import ArchiveLimits, Decoders
from scanner.model import Chunk, Finding, ScanStats
from scanner.pipeline import findings_in_chunk
from scanner.testing import fakes
from tests.support.core import assert_set, ini, only, ruleset

Creds = fakes.FakeCredentials

# Published in the AWS CLI and STS documentation (and botocore's examples): documentation values.
DOC_TOKENS = (
    "AQoEXAMPLEH4aoAH0gNCAPyJxz4BlCFFxWNE1OPTgk5TthT+FvwqnKwRcOIfrRh3c/LTo6UDdyJwOOvEVPvLXCrrrUtdnniCEXAMPLE/"
    "IvU1dYUg2RVAJBanLiHb4IgRmpRV3zrkuWJOgQs8IZZaIv2BXIa2R4OlgkBN9bkUDNCJiBeb/AXlzBBko7b15fjrBs2+cTQtpZ3CYWF"
    "XG8C5zqx37wnOE49mRl/+OtkIKGO7fAE",
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTfl"
    "fKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvl"
    "Rd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4r"
    "vx3iSIlTJabIQwj2ICCR/oLxBA==",
)


def decoded(text: str, path: str = "t.txt") -> list[Finding]:
    stats = ScanStats()
    rules = ruleset()
    return Decoders(rules.key_id_prefixes, ArchiveLimits()).findings(
        Chunk(data=text.encode(), path=path), lambda c: findings_in_chunk(c, rules, stats), stats)


# --- #8 documentation example tokens ------------------------------------------------------------

@pytest.mark.parametrize("token", DOC_TOKENS)
def test_documentation_example_token_alone_is_not_reported(token: str) -> None:
    assert decoded(f"export AWS_SESSION_TOKEN={token}\n") == []
    assert decoded(f'{{"SessionToken": "{token}"}}\n') == []


def test_any_token_with_the_example_marker_is_allowlisted(rng: random.Random) -> None:
    for prefix in fakes.TOKEN_PREFIXES:
        token = fakes.session_token(prefix, 600, rng)
        marked = token[:200] + "EXAMPLE" + token[207:]
        assert decoded(f"aws_session_token = {marked}\n") == []
        assert only(decoded(f"aws_session_token = {token}\n")).session_token == token  # the real shape is still found


def test_documentation_set_is_silenced_whole(rng: random.Random) -> None:
    """AWS's example key id and secret with a documentation token: nothing reported, nothing left over."""
    doc = ("[default]\naws_access_key_id = ASIAIOSFODNN7EXAMPLE\n"
           "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
           f"aws_session_token = {DOC_TOKENS[0]}\n")
    assert decoded(doc) == []


def test_a_real_key_id_next_to_an_example_token_keeps_its_secret(creds: Creds) -> None:
    text = (f"aws_access_key_id = {creds.access_key_id}\naws_secret_access_key = {creds.secret_access_key}\n"
            f"aws_session_token = {DOC_TOKENS[1]}\n")
    finding = only(decoded(text))
    assert (finding.access_key_id, finding.secret, finding.session_token) == (
        creds.access_key_id, creds.secret_access_key, None)


# --- #9 ciphertext under a token label ----------------------------------------------------------

def _armour(kind: str, data: bytes) -> str:
    return "\n".join([f"-----BEGIN {kind}-----", "", *textwrap.wrap(base64.b64encode(data).decode(), 64), "=AbCd",
                      f"-----END {kind}-----"])


def _formats(rng: random.Random) -> dict[str, str]:
    c = fakes.ciphertexts(rng)
    age = _armour("AGE ENCRYPTED FILE", b"age-encryption.org/v1\n-> X25519 " + rng.randbytes(400))
    pgp = _armour("PGP MESSAGE", bytes([0x85, 0x01, 0x0C, 0x03]) + rng.randbytes(400))
    return {
        "sealed-secret": ("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: aws\nspec:\n"
                          f"  encryptedData:\n    AWS_ACCESS_KEY_ID: {fakes.ciphertexts(rng)['SEALED']}\n"
                          f"    AWS_SECRET_ACCESS_KEY: {fakes.ciphertexts(rng)['SEALED']}\n"
                          f"    AWS_SESSION_TOKEN: {c['SEALED']}\n"),
        "sops-yaml": (f"aws_access_key_id: {fakes.ciphertexts(rng)['SOPS']}\naws_session_token: {c['SOPS']}\n"
                      "sops:\n    kms:\n        - arn: arn:aws:kms:us-east-1:123456789012:key/abc\n"),
        "sops-dotenv": f"AWS_SESSION_TOKEN={c['SOPS']}\n",
        "age-value": f"aws_session_token = {c['AGE']}\n",
        "age-armour": "aws_session_token: |\n  " + age.replace("\n", "\n  ") + "\n",
        "pgp-value": f'{{"SessionToken": "{c["PGP"]}"}}\n',
        "pgp-armour": "aws_session_token = '''\n" + pgp + "\n'''\n",
    }


@pytest.mark.parametrize("name", ["sealed-secret", "sops-yaml", "sops-dotenv", "age-value", "age-armour", "pgp-value",
                                  "pgp-armour"])
def test_ciphertext_under_a_token_label_is_no_token(name: str, rng: random.Random) -> None:
    assert decoded(_formats(rng)[name], f"{name}.yaml") == []


@pytest.mark.parametrize("name", ["sealed-secret", "age-value", "pgp-value"])
def test_ciphertext_next_to_a_real_key_id_is_not_its_token(name: str, rng: random.Random) -> None:
    key = fakes.key_id("ASIA", rng)
    finding = only(decoded(f"aws_access_key_id: {key}\n" + _formats(rng)[name]))
    assert (finding.access_key_id, finding.session_token) == (key, None)


@pytest.mark.parametrize("prefix", sorted(fakes.TOKEN_PREFIXES))
def test_every_token_family_under_a_label_is_still_a_token(prefix: str, rng: random.Random) -> None:
    creds = fakes.temporary(rng, prefix, 700)
    assert_set(only(decoded(ini(creds))), creds)


def test_a_token_with_the_sts_header_but_an_unlisted_first_byte_is_a_token(rng: random.Random) -> None:
    """The header, not the prefix list, decides: `AgoJb3JpZ2luX2Vj…` (02 0a 09 "origin_ec") is a token."""
    header = bytes([0x02, 0x0A, 0x09]) + b"origin_ec" + bytes([0x10, 0x2A])
    token = base64.b64encode(header + rng.randbytes(700)).decode()
    assert not token.startswith(tuple(fakes.TOKEN_PREFIXES.values()))
    assert only(decoded(f"aws_session_token = {token}\n")).session_token == token
    assert filters.lacks_token_header(token, ruleset().token_prefixes) is False
    assert filters.lacks_token_header(fakes.ciphertexts(rng)["SEALED"], ruleset().token_prefixes) is True


# --- #10 another service's keys ------------------------------------------------------------------

def _minio_response(rng: random.Random) -> str:
    c = fakes.ciphertexts(rng)
    return ('<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
            "  <AssumeRoleWithWebIdentityResult>\n    <Credentials>\n"
            f"      <AccessKeyId>{c['MINIO_KEY']}</AccessKeyId>\n"
            f"      <SecretAccessKey>{fakes.secret(rng)}</SecretAccessKey>\n"
            "      <Expiration>2026-11-24T20:26:12Z</Expiration>\n"
            f"      <SessionToken>{c['JWT']}</SessionToken>\n"
            "    </Credentials>\n  </AssumeRoleWithWebIdentityResult>\n</AssumeRoleWithWebIdentityResponse>\n")


def test_minio_sts_response_is_not_an_aws_secret(rng: random.Random) -> None:
    assert decoded(_minio_response(rng), "minio.xml") == []


def test_s3_compatible_keys_in_config_are_not_aws_secrets(rng: random.Random) -> None:
    key, secret = fakes.ciphertexts(rng)["MINIO_KEY"], fakes.secret(rng)
    texts = [f"MINIO_ACCESS_KEY={key}\nMINIO_SECRET_KEY={secret}\n",
             f"[minio]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\nendpoint_url = http://minio:9000\n",
             f'{{"accessKey": "{key}", "secretKey": "{secret}", "url": "http://127.0.0.1:9000", "api": "s3v4"}}\n']
    for text in texts:
        assert decoded(text) == [], text


def test_an_aws_secret_alone_is_still_reported(rng: random.Random) -> None:
    secret = fakes.secret(rng)
    assert only(decoded(f"aws_secret_access_key = {secret}\n")).secret == secret
    placeholder = f"aws_access_key_id = ${{AWS_ACCESS_KEY_ID}}\naws_secret_access_key = {secret}\n"
    assert only(decoded(placeholder)).secret == secret  # a variable is no other service's key


def test_an_aws_set_beside_a_minio_set_is_reported(creds: Creds, rng: random.Random) -> None:
    minio = f"MINIO_ACCESS_KEY={fakes.ciphertexts(rng)['MINIO_KEY']}\nMINIO_SECRET_KEY={fakes.secret(rng)}\n\n"
    text = minio + ini(creds)
    assert_set(only(decoded(text)), creds)
