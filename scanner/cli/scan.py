"""`stsleak scan`: files, history, staged changes or stdin -> report; optionally verify and revoke."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from scanner.cli.aws_args import add_verify_options, aws_options
from scanner.cli.config import FORMATS, add_archive_options, archive_limits, parse_size
from scanner.cli.silencing_notes import silencing_notes
from scanner.errors import ExitCode, StsleakError, exit_code
from scanner.model import ReportFormat, ScanMode, ScanResult

EXIT_CODES_HELP = """exit codes:
  0  no findings
  1  findings
  2  usage or runtime error (one line on stderr)
  3  with --verify: at least one credential is live
  4  with --revoke: a revocation failed or was refused
"""


def _size(text: str) -> int:
    try:
        size = parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 50M)") from None
    if size <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive size, not {text!r} (e.g. 50M)")
    return size


def _extra_report(text: str) -> tuple[ReportFormat, str]:
    fmt, sep, path = text.partition(":")
    if not sep or not path or fmt not in FORMATS:
        raise argparse.ArgumentTypeError(f"not FORMAT:FILE with FORMAT one of {', '.join(FORMATS)}: {text!r}")
    return ReportFormat(fmt), path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    scan = sub.add_parser(
        "scan",
        help="scan files, git history, staged changes or stdin for AWS credentials",
        description="Scan for AWS credentials. PATH defaults to '.'; '-' reads stdin.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (or REPO with --history)")
    where = scan.add_mutually_exclusive_group()
    where.add_argument("--history", action="store_true",
                       help="scan every blob ever committed on any ref, plus unreachable objects")
    where.add_argument("--since", metavar="REV", help="scan history limited to commits after REV")
    scan.add_argument("--tip", action="append", default=[], metavar="REV",
                      help="with --since: only commits reachable from REV (repeatable; default: every ref), "
                           "e.g. a pushed range --since BEFORE --tip AFTER")
    where.add_argument("--staged", action="store_true",
                       help="scan the staged changes (the index), as a pre-commit hook")
    scan.add_argument("--format", choices=FORMATS, default=None, help="report format (default text)")
    scan.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    scan.add_argument("--report", action="append", default=[], type=_extra_report, metavar="FORMAT:FILE",
                      help="also write a FORMAT report to FILE (repeatable), e.g. --report sarif:out.sarif")
    scan.add_argument("--show-secrets", action="store_true", help="show secrets and tokens in full in the report")
    scan.add_argument("--no-color", action="store_true", help="no ANSI colours in text output")
    scan.add_argument("--quiet", "-q", action="store_true",
                      help="print findings only: no summary line, no notes on stderr")
    scan.add_argument("--max-file-size", type=_size, default=None, metavar="SIZE",
                      help="skip files and blobs larger than SIZE (default 50M)")
    add_archive_options(scan)
    scan.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                      help="skip paths matching GLOB (repeatable)")
    scan.add_argument("--rules-dir", action="append", default=[], metavar="DIR",
                      help="extra rules directory (YAML files merged with the shipped rules)")
    scan.add_argument("--no-hyperscan", action="store_true", help=argparse.SUPPRESS)
    scan.add_argument("--baseline", metavar="FILE",
                      help="report only findings not in FILE (a baseline or JSON report of stsleak, detect-secrets, "
                           "gitleaks JSON or .gitleaksignore, trufflehog --json)")
    scan.add_argument("--write-baseline", metavar="FILE",
                      help="record the current findings' fingerprints (hashes only) in FILE")
    scan.add_argument("--fail-on", choices=("any", "live"), default=None,
                      help="exit non-zero on any finding (default) or only on live ones (needs --verify)")
    scan.add_argument("--config", metavar="FILE", help="config file (default: .stsleak.yaml or pyproject.toml)")
    scan.add_argument("--no-suppress", "--strict", action="store_true", dest="no_suppress",
                      help="ignore every in-repo silencing at once: config file (its excludes, max_file_size, "
                           "rules_dir), allow comments and --baseline; for incident response and CI on pull requests")
    scan.add_argument("--no-allow-comments", action="store_true",
                      help="do not honour stsleak:allow / pragma: allowlist secret comments (the config and "
                           "--baseline still apply): what the GitHub Action does on a pull request, whose own "
                           "lines could carry them")
    scan.add_argument("--no-ignore", action="store_true",
                      help="in a git work tree, scan the files .gitignore hides too")
    add_verify_options(scan)
    return scan


def _mode(args: argparse.Namespace) -> ScanMode:
    if args.staged:
        return ScanMode.STAGED
    if args.history or args.since:
        return ScanMode.HISTORY
    if "-" in args.paths:
        return ScanMode.STDIN
    return ScanMode.FILES


def _write(text: str, output: str | None) -> None:
    if output:
        from scanner.cli.output import write_file

        write_file(text, output)
    else:
        from scanner.cli.output import write_stdout

        write_stdout(text)


def _use_color(args: argparse.Namespace) -> bool:
    return not args.no_color and not args.output and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def run(args: argparse.Namespace) -> ExitCode:
    from scanner.cli.config import apply_config
    from scanner.detection.rules import load_ruleset
    from scanner.pipeline import ScanRequest, run_scan
    from scanner.reports import render

    mode = _mode(args)
    if mode == "stdin" and len(args.paths) > 1:
        raise StsleakError("'-' (stdin) cannot be combined with other paths")
    paths = tuple(Path(p) for p in (args.paths or ["."]))
    if mode in ("history", "staged") and len(paths) > 1:
        raise StsleakError(f"--{'staged' if args.staged else 'history'} takes one repository")
    start = paths[0] if mode != "stdin" else Path(".")
    apply_config(args, start)
    if args.tip and not args.since:
        raise StsleakError("--tip goes with --since")
    if args.fail_on == "live" and not getattr(args, "verify", False):
        raise StsleakError("--fail-on live needs --verify")
    rules = load_ruleset(tuple(Path(d) for d in args.rules_dir))
    request = ScanRequest(
        mode=mode, paths=paths, since=args.since, tips=tuple(args.tip), max_size=args.max_file_size,
        exclude=tuple(args.exclude), use_hyperscan=not args.no_hyperscan, archive_limits=archive_limits(args),
        config_exclude=tuple(args.config_exclude), allow_comments=not (args.no_suppress or args.no_allow_comments),
        baseline=Path(args.baseline) if args.baseline and not args.no_suppress else None,
        max_size_from_config=args.max_size_from_config, no_ignore=args.no_ignore,
    )
    from scanner.cli.progress import scan_progress

    with scan_progress(mode, args.quiet) as progress:
        result = run_scan(request, rules, progress)
    result.stats.config = args.config_file
    result.notes += silencing_notes(args, start, result)
    every_finding = result.findings + result.baselined  # --write-baseline records all, also those --baseline hides
    verify_and_revoke(result, args)
    if args.write_baseline:
        from scanner.silencing.baseline import write_baseline

        write_baseline(every_finding, Path(args.write_baseline))
    from scanner.cli.vcs import sarif_version_control

    vcs = sarif_version_control(mode, start, [args.format, *(fmt for fmt, _ in args.report)])
    _write(render(args.format, result, rules, args.show_secrets, _use_color(args), args.quiet, vcs), args.output)
    for fmt, path in args.report:
        _write(render(fmt, result, rules, args.show_secrets, False, args.quiet, vcs), path)
    if ReportFormat.GITHUB in (args.format, *(fmt for fmt, _ in args.report)):
        from scanner.reports.github import append_step_summary

        append_step_summary(result)
    from scanner.reports.escape import escape

    for message in result.stats.errors:
        print(f"stsleak: warning: {escape(message)}", file=sys.stderr)
    if not args.quiet:
        for note in result.notes:
            print(f"stsleak: note: {escape(note)}", file=sys.stderr)
    return exit_code(result.findings, result.stats.errors, args.fail_on)


def verify_and_revoke(result: ScanResult, args: argparse.Namespace) -> None:
    if args.revoke and not args.verify:
        raise StsleakError("--revoke needs --verify (only live credentials are revoked)")
    if not args.verify:
        return
    from scanner.cli.revoke_prompt import print_run, prompt_callbacks, revoke_options
    from scanner.response import verify_and_revoke as road

    revoke = revoke_options(args) if args.revoke else None
    run = road(result, aws_options(args), revoke, prompt_callbacks(args.yes, sys.stderr),
               verify_canaries=args.verify_canaries)
    if run is not None:
        if not run.plans:
            print("revoke: nothing to revoke (no live credentials)", file=sys.stderr)
        print_run(run, sys.stderr)
