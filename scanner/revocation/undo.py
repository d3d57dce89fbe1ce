"""`stsleak revoke --undo RUN`: take back what a run added, as IAM shows it now.

The audit log says what the run did, but a file anyone can edit cannot be what undo writes. So:
- the run's records are used only while the log's hash chain holds (audit.evidence);
- for each thing the run changed (latest change first; one step per policy, key or attachment)
  IAM is read now. If it is not what the run wrote, it is left alone and reported (never
  overwrite what was not read); if it is already as before, nothing is done;
- a policy document is never put back from the log: from the document IAM holds now, undo removes
  the statements stamped with the run's id (policy.Stamp), or moves such a statement's cutoff back to
  the one it replaced. Nothing else is written, so no edited "previous" can put an Allow into IAM.
  Policies the run pruned (expired session denies, which denied nothing live) are not written back;
- stsleak's own managed policy (/stsleak/StsleakRevoke-*) is detached, deleted or set back to its
  previous version (only if that version, read from IAM, holds nothing but denies); no other
  policy is ever detached or deleted;
- a leaked access key stays Inactive unless --reactivate-leaked-keys asks for it (its secret is
  public: making it Active re-arms it for whoever found it).
The plan says what each step re-enables. `--target` undoes one target of the run. Each undo call
is audited like any other and read back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scanner.aws_session import Operator
from scanner.errors import StsleakError
from scanner.model import RevocationStatus
from scanner.revocation import identity_center_apply as sso
from scanner.revocation import policy as P
from scanner.revocation.apply import Applier, ReadBack, current_state, previous_state, wanted_state
from scanner.revocation.audit import AuditLog
from scanner.revocation.calls import AuditedCalls, CallFailed
from scanner.revocation.lockout import OperatorIdentity
from scanner.revocation.managed import MANAGED_PATH, read_managed
from scanner.revocation.model import Change, Plan, Scope, Surface, Target, TargetKind, qualified
from scanner.revocation.operators import AccountRouter, RoleTemplate
from scanner.revocation.run import operator_identity, start_record

Status = RevocationStatus
REACTIVATE_FLAG = "--reactivate-leaked-keys"


@dataclass(frozen=True)
class UndoOptions:
    """What the operator asked of an undo beyond the run id."""

    reactivate_leaked_keys: bool = False  # make the run's deactivated (leaked) access keys Active again
    target: str | None = None  # only this target of the run (ARN, name or key id)


def _change_of(intent: dict[str, Any]) -> Change:
    return Change(str(intent.get("operation", "")).removeprefix("iam:"), dict(intent.get("params") or {}),
                  str(intent.get("resource", "")), intent.get("previous"))


def _same(found: Any, state: Any) -> bool:
    return json.dumps(found, sort_keys=True) == json.dumps(state, sort_keys=True)


def _is_ours(policy_arn: Any) -> bool:
    """stsleak's own managed policy: arn:PARTITION:iam::ACCOUNT:policy/stsleak/StsleakRevoke-…"""
    parts = str(policy_arn).split(":", 5)
    return (len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam"
            and parts[5].startswith(f"policy{MANAGED_PATH}{P.MANAGED_POLICY_PREFIX}") and parts[5].count("/") == 2)


def _where(change: Change, label: str) -> str:
    if "RoleName" in change.params:
        return f"role {change.params['RoleName']}"
    if "UserName" in change.params:
        return f"user {change.params['UserName']} (its temporary credentials)"
    return label


def _reenables(undone: list[P.Undone], where: str) -> list[str]:
    lines = []
    for item in undone:
        user_id = P.session_user_id(item.statement)
        off_instance = P.off_instance_user_id(item.statement)
        who = (f"session {user_id.partition(':')[2]!r} of {where}" if user_id else
               f"session {off_instance.partition(':')[2]!r} of {where}, used off the instance's network"
               if off_instance else f"every session of {where}")
        cutoff = item.statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        if item.cutoff_back and item.cutoff_back != cutoff:
            lines.append(f"{who} issued from {item.cutoff_back} to {cutoff} (the cutoff goes back to "
                         f"{item.cutoff_back})")
        elif item.cutoff_back:
            lines.append(f"nothing: the earlier cutoff {cutoff} stays ({who})")
        else:
            lines.append(f"{who} issued before {cutoff} (the run's deny is removed)")
    return lines


class _Step:
    """One undo step: reads IAM now and plans what takes the run's change back."""

    def __init__(self, intent: dict[str, Any], calls: AuditedCalls, run_id: str, options: UndoOptions,
                 managed_written: dict[str, Any]) -> None:
        self.intent, self.calls, self.run_id, self.options = intent, calls, run_id, options
        self.managed_written = managed_written  # policy ARN -> the document the run wrote to it
        self.change = _change_of(intent)
        params = self.change.params
        kind = TargetKind.ROLE if "RoleName" in params else TargetKind.ACCESS_KEY if "AccessKeyId" in params \
            else TargetKind.USER
        target = Target(kind, str(intent.get("target") or self.change.resource))
        target.fingerprints = list(intent.get("fingerprints") or [])
        target.account = str(intent.get("operator_account") or "") or None  # whose operator made (and undoes) it
        self.plan = Plan(target, Scope.UNDO, f"{intent.get('target')}: {self.change.summary()}")

    def done(self, status: RevocationStatus, message: str) -> Plan:
        self.plan.status, self.plan.message = status, message
        return self.plan

    def changed_since(self) -> Plan:
        return self.done(Status.REFUSED, f"changed since run {self.run_id} (IAM shows something else than it "
                                         f"wrote): left alone")

    def plan_it(self) -> Plan:
        op = self.change.operation
        try:
            if op in ("PutRolePolicy", "PutUserPolicy", sso.PUT):
                return self.document()
            if op == "UpdateAccessKey":
                return self.access_key()
            if op in ("DeleteRolePolicy", "DeleteUserPolicy"):
                return self.done(Status.SKIPPED, "the run deleted this expired session policy (it denied no live "
                                                 "session); undo does not write it back: it writes nothing IAM "
                                                 "does not hold now")
            if op in ("AttachRolePolicy", "CreatePolicy", "CreatePolicyVersion"):
                return self.managed()
            if op == "DeletePolicy" and _is_ours(self.change.params.get("PolicyArn")):
                return self.rolled_back()
        except CallFailed as exc:
            return self.done(Status.FAILED, f"cannot read the current state: {exc.failure.message}")
        return self.done(Status.REFUSED, f"{qualified(op)} is not undone (only a revocation's own changes are): "
                                         f"revoke again instead")

    def document(self) -> Plan:
        """An inline policy (IAM role or user) or a permission set's: remove or set back our statements."""
        change = self.change
        found = current_state(change, self.calls)
        if _same(found, previous_state(change)):
            return self.done(Status.SKIPPED, "already as before the run")
        if not _same(found, wanted_state(change)) or not isinstance(found, dict):
            return self.changed_since()
        document, undone = P.without_run(found, self.run_id, (change.previous or {}).get("PolicyDocument"))
        if not undone:
            return self.done(Status.REFUSED, f"IAM holds no statement of run {self.run_id} here: left alone")
        self.plan.changes = [self._document_change(document)]
        self.plan.replaces = [json.dumps(found, sort_keys=True, default=str)]
        self.plan.reenables = _reenables(undone, _where(change, str(self.intent.get("target"))))
        restored = any(u.cutoff_back for u in undone)
        self.plan.message = ("takes back the run's statements (earlier cutoffs restored)" if restored
                             else "removes the run's statements")
        return self.plan

    def _document_change(self, document: dict[str, Any] | None) -> Change:
        change = self.change
        if change.surface is Surface.PERMISSION_SET:
            where = {k: change.params[k] for k in ("InstanceArn", "PermissionSetArn")}
            if document is None:
                return Change(sso.DELETE, where, change.resource)
            return Change(sso.PUT, {**where, "InlinePolicy": json.dumps(document)}, change.resource, expect=document)
        user = change.operation == "PutUserPolicy"
        owner = {"UserName": change.params["UserName"]} if user else {"RoleName": change.params["RoleName"]}
        where = {**owner, "PolicyName": change.params["PolicyName"]}
        if document is None:
            return Change("DeleteUserPolicy" if user else "DeleteRolePolicy", where, change.resource)
        return Change("PutUserPolicy" if user else "PutRolePolicy",
                      {**where, "PolicyDocument": P.policy_text(document)}, change.resource)

    def access_key(self) -> Plan:
        change = self.change
        key, user = change.params.get("AccessKeyId"), change.params.get("UserName")
        found = current_state(change, self.calls)
        before = (change.previous or {}).get("Status")
        if found == before:
            return self.done(Status.SKIPPED, "already as before the run")
        if found != change.params.get("Status") or before != "Active":
            return self.changed_since()
        if not self.options.reactivate_leaked_keys:
            return self.done(Status.SKIPPED, f"access key {key} stays Inactive: it was found leaked (its secret is "
                                             f"public) or minted by a leaked credential; {REACTIVATE_FLAG} makes "
                                             f"it Active again")
        self.plan.changes = [Change("UpdateAccessKey", {"UserName": user, "AccessKeyId": key, "Status": "Active"},
                                    change.resource)]
        self.plan.reenables = [f"access key {key} of user {user}: Active again, for anyone who holds its leaked "
                               f"secret ({REACTIVATE_FLAG})"]
        self.plan.message = "makes the leaked access key Active again"
        return self.plan

    def managed(self) -> Plan:
        """stsleak's managed policy: detach it, delete it, or set its previous version back."""
        change = self.change
        arn = change.params.get("PolicyArn") or change.resource.partition(":")[2]
        if not _is_ours(arn):
            return self.done(Status.REFUSED, f"{arn} is not stsleak's managed policy: left alone")
        found = current_state(change, self.calls)
        role = self.intent.get("target")
        if change.operation == "AttachRolePolicy":
            if found is False:
                return self.done(Status.SKIPPED, "already as before the run")
            if not _same(read_managed(self.calls, arn), self.managed_written.get(arn)):
                return self.done(Status.REFUSED, f"{arn} changed since run {self.run_id} (it holds more than the "
                                                 f"run wrote): left attached")
            self.plan.changes = [Change("DetachRolePolicy", {"RoleName": change.params["RoleName"], "PolicyArn": arn},
                                        change.resource)]
            self.plan.reenables = [f"what {arn} denies no longer applies to role {change.params['RoleName']}"]
            self.plan.message = "detaches stsleak's managed policy"
            return self.plan
        if found is None and change.operation == "CreatePolicy":
            return self.done(Status.SKIPPED, "already as before the run")
        if change.operation == "CreatePolicyVersion" and _same(found, previous_state(change)):
            return self.done(Status.SKIPPED, "already as before the run")
        if not isinstance(found, dict) or not _same(found, json.loads(change.params["PolicyDocument"])):
            return self.changed_since()
        _, undone = P.without_run(found, self.run_id, None)
        if not undone:
            return self.done(Status.REFUSED, f"IAM holds no statement of run {self.run_id} here: left alone")
        self.plan.reenables = _reenables(undone, f"{role} (via {arn})")
        if change.operation == "CreatePolicy":
            self.plan.changes = [Change("DeletePolicy", {"PolicyArn": arn}, change.resource)]
            self.plan.message = "deletes stsleak's managed policy (the run created it)"
            return self.plan
        return self.previous_version(arn, found)

    def rolled_back(self) -> Plan:
        """The run deleted again a managed policy it had created, its attachment having failed: nothing to undo."""
        arn = str(self.change.params["PolicyArn"])
        if read_managed(self.calls, arn) is None:
            return self.done(Status.SKIPPED, f"already as before the run: it deleted {arn} again (created for an "
                                             f"attachment that failed)")
        return self.done(Status.REFUSED, f"{arn} exists again, but run {self.run_id} deleted it: not written by "
                                         f"the run, left alone")

    def previous_version(self, arn: str, found: dict[str, Any]) -> Plan:
        version = (self.change.previous or {}).get("DefaultVersionId")
        current = self.calls("iam", "GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"]
        try:
            older = P.document(self.calls("iam", "GetPolicyVersion", PolicyArn=arn,
                                          VersionId=version)["PolicyVersion"]["Document"])
        except CallFailed as exc:
            return self.done(Status.REFUSED, f"the version before the run ({version}) cannot be read: "
                                             f"{exc.failure.message}")
        if any(s.get("Effect") != "Deny" for s in P.statements(older)) or version == current:
            return self.done(Status.REFUSED, f"version {version} of {arn} holds more than denies (or is the "
                                             f"current one): not made the default")
        self.plan.changes = [
            Change("SetDefaultPolicyVersion", {"PolicyArn": arn, "VersionId": version}, self.change.resource,
                   expect=older),
            Change("DeletePolicyVersion", {"PolicyArn": arn, "VersionId": current}, self.change.resource)]
        self.plan.replaces = [json.dumps(found, sort_keys=True, default=str)]
        self.plan.message = f"sets version {version} (as IAM holds it) back as the default"
        return self.plan


def _names(intent: dict[str, Any]) -> set[str]:
    """What `--target` may call an intent's target: its label, ARN, name, key id, role or user name."""
    label = str(intent.get("target") or "")
    params = intent.get("params") or {}
    names = {label, label.split(" ", 1)[0], label.rsplit("/", 1)[-1]}
    names |= {str(params[k]) for k in ("RoleName", "UserName", "AccessKeyId", "PermissionSetArn") if params.get(k)}
    return {n for n in names if n}


def undo_plans(run_id: str, calls: AuditedCalls, account: str, router: Any = None,
               options: UndoOptions | None = None, records: list[dict[str, Any]] | None = None) -> list[Plan]:
    """The undo steps of run `run_id`; with a router (--assume-role) each account's changes are read
    (and later undone) with that account's assumed operator, as the run made them."""
    options = options or UndoOptions()
    records = calls.audit.evidence(run_id) if records is None else records
    if not records:
        raise StsleakError(f"no run {run_id} in the audit log {calls.audit.path}")
    intents = [r for r in records if r.get("event") == "intent"]
    if not intents:
        raise StsleakError(f"run {run_id} changed nothing (a dry run?): nothing to undo")
    if options.target:
        chosen = [r for r in intents if options.target in _names(r)]
        if not chosen:
            targets = ", ".join(sorted({str(r.get("target")) for r in intents}))
            raise StsleakError(f"run {run_id} changed nothing of {options.target} (its targets: {targets})")
        intents = chosen
    accounts = {r.get("operator_account") for r in intents}
    if router is None and accounts != {account}:
        raise StsleakError(f"run {run_id} changed account {', '.join(sorted(map(str, accounts)))}; the operator's "
                           f"credentials are for {account}")
    results = {r.get("change"): r for r in records if r.get("event") == "result"}
    managed_written = {
        str(r.get("params", {}).get("PolicyArn") or str(r.get("resource", "")).partition(":")[2]):
            json.loads(r["params"]["PolicyDocument"])
        for r in records if r.get("event") == "intent" and r.get("operation") in ("iam:CreatePolicy",
                                                                                    "iam:CreatePolicyVersion")
        and (results.get(r.get("change")) or {}).get("result") == "ok"}
    plans: list[Plan] = []
    seen: set[tuple[str, str]] = set()  # (account, resource): the same role name may be in many accounts
    for intent in reversed(intents):
        result = results.get(intent.get("change"))
        if intent.get("operation") == sso.PROVISION:
            continue  # undoing the inline policy provisions the permission set again
        where = (str(intent.get("operator_account")), str(intent.get("resource")))
        if (result and result.get("result") != "ok") or where in seen:
            continue  # the call failed (nothing changed), or a later change of the same thing decides
        seen.add(where)
        step = _Step(intent, _calls_for(intent, calls, account, router), run_id, options, managed_written)
        plans.append(step.plan_it())
    return plans


def _calls_for(intent: dict[str, Any], calls: AuditedCalls, account: str, router: Any) -> AuditedCalls:
    made_in = str(intent.get("operator_account") or account)
    if router is None or made_in == account:
        return calls
    operator, _ = router.operator_for(made_in)  # AssumeFailed: that step cannot be read
    return AuditedCalls(operator, calls.audit)


def run_undo(run_id: str, operator: Operator, audit: AuditLog, *, show: Callable[[list[Plan]], None],
             confirm: Callable[[list[Plan]], bool], read_back: ReadBack | None = None,
             assume_role: str | None = None, options: UndoOptions | None = None) -> list[Plan]:
    options = options or UndoOptions()
    records = audit.evidence(run_id)  # a broken chain is refused before any AWS call
    calls = AuditedCalls(operator, audit)
    identity = operator_identity(calls)
    account = identity["Account"]
    start_record(audit, "undo", identity, undo_of=run_id, target=options.target,
                 reactivate_leaked_keys=options.reactivate_leaked_keys)
    router = None
    if assume_role:  # the run's changes in other accounts are undone with the role assumed there
        router = AccountRouter(operator, account, RoleTemplate.parse(assume_role), audit, read_back)
    plans = undo_plans(run_id, calls, account, router, options, records)
    show(plans)
    if confirm(plans):
        audit.dry_run = False
        applier = Applier(calls, OperatorIdentity.of(operator), read_back)
        for plan in plans:
            made_in = plan.target.account or account
            if router is not None and made_in != account:
                router.applier(router.operator_for(made_in)[0], made_in).apply(plan)
            else:
                applier.apply(plan)  # REVOKED here means: done and read back (reports say "undone")
            if plan.status is Status.REVOKED:
                plan.message = "read back from IAM"
            audit.event("outcome", target=plan.label, scope=Scope.UNDO, status=plan.status, message=plan.message)
    return plans
