"""SARIF 2.1.0 for code-scanning dashboards, with a stable fingerprint per credential set."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from scanner import __version__
from scanner.detection.rules import RuleSet
from scanner.model import Finding, ScanResult
from scanner.reports.message import describe
from scanner.reports.version_control import VersionControl

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "note": "note"}
# Each shipped rule has a section of docs/findings.md (its anchor is the rule id); rules added with
# --rules-dir point at the section about rules of your own.
DOCS = "https://github.com/stsleak/stsleak/blob/main/docs/findings.md"
DOCUMENTED_RULES = frozenset({
    "aws-temporary-credentials", "aws-long-term-access-key", "aws-sts-bearer-credentials",
    "aws-context-credentials", "aws-secret-without-key-id",
})


def help_uri(rule_id: str) -> str:
    return f"{DOCS}#{rule_id if rule_id in DOCUMENTED_RULES else 'rules-of-your-own'}"


def _rule(rule: Any) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.id.replace("-", " ").title().replace(" ", ""),
        "shortDescription": {"text": rule.description or rule.id},
        "fullDescription": {"text": rule.description or rule.id},
        "helpUri": help_uri(rule.id),
        "help": {
            "text": "Revoke the credential (stsleak scan --verify --revoke), then remove it from the "
            f"repository's history. Rotating the file alone does not invalidate it. More: {help_uri(rule.id)}",
        },
        "defaultConfiguration": {"level": _LEVEL.get(rule.severity, "error")},
        "properties": {"tags": ["security", "secret", "aws"]},
    }


def verdict(f: Finding) -> dict[str, Any]:
    """What --verify and --revoke found, as plain properties (none when the finding was not verified)."""
    out: dict[str, Any | None] = {}
    v = f.verification
    if v is not None:
        out["verificationStatus"] = str(v.status)
        out["principalArn"] = v.arn
        out["principalType"] = v.principal_type
        out["accountId"] = v.account or f.account_id
        if v.role_arn:
            out["roleArn"] = v.role_arn
        if v.error:
            out["verificationError"] = v.error
    elif f.account_id:
        out["accountId"] = f.account_id  # decoded from the key id, offline
    if f.revocation is not None:
        out["revocationStatus"] = str(f.revocation.status)
        if f.revocation.target:
            out["revocationTarget"] = f.revocation.target
    return {key: value for key, value in out.items() if value is not None}


def _result(f: Finding, rule_index: dict[str, int], show_secrets: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index.get(f.rule, 0),
        "level": "error",
        "message": {"text": describe(f, show_secrets)},
        "partialFingerprints": {"stsleakCredential/v1": f.fingerprint},
        "properties": {
            "accessKeyId": f.access_key_id,
            "missing": f.missing,
            **verdict(f),
            **({"commit": f.commit, "author": f.author, "date": f.date} if f.commit else {}),
            **({"blob": f.blob} if f.blob else {}),
        },
    }
    if f.path:
        result["locations"] = [{
            "physicalLocation": {
                "artifactLocation": {"uri": urllib.parse.quote(f.path, safe="/")},
                "region": {"startLine": f.line},
            }
        }]
    else:
        result["locations"] = [{"logicalLocations": [{"name": f"blob {f.blob}", "kind": "object"}]}]
    return result


def _provenance(vcs: VersionControl) -> list[dict[str, Any]]:
    details: dict[str, Any] = {"repositoryUri": vcs.repository_uri}
    if vcs.revision_id:
        details["revisionId"] = vcs.revision_id
    if vcs.branch:
        details["branch"] = vcs.branch
    return [details]


def sarif_dict(result: ScanResult, rules: RuleSet, show_secrets: bool = False,
               version_control: VersionControl | None = None) -> dict[str, Any]:
    """The SARIF log; `version_control` (history scans) becomes the run's versionControlProvenance."""
    rule_index = {r.id: i for i, r in enumerate(rules.rules)}
    document: dict[str, Any] = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "stsleak",
                "version": __version__,
                "informationUri": "https://pypi.org/project/stsleak/",
                "rules": [_rule(r) for r in rules.rules],
            }},
            "results": [_result(f, rule_index, show_secrets) for f in result.findings],
            "columnKind": "unicodeCodePoints",
            # What silencing hid, by cause, and the config file that applied: a dashboard sees
            # that a repository silenced itself.
            "properties": {"suppressed": dict(result.stats.suppressed), "config": result.stats.config},
        }],
    }
    if version_control is not None:
        document["runs"][0]["versionControlProvenance"] = _provenance(version_control)
    return document


def render_sarif(result: ScanResult, rules: RuleSet, show_secrets: bool = False,
                 version_control: VersionControl | None = None) -> str:
    return json.dumps(sarif_dict(result, rules, show_secrets, version_control), indent=2) + "\n"
