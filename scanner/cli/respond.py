"""`stsleak respond [REPO]`: incident response in one command.

scan --history -> last use of AKIA keys (before verification, which is itself a use) -> verify ->
investigate (CloudTrail, spawned credentials, persistence, blast radius) -> revocation plan for the
leaked credentials AND what they spawned (dry run unless --yes) -> incident report.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.cli.aws_args import add_aws_options, add_revoke_options, aws_options
from scanner.cli.investigate import add_investigation_options, finish, lookup_options, operator_or_reason, progress_bar
from scanner.errors import ExitCode
from scanner.model import Finding, ScanResult, Verification

EPILOG = """examples:
  stsleak respond .                               # scan history, verify, investigate, print the plan (dry run)
  stsleak respond . --report incident.html        # the same, with a report to hand over (.html, .md, .json)
  stsleak respond ~/src/app --yes --report incident.json   # apply the revocation, then report

exit codes (as `scan --verify --revoke`): 0 no findings, 1 findings, 2 usage or runtime error,
3 at least one credential is live, 4 a revocation failed or was refused.
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


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _revocation_api() -> tuple[Any, Any, Any]:
    try:  # the package's public entry points (scanner/revocation/ is being reorganised)
        from scanner.revocation import role_target, run_revocation, targets_from_findings  # type: ignore[attr-defined]
    except ImportError:
        from scanner.revocation.plan import role_target, run_revocation, targets_from_findings
    return role_target, run_revocation, targets_from_findings


def _hint_finding(hint: Any, account: str | None) -> Finding:
    """A spawned user or access key as a live finding, so the revocation plans it like any other."""
    arn = f"arn:aws:iam::{account}:user/{hint.user_name or hint.name}"
    key = hint.name if hint.kind == "access-key" else f"spawned:{hint.name}"
    verification = Verification("live", arn=arn, account=account, principal_type="iam-user")
    return Finding("spawned", key, None, None, account, None, 0, verification=verification)


def revocation_targets(findings: list[Finding], incident: Any) -> tuple[list[Any], dict[int, Any]]:
    """The leaked credentials' targets plus the spawned ones (deduplicated); hint owners by target id."""
    role_target, _, targets_from_findings = _revocation_api()
    targets = targets_from_findings(findings)
    seen = {(t.kind, t.name) for t in targets}
    owners: dict[int, Any] = {}
    for item in incident.credentials:
        for hint in item.hints:
            if hint.kind == "role":
                target = role_target(hint.name, hint.sessions)
            else:
                new = targets_from_findings([_hint_finding(hint, hint.account or item.account)])
                if not new:
                    continue
                target = new[0]
            if (target.kind, target.name) in seen:
                continue
            seen.add((target.kind, target.name))
            targets.append(target)
            owners[id(target)] = (item, hint)
    return targets, owners


def revoke(result: ScanResult, incident: Any, args: argparse.Namespace, operator: Any) -> list[Any]:
    from scanner.reports.plan import render_outcomes, render_plans
    from scanner.revocation.audit import AuditLog

    _, run_revocation, _ = _revocation_api()
    targets, owners = revocation_targets(result.findings, incident)
    if not targets:
        return []
    secrets = [s for f in result.findings for s in (f.secret, f.session_token) if s]
    audit = AuditLog(Path(args.audit_log) if args.audit_log else None, dry_run=not args.yes, secrets=secrets)
    plans = run_revocation(targets, args.scope, operator, audit,
                           show=lambda plans: sys.stderr.write(render_plans(plans, applying=args.yes)),
                           confirm=lambda _: bool(args.yes))
    if args.yes:
        sys.stderr.write(render_outcomes(plans))
    print(f"audit log: {audit.path}", file=sys.stderr)
    _attach(plans, owners, incident)
    return plans


def _attach(plans: list[Any], owners: dict[int, Any], incident: Any) -> None:
    """Each credential's section lists the plans for its own target and for what it spawned."""
    done_at = _now()
    by_key = {item.access_key_id: item for item in incident.credentials}
    for plan in plans:
        entry = {"status": plan.status, "scope": plan.scope, "target": plan.label, "cutoff": plan.cutoff,
                 "message": plan.message, "policy_name": plan.policy_name,
                 "read_back_at": done_at if plan.status == "revoked" else None}
        owner = owners.get(id(plan.target))
        if owner:
            item, hint = owner
            item.revocations.append({**entry, "reason": hint.reason})
            for spawned in item.spawned:
                if hint.name in (spawned.role_arn, spawned.minted_key_id, spawned.user_name):
                    spawned.revocation = {"status": plan.status, "target": plan.label}
            continue
        for finding in plan.target.findings:
            item = by_key.get(finding.access_key_id)
            if item is not None and entry not in item.revocations:
                item.revocations.append(entry)


def _investigate(result: ScanResult, args: argparse.Namespace, operator: Any, last_used: dict[str, Any],
                 verified_at: str) -> Any:
    from scanner.investigation.model import Incident
    from scanner.investigation.next_steps import next_steps
    from scanner.investigation.run import credentials_to_investigate, investigate

    if operator is None:
        incident = Incident(generated_at=_now())
        for item, _ in credentials_to_investigate(result.findings):
            item.verified_at = verified_at
            item.next_steps = next_steps(item)
            incident.credentials.append(item)
        return incident
    with progress_bar() as progress:
        return investigate(result.findings, operator, lookup_options(args), last_used=last_used,
                           verified_at=verified_at, progress=progress)


def run(args: argparse.Namespace) -> ExitCode:
    from scanner.cli.scan import exit_code
    from scanner.detection.rules import load_ruleset
    from scanner.investigation.last_used import last_used_before_verification
    from scanner.pipeline import ScanRequest, run_scan
    from scanner.reports.incident import scan_dict
    from scanner.verification.sts import verify_findings

    options = aws_options(args)
    lookup_options(args)  # bad --since/--max-depth fail before any work
    result = run_scan(ScanRequest(mode="history", paths=(Path(args.repo),)), load_ruleset(
        tuple(Path(d) for d in args.rules_dir)))
    operator, reason = operator_or_reason(options)
    last_used = last_used_before_verification(result.findings, operator) if operator else {}
    verified_at = _now()
    result.notes.extend(verify_findings(result.findings, options, verify_canaries=args.verify_canaries,
                                        operator=operator))
    result.stats.errors.extend(f"{f.access_key_id}: verification failed: {f.verification.error}"
                               for f in result.findings if f.verification and f.verification.status == "error")
    if operator is None:
        print(f"stsleak: note: investigation and revocation skipped: {reason}; the scan report stands",
              file=sys.stderr)
    incident = _investigate(result, args, operator, last_used, verified_at)
    incident.repository, incident.dry_run = str(args.repo), not args.yes
    if operator is not None:
        plans = revoke(result, incident, args, operator)
        result.stats.errors.extend(f"{p.label}: revocation {p.status}: {p.message}" for p in plans
                                   if p.status in ("failed", "refused"))
    from scanner.investigation.next_steps import next_steps

    for item in incident.credentials:
        item.next_steps = next_steps(item)
    secrets = [s for f in result.findings for s in (f.secret, f.session_token) if s]
    from scanner.reports.text import render_text

    sys.stdout.write(render_text(result, False, False, True))  # the scan's findings, as `scan --verify` shows them
    finish(incident, scan_dict(result), args.report, secrets)
    for message in result.stats.errors:
        print(f"stsleak: warning: {message}", file=sys.stderr)
    for note in result.notes:
        print(f"stsleak: note: {note}", file=sys.stderr)
    return exit_code(result.findings, result.stats.errors, "any")
