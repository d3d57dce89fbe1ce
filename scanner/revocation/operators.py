"""Operators in many accounts: `--assume-role 'arn:aws:iam::{account}:role/IncidentResponder'`.

The operator's base credentials assume the role named by the template in each target's account
(sts:AssumeRole, session name `stsleak-revoke-<run id>`), once per account; the assumed
credentials are checked with GetCallerIdentity (they must answer for that account) and then plan
and apply that account's targets. When the assumption fails, that account's targets are reported
failed with the reason and the other accounts go on. Identity Center targets keep the base
credentials: sso-admin lives in the Identity Center instance's account, not the role's.

A revocation acts only in accounts the operator named (`--account`) or confirmed at the prompt:
the account STS reports for a leaked key (or a report row claims) says where the key lives, not
where the operator may act. A target elsewhere is refused before any role is assumed there. An
undo acts where its run acted (its audit records, read only while the hash chain holds).
"""

from __future__ import annotations

import dataclasses
import re

from scanner.aws_session import Operator
from scanner.errors import StsleakError
from scanner.model import RevocationStatus
from scanner.revocation.apply import Applier, ReadBack
from scanner.revocation.audit import AuditLog
from scanner.revocation.calls import AuditedCalls, CallFailed
from scanner.revocation.identity_center import plan_identity_center
from scanner.revocation.lockout import OperatorIdentity
from scanner.revocation.model import Plan, PlanSettings, Surface, Target, TargetKind
from scanner.revocation.plan import lockout_check, plan_target, refusal_before_calls
from scanner.revocation.targets import is_identity_center_role

PLACEHOLDER = "{account}"
_ROLE_ARN = re.compile(r"arn:[a-z][a-z0-9-]{0,30}:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}")
_ACCOUNT = re.compile(r"[0-9]{12}")


@dataclasses.dataclass(frozen=True)
class RoleTemplate:
    """A role ARN with `{account}` where each target's account goes."""

    template: str

    @classmethod
    def parse(cls, text: str) -> RoleTemplate:
        if text.count(PLACEHOLDER) != 1:
            raise StsleakError(f"--assume-role needs exactly one {PLACEHOLDER} in the role ARN, e.g. "
                               f"'arn:aws:iam::{{account}}:role/IncidentResponder' (got {text!r})")
        sample = text.replace(PLACEHOLDER, "123456789012")
        if "{" in sample or "}" in sample or not _ROLE_ARN.fullmatch(sample):
            raise StsleakError(f"--assume-role is not a role ARN template: {text!r} "
                               f"(expected arn:PARTITION:iam::{{account}}:role/NAME)")
        return cls(text)

    def arn_for(self, account: str) -> str:
        if not _ACCOUNT.fullmatch(account):
            raise ValueError(f"not an account id: {account!r}")
        return self.template.replace(PLACEHOLDER, account)


class AssumeFailed(StsleakError):
    """The role cannot be assumed (or does not answer) in an account: that account's targets fail."""


class AccountNotNamed(AssumeFailed):
    """The operator did not name (nor confirm) the account: its targets are refused, nothing is assumed there."""


def not_named(account: str) -> str:
    return (f"account {account} was not named: --assume-role acts only in accounts given with --account (or "
            f"confirmed at the prompt), not wherever STS says a leaked key lives; run again with --account {account} "
            f"if you may act there")


class AccountRouter:
    """Plans and applies each target with an operator for the target's account (assumed once per account).

    Planning goes through `plan_target` with that account's Operator, so the lockout check, report
    evidence and the account check hold for assumed operators as for the base one; applying uses an
    Applier per account (intent/result records name the assumed operator, read-back uses its calls).
    """

    def __init__(self, base: Operator, base_account: str, template: RoleTemplate, audit: AuditLog,
                 read_back: ReadBack | None = None, allowed: frozenset[str] | None = None) -> None:
        self.base = base
        self.base_account = base_account
        self.template = template
        self.audit = audit
        self.read_back = read_back
        self.allowed = allowed  # the accounts named or confirmed (None: any, for an undo of a run's own accounts)
        self.session_name = f"stsleak-revoke-{audit.run_id}"[:64]
        self._accounts: dict[str, Operator | str] = {}  # account -> operator, or why the assumption failed
        self._appliers: dict[str, Applier] = {}

    def operator_for(self, account: str | None) -> tuple[Operator, str]:
        """(operator, account) for `account`; raises AssumeFailed with the reason."""
        account = account or self.base_account
        if self.allowed is not None and account not in self.allowed:
            raise AccountNotNamed(not_named(account))
        if account not in self._accounts:
            self._accounts[account] = self._assume(account)
        found = self._accounts[account]
        if isinstance(found, str):
            raise AssumeFailed(found)
        return found, account

    def _assume(self, account: str) -> Operator | str:
        base = AuditedCalls(self.base, self.audit)
        try:
            arn = self.template.arn_for(account)
        except ValueError as exc:
            return str(exc)
        try:
            creds = base("sts", "AssumeRole", RoleArn=arn, RoleSessionName=self.session_name)["Credentials"]
        except CallFailed as exc:
            return f"cannot assume {arn} for account {account}: {exc.failure.message}"
        options = dataclasses.replace(self.base.options, operator_keys=(
            creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]))
        operator = Operator(options)
        try:
            answered = AuditedCalls(operator, self.audit)("sts", "GetCallerIdentity")["Account"]
        except CallFailed as exc:
            return f"assumed {arn}, but its credentials do not work: {exc.failure.message}"
        if answered != account:
            return f"assumed {arn}, but STS says its credentials are for account {answered}, not {account}"
        self.audit.event("assumed-role", account=account, role_arn=arn, session_name=self.session_name)
        return operator

    def plan(self, target: Target, settings: PlanSettings) -> Plan:
        if target.kind is TargetKind.ROLE and not target.refusal and is_identity_center_role(target.name,
                                                                                            target.path):
            return self._plan_identity_center(target, settings)
        if refusal_before_calls(target):
            return plan_target(target, self.base, settings, self.audit)
        try:
            operator, account = self.operator_for(target.account)
        except AssumeFailed as exc:
            scope = settings.scope if target.kind is TargetKind.ROLE else str(target.kind)
            status = RevocationStatus.REFUSED if isinstance(exc, AccountNotNamed) else RevocationStatus.FAILED
            return Plan(target, scope, target.arn or target.name, status=status, cutoff=settings.cutoff,
                        message=str(exc))
        plan = plan_target(target, operator, settings, self.audit)
        if plan.status is RevocationStatus.PLANNED:
            plan.caveats.append(f"operator: {self.template.arn_for(account)} (assumed, session {self.session_name})")
        return plan

    def accounts_of(self, targets: list[Target]) -> list[str]:
        """The accounts the router would assume its role in for these targets."""
        found = {t.account or self.base_account for t in targets if not refusal_before_calls(t)
                 and not (t.kind is TargetKind.ROLE and is_identity_center_role(t.name, t.path))}
        return sorted(found)

    def _plan_identity_center(self, target: Target, settings: PlanSettings) -> Plan:
        """sso-admin lives in the Identity Center instance's account: the base operator plans (and applies)
        it; only GetRole (the RoleId of a --session) uses the role account's operator."""
        try:
            role_operator, _ = self.operator_for(target.account)
        except AssumeFailed:
            role_operator = self.base
        plan = plan_identity_center(target, settings.cutoff, AuditedCalls(self.base, self.audit),
                                    role_calls=AuditedCalls(role_operator, self.audit), run=settings.run_id,
                                    refresh=settings.refresh)
        return lockout_check(plan, OperatorIdentity.of(self.base), settings)

    def applier(self, operator: Operator, account: str) -> Applier:
        if account not in self._appliers:
            self._appliers[account] = Applier(AuditedCalls(operator, self.audit), OperatorIdentity.of(operator),
                                              self.read_back)
        return self._appliers[account]

    def apply(self, plan: Plan) -> None:
        if plan.status is not RevocationStatus.PLANNED:
            return
        if plan.surface is Surface.PERMISSION_SET or refusal_before_calls(plan.target):
            self.applier(self.base, self.base_account).apply(plan)
            return
        try:
            operator, account = self.operator_for(plan.target.account)
        except AssumeFailed as exc:
            status = RevocationStatus.REFUSED if isinstance(exc, AccountNotNamed) else RevocationStatus.FAILED
            plan.status, plan.message = status, str(exc)
            return
        self.applier(operator, account).apply(plan)
