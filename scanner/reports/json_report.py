"""The JSON report: the contract other tools and CI rely on (docs/usage.md, "JSON output")."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from scanner.errors import StsleakError
from scanner.model import Finding, ScanResult, Verification

VERSION = 1


def finding_to_dict(finding: Finding, show_secrets: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule": finding.rule,
        "access_key_id": finding.access_key_id or None,
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
    if finding.parts_at:
        out["parts_at"] = dict(finding.parts_at)
    if finding.alternatives:  # other secrets/tokens that competed for the key id: hashes only
        out["alternatives"] = {
            "count": finding.alternatives.total,
            "secret_sha256": finding.alternative_secret_sha256,
            "session_token_sha256": finding.alternative_session_token_sha256,
            "not_kept": finding.alternatives.more,
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
            "suppressed": dict(stats.suppressed),  # what silencing hid, by cause
            "config": stats.config,  # the config file that applied, or null
        },
    }


def render_json(result: ScanResult, show_secrets: bool = False) -> str:
    return json.dumps(report_dict(result, show_secrets), indent=2) + "\n"


def load_report(path: str) -> tuple[dict[str, Any], list[Finding]]:
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
        rows = report["findings"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StsleakError(f"cannot read report {path}: {exc}") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise StsleakError(f"{path} is not a stsleak JSON report (its findings are not a list of objects)")
    if rows and not any("verification" in row for row in rows):
        raise StsleakError(f"{path} has no verification results: make it with `stsleak scan --verify --format json`")
    known = {f.name for f in dataclasses.fields(Verification)}
    try:
        findings = [Finding(
            rule=row.get("rule", ""), access_key_id=row.get("access_key_id", ""), secret=None, session_token=None,
            account_id=row.get("account_id"), path=row.get("path"), line=row.get("line", 0),
            verification=Verification(**{k: v for k, v in row["verification"].items() if k in known})
            if row.get("verification") else None,
        ) for row in rows]
    except (AttributeError, TypeError) as exc:
        raise StsleakError(f"{path} is not a stsleak JSON report ({exc.__class__.__name__})") from None
    return report, findings
