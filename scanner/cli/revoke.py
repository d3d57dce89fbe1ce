"""`stsleak revoke`: cut off leaked credentials with the operator's own credentials (dry run unless --yes)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from scanner.cli.aws_args import add_aws_options, add_revoke_options, aws_options
from scanner.errors import ExitCode, StsleakError
from scanner.model import Finding

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


def add_parser(sub: argparse._SubParsersAction) -> None:
    revoke = sub.add_parser("revoke", help="revoke leaked credentials' sessions (dry run unless --yes)",
                            description=REVOKE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = revoke.add_mutually_exclusive_group(required=True)
    source.add_argument("--role", action="append", metavar="ARN|NAME", help="a role to revoke (repeatable)")
    source.add_argument("--from", dest="from_report", metavar="REPORT",
                        help="the live findings of a `stsleak scan --verify --format json` report")
    revoke.add_argument("--session", action="append", default=[], metavar="NAME",
                        help="with --role and --scope session: the session name to cut (repeatable)")
    revoke.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    add_revoke_options(revoke)
    add_aws_options(revoke)


def _secrets_of(findings: list[Finding]) -> list[str]:
    return [s for f in findings for s in (f.secret, f.session_token) if s]


def revoke_findings(findings: list[Finding], roles: list[str] | None, args: argparse.Namespace, options: Any,
            out: TextIO) -> list[Any]:
    from scanner.aws_session import Operator
    from scanner.reports.plan import render_outcomes, render_plans
    from scanner.revocation.audit import AuditLog
    from scanner.revocation.plan import role_target, run_revocation, targets_from_findings

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


def run(args: argparse.Namespace) -> ExitCode:
    options = aws_options(args)
    report: dict[str, Any] | None = None
    findings: list[Finding] = []
    if args.from_report:
        from scanner.reports.json_report import load_report

        report, findings = load_report(args.from_report)
    if args.session and not args.role:
        raise StsleakError("--session goes with --role")
    if args.role and args.scope == "session" and not args.session:
        raise StsleakError("--scope session needs the session name (--session NAME, or a verified finding)")
    out = sys.stderr if args.format == "json" else sys.stdout
    plans = revoke_findings(findings, args.role, args, options, out)
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
