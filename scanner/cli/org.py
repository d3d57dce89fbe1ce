"""`stsleak org scan|status`: every repository of an organisation, on Dask, resumable (scanner/org/)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from scanner.cli.aws_args import add_aws_options, aws_options
from scanner.errors import ExitCode, StsleakError

DEFAULT_STATE = "stsleak-org.sqlite"
ORG_HELP = """Scan many repositories: each one a Dask task (a hardened mirror clone on the worker, a
full-history scan, cleanup). State in SQLite: interrupted and run again, it resumes.
REPOS: clone URLs (https, ssh, git://, file://) or local paths; @FILE = one per line; a directory =
every git repository (work tree or bare) below it. Local paths are scanned where they are (with
their unreachable objects); URLs are mirror-cloned (a clone carries only what refs reach).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    org = sub.add_parser("org", help="scan a whole organisation's repositories on Dask (resumable)",
                         description=ORG_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = org.add_subparsers(dest="org_command", required=True, metavar="SUBCOMMAND")
    scan = commands.add_parser("scan", help="scan repositories (one Dask task each)", description=ORG_HELP,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    scan.add_argument("repos", nargs="+", metavar="REPO", help="URL, path, @FILE or a directory of repositories")
    where = scan.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=2, metavar="N", help="local worker processes (default 2)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://HOST:8786")
    scan.add_argument("--state", default=DEFAULT_STATE, metavar="FILE", help=f"state file (default {DEFAULT_STATE})")
    scan.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                      help="merged report format (default text)")
    scan.add_argument("--output", "-o", metavar="FILE", help="write the merged report to FILE")
    scan.add_argument("--verify", action="store_true", help="verify on the worker; only verdicts come back")
    scan.add_argument("--since-last", action="store_true",
                      help="rescan only repositories whose refs moved, and only their new commits")
    scan.add_argument("--task-timeout", type=float, default=3600.0, metavar="SECONDS",
                      help="fail a repository whose task runs longer (default 3600)")
    scan.add_argument("--quiet", "-q", action="store_true", help="no progress, no notes")
    add_aws_options(scan)
    status = commands.add_parser("status", help="what is done, pending, failed, with finding counts",
                                 description="What an organisation scan's state file records: each repository's "
                                             "status (pending, done, unchanged, failed), findings and error.")
    status.add_argument("--state", default=DEFAULT_STATE, metavar="FILE",
                        help=f"the state file `org scan --state` wrote (default {DEFAULT_STATE}, in this directory)")
    status.add_argument("--format", choices=("text", "json"), default="text",
                        help="text (a line per repository, then the counts; default) or json ({counts, "
                             "repositories: [{repository, status, findings, live, seconds, error}]})")


def _aws(args: argparse.Namespace) -> dict[str, Any]:
    """The AWS options for verification on the workers, as a plain value that crosses the cluster."""
    if not args.verify:
        return {}
    fields = dataclasses.asdict(aws_options(args))
    fields.pop("operator_keys", None)  # never credentials: each worker uses its own environment's
    return fields


def _write(text: str, output: str | None) -> None:
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise StsleakError(f"cannot write {output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)


def _scan(args: argparse.Namespace) -> ExitCode:
    from scanner.org.report import exit_code, render
    from scanner.org.repos import expand, redact_url
    from scanner.org.run import OrgOptions, run_org_scan
    from scanner.org.state import State

    if args.workers < 1 or args.task_timeout <= 0:
        raise StsleakError("--workers and --task-timeout must be positive")
    specs, unusable = expand(args.repos)
    _record_unusable(unusable, Path(args.state), len(specs))
    options = OrgOptions(state=Path(args.state), workers=args.workers, scheduler=args.scheduler, verify=args.verify,
                         since_last=args.since_last, task_timeout=args.task_timeout, aws=_aws(args))
    with _progress(len(specs), args.quiet) as progress:
        run = run_org_scan(specs, options, progress)
    if not args.quiet and run.skipped:
        print(f"stsleak: note: {len(run.skipped)} repositories already scanned (state {args.state}) were not "
              "scanned again (--since-last rescans those whose refs moved)", file=sys.stderr)
    urls = [redact_url(s.url) for s in specs] + [u.url for u in unusable]
    state = State(Path(args.state))
    try:
        _write(render(args.format, state, urls), args.output)
        return exit_code(state, urls)
    finally:
        state.close()


def _record_unusable(unusable: list[Any], state_file: Path, others: int) -> None:
    """Each name that gives no repository: one warning, recorded failed with its reason (findings of
    an earlier run kept); the other repositories are scanned all the same."""
    if not unusable:
        return
    from scanner.org.report import escape_text
    from scanner.org.state import RepoStatus, State

    state = State(state_file)
    try:
        for item in unusable:
            print(escape_text(f"stsleak: warning: {item.reason}; recorded as failed, the other {others} "
                              f"repositories are scanned"), file=sys.stderr)
            state.add(item.url)
            state.record(item.url, {"status": str(RepoStatus.FAILED), "error": item.reason}, replace_findings=False)
    finally:
        state.close()


def _status(args: argparse.Namespace) -> ExitCode:
    import json

    from scanner.org.report import escape_text
    from scanner.org.state import State

    if not Path(args.state).is_file():
        raise StsleakError(f"no state file {args.state} (run `stsleak org scan` first)")
    state = State(Path(args.state))
    try:
        records = state.all()
    finally:
        state.close()
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    if args.format == "json":
        rows = [{"repository": r.url, "status": str(r.status), "findings": r.findings, "live": r.live,
                 "seconds": r.seconds, "error": r.error} for r in records]
        sys.stdout.write(json.dumps({"counts": counts, "repositories": rows}, indent=2) + "\n")
        return ExitCode.CLEAN
    for r in records:
        line = f"{r.status:<9}  {r.findings:>4} findings  {r.url}" + (f"  ({r.error})" if r.error else "")
        print(escape_text(line))
    print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no repositories")
    return ExitCode.CLEAN


class _progress:
    """A rich progress bar over repositories on a terminal; nothing otherwise."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet = total, quiet
        self.bar: Any = None  # rich.progress.Progress, on a terminal
        self.task: Any = None
        self.done = self.failed = 0

    def __enter__(self) -> Any:
        if self.quiet or not sys.stderr.isatty():
            return None
        try:
            from rich.progress import Progress
        except ImportError:
            return None
        self.bar = Progress(transient=True, refresh_per_second=10)
        self.bar.start()
        self.task = self.bar.add_task("repositories", total=self.total)
        return self.update

    def update(self, _url: str, status: str, findings: int) -> None:
        self.done += 1
        self.failed += status == "failed"
        if self.bar is not None:
            self.bar.update(self.task, advance=1,
                            description=f"repositories ({self.failed} failed, {findings} findings)")

    def __exit__(self, *_exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def run(args: argparse.Namespace) -> ExitCode:
    return _scan(args) if args.org_command == "scan" else _status(args)
