"""Helpers for the core tests: scan text in-process, check a finding against generated values."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from scanner.detection.rules import RuleSet, load_ruleset
from scanner.model import Chunk, Finding, ScanStats
from scanner.pipeline import findings_in_chunk
from scanner.testing import fakes

# The JSON contract (issue 2 + README "JSON output"): every finding carries exactly these keys,
# plus secret/session_token with --show-secrets and verification/revocation when asked for.
FINDING_KEYS = {
    "rule", "access_key_id", "account_id", "secret_sha256", "session_token_sha256", "path", "line",
    "commit", "author", "date", "blob", "missing", "fingerprint",
}
STATS_KEYS = {"files", "blobs", "bytes", "seconds", "skipped", "errors", "suppressed", "config"}


@lru_cache(maxsize=1)
def ruleset() -> RuleSet:
    return load_ruleset()


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def scan_bytes(data: bytes, path: str = "t.txt") -> list[Finding]:
    return findings_in_chunk(Chunk(data=data, path=path), ruleset(), ScanStats())


def scan_text(text: str, path: str = "t.txt") -> list[Finding]:
    return scan_bytes(text.encode("utf-8"), path)


def ini(creds: fakes.FakeCredentials, profile: str = "default", *, comment: str = "") -> str:
    """An AWS shared-credentials profile holding the set (the one builder of this text in the tests);
    `comment` is appended to the key id line. A set without a token gets no token line."""
    suffix = f"  # {comment}" if comment else ""
    text = (f"[{profile}]\naws_access_key_id = {creds.access_key_id}{suffix}\n"
            f"aws_secret_access_key = {creds.secret_access_key}\n")
    return text + (f"aws_session_token = {creds.session_token}\n" if creds.session_token else "")


def env_file(creds: fakes.FakeCredentials, export: bool = False) -> str:
    """The set as a .env file (or as shell `export` lines)."""
    lead = "export " if export else ""
    text = f"{lead}AWS_ACCESS_KEY_ID={creds.access_key_id}\n{lead}AWS_SECRET_ACCESS_KEY={creds.secret_access_key}\n"
    return text + (f"{lead}AWS_SESSION_TOKEN={creds.session_token}\n" if creds.session_token else "")


def decoy_file(real: fakes.FakeCredentials, decoys: list[fakes.FakeCredentials]) -> str:
    """The key id, then decoy secrets and tokens (nearest first), then the real ones a few lines further."""
    text = f"[default]\naws_access_key_id = {real.access_key_id}\n"
    for decoy in decoys:
        text += f"aws_secret_access_key = {decoy.secret_access_key}\naws_session_token = {decoy.session_token}\n"
    return text + (f"# rotated\naws_secret_access_key = {real.secret_access_key}\n"
                   f"aws_session_token = {real.session_token}\n")


def only(findings: list[Any]) -> Any:
    assert len(findings) == 1, findings
    return findings[0]


def assert_set(finding: Finding, creds: fakes.FakeCredentials) -> None:
    """The finding is exactly the generated set: every part whole (the token checked by hash too)."""
    assert finding.access_key_id == creds.access_key_id
    assert finding.secret == creds.secret_access_key
    assert creds.session_token is not None
    assert finding.session_token == creds.session_token
    assert finding.session_token_sha256 == sha(creds.session_token)
    assert finding.missing == []


def assert_json_set(item: dict[str, Any], creds: fakes.FakeCredentials) -> None:
    assert item["access_key_id"] == creds.access_key_id
    assert item["secret_sha256"] == sha(creds.secret_access_key)
    assert creds.session_token is not None
    assert item["session_token_sha256"] == sha(creds.session_token)
    assert item["missing"] == []
