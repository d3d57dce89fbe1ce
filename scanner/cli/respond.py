"""`stsleak respond [REPO]`: incident response in one command.

scan --history -> last use of AKIA keys (before verification, which is itself a use) -> verify ->
investigate (CloudTrail, spawned credentials, persistence, blast radius) -> revocation plan for the
leaked credentials AND what they spawned (dry run unless --yes) -> incident report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scanner.cli.aws_args import add_aws_options, add_revoke_options, aws_options
from scanner.cli.investigation_options import (
    add_investigation_options,
    check_reports,
    finish,
    lookup_options,
    progress_bar,
)
from scanner.cli.revoke_prompt import print_run, prompt_callbacks, revoke_options
from scanner.errors import ExitCode, exit_code, with_investigation
from scanner.model import ScanMode
from scanner.redact import secrets_of

EPILOG = """examples:
  stsleak respond .                               # scan history, verify, investigate, print the plan (dry run)
  stsleak respond . --report incident.html        # the same, with a report to hand over (.html, .md, .json)
  stsleak respond ~/src/app --yes --report incident.json   # apply the revocation, then report

exit codes (as `scan --verify --revoke`): 0 no findings, 1 findings, 2 usage or runtime error,
3 at least one credential is live, 4 a revocation failed or was refused, 5 the investigation is
incomplete (a CloudTrail search failed or stopped; 4 wins over 5, 5 over 3 and 1).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("respond", help="scan history, verify, investigate and revoke in one command",
                            description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", nargs="?", default=".", metavar="REPO", help="the git repository (default '.')")
    parser.add_argument("--rules-dir", action="append", default=[], metavar="DIR", help="extra rules directory")
    parser.add_argument("--verify-canaries", action="store_true", help="also verify keys of known canary accounts")
    parser.add_argument("--concurrency", type=int, default=8, metavar="N", help="parallel STS calls (default 8)")
    add_investigation_options(parser)
    add_revoke_options(parser)
    add_aws_options(parser)


def run(args: argparse.Namespace) -> ExitCode:
    from scanner.detection.rules import load_ruleset
    from scanner.pipeline import ScanRequest, run_scan
    from scanner.reports.incident import scan_dict
    from scanner.reports.text import render_text
    from scanner.response import RespondOptions, respond

    options = RespondOptions(aws=aws_options(args), lookup=lookup_options(args), revoke=revoke_options(args),
                             verify_canaries=args.verify_canaries)  # bad --since/--max-depth fail before any work
    check_reports(args.report)
    result = run_scan(ScanRequest(mode=ScanMode.HISTORY, paths=(Path(args.repo),)),
                      load_ruleset(tuple(Path(d) for d in args.rules_dir)))
    with progress_bar() as progress:
        callbacks = prompt_callbacks(args.yes, sys.stderr, interactive=False)
        callbacks.progress = progress
        response = respond(result, options, callbacks)
    if response.skipped:
        print(f"stsleak: note: investigation and revocation skipped: {response.skipped}; the scan report stands",
              file=sys.stderr)
    if response.revocation is not None:
        print_run(response.revocation, sys.stderr, with_run_id=response.revocation.applied)
    if response.undo_command:
        print(f"stsleak: undo with: {response.undo_command}", file=sys.stderr)
    incident = response.incident
    incident.repository = str(args.repo)
    sys.stdout.write(render_text(result, False, False, True))  # the scan's findings, as `scan --verify` shows them
    finish(incident, scan_dict(result), args.report, secrets_of(result.findings))
    for message in result.stats.errors:
        print(f"stsleak: warning: {message}", file=sys.stderr)
    for note in result.notes:
        print(f"stsleak: note: {note}", file=sys.stderr)
    code = exit_code(result.findings, result.stats.errors, "any")
    return with_investigation(code, incident.complete or not incident.investigated)
