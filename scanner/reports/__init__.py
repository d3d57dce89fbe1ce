"""Reports: pure functions from findings to text, JSON and SARIF."""

from __future__ import annotations

from scanner.detection.rules import RuleSet
from scanner.model import ScanResult


def render(
    fmt: str, result: ScanResult, rules: RuleSet, show_secrets: bool = False, color: bool = False, quiet: bool = False
) -> str:
    if fmt == "json":
        from scanner.reports.json_report import render_json

        return render_json(result, show_secrets)
    if fmt == "sarif":
        from scanner.reports.sarif import render_sarif

        return render_sarif(result, rules, show_secrets)
    from scanner.reports.text import render_text

    return render_text(result, show_secrets, color, quiet)
