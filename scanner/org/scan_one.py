"""One repository's tips and history scan, in a process of its own on the worker: prints JSON without secrets.

    python -m scanner.org.scan_one REPO --repository URL [--since REV ...] [--list-tips]
                                   [--old-tips FILE [--skip-unchanged]] [--verify AWS-OPTIONS]

A process of its own so that a task can be timed out and killed, and its memory ends with it: a
child forked by the worker's fork server (scanner/org/forkserver.py), or a subprocess without one. Secrets and
tokens stay in this process: what it prints holds hashes, key ids and locations (and, with
--verify, only the verdict), exactly as `stsleak scan --format json` without --show-secrets.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from scanner.cli import collect_garbage_less_often
from scanner.errors import ExitCode, StsleakError


def _parser() -> argparse.ArgumentParser:
    from scanner.cli.aws_args import add_aws_options

    parser = argparse.ArgumentParser(prog="stsleak-org-scan-one")
    parser.add_argument("repo")
    parser.add_argument("--repository", required=True, help="the repository as the report names it")
    parser.add_argument("--since", action="append", default=[], metavar="REV")
    parser.add_argument("--list-tips", action="store_true", help="list the ref tips first; the output has them")
    parser.add_argument("--old-tips", metavar="FILE",
                        help="JSON: the last scan's tips; scan only past those still here")
    parser.add_argument("--skip-unchanged", action="store_true", help="with both: no scan when no ref moved")
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--max-file-size", type=int, default=50 * 1024 * 1024)
    add_aws_options(parser)
    return parser


def _verify(findings: list[Any], args: argparse.Namespace) -> list[str]:
    from scanner.cli.aws_args import aws_options
    from scanner.verification.sts import verify_findings

    return verify_findings(findings, aws_options(args))


def scan(args: argparse.Namespace, rules: Any = None) -> dict[str, Any]:
    from scanner.detection.rules import load_ruleset
    from scanner.model import ScanMode
    from scanner.org.tips import known_commits, local_tips
    from scanner.pipeline import ScanRequest, run_scan
    from scanner.reports.json_report import finding_to_dict
    from scanner.reports.sarif import sarif_dict

    tips = local_tips(Path(args.repo)) if args.list_tips else None
    old_tips = json.loads(Path(args.old_tips).read_text(encoding="utf-8")) if args.old_tips else None
    if args.skip_unchanged and tips is not None and tips == old_tips:
        return {"unchanged": True, "tips": tips}
    known = known_commits(Path(args.repo), list(old_tips.values())) if old_tips else []
    rules = rules if rules is not None else load_ruleset(())  # the fork server's, loaded once
    since = tuple(args.since + known) or None
    request = ScanRequest(mode=ScanMode.HISTORY, paths=(Path(args.repo),), since=since, max_size=args.max_file_size)
    result = run_scan(request, rules)
    if args.verify:
        result.notes.extend(_verify(result.findings, args))
    rows = [{**finding_to_dict(f), "repository": args.repository} for f in result.findings]
    run = sarif_dict(result, rules)["runs"][0]
    run["automationDetails"] = {"id": f"stsleak/{args.repository}"}
    run["versionControlProvenance"] = [{"repositoryUri": args.repository}]
    stats = result.stats
    return {"findings": rows, "sarif_run": run, "notes": result.notes, "errors": stats.errors,
            "since": list(since or ()), **({"tips": tips} if tips is not None else {}),
            "stats": {"blobs": stats.blobs, "bytes": stats.bytes, "seconds": stats.seconds,
                      "skipped": stats.skipped}}


def main(argv: list[str] | None = None, rules: Any = None) -> int:
    args = _parser().parse_args(argv)
    try:
        out = scan(args, rules)
    except StsleakError as exc:
        print(f"stsleak: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    sys.stdout.write(json.dumps(out) + "\n")
    return int(ExitCode.CLEAN)


if __name__ == "__main__":
    collect_garbage_less_often()  # as the CLI scans (a forked scan has it from the fork server)
    sys.exit(main())
