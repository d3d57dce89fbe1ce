"""Near IAM's inline size limit: put the deny into a customer-managed policy attached to the role.

All inline policies of a role together may have 10,240 characters; a managed policy has 6,144 of
its own. One managed policy per role (`/stsleak/StsleakRevoke-<role>`), merged like the inline ones.
A role takes only so many managed policies: the account's quota (`iam:GetAccountSummary`,
`AttachedPoliciesPerRoleQuota`; 10 by default, raisable) is read, never assumed. A policy created
for an attachment that then fails is deleted again (apply.py), so no run leaves an orphan behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scanner.model import RevocationStatus
from scanner.revocation import policy as P
from scanner.revocation.calls import AuditedCalls, CallFailed
from scanner.revocation.model import Change, Plan
from scanner.revocation.policy import document

MANAGED_PATH = "/stsleak/"
MAX_VERSIONS = 5


@dataclass
class ManagedState:
    arn: str
    exists: bool = False
    attached: bool = False
    document: dict[str, Any] | None = None
    default_version: str | None = None
    versions: int = 0
    attached_count: int = 0  # managed policies attached to the role now (ours included)


def managed_arn(role: dict[str, Any]) -> str:
    partition, account = role["Arn"].split(":")[1], role["Arn"].split(":")[4]
    return f"arn:{partition}:iam::{account}:policy{MANAGED_PATH}{P.managed_policy_name(role['RoleName'])}"


def managed_state(calls: AuditedCalls, role: dict[str, Any]) -> ManagedState:
    """Our managed policy for the role: attached or not, and (when attached) its document."""
    state = ManagedState(managed_arn(role))
    attached = calls.paged("iam", "ListAttachedRolePolicies", "AttachedPolicies", RoleName=role["RoleName"])
    state.attached = any(p.get("PolicyArn") == state.arn for p in attached)
    state.attached_count = len(attached)
    if state.attached:
        _read_policy(calls, state)
    return state


def _read_policy(calls: AuditedCalls, state: ManagedState) -> None:
    try:
        found = calls("iam", "GetPolicy", PolicyArn=state.arn)["Policy"]
    except CallFailed as exc:
        if exc.failure.code == "NoSuchEntity":
            return
        raise
    state.exists, state.default_version = True, found.get("DefaultVersionId")
    version = calls("iam", "GetPolicyVersion", PolicyArn=state.arn, VersionId=state.default_version)
    state.document = document(version["PolicyVersion"]["Document"])
    state.versions = len(calls.paged("iam", "ListPolicyVersions", "Versions", PolicyArn=state.arn))


def attach_quota(calls: AuditedCalls) -> tuple[int | None, str | None]:
    """The account's quota of managed policies per role (iam:GetAccountSummary), or None and why not."""
    try:
        summary = calls("iam", "GetAccountSummary").get("SummaryMap") or {}
    except CallFailed as exc:
        return None, f"iam:GetAccountSummary: {exc.failure.message}"
    quota = summary.get("AttachedPoliciesPerRoleQuota")
    if isinstance(quota, int) and not isinstance(quota, bool):
        return quota, None
    return None, "iam:GetAccountSummary has no AttachedPoliciesPerRoleQuota"


def _quota_refusal(plan: Plan, role: dict[str, Any], state: ManagedState, inline_total: int,
                   calls: AuditedCalls) -> str | None:
    """Why the role cannot take one more managed policy (None: it can, or it is unknown and said so)."""
    quota, unknown = attach_quota(calls)
    if quota is None:
        plan.caveats.append(f"the account's quota of managed policies per role is unknown ({unknown}): should "
                            f"AttachRolePolicy fail, the policy created for it is deleted again")
        return None
    if state.attached_count < quota:
        plan.caveats.append(f"role {role['RoleName']} will have {state.attached_count + 1} of the account's "
                            f"{quota} managed policies per role (AttachedPoliciesPerRoleQuota)")
        return None
    narrower = "; or use --scope role (one statement instead of one per session)" if plan.scope != "role" else ""
    return (f"the role's inline policies would total {inline_total} characters (IAM allows {P.ROLE_INLINE_LIMIT}), "
            f"and role {role['RoleName']} already has {state.attached_count} managed policies attached, the "
            f"account's quota (iam:GetAccountSummary AttachedPoliciesPerRoleQuota) being {quota}: nothing written. "
            f"Detach a managed policy from it or raise the quota (Service Quotas: IAM, managed policies per role), "
            f"then run again{narrower}")


def plan_managed(plan: Plan, role: dict[str, Any], state: ManagedState, inline_total: int,
                 calls: AuditedCalls) -> None:
    """Replace the plan's inline PutRolePolicy changes by one managed policy (created or a new version)."""
    if not state.attached:
        _read_policy(calls, state)  # it may exist unattached (a run that failed half-way, or undone)
        refusal = _quota_refusal(plan, role, state, inline_total, calls)
        if refusal:
            plan.status, plan.changes, plan.message = RevocationStatus.FAILED, [], refusal
            return
    puts = [c for c in plan.changes if c.operation == "PutRolePolicy"]
    ours = [s for c in puts for s in c.statements]
    merged = P.merge(state.document, ours)
    size = P.policy_size(merged)
    if size > P.MANAGED_POLICY_LIMIT:
        plan.status, plan.changes = RevocationStatus.FAILED, []
        plan.message = (f"the role's inline policies would total {inline_total} characters (IAM allows "
                        f"{P.ROLE_INLINE_LIMIT}) and the managed fallback {size} (allows {P.MANAGED_POLICY_LIMIT}): "
                        f"remove statements, or use --scope role")
        return
    if state.exists and state.versions >= MAX_VERSIONS:
        plan.status, plan.changes = RevocationStatus.FAILED, []
        plan.message = f"{state.arn} has {MAX_VERSIONS} versions: delete an old one, then run again"
        return
    plan.changes = [c for c in plan.changes if c.operation != "PutRolePolicy"]
    text = P.policy_text(merged)
    name = P.managed_policy_name(role["RoleName"])
    if state.exists:
        plan.replaces.append(P.policy_text(state.document or {}))
        plan.changes.insert(0, Change("CreatePolicyVersion", {"PolicyArn": state.arn, "PolicyDocument": text,
                                                              "SetAsDefault": True},
                                      f"managed-policy:{state.arn}",
                                      {"DefaultVersionId": state.default_version, "PolicyDocument": state.document},
                                      ours))
    else:
        plan.changes.insert(0, Change("CreatePolicy", {"PolicyName": name, "Path": MANAGED_PATH, "PolicyDocument": text,
                                                       "Description": "stsleak: deny leaked sessions"},
                                      f"managed-policy:{state.arn}", None, ours))
    if not state.attached:
        plan.changes.insert(1, Change("AttachRolePolicy", {"RoleName": role["RoleName"], "PolicyArn": state.arn},
                                      f"attachment:{role['RoleName']}:{state.arn}", None))
    plan.policy_name = name
    plan.caveats.append(f"the role's inline policies would total {inline_total} characters, over IAM's "
                        f"{P.ROLE_INLINE_LIMIT}: the deny goes into the customer-managed policy {state.arn}")


def read_managed(calls: AuditedCalls, arn: str) -> dict[str, Any] | None:
    """The default version's document of a managed policy, None when it does not exist."""
    try:
        found = calls("iam", "GetPolicy", PolicyArn=arn)["Policy"]
        version = calls("iam", "GetPolicyVersion", PolicyArn=arn, VersionId=found["DefaultVersionId"])
    except CallFailed as exc:
        if exc.failure.code == "NoSuchEntity":
            return None
        raise
    return document(version["PolicyVersion"]["Document"])

