"""Baselines: fingerprints (hashes, never secrets) of findings a team has reviewed.

Reads stsleak's own baseline and detect-secrets' `.secrets.baseline` (whose `hashed_secret`
entries are the SHA-1 of the secret value: for its AWS detector, of the key id).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.errors import StsleakError
from scanner.model import Finding


def _sha1(value: str) -> str:
    return hashlib.sha1(value.encode()).hexdigest()


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StsleakError(f"baseline not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise StsleakError(f"cannot read baseline {path}: {exc.__class__.__name__}") from exc
    if not isinstance(data, dict):
        raise StsleakError(f"baseline {path} is not a JSON object")
    return data


def known_hashes(path: Path) -> tuple[set[str], set[str]]:
    """(stsleak fingerprints, detect-secrets SHA-1 hashes) recorded in a baseline file."""
    data = _load(path)
    findings = data.get("findings", [])
    results = data.get("results", {})
    if not isinstance(findings, list) or not isinstance(results, dict):
        raise StsleakError(f"baseline {path} is neither an stsleak nor a detect-secrets baseline")
    fingerprints = {str(e["fingerprint"]) for e in findings if isinstance(e, dict) and "fingerprint" in e}
    sha1s = {str(e["hashed_secret"]) for entries in results.values() if isinstance(entries, list)
             for e in entries if isinstance(e, dict) and "hashed_secret" in e}
    return fingerprints, sha1s


def in_baseline(finding: Finding, fingerprints: set[str], sha1s: set[str]) -> bool:
    if finding.fingerprint in fingerprints:
        return True
    values = [finding.access_key_id, finding.secret, finding.session_token]
    return any(v and _sha1(v) in sha1s for v in values)


def filter_new(findings: list[Finding], path: Path) -> list[Finding]:
    fingerprints, sha1s = known_hashes(path)
    return [f for f in findings if not in_baseline(f, fingerprints, sha1s)]


def write_baseline(findings: list[Finding], path: Path) -> None:
    entries = sorted(
        ({"fingerprint": f.fingerprint, "rule": f.rule, "access_key_id": f.access_key_id, "path": f.path,
          "line": f.line, "commit": f.commit} for f in findings),
        key=lambda e: (e["path"] or "", e["line"], e["fingerprint"]),
    )
    document = {"version": 1, "tool": "stsleak", "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "findings": entries}
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise StsleakError(f"cannot write baseline {path}: {exc.strerror}") from exc
