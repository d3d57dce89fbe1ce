"""Reports: pure functions from findings to text. One registry: format -> reporter.

Every reporter has the same signature, `(result, rules, options) -> str`. Reporter modules are
imported only when their format is asked for: a pre-commit run (text) never imports the SARIF code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scanner.detection.rules import RuleSet
from scanner.model import ReportFormat, ScanResult

if TYPE_CHECKING:
    from scanner.reports.version_control import VersionControl


@dataclass(frozen=True, slots=True)
class RenderOptions:
    show_secrets: bool = False
    color: bool = False
    quiet: bool = False
    version_control: VersionControl | None = None  # history scans: the repository, for SARIF


Reporter = Callable[[ScanResult, RuleSet, RenderOptions], str]


def _text(result: ScanResult, _rules: RuleSet, o: RenderOptions) -> str:
    from scanner.reports.text import render_text

    return render_text(result, o.show_secrets, o.color, o.quiet)


def _json(result: ScanResult, _rules: RuleSet, o: RenderOptions) -> str:
    from scanner.reports.json_report import render_json

    return render_json(result, o.show_secrets)


def _sarif(result: ScanResult, rules: RuleSet, o: RenderOptions) -> str:
    from scanner.reports.sarif import render_sarif

    return render_sarif(result, rules, o.show_secrets, o.version_control)


def _github(result: ScanResult, _rules: RuleSet, o: RenderOptions) -> str:
    from scanner.reports.github import render_annotations

    return render_annotations(result, o.show_secrets)


REPORTERS: dict[ReportFormat, Reporter] = {
    ReportFormat.TEXT: _text,
    ReportFormat.JSON: _json,
    ReportFormat.SARIF: _sarif,
    ReportFormat.GITHUB: _github,
}


def render(
    fmt: str, result: ScanResult, rules: RuleSet, show_secrets: bool = False, color: bool = False, quiet: bool = False,
    version_control: VersionControl | None = None,
) -> str:
    return REPORTERS[ReportFormat(fmt)](result, rules, RenderOptions(show_secrets, color, quiet, version_control))
