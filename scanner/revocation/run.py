"""One revocation run: the operator's identity and AWS's clock, a plan per target, show, confirm, apply.

Only the operator's credentials are used here (normal boto3 chain, `--profile`), never leaked ones.
One target failing never stops the others; a target the operator's own credentials belong to is
refused (or, with --include-operator, applied last).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from scanner import __version__
from scanner.aws_session import Operator
from scanner.errors import StsleakError
from scanner.revocation.apply import Applier, ReadBack
from scanner.revocation.audit import AuditLog
from scanner.revocation.calls import AuditedCalls, CallFailed
from scanner.revocation.lockout import OperatorIdentity
from scanner.revocation.model import Plan, PlanSettings, Target
from scanner.revocation.operators import AccountRouter, RoleTemplate
from scanner.revocation.plan import plan_target
from scanner.revocation.policy import iso_z, leak_mark

SKEW_WARNING_SECONDS = 30
MAX_REPLANS = 3


def operator_identity(calls: AuditedCalls) -> dict[str, Any]:
    """The operator's GetCallerIdentity; one clear StsleakError when there are no usable credentials."""
    if not calls.operator.has_credentials():
        raise StsleakError("revoke needs the operator's own AWS credentials and found none (environment, "
                           "--profile, SSO); verification works without them, revocation does not")
    try:
        return calls("sts", "GetCallerIdentity")
    except CallFailed as exc:
        raise StsleakError(f"the operator's AWS credentials do not work: {exc.failure.message}") from None


def operator_account(calls: AuditedCalls) -> str:
    return operator_identity(calls)["Account"]


def aws_cutoff(response: dict[str, Any], local: datetime) -> tuple[str, str | None]:
    """The cutoff from AWS's clock (the response's Date header), and a warning if ours is skewed.

    The Date header has whole seconds, so the cutoff is the next second: every session issued up
    to this response (in the same second too) was issued before it.
    """
    header = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        aws_now = parsedate_to_datetime(header).astimezone(UTC) if header else None
    except (TypeError, ValueError):
        aws_now = None
    if aws_now is None:
        return iso_z(local + timedelta(seconds=1)), "AWS's response had no Date header: the cutoff uses the local clock"
    skew = (local - aws_now).total_seconds()
    warning = None
    if abs(skew) > SKEW_WARNING_SECONDS:
        warning = f"the local clock is {skew:+.0f} s off AWS's; the cutoff uses AWS's clock"
    return iso_z(aws_now.replace(microsecond=0) + timedelta(seconds=1)), warning


def _settings(identity: dict[str, Any], scope: str, refresh: bool, include_operator: bool,
              audit: AuditLog, regions: tuple[str, ...] = ()) -> tuple[PlanSettings, str | None]:
    cutoff, warning = aws_cutoff(identity, datetime.now(UTC))
    return PlanSettings(scope, cutoff, refresh, include_operator, audit.run_id, regions), warning


def _router(targets: list[Target], operator: Operator, calls: AuditedCalls, audit: AuditLog, assume_role: str,
            accounts: tuple[str, ...], confirm_accounts: Callable[[list[str]], bool] | None,
            read_back: ReadBack | None) -> AccountRouter:
    """The --assume-role router, allowed only in the accounts named (--account) or confirmed now."""
    router = AccountRouter(operator, operator_account(calls), RoleTemplate.parse(assume_role), audit, read_back,
                           frozenset(accounts))
    unnamed = [a for a in router.accounts_of(targets) if a not in accounts]
    confirmed = bool(unnamed) and confirm_accounts is not None and confirm_accounts(unnamed)
    if confirmed:
        router.allowed = frozenset([*accounts, *unnamed])
    audit.event("accounts", named=list(accounts), unnamed=unnamed, confirmed=confirmed)
    return router


def start_record(audit: AuditLog, kind: str, identity: dict[str, Any], **fields: Any) -> None:
    """The run's first record: what ran where (tool version, host) as whom (the verified caller ARN)."""
    audit.event("run", kind=kind, version=__version__, host=socket.gethostname(), caller_arn=identity.get("Arn"),
                caller_account=identity.get("Account"),
                request_id=identity.get("ResponseMetadata", {}).get("RequestId"), **fields)


def _record_evidence(targets: list[Target], audit: AuditLog, settings: PlanSettings) -> None:
    """For the record only (never read back as input): the leaked sets seen live before the cutoff,
    with the verified ARN and the mark our statements carry for them. Whether a target is already
    revoked is read from IAM (plan.py), so neither a lost nor an edited file changes a verdict."""
    for target in targets:
        for fingerprint, finding in zip(target.fingerprints, target.findings, strict=False):
            verification = finding.verification
            audit.event("evidence", fingerprint=fingerprint, key_id=finding.access_key_id, target=target.name,
                        mark=leak_mark(finding.access_key_id), seen_before=settings.cutoff,
                        verified_arn=verification.arn if verification else None)


def _fresh_plans(targets: list[Target], operator: Operator, settings: PlanSettings, audit: AuditLog,
                 warning: str | None, router: Any = None) -> list[Plan]:
    if router is not None:  # --assume-role: an operator per target account (operators.py)
        plans = [router.plan(t, settings) for t in targets]
    else:
        plans = [plan_target(t, operator, settings, audit) for t in targets]
    for plan in plans:
        if warning:
            plan.caveats.append(warning)
        audit.event("plan", target=plan.label, scope=plan.scope, status=plan.status, cutoff=plan.cutoff,
                    changes=[{"operation": c.operation, "params": c.params} for c in plan.changes],
                    replaces=plan.replaces, message=plan.message, fingerprints=plan.target.fingerprints)
    return plans


def run_revocation(targets: list[Target], scope: str, operator: Operator, audit: AuditLog, *,
                   show: Callable[[list[Plan]], None], confirm: Callable[[list[Plan]], bool],
                   replan: bool = False, refresh: bool = False, include_operator: bool = False,
                   read_back: ReadBack | None = None, assume_role: str | None = None,
                   accounts: tuple[str, ...] = (), confirm_accounts: Callable[[list[str]], bool] | None = None,
                   regions: tuple[str, ...] = ()) -> list[Plan]:
    """Plan every target, show the plan, and apply it when `confirm(plans)` says so.

    With `replan` (the answer came from a prompt, which may take a while) the plan is made again
    before applying, so the cutoff is the time of applying; if anything but the cutoff changed,
    the new plan is shown and confirmed again. With `assume_role`, only the `accounts` named, and
    those `confirm_accounts` says yes to, are acted in; `regions`: where a role's workloads are looked for.
    """
    calls = AuditedCalls(operator, audit)
    identity = operator_identity(calls)
    start_record(audit, "revoke", identity, scope=scope, refresh=refresh)
    settings, warning = _settings(identity, scope, refresh, include_operator, audit, regions)
    _record_evidence(targets, audit, settings)
    router = None
    if assume_role:  # --assume-role: an operator per target account (operators.py)
        router = _router(targets, operator, calls, audit, assume_role, accounts, confirm_accounts, read_back)
    plans = _fresh_plans(targets, operator, settings, audit, warning, router)
    show(plans)
    apply = confirm(plans)
    for _ in range(MAX_REPLANS if apply and replan else 0):
        settings, warning = _settings(operator_identity(calls), scope, refresh, include_operator, audit, regions)
        fresh = _fresh_plans(targets, operator, settings, audit, warning, router)
        changed = [p.shape() for p in fresh] != [p.shape() for p in plans]
        plans = fresh
        if not changed:
            break
        show(plans)
        apply = confirm(plans)
        if not apply:
            break
    if apply:
        audit.dry_run = False
        applier = Applier(calls, OperatorIdentity.of(operator), read_back)
        for plan in sorted(plans, key=lambda p: p.operator_target):  # the operator's own target last
            router.apply(plan) if router is not None else applier.apply(plan)
            audit.event("outcome", target=plan.label, scope=plan.scope, status=plan.status, message=plan.message,
                        audit_errors=plan.audit_errors)
    for plan in plans:
        for finding in plan.target.findings:
            finding.revocation = plan.revocation()
    return plans
