"""The road after the scan: verify -> investigate -> plan -> confirm -> apply -> read back.

Every front door (`scan --verify --revoke`, `revoke`, `respond`, `investigate`, the demo and the
organisation workers) calls these functions with typed options and callbacks; none assembles the
road itself. Nothing here prints: what a person sees goes through the callbacks (`show` a plan,
`confirm` it, `progress`), and what was done comes back as values.

Only the operator's credentials act on AWS; leaked ones are used for GetCallerIdentity alone
(verification/sts.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.aws_session import AwsOptions, Operator, failure_from
from scanner.errors import StsleakError
from scanner.investigation.cloudtrail import EventReader, LookupOptions
from scanner.investigation.issuer import find_issuer
from scanner.investigation.last_used import last_used_before_verification
from scanner.investigation.model import Actions, CredentialInvestigation, Incident, Recorded
from scanner.investigation.next_steps import fill_steps
from scanner.investigation.run import Progress, credentials_to_investigate, investigate
from scanner.model import Finding, Revocation, RevocationStatus, ScanResult, Verification, VerificationStatus
from scanner.redact import secrets_of
from scanner.revocation import role_target, run_revocation, targets_from_findings
from scanner.revocation.audit import AuditLog, default_audit_path
from scanner.revocation.chain import ChainCheck
from scanner.revocation.chain import check as check_chain
from scanner.revocation.model import Plan, Scope, Target, TargetKind
from scanner.revocation.operators import RoleTemplate
from scanner.revocation.targets import federated_target, name_issuers
from scanner.revocation.undo import UndoOptions, run_undo
from scanner.verification.sts import verify_findings


def _show_nothing(plans: list[Plan]) -> None:
    return None


def _refuse(plans: list[Plan]) -> bool:
    return False


def _refuse_accounts(accounts: list[str]) -> bool:
    return False


@dataclass(frozen=True)
class RevokeOptions:
    """What the operator asked of a revocation (or an undo)."""

    scope: str = Scope.ROLE
    apply: bool = False  # --yes: apply without asking
    audit_log: Path | None = None
    include_operator: bool = False
    assume_role: str | None = None  # an ARN template with {account}
    refresh: bool = False
    reactivate_leaked_keys: bool = False  # undo: make the run's deactivated (leaked) access keys Active again
    undo_target: str | None = None  # undo: only this target of the run (ARN, name or key id)
    issuers: tuple[tuple[str, str], ...] = ()  # --issuer: (federated user name, or "" for the only one; IAM user)
    accounts: tuple[str, ...] = ()  # --account: where --assume-role may act (others: confirmed or refused)
    regions: tuple[str, ...] = ()  # where a role's workloads are looked for (default: the operator's region)


@dataclass
class Callbacks:
    """How the road talks to a person: show the plan, ask for confirmation, report progress."""

    show: Callable[[list[Plan]], None] = _show_nothing
    confirm: Callable[[list[Plan]], bool] = _refuse
    replan: bool = False  # the answer came from a prompt: plan again before applying
    progress: Progress | None = None
    confirm_accounts: Callable[[list[str]], bool] = _refuse_accounts  # --assume-role into accounts not named?


@dataclass
class RevocationRun:
    """What a revocation (or undo) run planned and did, and where its audit trail is."""

    plans: list[Plan] = field(default_factory=list)
    audit_path: Path | None = None
    run_id: str | None = None
    applied: bool = False

    @property
    def incomplete(self) -> bool:
        return any(p.status in (RevocationStatus.FAILED, RevocationStatus.REFUSED) or p.audit_errors
                   for p in self.plans)

    def errors(self, what: str = "revocation ") -> list[str]:
        """One line per target that failed or was refused, and per audit record that could not be written."""
        lines = [f"{p.label}: {what}{p.status}: {p.message}" for p in self.plans
                 if p.status in (RevocationStatus.FAILED, RevocationStatus.REFUSED)]
        return lines + [f"{p.label}: audit log: {e}" for p in self.plans for e in p.audit_errors]


def now_z() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def verify(result: ScanResult, aws: AwsOptions, *, verify_canaries: bool = False,
           operator: Operator | None = None) -> None:
    """Ask STS who each credential set belongs to; a set that could not be checked is an error of the scan."""
    result.notes.extend(verify_findings(result.findings, aws, verify_canaries=verify_canaries, operator=operator))
    result.stats.errors.extend(
        f"{f.access_key_id}: verification failed: {f.verification.error}"
        for f in result.findings if f.verification and f.verification.status == VerificationStatus.ERROR)


def revoke(targets: list[Target], findings: list[Finding], options: RevokeOptions, aws: AwsOptions,
           callbacks: Callbacks, operator: Operator | None = None) -> RevocationRun:
    """Plan every target, show the plan, apply it when confirmed, read it back (dry run unless confirmed)."""
    if options.assume_role:  # checked before any call
        RoleTemplate.parse(options.assume_role)
    if not targets:
        return RevocationRun()
    name_issuers(targets, dict(options.issuers))
    audit = AuditLog(options.audit_log, dry_run=not options.apply, secrets=secrets_of(findings))
    plans = run_revocation(targets, options.scope, operator or Operator(aws), audit, show=callbacks.show,
                           confirm=callbacks.confirm, replan=callbacks.replan, refresh=options.refresh,
                           include_operator=options.include_operator, assume_role=options.assume_role,
                           accounts=options.accounts, confirm_accounts=callbacks.confirm_accounts,
                           regions=options.regions)
    return RevocationRun(plans, audit.path, audit.run_id, not audit.dry_run)


def revoke_findings(findings: list[Finding], options: RevokeOptions, aws: AwsOptions, callbacks: Callbacks,
                    fingerprints: list[str | None] | None = None) -> RevocationRun:
    """Revoke the live findings (one target per role / key / user); `fingerprints` marks report rows."""
    return revoke(targets_from_findings(findings, fingerprints=fingerprints), findings, options, aws, callbacks)


def revoke_roles(roles: list[str], sessions: list[str], options: RevokeOptions, aws: AwsOptions,
                 callbacks: Callbacks) -> RevocationRun:
    """Revoke roles named by the operator (`--role ARN|NAME`, `--session NAME`)."""
    return revoke([role_target(r, sessions) for r in roles], [], options, aws, callbacks)


def revoke_federated_users(users: list[str], options: RevokeOptions, aws: AwsOptions,
                           callbacks: Callbacks) -> RevocationRun:
    """Revoke federated-user sessions named by the operator (`--federated-user ARN|NAME`, `--issuer USER`)."""
    return revoke([federated_target(u) for u in users], [], options, aws, callbacks)


def undo(run_id: str, options: RevokeOptions, aws: AwsOptions, callbacks: Callbacks) -> RevocationRun:
    """Take back what run `run_id` added, as IAM shows it now (dry run unless confirmed); its audit
    records count only while the log's hash chain holds."""
    audit = AuditLog(options.audit_log, dry_run=not options.apply, secrets=[])
    plans = run_undo(run_id, Operator(aws), audit, show=callbacks.show, confirm=callbacks.confirm,
                     assume_role=options.assume_role,
                     options=UndoOptions(options.reactivate_leaked_keys, options.undo_target))
    return RevocationRun(plans, audit.path, audit.run_id, not audit.dry_run)


def verify_log(audit_log: Path | None) -> ChainCheck:
    """`revoke --verify-log`: the audit log's hash chain, checked line by line (nothing is written)."""
    return check_chain(audit_log or default_audit_path())


def verify_and_revoke(result: ScanResult, aws: AwsOptions, revoke_options: RevokeOptions | None,
                      callbacks: Callbacks, *, verify_canaries: bool = False) -> RevocationRun | None:
    """`scan --verify [--revoke]`: verdicts on the findings; with revoke options, cut the live ones off."""
    verify(result, aws, verify_canaries=verify_canaries)
    if revoke_options is None:
        return None
    try:
        run = revoke_findings(result.findings, revoke_options, aws, callbacks)
    except StsleakError as exc:  # e.g. no operator credentials: the scan's report still matters
        result.stats.errors.append(f"revocation not done: {exc}")
        for finding in result.findings:  # each live credential says it was not revoked (exit 4, not 3)
            if finding.verification and finding.verification.status == VerificationStatus.LIVE:
                finding.revocation = Revocation(RevocationStatus.FAILED, message=f"not revoked: {exc}")
        return None
    result.stats.errors.extend(run.errors())
    return run


def operator_or_reason(aws: AwsOptions) -> tuple[Operator | None, str | None]:
    """The operator, or None and one line saying why investigation cannot run."""
    try:
        operator = Operator(aws)
    except StsleakError as exc:
        return None, str(exc)
    if not operator.has_credentials():
        return None, "no operator AWS credentials (environment, --profile, SSO)"
    try:
        operator.identity()
    except Exception as exc:
        return None, f"the operator's AWS credentials do not work: {failure_from(exc).message}"
    return operator, None


def investigate_findings(findings: list[Finding], aws: AwsOptions, lookup: LookupOptions,
                         callbacks: Callbacks, earlier: Recorded | None = None) -> Incident:
    """`investigate --from`: what already-verified keys did, spawned and left behind (operator credentials).

    `earlier`: what the report read says was already done (its revocation run and each key's
    revocations); the new report carries it, so it tells the same story (revoked stays revoked)."""
    operator, reason = operator_or_reason(aws)
    if operator is None:
        raise StsleakError(f"investigate needs the operator's own AWS credentials: {reason}")
    incident = investigate(findings, operator, lookup, last_used=last_used_before_verification(findings, operator),
                           progress=callbacks.progress)
    incident.operator = _arn(operator)
    earlier = earlier or Recorded()
    for item in incident.credentials:
        item.revocations = [dict(r) for r in earlier.revocations.get(item.access_key_id, [])] or \
            ([item.revocation] if item.revocation else [])
        item.verified_at = item.verified_at or earlier.verified_at.get(item.access_key_id)
        _mark_spawned(item)
        fill_steps(item)
    incident.actions = earlier.actions
    if incident.actions is None and any(r.get("status") == RevocationStatus.REVOKED
                                        for item in incident.credentials for r in item.revocations):
        incident.actions = Actions(applied=True, this_run=False, changed=True)  # a `scan --revoke --yes` report
    incident.dry_run = not (incident.actions and incident.actions.applied)
    return incident


def _arn(operator: Operator) -> str | None:
    try:
        arn = operator.identity().get("Arn")
    except Exception:  # the identity was read once already (operator_or_reason); this is for the report only
        return None
    return arn if isinstance(arn, str) else None


@dataclass(frozen=True)
class RespondOptions:
    aws: AwsOptions
    lookup: LookupOptions
    revoke: RevokeOptions
    verify_canaries: bool = False


@dataclass
class Response:
    """What `respond` found out and did after the scan."""

    incident: Incident
    revocation: RevocationRun | None = None
    skipped: str | None = None  # why investigation and revocation did not run (no usable operator)

    @property
    def undo_command(self) -> str | None:
        return self.incident.actions.undo_command if self.incident.actions else None


def respond(result: ScanResult, options: RespondOptions, callbacks: Callbacks) -> Response:
    """Last use of AKIA keys (before verification, itself a use) -> verify -> investigate -> revoke the leaked
    credentials AND what they spawned (dry run unless confirmed)."""
    operator, reason = operator_or_reason(options.aws)
    last_used = last_used_before_verification(result.findings, operator) if operator else {}
    verified_at = now_z()
    verify(result, options.aws, verify_canaries=options.verify_canaries, operator=operator)
    if operator is None:
        incident = _uninvestigated(result.findings, verified_at)
    else:
        incident = investigate(result.findings, operator, options.lookup, last_used=last_used,
                               verified_at=verified_at, progress=callbacks.progress)
        incident.operator = _arn(operator)
    response = Response(incident, skipped=reason)
    if operator is not None:
        targets, owners = revocation_targets(result.findings, incident)
        revoke_options = options.revoke
        if not revoke_options.regions and options.lookup.regions:
            revoke_options = replace(revoke_options, regions=options.lookup.regions)
        name_issuers(targets, dict(revoke_options.issuers))  # the operator's word first
        _issuers_from_cloudtrail(targets, incident, operator, options.lookup)
        run = revoke(targets, result.findings, revoke_options, options.aws, callbacks, operator)
        response.revocation = run
        _attach(run.plans, owners, incident)
        result.stats.errors.extend(run.errors())
        if run.plans:
            incident.actions = Actions(
                applied=run.applied, run_id=run.run_id, audit_log=str(run.audit_path) if run.audit_path else None,
                operator=incident.operator, assume_role=options.revoke.assume_role,
                changed=run.applied and any(p.status == RevocationStatus.REVOKED for p in run.plans))
    incident.dry_run = not (incident.actions and incident.actions.applied)
    for item in incident.credentials:
        fill_steps(item)
    return response


def _issuers_from_cloudtrail(targets: list[Target], incident: Incident, operator: Operator,
                             lookup: LookupOptions) -> None:
    """The issuer of each leaked federated-user session the operator did not name, read from CloudTrail: the
    session's own events, in the regions the investigation saw them (never guessed; none found: refused)."""
    activity = {item.access_key_id: item.activity for item in incident.credentials}
    reader: EventReader | None = None
    for target in targets:
        if target.kind is not TargetKind.FEDERATED_USER or target.issuer or not target.arn:
            continue
        reasons = []
        for key in target.key_ids:
            seen = activity.get(key)
            regions = sorted(seen.regions_with_events) if seen else []
            reader = reader or EventReader(operator, lookup)
            issuer, why = find_issuer(reader, key, target.arn, regions)
            if issuer is not None:
                target.issuer, target.issuer_source = issuer.user_name, f"named by CloudTrail: {issuer.event}"
                break
            reasons.append(why)
        if not target.issuer and reasons:
            incident.notes.append(f"{target.arn}: {'; '.join(reasons)}")


def _uninvestigated(findings: list[Finding], verified_at: str) -> Incident:
    incident = Incident(generated_at=now_z())
    for item, _ in credentials_to_investigate(findings):
        item.verified_at = verified_at
        fill_steps(item)
        incident.credentials.append(item)
    return incident


def _hint_finding(hint: Any, account: str | None) -> Finding:
    """A spawned user or access key as a live finding, so the revocation plans it like any other."""
    arn = f"arn:aws:iam::{account}:user/{hint.user_name or hint.name}"
    key = hint.name if hint.kind == "access-key" else f"spawned:{hint.name}"
    verification = Verification(VerificationStatus.LIVE, arn=arn, account=account, principal_type="iam-user")
    return Finding("spawned", key, None, None, account, None, 0, verification=verification)


Owners = dict[int, tuple[CredentialInvestigation, Any]]


def revocation_targets(findings: list[Finding], incident: Incident) -> tuple[list[Target], Owners]:
    """The leaked credentials' targets plus the spawned ones (deduplicated); hint owners by target id."""
    targets = targets_from_findings(findings)
    seen = {(t.kind, t.name) for t in targets}
    owners: Owners = {}
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


def _attach(plans: list[Plan], owners: Owners, incident: Incident) -> None:
    """Each credential's section lists the plans for its own target and for what it spawned (marked with the
    hint they came from), each with its state after this run."""
    done_at = now_z()
    by_key = {item.access_key_id: item for item in incident.credentials}
    for plan in plans:
        entry: dict[str, object] = {"status": plan.status, "scope": plan.scope, "target": plan.label,
                                    "cutoff": plan.cutoff, "message": plan.message, "policy_name": plan.policy_name,
                                    "read_back_at": done_at if plan.status == RevocationStatus.REVOKED else None}
        owner = owners.get(id(plan.target))
        if owner:
            item, hint = owner
            item.revocations.append({**entry, "reason": hint.reason, "hint": hint.name})
            continue
        for finding in plan.target.findings:
            found = by_key.get(finding.access_key_id)
            if found is not None and entry not in found.revocations:
                found.revocations.append(entry)
    for item in incident.credentials:
        _mark_spawned(item)


def _mark_spawned(item: CredentialInvestigation) -> None:
    """Each spawned credential shows the revocation of the target it led to."""
    for entry in item.revocations:
        hint = entry.get("hint")
        if not hint:
            continue
        for spawned in item.spawned:
            if hint in (spawned.role_arn, spawned.minted_key_id, spawned.user_name):
                spawned.revocation = {"status": str(entry.get("status")), "target": str(entry.get("target"))}
