"""CLI wiring for the AWS stages (verification, revocation, demo). Imports boto3 only when used."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from scanner.errors import ExitCode, StsleakError
from scanner.findings import ScanResult
from scanner.model import Finding, Verification

REVOKE_HELP = """Cut off leaked credentials with the operator's own AWS credentials (never the leaked ones).
Dry run by default: prints the plan. --yes applies it; an interactive terminal asks first.
  role scope     inline policy AWSRevokeOlderSessions: deny sessions issued before now (the console's
                 "Revoke active sessions")
  session scope  deny only the leaked session names (aws:userid ROLEID:SESSION) issued before now
Live AKIA keys are set Inactive; temporary credentials of an IAM user get a deny-before-now user policy.

exit codes: 0 every target planned (dry run) or revoked and read back; 4 a target failed or was
refused (one `stsleak: error:` line each; the other targets still go on); 2 usage errors or no usable
operator credentials.
"""


def _add_aws_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AWS")
    group.add_argument("--region", help="region for STS/IAM endpoints (default: AWS_REGION or the partition's)")
    group.add_argument("--partition", choices=("aws", "aws-cn", "aws-us-gov"), default="aws",
                       help="partition whose endpoints to use when no --region is given (default aws)")
    group.add_argument("--endpoint-url", help="send every AWS call here (also: AWS_ENDPOINT_URL, "
                                              "AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_IAM)")
    group.add_argument("--profile", help="the operator's AWS profile (revocation and role details)")


def _add_revoke_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scope", choices=("role", "session"), default="role",
                        help="revoke all sessions of the role issued before now (default) or only the leaked ones")
    parser.add_argument("--yes", action="store_true", help="apply the revocation plan (default: dry run)")
    parser.add_argument("--audit-log", metavar="FILE",
                        help="append every revocation call to FILE (JSON lines; default: user state dir)")


def add_scan_options(scan: argparse.ArgumentParser) -> None:
    scan.add_argument("--verify", action="store_true", help="ask STS who each credential set belongs to")
    scan.add_argument("--verify-canaries", action="store_true",
                      help="also verify keys of known canary accounts (this sets the canary off)")
    scan.add_argument("--concurrency", type=int, default=8, metavar="N", help="parallel STS calls (default 8)")
    scan.add_argument("--revoke", action="store_true", help="with --verify: revoke live credentials (see revoke)")
    _add_revoke_options(scan)
    _add_aws_options(scan)


def add_commands(sub: argparse._SubParsersAction) -> None:
    revoke = sub.add_parser("revoke", help="revoke leaked credentials' sessions (dry run unless --yes)",
                            description=REVOKE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = revoke.add_mutually_exclusive_group(required=True)
    source.add_argument("--role", action="append", metavar="ARN|NAME", help="a role to revoke (repeatable)")
    source.add_argument("--from", dest="from_report", metavar="REPORT",
                        help="the live findings of a `stsleak scan --verify --format json` report")
    revoke.add_argument("--session", action="append", default=[], metavar="NAME",
                        help="with --role and --scope session: the session name to cut (repeatable)")
    revoke.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    _add_revoke_options(revoke)
    _add_aws_options(revoke)
    demo = sub.add_parser("demo", help="the whole story on an emulated AWS (moto on 127.0.0.1)")
    demo.add_argument("--keep", action="store_true", help="keep the throw-away repository and print its path")


def aws_options(args: argparse.Namespace) -> Any:
    from scanner.aws_session import AwsOptions

    concurrency = getattr(args, "concurrency", 8)
    if concurrency < 1:
        raise StsleakError("--concurrency must be at least 1")
    return AwsOptions(region=args.region, endpoint_url=args.endpoint_url, profile=args.profile,
                      partition=args.partition, concurrency=concurrency)


def after_scan(result: ScanResult, args: argparse.Namespace) -> None:
    if args.revoke and not args.verify:
        raise StsleakError("--revoke needs --verify (only live credentials are revoked)")
    if not args.verify:
        return
    from scanner.sts_identity import verify_findings

    options = aws_options(args)
    result.notes.extend(verify_findings(result.findings, options, verify_canaries=args.verify_canaries))
    result.stats.errors.extend(
        f"{f.access_key_id}: verification failed: {f.verification.error}"
        for f in result.findings if f.verification and f.verification.status == "error")
    if args.revoke:
        try:
            plans = _revoke(result.findings, None, args, options, sys.stderr)
        except StsleakError as exc:  # e.g. no operator credentials: the scan's report still matters
            result.stats.errors.append(f"revocation not done: {exc}")
            return
        result.stats.errors.extend(f"{p.label}: revocation {p.status}: {p.message}" for p in plans
                                   if p.status in ("failed", "refused"))


def _secrets_of(findings: list[Finding]) -> list[str]:
    return [s for f in findings for s in (f.secret, f.session_token) if s]


def _revoke(findings: list[Finding], roles: list[str] | None, args: argparse.Namespace, options: Any,
            out: TextIO) -> list[Any]:
    from scanner.audit import AuditLog
    from scanner.aws_session import Operator
    from scanner.reports.revocation_plan import render_outcomes, render_plans
    from scanner.revocation import role_target, run_revocation, targets_from_findings

    targets = targets_from_findings(findings) if roles is None else [role_target(r, args.session) for r in roles]
    if not targets:
        print("revoke: nothing to revoke (no live credentials)", file=out)
        return []
    audit = AuditLog(Path(args.audit_log) if args.audit_log else None, dry_run=not args.yes,
                     secrets=_secrets_of(findings))
    operator = Operator(options)
    interactive = not args.yes and sys.stdin.isatty() and out.isatty()
    plans = run_revocation(
        targets, args.scope, operator, audit,
        show=lambda plans: out.write(render_plans(plans, applying=args.yes)),
        confirm=lambda plans: args.yes or (interactive and _ask(plans, out)),
        replan=interactive,
    )
    if args.yes or interactive:
        out.write(render_outcomes(plans))
    print(f"audit log: {audit.path}", file=out)
    return plans


def _ask(plans: list[Any], out: TextIO) -> bool:
    if not any(p.status == "planned" for p in plans):
        return False
    out.write("Apply this plan? [y/N] ")
    out.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _load_report(path: str) -> tuple[dict[str, Any], list[Finding]]:
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
        rows = report["findings"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StsleakError(f"cannot read report {path}: {exc}") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise StsleakError(f"{path} is not a stsleak JSON report (its findings are not a list of objects)")
    if rows and not any("verification" in row for row in rows):
        raise StsleakError(f"{path} has no verification results: make it with `stsleak scan --verify --format json`")
    known = {f.name for f in dataclasses.fields(Verification)}
    try:
        findings = [Finding(
            rule=row.get("rule", ""), access_key_id=row.get("access_key_id", ""), secret=None, session_token=None,
            account_id=row.get("account_id"), path=row.get("path"), line=row.get("line", 0),
            verification=Verification(**{k: v for k, v in row["verification"].items() if k in known})
            if row.get("verification") else None,
        ) for row in rows]
    except (AttributeError, TypeError) as exc:
        raise StsleakError(f"{path} is not a stsleak JSON report ({exc.__class__.__name__})") from None
    return report, findings


def run_revoke(args: argparse.Namespace) -> ExitCode:
    options = aws_options(args)
    report: dict[str, Any] | None = None
    findings: list[Finding] = []
    if args.from_report:
        report, findings = _load_report(args.from_report)
    if args.session and not args.role:
        raise StsleakError("--session goes with --role")
    if args.role and args.scope == "session" and not args.session:
        raise StsleakError("--scope session needs the session name (--session NAME, or a verified finding)")
    out = sys.stderr if args.format == "json" else sys.stdout
    plans = _revoke(findings, args.role, args, options, out)
    if args.format == "json":
        if report is not None:
            for row, finding in zip(report["findings"], findings, strict=True):
                if finding.revocation is not None:
                    row["revocation"] = dataclasses.asdict(finding.revocation)
        body = {"version": 1, "dry_run": not args.yes,
                "revocations": [dataclasses.asdict(p.revocation()) for p in plans],
                "findings": report["findings"] if report else []}
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    bad = [p for p in plans if p.status in ("failed", "refused")]
    for plan in bad:
        print(f"stsleak: error: {plan.label}: {plan.status}: {plan.message}", file=sys.stderr)
    return ExitCode.REVOCATION_INCOMPLETE if bad else ExitCode.CLEAN


def run_command(args: argparse.Namespace) -> ExitCode:
    if args.command == "revoke":
        return run_revoke(args)
    if args.command == "demo":
        from scanner.demo import run_demo

        return run_demo(keep=args.keep)
    raise StsleakError(f"unknown command {args.command}")
