"""Applying a plan: intent record, the call, result record, then read back until IAM shows it.

- No mutating call without an intent record in the audit log (an unrecorded change cannot be
  undone); a result record that cannot be written is reported for the target, and the run goes on.
- Read-back tolerates IAM's eventual consistency: an old document is read again with backoff for
  about 30 s. A document that is neither the old one nor ours (another responder wrote meanwhile)
  is merged with ours and written again, so two concurrent runs both end with their statement.
- "revoked" only when our statements (or later cutoffs for the same sessions) are read back.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scanner.model import RevocationStatus
from scanner.revocation import policy as P
from scanner.revocation.calls import AuditedCalls, CallFailed, explain
from scanner.revocation.lockout import OperatorIdentity
from scanner.revocation.plan import Change, Plan, get_policy, qualified

Status = RevocationStatus
MAX_REMERGES = 5
_READS = {"PutRolePolicy": ("GetRolePolicy", "RoleName"), "DeleteRolePolicy": ("GetRolePolicy", "RoleName"),
          "PutUserPolicy": ("GetUserPolicy", "UserName"), "DeleteUserPolicy": ("GetUserPolicy", "UserName")}


@dataclass
class ReadBack:
    """How long to wait for IAM to show a change (eventual consistency), and how."""

    seconds: float = 30.0
    first_delay: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def current_state(change: Change, calls: AuditedCalls) -> Any:
    """What IAM shows now for the thing `change` writes (a document, a key status, attached or not)."""
    from scanner.revocation.managed import read_managed

    params = change.params
    if change.operation.startswith("sso-admin:"):
        from scanner.revocation.identity_center_apply import current_document

        return current_document(change, calls)
    if change.operation in _READS:
        operation, owner = _READS[change.operation]
        return get_policy(calls, operation, **{owner: params[owner], "PolicyName": params["PolicyName"]})
    if change.operation == "UpdateAccessKey":
        keys = calls.paged("iam", "ListAccessKeys", "AccessKeyMetadata", UserName=params["UserName"])
        return next((k["Status"] for k in keys if k["AccessKeyId"] == params["AccessKeyId"]), None)
    if change.operation in ("AttachRolePolicy", "DetachRolePolicy"):
        attached = calls.paged("iam", "ListAttachedRolePolicies", "AttachedPolicies", RoleName=params["RoleName"])
        return any(p.get("PolicyArn") == params["PolicyArn"] for p in attached)
    if change.operation in ("CreatePolicyVersion", "SetDefaultPolicyVersion", "DeletePolicy"):
        return read_managed(calls, params["PolicyArn"])
    if change.operation == "CreatePolicy":
        return read_managed(calls, change.resource.split(":", 1)[1])
    if change.operation == "DeletePolicyVersion":
        versions = calls.paged("iam", "ListPolicyVersions", "Versions", PolicyArn=params["PolicyArn"])
        return any(v.get("VersionId") == params["VersionId"] for v in versions)
    raise ValueError(f"no read-back for {change.operation}")


def wanted_state(change: Change) -> Any:
    """The state `change` leaves behind, in current_state's terms (documents as dicts)."""
    params = change.params
    if change.expect is not None:
        return change.expect
    if change.operation.startswith("sso-admin:"):
        from scanner.revocation.identity_center_apply import wanted_document

        return wanted_document(change)
    if change.operation in ("DeleteRolePolicy", "DeleteUserPolicy", "DeletePolicy"):
        return None
    if change.operation == "DeletePolicyVersion":
        return False
    if change.operation == "UpdateAccessKey":
        return params["Status"]
    if change.operation in ("AttachRolePolicy", "DetachRolePolicy"):
        return change.operation == "AttachRolePolicy"
    return json.loads(params["PolicyDocument"])


def shows(change: Change, found: Any) -> bool:
    """IAM shows the change: our statements are there (for merges), or exactly the wanted state."""
    if change.statements:
        return P.covers(found, change.statements)
    return found == wanted_state(change)


def previous_state(change: Change) -> Any:
    """The state before `change`, in current_state's terms."""
    previous = change.previous
    if previous is None:
        return False if change.operation == "AttachRolePolicy" else None
    return previous.get("PolicyDocument", previous.get("Status"))


class Applier:
    """Applies plans with one operator, writing intent and result records around each call."""

    def __init__(self, calls: AuditedCalls, identity: OperatorIdentity, read_back: ReadBack | None = None) -> None:
        self.calls = calls
        self.identity = identity
        self.read_back = read_back or ReadBack()

    def _audit_errors(self, plan: Plan, before: int) -> None:
        plan.audit_errors += self.calls.audit.errors[before:]

    def call(self, plan: Plan, change: Change) -> dict[str, Any] | None:
        """Intent record, the call, result record. None (and the plan failed) when not done."""
        audit = self.calls.audit
        change_id = uuid.uuid4().hex[:12]
        name = qualified(change.operation)
        service, _, operation = name.partition(":")
        before = len(audit.errors)
        written = audit.intent(change_id, operation=name, params=change.params,
                               resource=change.resource, previous=change.previous, target=plan.label,
                               operator_arn=self.identity.arn, operator_account=self.identity.account,
                               fingerprints=plan.target.fingerprints, key_ids=plan.target.key_ids)
        if not written:
            self._audit_errors(plan, before)
            plan.status = Status.FAILED
            plan.message = f"not applied: the intent record could not be written ({audit.errors[-1]})"
            return None
        try:
            response = self.calls(service, operation, **change.params)
        except CallFailed as exc:
            audit.result(change_id, name, ok=False, error_code=exc.failure.code,
                         message=exc.failure.message)
            self._audit_errors(plan, before)
            plan.status = Status.REFUSED if exc.failure.code == "UnmodifiableEntity" else Status.FAILED
            plan.message = explain(exc.failure, change.operation, plan.label, self.identity.account)
            return None
        keep = {k: v for k, v in response.items() if k in ("Policy", "PolicyVersion")}
        audit.result(change_id, name, ok=True, response=keep)
        self._audit_errors(plan, before)
        return response

    def apply(self, plan: Plan) -> None:
        """Make the planned calls in order and read each back; revoked only when all are shown."""
        if plan.status is not Status.PLANNED or not plan.changes:
            return
        from scanner.revocation.identity_center import is_identity_center_plan
        from scanner.revocation.identity_center_apply import apply_identity_center

        if is_identity_center_plan(plan):  # sso-admin, not IAM: write, provision, read back
            apply_identity_center(plan, self)
            return
        for change in list(plan.changes):
            if self.call(plan, change) is None:
                return
            if not self._confirm(plan, change):
                return
        plan.status = Status.REVOKED
        plan.message = "takes effect within minutes; read back from IAM"

    def _confirm(self, plan: Plan, change: Change) -> bool:
        rb = self.read_back
        deadline = rb.clock() + rb.seconds
        delay = rb.first_delay
        remerges = 0
        if change.statements:
            rb.sleep(random.uniform(0.05, 0.3))  # concurrent writers: do not re-read in lock-step
        while True:
            try:
                found = current_state(change, self.calls)
            except CallFailed as exc:
                found, error = _Unread, exc.failure.message
                if exc.failure.is_access_denied:
                    plan.status = Status.FAILED
                    plan.message = (f"applied (iam:{change.operation} answered OK), but the operator's own session "
                                    f"is now denied, as expected, so it cannot be read back: check with other "
                                    f"credentials ({error})" if plan.operator_target else
                                    f"applied, but the operator may not read it back: {error}")
                    return False
            else:
                error = None
                if shows(change, found):
                    return True
                if change.statements and change.operation.startswith("Put") and found != previous_state(change) \
                        and remerges < MAX_REMERGES:
                    remerges += 1
                    change = self._remerge(plan, change, found)
                    if self.call(plan, change) is None:
                        return False
                    continue
            if rb.clock() >= deadline:
                plan.status = Status.FAILED
                plan.message = (f"applied, but reading it back failed: {error}" if error else
                                f"applied, but IAM does not show the change after {rb.seconds:.0f} s")
                return False
            rb.sleep(delay)
            delay = min(delay * 2, 8.0)

    def _remerge(self, plan: Plan, change: Change, found: Any) -> Change:
        """Another writer replaced the document meanwhile: put ours into theirs and write again."""
        merged = P.merge(found, change.statements)
        again = Change(change.operation, {**change.params, "PolicyDocument": P.policy_text(merged)},
                       change.resource, None if found is None else {"PolicyDocument": found}, change.statements)
        plan.changes.append(again)
        plan.caveats.append(f"{change.params.get('PolicyName')} was changed by someone else meanwhile: merged "
                            f"and written again")
        return again


class _UnreadType:
    pass


_Unread = _UnreadType()
