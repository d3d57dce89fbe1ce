"""`stsleak investigate --from report.json`: what already-verified leaked keys did, spawned and left behind."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from scanner.cli.aws_args import add_aws_options, aws_options
from scanner.errors import ExitCode, StsleakError
from scanner.model import Finding, Revocation

EPILOG = """examples:
  stsleak scan --history --verify --format json -o report.json . && stsleak investigate --from report.json
  stsleak investigate --from incident.json --report incident.html   # later: did the revocation take effect?
  stsleak investigate --from report.json --regions us-east-1,eu-west-1 --since 2026-11-01

Read-only: CloudTrail LookupEvents, IAM, EC2, Lambda and ECS reads with YOUR credentials (never the
leaked ones). exit codes: 0 investigated, 2 usage error or no usable operator credentials.
"""


def add_investigation_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("investigation")
    group.add_argument("--report", metavar="FILE", help="write the incident report to FILE (.json, .md or .html)")
    group.add_argument("--regions", metavar="R1,R2", help="CloudTrail regions to search (default: every enabled "
                                                         "region, from ec2:DescribeRegions)")
    group.add_argument("--since", dest="investigate_since", metavar="DATE",
                       help="search CloudTrail from DATE (ISO 8601; default: 90 days ago, CloudTrail's limit)")
    group.add_argument("--max-depth", type=int, default=2, metavar="N",
                       help="follow credentials the key minted, and theirs, N levels deep (default 2)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("investigate", help="what verified leaked keys did in CloudTrail, what they spawned",
                            description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="from_report", required=True, metavar="REPORT",
                        help="a `stsleak scan --verify --format json` report (or an incident.json)")
    add_investigation_options(parser)
    add_aws_options(parser)


def lookup_options(args: argparse.Namespace) -> Any:
    from scanner.investigation.cloudtrail import LookupOptions

    since = None
    if args.investigate_since:
        try:
            since = datetime.fromisoformat(args.investigate_since.replace("Z", "+00:00"))
        except ValueError:
            raise StsleakError(f"--since {args.investigate_since!r}: not an ISO 8601 date (e.g. 2026-11-01)") from None
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
    if args.max_depth < 0:
        raise StsleakError("--max-depth must be 0 or more")
    regions = tuple(r.strip() for r in (args.regions or "").split(",") if r.strip()) or None
    return LookupOptions(regions=regions, since=since, max_depth=args.max_depth + 1)


def operator_or_reason(options: Any) -> tuple[Any, str | None]:
    """The operator, or None and one line saying why investigation cannot run."""
    from scanner.aws_session import Operator, failure_from

    try:
        operator = Operator(options)
    except StsleakError as exc:
        return None, str(exc)
    if not operator.has_credentials():
        return None, "no operator AWS credentials (environment, --profile, SSO)"
    try:
        operator.identity()
    except Exception as exc:
        return None, f"the operator's AWS credentials do not work: {failure_from(exc).message}"
    return operator, None


@contextlib.contextmanager
def progress_bar() -> Iterator[Any]:
    """A progress callback on stderr while LookupEvents runs, only on a terminal (rich when installed)."""
    if not sys.stderr.isatty():
        yield None
        return
    try:
        from rich.progress import Progress
    except ImportError:
        def plain(key: str, region: str, index: int, total: int) -> None:
            sys.stderr.write(f"\rCloudTrail {key} {region} ({index}/{total})\x1b[K")
            sys.stderr.flush()

        yield plain
        sys.stderr.write("\n")
        return
    with Progress(transient=True, console=None) as bar:
        tasks: dict[str, Any] = {}

        def update(key: str, region: str, index: int, total: int) -> None:
            if key not in tasks:
                tasks[key] = bar.add_task(f"CloudTrail {key}", total=total)
            bar.update(tasks[key], completed=index, description=f"CloudTrail {key} {region}")

        yield update


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


def finish(incident: Any, scan: dict[str, Any] | None, report: str | None, secrets: list[str]) -> None:
    from scanner.reports.incident import incident_dict, render_summary, write_incident

    if report:
        write_incident(report, incident, scan, secrets)
    sys.stdout.write(render_summary(incident_dict(incident, scan)))
    if report:
        print(f"incident report: {report}")


def run(args: argparse.Namespace) -> ExitCode:
    options = aws_options(args)
    lookup = lookup_options(args)
    report, findings = findings_from_report(args.from_report)
    operator, reason = operator_or_reason(options)
    if operator is None:
        raise StsleakError(f"investigate needs the operator's own AWS credentials: {reason}")
    from scanner.investigation.last_used import last_used_before_verification
    from scanner.investigation.run import investigate

    with progress_bar() as progress:
        incident = investigate(findings, operator, lookup, last_used=last_used_before_verification(findings, operator),
                               progress=progress)
    incident.repository = report.get("repository")
    for item in incident.credentials:
        if item.revocation:
            item.revocations = [item.revocation]
    finish(incident, {k: v for k, v in report.items() if k in ("version", "findings", "stats")}, args.report, [])
    return ExitCode.CLEAN
