"""SARIF 2.1.0 for code-scanning dashboards, with a stable fingerprint per credential set."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from scanner import __version__
from scanner.detection.rules import RuleSet
from scanner.model import Finding, ScanResult
from scanner.reports.message import describe

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def _rule(rule: Any) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.id.replace("-", " ").title().replace(" ", ""),
        "shortDescription": {"text": rule.description or rule.id},
        "fullDescription": {"text": rule.description or rule.id},
        "help": {
            "text": "Revoke the credential (stsleak scan --verify --revoke), then remove it from the "
            "repository's history. Rotating the file alone does not invalidate it.",
        },
        "defaultConfiguration": {"level": _LEVEL.get(rule.severity, "error")},
        "properties": {"tags": ["security", "secret", "aws"]},
    }


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


def sarif_dict(result: ScanResult, rules: RuleSet, show_secrets: bool = False) -> dict[str, Any]:
    rule_index = {r.id: i for i, r in enumerate(rules.rules)}
    return {
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


def render_sarif(result: ScanResult, rules: RuleSet, show_secrets: bool = False) -> str:
    return json.dumps(sarif_dict(result, rules, show_secrets), indent=2) + "\n"
