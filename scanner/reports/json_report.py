"""The JSON report: the contract other tools and CI rely on (README, "JSON output")."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from scanner.findings import ScanResult
from scanner.model import Finding

VERSION = 1


def finding_to_dict(finding: Finding, show_secrets: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule": finding.rule,
        "access_key_id": finding.access_key_id,
        "account_id": finding.account_id,
        "secret_sha256": finding.secret_sha256,
        "session_token_sha256": finding.session_token_sha256,
        "path": finding.path,
        "line": finding.line,
        "commit": finding.commit,
        "author": finding.author,
        "date": finding.date,
        "blob": finding.blob,
        "missing": finding.missing,
        "fingerprint": finding.fingerprint,
    }
    if show_secrets:
        out["secret"] = finding.secret
        out["session_token"] = finding.session_token
    if finding.verification is not None:
        out["verification"] = dataclasses.asdict(finding.verification)
    if finding.revocation is not None:
        out["revocation"] = dataclasses.asdict(finding.revocation)
    return out


def report_dict(result: ScanResult, show_secrets: bool = False) -> dict[str, Any]:
    stats = result.stats
    return {
        "version": VERSION,
        "findings": [finding_to_dict(f, show_secrets) for f in result.findings],
        "stats": {
            "files": stats.files,
            "blobs": stats.blobs,
            "bytes": stats.bytes,
            "seconds": stats.seconds,
            "skipped": dict(stats.skipped),
            "errors": list(stats.errors),
        },
    }


def render_json(result: ScanResult, show_secrets: bool = False) -> str:
    return json.dumps(report_dict(result, show_secrets), indent=2) + "\n"
