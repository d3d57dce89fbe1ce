"""`stsleak revoke --undo RUN`: restore exactly the state before a run, from its intent records.

For each thing the run changed (latest change first; one step per policy, key or attachment):
read what IAM shows now. If it is still what the run wrote, put back what was there before
(the previous document, or delete the policy if there was none; the key back to its old status;
detach and delete a managed policy the run created). If it is already the old state, nothing is
done. If someone changed it since, it is left alone and reported (never overwrite what was not
read). Each undo call is audited like any other and read back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from scanner.aws_session import Operator
from scanner.errors import StsleakError
from scanner.model import RevocationStatus
from scanner.revocation import identity_center_apply as sso
from scanner.revocation.apply import Applier, ReadBack, current_state, previous_state, wanted_state
from scanner.revocation.audit import AuditLog
from scanner.revocation.calls import AuditedCalls, CallFailed
from scanner.revocation.lockout import OperatorIdentity
from scanner.revocation.model import Change, Plan, Scope, Surface, Target, TargetKind
from scanner.revocation.operators import AccountRouter, RoleTemplate
from scanner.revocation.policy import policy_text
from scanner.revocation.run import operator_identity

Status = RevocationStatus


def _owner(params: dict[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in ("RoleName", "UserName") if k in params}


def inverse(change: Change, response: dict[str, Any]) -> list[Change]:
    """The calls that put back the state before `change`."""
    op, params, previous = change.operation, change.params, change.previous or {}
    res = change.resource
    if change.surface is Surface.PERMISSION_SET:  # a permission set's inline policy (identity_center_apply.py)
        return sso.inverse(change)
    if op in ("PutRolePolicy", "PutUserPolicy", "DeleteRolePolicy"):
        put = "PutUserPolicy" if op == "PutUserPolicy" else "PutRolePolicy"
        delete = "DeleteUserPolicy" if op == "PutUserPolicy" else "DeleteRolePolicy"
        where = {**_owner(params), "PolicyName": params["PolicyName"]}
        if change.previous is None:
            return [Change(delete, where, res)]
        return [Change(put, {**where, "PolicyDocument": policy_text(previous["PolicyDocument"])}, res)]
    if op == "UpdateAccessKey":
        return [Change(op, {**params, "Status": previous.get("Status", "Active")}, res)]
    if op == "AttachRolePolicy":
        return [Change("DetachRolePolicy", params, res)]
    if op == "CreatePolicy":
        return [Change("DeletePolicy", {"PolicyArn": res.split(":", 1)[1]}, res)]
    if op == "CreatePolicyVersion":
        new_version = (response.get("PolicyVersion") or {}).get("VersionId")
        back = Change("SetDefaultPolicyVersion", {"PolicyArn": params["PolicyArn"],
                                                  "VersionId": previous.get("DefaultVersionId")}, res,
                      expect=previous.get("PolicyDocument"))
        return [back] + ([Change("DeletePolicyVersion", {"PolicyArn": params["PolicyArn"],
                                                         "VersionId": new_version}, res)] if new_version else [])
    raise StsleakError(f"cannot undo {op if ':' in op else 'iam:' + op}")


def _change_of(intent: dict[str, Any]) -> Change:
    return Change(str(intent.get("operation", "")).removeprefix("iam:"), dict(intent.get("params") or {}),
                  str(intent.get("resource", "")), intent.get("previous"))


def _same(found: Any, state: Any) -> bool:
    return json.dumps(found, sort_keys=True) == json.dumps(state, sort_keys=True)


def _step(intent: dict[str, Any], response: dict[str, Any], calls: AuditedCalls, run_id: str) -> Plan:
    change = _change_of(intent)
    target = Target(TargetKind.ROLE if "RoleName" in change.params else TargetKind.USER,
                    str(intent.get("target") or change.resource))
    target.fingerprints = list(intent.get("fingerprints") or [])
    target.account = str(intent.get("operator_account") or "") or None  # whose operator made (and undoes) it
    plan = Plan(target, Scope.UNDO, f"{intent.get('target')}: {change.summary()}")
    try:
        found = current_state(change, calls)
    except CallFailed as exc:
        plan.status, plan.message = Status.FAILED, f"cannot read the current state: {exc.failure.message}"
        return plan
    if _same(found, previous_state(change)):
        plan.status, plan.message = Status.SKIPPED, "already as before the run"
        return plan
    written = wanted_state(change)
    if change.operation.startswith("Create") and change.operation != "CreatePolicyVersion":
        written = json.loads(change.params["PolicyDocument"])
    if not _same(found, written):
        plan.status = Status.REFUSED
        plan.message = f"changed since run {run_id} (IAM shows something else than it wrote): left alone"
        return plan
    plan.changes = inverse(change, response)
    plan.replaces = [json.dumps(found, sort_keys=True, default=str)] if isinstance(found, dict) else []
    plan.message = "restores the state before the run"
    return plan


def undo_plans(run_id: str, calls: AuditedCalls, account: str, router: Any = None) -> list[Plan]:
    """The undo steps of run `run_id`; with a router (--assume-role) each account's changes are read
    (and later undone) with that account's assumed operator, as the run made them."""
    records = calls.audit.run_records(run_id)
    if not records:
        raise StsleakError(f"no run {run_id} in the audit log {calls.audit.path}")
    intents = [r for r in records if r.get("event") == "intent"]
    if not intents:
        raise StsleakError(f"run {run_id} changed nothing (a dry run?): nothing to undo")
    accounts = {r.get("operator_account") for r in intents}
    if router is None and accounts != {account}:
        raise StsleakError(f"run {run_id} changed account {', '.join(sorted(map(str, accounts)))}; the operator's "
                           f"credentials are for {account}")
    results = {r.get("change"): r for r in records if r.get("event") == "result"}
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
        plans.append(_step(intent, (result or {}).get("response") or {}, _calls_for(intent, calls, account, router),
                           run_id))
    return plans


def _calls_for(intent: dict[str, Any], calls: AuditedCalls, account: str, router: Any) -> AuditedCalls:
    made_in = str(intent.get("operator_account") or account)
    if router is None or made_in == account:
        return calls
    operator, _ = router.operator_for(made_in)  # AssumeFailed: that step cannot be read
    return AuditedCalls(operator, calls.audit)


def run_undo(run_id: str, operator: Operator, audit: AuditLog, *, show: Callable[[list[Plan]], None],
             confirm: Callable[[list[Plan]], bool], read_back: ReadBack | None = None,
             assume_role: str | None = None) -> list[Plan]:
    calls = AuditedCalls(operator, audit)
    account = operator_identity(calls)["Account"]
    audit.event("undo", undo_of=run_id)
    router = None
    if assume_role:  # the run's changes in other accounts are undone with the role assumed there
        router = AccountRouter(operator, account, RoleTemplate.parse(assume_role), audit, read_back)
    plans = undo_plans(run_id, calls, account, router)
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
