"""stsleak's own artifacts in a scanned tree: a baseline it wrote (`--write-baseline`), a JSON report
(`-o report.json`, `org scan --format json`) or a SARIF report (`--report sarif:FILE`, the Action's
`stsleak.sarif`). Each names the key ids of the findings it records, so the next scan would report
it as a finding of its own (a key id alone) and the advice "record them with --write-baseline" would
never work when followed literally.

Recognised by structure, never by name (a file called report.json is nothing special): JSON whose
shape is the one stsleak writes (a baseline's `"tool": "stsleak"` and finding rows; a report's finding
rows and `stats`; a SARIF run whose driver is stsleak). What is dropped is only what such an artifact
can hold without being a leak: a key id alone (no secret, no token in the same set) that the artifact
records as one of its findings' key ids. A secret or a token in it (a report written with
--show-secrets, or a "report" forged to hide a credential) is reported as ever, and every key id
dropped is counted in `stats.suppressed` under `stsleak-artifact`, so nothing is silenced unseen.

The pipeline applies `without_own_echoes` to each text's findings (with the other silencing, off
under --no-suppress).
"""

from __future__ import annotations

import json
from typing import Any

from scanner.model import Finding, ScanStats, Suppression

OWN_ARTIFACT = Suppression.OWN_ARTIFACT  # the cause in stats.suppressed
_REPORT_STATS = ({"files", "blobs", "bytes"}, {"repositories", "failed", "findings"})  # scan, org scan


def _rows_key_ids(rows: Any) -> set[str] | None:
    """The key ids of a list of finding rows (each a dict with a fingerprint and a rule), or None."""
    if not isinstance(rows, list):
        return None
    key_ids: set[str] = set()
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("fingerprint"), str) or "rule" not in row:
            return None
        if isinstance(row.get("access_key_id"), str):
            key_ids.add(row["access_key_id"])
    return key_ids


def _sarif_key_ids(document: dict[str, Any]) -> set[str] | None:
    runs = document.get("runs")
    if document.get("version") != "2.1.0" or not isinstance(runs, list):
        return None
    key_ids: set[str] = set()
    for run in runs:
        driver = run.get("tool", {}).get("driver", {}) if isinstance(run, dict) else {}
        if not isinstance(driver, dict) or driver.get("name") != "stsleak":
            continue  # another tool's run: nothing of it is ours
        for result in run.get("results") or []:
            properties = result.get("properties") if isinstance(result, dict) else None
            if isinstance(properties, dict) and isinstance(properties.get("accessKeyId"), str):
                key_ids.add(properties["accessKeyId"])
    return key_ids


def recorded_key_ids(data: bytes) -> set[str] | None:
    """The key ids an artifact of stsleak's records for its findings; None when `data` is not one."""
    head = data[:64].lstrip(b" \t\r\n\xef\xbb\xbf")
    if not head.startswith(b"{"):
        return None
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    if "runs" in document:
        return _sarif_key_ids(document)
    stats = document.get("stats")
    is_baseline = document.get("tool") == "stsleak" and "version" in document
    is_report = isinstance(stats, dict) and any(keys <= stats.keys() for keys in _REPORT_STATS)
    return _rows_key_ids(document.get("findings")) if is_baseline or is_report else None


def without_own_echoes(data: bytes, findings: list[Finding], stats: ScanStats) -> list[Finding]:
    """`findings` (of the text `data`) less the key ids alone that `data`, an stsleak artifact,
    records as its findings' (each one counted)."""
    if not any(not f.secret and not f.session_token and f.access_key_id for f in findings):
        return findings
    recorded = recorded_key_ids(data)
    if not recorded:
        return findings
    kept = [f for f in findings if f.secret or f.session_token or f.access_key_id not in recorded]
    stats.suppress(OWN_ARTIFACT, len(findings) - len(kept))
    return kept
