"""Applying (and undoing) an Identity Center plan: write the permission set's inline policy, provision, read back.

Every mutating sso-admin call (PutInlinePolicyToPermissionSet, DeleteInlinePolicyFromPermissionSet,
ProvisionPermissionSet) goes through the Applier: an intent record (with the document it replaces)
before, a result record after. A revocation merges into what is there at the moment of writing and
re-merges when a concurrent writer replaced the document between our write and its read-back. An
undo writes the document undo.py derived from what the permission set holds now (or deletes the
inline policy when nothing is left), provisions again, and reads back.
"""

from __future__ import annotations

import json
import random
from typing import Any

from scanner.model import RevocationStatus
from scanner.revocation import identity_center as ic
from scanner.revocation.calls import AuditedCalls, CallFailed
from scanner.revocation.model import Change, Plan
from scanner.revocation.writer import Writer

Status = RevocationStatus
PUT = ic.OPERATION
DELETE = "sso-admin:DeleteInlinePolicyFromPermissionSet"
PROVISION = "sso-admin:ProvisionPermissionSet"


def _where(change: Change) -> dict[str, Any]:
    return {"InstanceArn": change.params["InstanceArn"], "PermissionSetArn": change.params["PermissionSetArn"]}


def current_document(change: Change, calls: AuditedCalls) -> Any:
    """The permission set's inline policy now (None: there is none)."""
    text = calls("sso-admin", "GetInlinePolicyForPermissionSet", **_where(change)).get("InlinePolicy")
    try:
        return ic._parse_inline(text)
    except ValueError:
        return text


def wanted_document(change: Change) -> Any:
    return json.loads(change.params["InlinePolicy"]) if change.operation == PUT else None


def apply_identity_center(plan: Plan, applier: Writer) -> None:
    """Write (merge for a revocation, exact for an undo), provision, wait, read back."""
    change = plan.changes[0]
    try:
        if isinstance(plan, ic.IdentityCenterPlan):
            failure = _write_merged(plan, applier, change)
        else:
            failure = None if applier.call(plan, change) is not None else ""
        if failure is None:
            failure = _provision(plan, applier, change)
        if failure is not None:
            if failure:
                plan.status, plan.message = Status.FAILED, failure
            return
        final = current_document(change, applier.calls)
    except CallFailed as exc:
        plan.status, plan.message = Status.FAILED, f"Identity Center call failed: {exc.failure.message}"
        return
    if isinstance(plan, ic.IdentityCenterPlan):
        confirmed = isinstance(final, dict | None) and ic._has_revocations(final, plan.user_ids, plan.cutoff or "")
    else:
        confirmed = final == (change.expect if change.expect is not None else wanted_document(change))
    plan.status = Status.REVOKED if confirmed else Status.FAILED
    plan.message = ("read back from IAM Identity Center and provisioned (takes effect within minutes); "
                    "console steps remain, see the plan" if confirmed
                    else "provisioned, but the permission set does not hold what was written when read back")


def _write_merged(plan: ic.IdentityCenterPlan, applier: Writer, change: Change) -> str | None:
    """Write the merge of what is there now; a failure message ("" when the Applier set it), or None."""
    audit = applier.calls.audit
    current = current_document(change, applier.calls)
    if not isinstance(current, dict | None):
        return "the inline policy read back is not JSON: not overwriting it"
    for attempt in range(ic.WRITE_ATTEMPTS):
        if current != plan.previous or attempt:
            audit.event("remerge", target=plan.label, attempt=attempt, document=current)
            document, _ = ic.merge_permission_set_policy(current, plan.user_ids, plan.cutoff or "", plan.run,
                                                           plan.marks)
            change.params["InlinePolicy"] = json.dumps(document)
        too_big = ic.oversize(change.params["InlinePolicy"], plan.permission_set_name, plan.user_ids)
        if too_big:  # a concurrent writer made it grow since planning
            return too_big
        written = json.loads(change.params["InlinePolicy"])
        dropped = [s for s in ic._statements(current) if s not in ic._statements(written)]
        if not all(isinstance(s, dict) and str(s.get("Sid", "")).startswith("StsleakSession") for s in dropped):
            return "internal: the merge would drop a statement it did not write; nothing written"
        this = Change(PUT, dict(change.params), change.resource,
                      None if current is None else {"PolicyDocument": current}, change.statements)
        if applier.call(plan, this) is None:
            return ""
        applier.read_back.sleep(random.uniform(0.05, 0.25))  # let a concurrent writer land before reading back
        current = current_document(change, applier.calls)
        if isinstance(current, dict | None) and ic._has_revocations(current, plan.user_ids, plan.cutoff or ""):
            return None
    return (f"the permission set's inline policy still lacks the deny after {ic.WRITE_ATTEMPTS} writes "
            f"(another writer keeps replacing it)")


def _provision(plan: Plan, applier: Writer, change: Change) -> str | None:
    """Provision and wait; a failure message ("" when the Applier set it), or None when it succeeded."""
    where = plan.provision if isinstance(plan, ic.IdentityCenterPlan) else ic.provision_of(change.resource)
    polling = plan.polling if isinstance(plan, ic.IdentityCenterPlan) else ic.Polling()
    provision = Change(PROVISION, {**_where(change), **where}, "provision:" + change.resource)
    response = applier.call(plan, provision)
    if response is None:
        return ""
    status = response["PermissionSetProvisioningStatus"]
    delay, waited = polling.first_delay, 0.0
    while status.get("Status") == "IN_PROGRESS":
        if waited >= polling.timeout:
            return (f"inline policy updated, but provisioning is still in progress after {waited:.0f} s (request "
                    f"{status.get('RequestId')}): check it in the IAM Identity Center console")
        applier.read_back.sleep(delay)
        waited += delay
        delay = min(delay * 2, polling.max_delay)
        status = applier.calls("sso-admin", "DescribePermissionSetProvisioningStatus",
                               InstanceArn=change.params["InstanceArn"],
                               ProvisionPermissionSetRequestId=status["RequestId"])["PermissionSetProvisioningStatus"]
    if status.get("Status") != "SUCCEEDED":
        return (f"inline policy updated, but provisioning {status.get('Status', 'failed').lower()}: "
                f"{status.get('FailureReason') or 'no reason given'}; provision the permission set again")
    return None
