"""`stsleak investigate --from report.json`: what already-verified leaked keys did, spawned and left behind."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from scanner.cli.aws_args import add_aws_options, aws_options
from scanner.cli.investigation_options import (
    add_investigation_options,
    check_reports,
    finish,
    lookup_options,
    progress_bar,
)
from scanner.errors import ExitCode
from scanner.model import Finding, Revocation

EPILOG = """examples:
  stsleak scan --history --verify --format json -o report.json . && stsleak investigate --from report.json
  stsleak investigate --from incident.json --report incident.html   # later: did the revocation take effect?
  stsleak investigate --from report.json --regions us-east-1,eu-west-1 --since 2026-11-01

Read-only: CloudTrail LookupEvents, IAM, EC2, Lambda and ECS reads with YOUR credentials (never the
leaked ones). Searches CloudTrail's event history: management events of the last 90 days.
exit codes: 0 investigated everywhere it had to, 2 usage error or no usable operator credentials,
5 investigation incomplete (a region's LookupEvents failed or stopped: the report names them).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("investigate", help="what verified leaked keys did in CloudTrail, what they spawned",
                            description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="from_report", required=True, metavar="REPORT",
                        help="a `stsleak scan --verify --format json` report (or an incident.json)")
    add_investigation_options(parser)
    add_aws_options(parser)


def findings_from_report(path: str) -> tuple[dict[str, Any], list[Finding]]:
    """The report's findings with where they were found and what was revoked (no secrets in reports)."""
    from scanner.reports.json_report import load_report

    report, findings = load_report(path)
    known = {f.name for f in dataclasses.fields(Revocation)}
    for row, finding in zip(report["findings"], findings, strict=True):
        finding.commit, finding.author, finding.date = row.get("commit"), row.get("author"), row.get("date")
        revocation = row.get("revocation")
        if isinstance(revocation, dict) and isinstance(revocation.get("status"), str):
            finding.revocation = Revocation(**{k: v for k, v in revocation.items() if k in known})
    return report, findings


def run(args: argparse.Namespace) -> ExitCode:
    from scanner.reports.incident import recorded
    from scanner.response import Callbacks, investigate_findings

    aws, lookup = aws_options(args), lookup_options(args)
    check_reports(args.report)
    report, findings = findings_from_report(args.from_report)
    with progress_bar() as progress:  # what the report records as done is carried into the new one
        incident = investigate_findings(findings, aws, lookup, Callbacks(progress=progress), recorded(report))
    incident.repository = report.get("repository")
    finish(incident, {k: v for k, v in report.items() if k in ("version", "findings", "stats")}, args.report, [])
    return ExitCode.CLEAN if incident.complete else ExitCode.INVESTIGATION_INCOMPLETE
