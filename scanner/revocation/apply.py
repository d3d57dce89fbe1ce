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
from typing import Any

from scanner.model import RevocationStatus
from scanner.revocation import identity_center_apply as sso
from scanner.revocation import policy as P
from scanner.revocation.calls import AuditedCalls, CallFailed
from scanner.revocation.managed import read_managed
from scanner.revocation.model import Change, Plan, Surface
from scanner.revocation.plan import get_policy
from scanner.revocation.writer import ReadBack, Writer

__all__ = ["Applier", "ReadBack", "current_state", "previous_state", "shows", "wanted_state"]

Status = RevocationStatus
MAX_REMERGES = 5
_READS = {"PutRolePolicy": ("GetRolePolicy", "RoleName"), "DeleteRolePolicy": ("GetRolePolicy", "RoleName"),
          "PutUserPolicy": ("GetUserPolicy", "UserName"), "DeleteUserPolicy": ("GetUserPolicy", "UserName")}


def current_state(change: Change, calls: AuditedCalls) -> Any:
    """What IAM shows now for the thing `change` writes (a document, a key status, attached or not)."""
    params = change.params
    if change.surface is Surface.PERMISSION_SET:
        return sso.current_document(change, calls)
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
    if change.surface is Surface.PERMISSION_SET:
        return sso.wanted_document(change)
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


class Applier(Writer):
    """Applies plans: each change written (intent, call, result) and read back until IAM shows it."""

    def apply(self, plan: Plan) -> None:
        """Make the planned calls in order and read each back; revoked only when all are shown."""
        if plan.status is not Status.PLANNED or not plan.changes:
            return
        if plan.surface is Surface.PERMISSION_SET:  # sso-admin, not IAM: write, provision, read back
            sso.apply_identity_center(plan, self)
            return
        created: Change | None = None  # a managed policy this plan created and has not attached yet
        for change in list(plan.changes):
            if self.call(plan, change) is None or not self._confirm(plan, change):
                if created is not None:
                    self._delete_created(plan, created)
                return
            if change.operation == "CreatePolicy":
                created = change
            elif change.operation == "AttachRolePolicy":
                created = None
        plan.status = Status.REVOKED
        plan.message = "takes effect within minutes; read back from IAM"

    def _delete_created(self, plan: Plan, created: Change) -> None:
        """A policy was created for an attachment that did not happen: delete it again (audited), never leave an
        orphan. The plan stays failed; its message says what is left."""
        arn = created.resource.split(":", 1)[1]
        failure = plan.message
        self.calls.audit.event("rollback", target=plan.label, policy_arn=arn, reason=failure)
        delete = Change("DeletePolicy", {"PolicyArn": arn}, created.resource)
        if self.call(plan, delete) is not None and self._confirm(plan, delete):
            plan.status, plan.message = Status.FAILED, f"{failure}; the policy {arn} created for it was deleted again"
            return
        plan.status = Status.FAILED
        plan.message = f"{failure}; the policy {arn} created for it could not be deleted again ({plan.message}): " \
                       f"delete it by hand (aws iam delete-policy --policy-arn {arn})"

    def _confirm(self, plan: Plan, change: Change) -> bool:
        rb = self.read_back
        deadline = rb.clock() + rb.seconds
        delay = rb.first_delay
        remerges = 0
        error: str | None = None
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
