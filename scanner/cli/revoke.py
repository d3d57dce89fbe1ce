"""`stsleak revoke`: cut off leaked credentials with the operator's own credentials (dry run unless --yes)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from scanner.cli.aws_args import add_aws_options, add_revoke_options, aws_options
from scanner.errors import ExitCode, StsleakError
from scanner.model import Finding

REVOKE_HELP = """Cut off leaked credentials with the operator's own AWS credentials (never the leaked ones).
Dry run by default: prints the plan. --yes applies it; an interactive terminal asks first.
  role scope     inline policy AWSRevokeOlderSessions: deny sessions issued before now (the console's
                 "Revoke active sessions"), merged into what is there, the cutoff never moved backwards
  session scope  deny only the leaked session names (aws:userid ROLEID:SESSION) issued before now
Live AKIA keys are set Inactive and their user gets a deny-before-now policy; temporary credentials of an
IAM user get that user policy. Every change is audited before and after; --undo RUN restores the state
before a run.
Identity Center (AWSReservedSSO_) sessions: a deny merged into the permission set's inline policy, then
provisioned. --assume-role 'arn:aws:iam::{account}:role/NAME': one run across many accounts.
"""

REVOKE_EPILOG = """examples:
  stsleak revoke --from report.json                  # plan for the live rows of a verified report
  stsleak revoke --role arn:aws:iam::123456789012:role/etl --yes
  stsleak revoke --undo 3f2a9c1e0b7d --yes           # put back what run 3f2a9c1e0b7d changed

exit codes: 0 every target planned (dry run), revoked and read back, or already revoked; 4 a target
failed or was refused, or its audit record could not be written (one `stsleak: error:` line each;
the other targets still go on); 2 usage errors or no usable operator credentials.
"""
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


def add_parser(sub: argparse._SubParsersAction) -> None:
    revoke = sub.add_parser("revoke", help="revoke leaked credentials' sessions (dry run unless --yes)",
                            description=REVOKE_HELP, epilog=REVOKE_EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    source = revoke.add_mutually_exclusive_group(required=True)
    source.add_argument("--role", action="append", metavar="ARN|NAME", help="a role to revoke (repeatable)")
    source.add_argument("--from", dest="from_report", metavar="REPORT",
                        help="the live findings of a `stsleak scan --verify --format json` report (each row is "
                             "checked against IAM first; rows without a fingerprint are refused)")
    source.add_argument("--undo", metavar="RUN_ID", help="restore the state before run RUN_ID (from the audit log)")
    revoke.add_argument("--session", action="append", default=[], metavar="NAME",
                        help="with --role and --scope session: the session name to cut (repeatable)")
    revoke.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    add_revoke_options(revoke)
    add_aws_options(revoke)


def _secrets_of(findings: list[Finding]) -> list[str]:
    return [s for f in findings for s in (f.secret, f.session_token) if s]


def _audit(args: argparse.Namespace, findings: list[Finding]) -> Any:
    from scanner.revocation.audit import AuditLog

    return AuditLog(Path(args.audit_log) if args.audit_log else None, dry_run=not args.yes,
                    secrets=_secrets_of(findings))


def _confirm(args: argparse.Namespace, interactive: bool, out: TextIO) -> Any:
    def confirm(plans: list[Any]) -> bool:
        if args.yes:
            return True
        if not interactive:
            return False
        answer = _ask(plans, out)
        if not answer:
            print("not applied", file=out)
        return answer
    return confirm


def revoke_findings(findings: list[Finding], roles: list[str] | None, args: argparse.Namespace, options: Any,
                    out: TextIO, fingerprints: list[str | None] | None = None) -> list[Any]:
    from scanner.aws_session import Operator
    from scanner.reports.plan import render_outcomes, render_plans
    from scanner.revocation import role_target, run_revocation, targets_from_findings

    assume_role = getattr(args, "assume_role", None)
    if assume_role:  # checked before any call
        from scanner.revocation.operators import RoleTemplate

        RoleTemplate.parse(assume_role)
    if roles is None:
        targets = targets_from_findings(findings, fingerprints=fingerprints)
    else:
        targets = [role_target(r, args.session) for r in roles]
    if not targets:
        print("revoke: nothing to revoke (no live credentials)", file=out)
        return []
    audit = _audit(args, findings)
    operator = Operator(options)
    interactive = not args.yes and sys.stdin.isatty() and out.isatty()
    plans = run_revocation(
        targets, args.scope, operator, audit,
        show=lambda plans: out.write(render_plans(plans, applying=args.yes or interactive)),
        confirm=_confirm(args, interactive, out), replan=interactive,
        refresh=args.refresh, include_operator=args.include_operator, assume_role=assume_role,
    )
    if not audit.dry_run:
        out.write(render_outcomes(plans))
    print(f"audit log: {audit.path} (run {audit.run_id})", file=out)
    return plans


def _ask(plans: list[Any], out: TextIO) -> bool:
    if not any(p.status == "planned" for p in plans):
        return False
    out.write("Apply this plan? [y/N] ")
    out.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def undo(args: argparse.Namespace, options: Any, out: TextIO) -> list[Any]:
    from scanner.aws_session import Operator
    from scanner.reports.plan import render_outcomes, render_plans
    from scanner.revocation.undo import run_undo

    audit = _audit(args, [])
    interactive = not args.yes and sys.stdin.isatty() and out.isatty()
    plans = run_undo(args.undo, Operator(options), audit,
                     show=lambda plans: out.write(render_plans(plans, args.yes or interactive, title="undo plan")),
                     confirm=_confirm(args, interactive, out), assume_role=getattr(args, "assume_role", None))
    if not audit.dry_run:
        out.write(render_outcomes(plans, {"revoked": "undone"}))
    print(f"audit log: {audit.path} (run {audit.run_id})", file=out)
    return plans


def report_fingerprints(report: dict[str, Any]) -> list[str | None]:
    """Each row's fingerprint, None when it has none that could come from stsleak."""
    found = [row.get("fingerprint") for row in report["findings"]]
    return [f if isinstance(f, str) and _FINGERPRINT.match(f) else None for f in found]


def _usage(args: argparse.Namespace) -> None:
    if args.session and not args.role:
        raise StsleakError("--session goes with --role")
    if args.role and args.scope == "session" and not args.session:
        raise StsleakError("--scope session needs the session name (--session NAME, or a verified finding)")


def run(args: argparse.Namespace) -> ExitCode:
    options = aws_options(args)
    _usage(args)
    out = sys.stderr if args.format == "json" else sys.stdout
    report: dict[str, Any] | None = None
    findings: list[Finding] = []
    if args.undo:
        plans = undo(args, options, out)
    else:
        fingerprints = None
        if args.from_report:
            from scanner.reports.json_report import load_report

            report, findings = load_report(args.from_report)
            fingerprints = report_fingerprints(report)
        plans = revoke_findings(findings, args.role, args, options, out, fingerprints)
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
    for plan in plans:
        for error in plan.audit_errors:
            print(f"stsleak: error: {plan.label}: audit log: {error}", file=sys.stderr)
    return ExitCode.REVOCATION_INCOMPLETE if bad or any(p.audit_errors for p in plans) else ExitCode.CLEAN
