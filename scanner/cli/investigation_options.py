"""Options and output that `investigate` and `respond` share: where to search CloudTrail, progress, the report."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from scanner.errors import StsleakError


def add_investigation_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("investigation")
    group.add_argument("--report", action="append", default=[], metavar="FILE",
                       help="write the incident report to FILE (.json, .md or .html; repeatable: "
                            "--report incident.html --report incident.json)")
    group.add_argument("--regions", metavar="R1,R2", help="CloudTrail regions to search (default: every enabled "
                                                         "region, from ec2:DescribeRegions)")
    group.add_argument("--since", dest="investigate_since", metavar="DATE",
                       help="search CloudTrail from DATE (ISO 8601; default: 90 days ago, CloudTrail's limit)")
    group.add_argument("--max-depth", type=int, default=2, metavar="N",
                       help="follow credentials the key minted, and theirs, N levels deep (default 2)")


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
    from scanner.cli.aws_args import region_list

    regions = region_list(args.regions) if args.regions else None
    return LookupOptions(regions=regions, since=since, max_depth=args.max_depth + 1)


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


def check_reports(reports: list[str]) -> None:
    """Every --report target is checked before the first AWS call: a bad name or an unwritable folder is
    one line now, not after scanning, verifying, investigating and revoking."""
    from scanner.reports.incident import check_target

    for report in reports:
        check_target(report)


def finish(incident: Any, scan: dict[str, Any] | None, reports: list[str], secrets: list[str]) -> None:
    from scanner.reports.incident import incident_dict, render_summary, write_incident

    for report in reports:
        write_incident(report, incident, scan, secrets)
    sys.stdout.write(render_summary(incident_dict(incident, scan)))
    for report in reports:
        print(f"incident report: {report}")
