"""`stsleak revoke`: cut off leaked credentials with the operator's own credentials (dry run unless --yes)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from scanner.cli.aws_args import add_aws_options, add_revoke_options, aws_options
from scanner.cli.revoke_prompt import print_run, prompt_callbacks, revoke_options
from scanner.errors import ExitCode, StsleakError
from scanner.model import Finding

if TYPE_CHECKING:
    from scanner.response import RevocationRun

REVOKE_HELP = """Cut off leaked credentials with the operator's own AWS credentials (never the leaked ones).
Dry run by default: prints the plan. --yes applies it; an interactive terminal asks first.
  role scope     inline policy AWSRevokeOlderSessions: deny sessions issued before now (the console's
                 "Revoke active sessions"), merged into what is there, the cutoff never moved backwards
  session scope  deny only the leaked session names (aws:userid ROLEID:SESSION) issued before now
  off-instance   EC2 instance-profile credentials (session i-…): deny them only when used from outside the
                 instance's VPC and public addresses; the instance and the role's other workloads keep working
Every change is audited before and after, in a hash-chained log.
Our statements' Sids record the run and the leaked keys they cover: a later run (any machine) reads from
IAM that a key is already revoked. --undo RUN takes back what the run added, as IAM shows it now: its
own statements and policies (never a document from the log), and never re-arms a leaked key unless
--reactivate-leaked-keys.
Live AKIA keys are set Inactive and their user gets a deny-before-now policy; temporary credentials of an
IAM user get that user policy; a federated-user session (GetFederationToken) gets a deny of its aws:userid
on the IAM user that issued it (--issuer USER; respond reads it from CloudTrail). The plan names what the
deny breaks (EC2, Lambda, ECS workloads of the role, credential caches) and what it cannot reach (EKS and
Vault sign-ins by GetCallerIdentity).
Identity Center (AWSReservedSSO_) sessions: a deny merged into the permission set's inline policy, then
provisioned. --assume-role 'arn:aws:iam::{account}:role/NAME' --account ID …: one run across the accounts
named (others are confirmed at the prompt, or refused).
"""

REVOKE_EPILOG = """examples:
  stsleak revoke --from report.json                  # plan for the live rows of a verified report
  stsleak revoke --role etl --session laptop --yes   # only the session "laptop" (--session means session scope)
  stsleak revoke --undo 3f2a9c1e0b7d --yes           # take back what run 3f2a9c1e0b7d added (--target: one target)

exit codes: 0 every target planned (dry run), revoked and read back, or already revoked (undo: every
step done, already as before, or skipped, such as a leaked key left Inactive); 4 a target (or undo
step) failed or was refused, or its audit record could not be written (one `stsleak: error:` line
each; the others still go on); 2 usage errors, no usable operator credentials, an audit log whose
hash chain is broken (--verify-log, and --undo refuses it) or a run recorded before the chain.
"""
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


def add_parser(sub: argparse._SubParsersAction) -> None:
    revoke = sub.add_parser("revoke", help="revoke leaked credentials' sessions (dry run unless --yes)",
                            description=REVOKE_HELP, epilog=REVOKE_EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    source = revoke.add_mutually_exclusive_group(required=True)
    source.add_argument("--role", action="append", metavar="ARN|NAME", help="a role to revoke (repeatable)")
    source.add_argument("--federated-user", action="append", metavar="ARN|NAME",
                        help="a federated-user session (GetFederationToken) to revoke, with --issuer USER, the IAM "
                             "user that issued it (repeatable; a NAME is in the operator's account)")
    source.add_argument("--from", dest="from_report", metavar="REPORT",
                        help="the live findings of a `stsleak scan --verify --format json` report (each row is "
                             "checked against IAM first; rows without a fingerprint are refused)")
    source.add_argument("--undo", metavar="RUN_ID",
                        help="take back what run RUN_ID added (its statements and policies, as IAM shows them now)")
    source.add_argument("--verify-log", action="store_true",
                        help="check the audit log's hash chain (--audit-log FILE, or the default) and exit")
    revoke.add_argument("--session", action="append", default=[], metavar="NAME",
                        help="with --role: only this session name is cut (repeatable; implies --scope session)")
    revoke.add_argument("--target", dest="undo_target", metavar="ARN|NAME",
                        help="with --undo: only the steps of this target of the run (role ARN or name, user, key id)")
    revoke.add_argument("--reactivate-leaked-keys", action="store_true",
                        help="with --undo: also make the access keys the run deactivated Active again (their "
                             "secrets are public: this re-arms them; default: they stay Inactive)")
    revoke.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    add_revoke_options(revoke)
    add_aws_options(revoke)


def report_fingerprints(report: dict[str, Any]) -> list[str | None]:
    """Each row's fingerprint, None when it has none that could come from stsleak."""
    found = [row.get("fingerprint") for row in report["findings"]]
    return [f if isinstance(f, str) and _FINGERPRINT.match(f) else None for f in found]


def _usage(args: argparse.Namespace) -> None:
    if args.session and not args.role:
        raise StsleakError("--session goes with --role")
    if args.session and args.scope == "role":
        raise StsleakError("--session cuts only the named sessions; --scope role would cut every session of the "
                           "role: give one or the other")
    if args.session and args.scope != "off-instance":
        args.scope = "session"  # never wider than asked
    if args.role and args.scope in ("session", "off-instance") and not args.session:
        raise StsleakError(f"--scope {args.scope} needs the session name (--session NAME, or a verified finding)")
    if (args.undo_target or args.reactivate_leaked_keys) and not args.undo:
        raise StsleakError("--target and --reactivate-leaked-keys go with --undo")
    if args.federated_user and not args.issuer:
        raise StsleakError("--federated-user needs --issuer USER: the IAM user that called GetFederationToken "
                           "(CloudTrail names it: userIdentity.sessionContext.sessionIssuer); stsleak never guesses it")
    if args.scope == "off-instance" and args.federated_user:
        raise StsleakError("--scope off-instance is for EC2 instance-profile credentials (a role session named i-…)")


def _verify_log(args: argparse.Namespace, out: TextIO) -> ExitCode:
    from scanner import response

    checked = response.verify_log(Path(args.audit_log) if args.audit_log else None)
    if not checked.intact:
        raise StsleakError(checked.summary())
    print(checked.summary(), file=out)
    return ExitCode.CLEAN


def _run(args: argparse.Namespace, out: TextIO) -> tuple[RevocationRun, dict[str, Any] | None, list[Finding]]:
    from scanner import response

    aws, options = aws_options(args), revoke_options(args)
    if args.undo:
        run = response.undo(args.undo, options, aws, prompt_callbacks(args.yes, out, title="undo plan"))
        print_run(run, out, undo=True)
        return run, None, []
    report: dict[str, Any] | None = None
    findings: list[Finding] = []
    callbacks = prompt_callbacks(args.yes, out)
    if args.role:
        run = response.revoke_roles(args.role, args.session, options, aws, callbacks)
    elif args.federated_user:
        run = response.revoke_federated_users(args.federated_user, options, aws, callbacks)
    else:
        from scanner.reports.json_report import load_report

        report, findings = load_report(args.from_report)
        run = response.revoke_findings(findings, options, aws, callbacks, report_fingerprints(report))
    if not run.plans:
        print("revoke: nothing to revoke (no live credentials)", file=out)
    print_run(run, out)
    return run, report, findings


def _json_body(args: argparse.Namespace, run: RevocationRun, report: dict[str, Any] | None,
               findings: list[Finding]) -> dict[str, Any]:
    if report is not None:
        for row, finding in zip(report["findings"], findings, strict=True):
            if finding.revocation is not None:
                row["revocation"] = dataclasses.asdict(finding.revocation)
    return {"version": 1, "dry_run": not args.yes,
            "revocations": [dataclasses.asdict(p.revocation()) for p in run.plans],
            "findings": report["findings"] if report else []}


def run(args: argparse.Namespace) -> ExitCode:
    _usage(args)
    out = sys.stderr if args.format == "json" else sys.stdout
    if args.verify_log:
        return _verify_log(args, out)
    result, report, findings = _run(args, out)
    if args.format == "json":
        sys.stdout.write(json.dumps(_json_body(args, result, report, findings), indent=2) + "\n")
    for line in result.errors(what=""):
        print(f"stsleak: error: {line}", file=sys.stderr)
    return ExitCode.REVOCATION_INCOMPLETE if result.incomplete else ExitCode.CLEAN
