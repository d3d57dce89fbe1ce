"""Revocation: live findings -> targets -> a plan (a value you can print) -> apply -> read back.

Only the operator's credentials are used here (normal boto3 chain, `--profile`), never leaked ones.
Every call and its result goes to the audit log. "revoked" is reported only after the change has
been read back from IAM. One target failing never stops the others.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scanner.aws_session import AwsFailure, Operator, failure_from
from scanner.model import Finding, Revocation
from scanner.revocation.audit import AuditLog
from scanner.revocation.policy import (
    ROLE_INLINE_LIMIT,
    ROLE_POLICY_NAME,
    SESSION_POLICY_NAME,
    USER_POLICY_NAME,
    merge_session_policy,
    policy_size,
    revoke_older_sessions,
)

SERVICE_LINKED_ADVICE = ("service-linked role: IAM does not let anyone change it; stop the leak at the service that "
                         "owns it, or deny its actions with an SCP")
IDENTITY_CENTER_ADVICE = ("IAM Identity Center role: its sessions are revoked in IAM Identity Center (remove the "
                          "user's access and revoke their active sessions) or denied with an SCP")


@dataclass
class Target:
    """What one revocation acts on: a role, a long-term access key, or an IAM user's temporary sessions."""

    kind: str  # role | access-key | user | refused
    name: str  # role name, key id or user name
    account: str | None = None
    path: str | None = None
    user_name: str | None = None  # access-key: the owning user, when the ARN told us
    arn: str | None = None  # the role's full ARN, when known before any call
    sessions: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    refusal: str | None = None


@dataclass
class Plan:
    target: Target
    scope: str
    label: str
    status: str = "planned"  # planned | revoked | refused | failed
    message: str | None = None
    cutoff: str | None = None
    operation: str | None = None  # e.g. PutRolePolicy
    params: dict[str, Any] = field(default_factory=dict)
    policy_name: str | None = None
    trusted_principals: list[str] | None = None
    instance_profiles: list[str] | None = None
    caveats: list[str] = field(default_factory=list)

    def revocation(self) -> Revocation:
        return Revocation(self.status, self.scope, self.label, self.policy_name, self.cutoff, self.message,
                          self.trusted_principals, self.instance_profiles)


class CallFailed(Exception):
    def __init__(self, failure: AwsFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class AuditedCalls:
    """Operator API calls, each written to the audit log with its result."""

    def __init__(self, operator: Operator, audit: AuditLog) -> None:
        self.operator = operator
        self.audit = audit

    def __call__(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        from botocore import xform_name

        name = f"{service}:{operation}"
        try:
            response = getattr(self.operator.client(service), xform_name(operation))(**params)
        except Exception as exc:
            failure = failure_from(exc)
            self.audit.call(name, params, ok=False, error_code=failure.code, message=failure.message)
            raise CallFailed(failure) from None
        self.audit.call(name, params, ok=True)
        return response


def unmodifiable_reason(role_name: str, path: str | None = None) -> str | None:
    """Roles IAM refuses to change, recognised before any call."""
    if role_name.startswith("AWSServiceRoleFor") or "/aws-service-role/" in (path or ""):
        return SERVICE_LINKED_ADVICE
    if role_name.startswith("AWSReservedSSO_") or "/aws-reserved/sso.amazonaws.com/" in (path or ""):
        return IDENTITY_CENTER_ADVICE
    return None


def role_target(role: str, sessions: list[str] | None = None) -> Target:
    """A target from `--role ARN|NAME` (ARN: arn:PARTITION:iam::ACCOUNT:role/PATH/NAME)."""
    if role.startswith("arn:"):
        parts = role.split(":", 5)
        resource = parts[5] if len(parts) == 6 else ""
        if not resource.startswith("role/"):
            return Target("refused", role, refusal=f"not a role ARN: {role}")
        path, _, name = resource[len("role"):].rpartition("/")
        return Target("role", name, account=parts[4] or None, path=path + "/", sessions=list(sessions or []),
                      arn=role)
    return Target("role", role, sessions=list(sessions or []))


def _target_key(finding: Finding) -> tuple[str, str | None, str, str | None]:
    v = finding.verification
    assert v is not None
    user = (v.arn or "").rsplit("/", 1)[-1] if v.principal_type == "iam-user" else None
    if v.principal_type == "assumed-role" and v.role_name:
        return ("role", v.account, v.role_name, None)
    if v.principal_type == "iam-user" and finding.access_key_id.startswith("AKIA"):
        return ("access-key", v.account, finding.access_key_id, user)
    if v.principal_type == "iam-user" and user:
        return ("user", v.account, user, None)
    if v.principal_type == "federated-user":
        return ("refused", v.account, v.arn or finding.access_key_id,
                "federated-user session (GetFederationToken): deny it with an inline policy on the IAM user "
                "that called GetFederationToken (not named in the ARN), or deactivate that user's keys")
    if v.principal_type == "root":
        return ("refused", v.account, v.arn or finding.access_key_id,
                "root user credentials: delete the root access key in the console (Security credentials) "
                "and rotate the root password")
    return ("refused", v.account, v.arn or finding.access_key_id, "unknown principal type: nothing to revoke")


def targets_from_findings(findings: list[Finding]) -> list[Target]:
    """One target per role / key / user among the live findings, carrying all their findings."""
    targets: dict[tuple[str, str | None, str], Target] = {}
    for finding in findings:
        v = finding.verification
        if not v or v.status != "live":
            continue
        kind, account, name, extra = _target_key(finding)
        target = targets.setdefault((kind, account, name), Target(kind, name, account=account))
        if kind == "access-key":
            target.user_name = extra
        if kind == "refused":
            target.refusal = extra
        if v.session_name and v.session_name not in target.sessions:
            target.sessions.append(v.session_name)
        if v.role_arn:
            target.arn = v.role_arn
            target.path = v.role_arn.split(":", 5)[-1][len("role"):].rpartition("/")[0] + "/"
        target.findings.append(finding)
    return list(targets.values())


def explain(failure: AwsFailure, operation: str, subject: str, operator_account: str | None) -> str:
    """One actionable line per IAM failure."""
    if failure.code == "NoSuchEntity":
        return f"{subject} does not exist in the operator's account {operator_account}"
    if failure.is_access_denied:
        return f"the operator may not call iam:{operation} on {subject} ({failure.message})"
    if failure.code == "UnmodifiableEntity":
        return f"{subject} cannot be modified: {SERVICE_LINKED_ADVICE}; or, for AWSReservedSSO_ roles, " \
               f"{IDENTITY_CENTER_ADVICE}"
    if failure.code == "LimitExceeded":
        return (f"{subject}: the inline policies would exceed IAM's size limit; remove statements from "
                f"{SESSION_POLICY_NAME} or use --scope role ({failure.message})")
    if failure.is_network:
        return f"cannot reach IAM for {subject}: {failure.message}"
    return f"iam:{operation} on {subject} failed: {failure.message}"


def _document(value: Any) -> dict[str, Any]:
    """IAM policy documents arrive as dicts (boto3 decodes them) or URL-encoded JSON."""
    if isinstance(value, dict):
        return value
    return json.loads(urllib.parse.unquote(value or "{}"))


def trust_principals(document: dict[str, Any]) -> list[str]:
    found: list[str] = []
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal", {})
        if principal == "*":
            found.append("*")
            continue
        for kind, values in principal.items():
            for value in values if isinstance(values, list) else [values]:
                found.append(f"{kind}:{value}")
    return sorted(dict.fromkeys(found))


def _plan_role(target: Target, scope: str, cutoff: str, calls: AuditedCalls, account: str | None) -> Plan:
    plan = Plan(target, scope, target.name, cutoff=cutoff, operation="PutRolePolicy")
    role = calls("iam", "GetRole", RoleName=target.name)["Role"]
    plan.label = role["Arn"]
    refusal = unmodifiable_reason(role["RoleName"], role.get("Path"))
    if refusal:
        plan.status, plan.message = "refused", refusal
        return plan
    plan.trusted_principals = trust_principals(_document(role.get("AssumeRolePolicyDocument")))
    try:
        profiles = calls("iam", "ListInstanceProfilesForRole", RoleName=target.name)["InstanceProfiles"]
        plan.instance_profiles = [p["InstanceProfileName"] for p in profiles]
    except CallFailed as exc:
        plan.caveats.append(f"instance profiles unknown: {exc.failure.message}")
    if plan.instance_profiles:
        plan.caveats.append("EC2 instances using these instance profiles keep cached credentials: "
                            "stop/start them (or refresh their credentials) after the cutoff")
    if scope == "role":
        plan.policy_name, document = ROLE_POLICY_NAME, revoke_older_sessions(cutoff)
        plan.caveats.append("every session of this role issued before the cutoff is denied; sessions issued "
                            "after it keep working")
    else:
        if not target.sessions:
            plan.status = "failed"
            plan.message = "--scope session needs the session name (--session NAME, or a verified finding)"
            return plan
        plan.policy_name = SESSION_POLICY_NAME
        existing = _get_policy(calls, "GetRolePolicy", RoleName=target.name, PolicyName=SESSION_POLICY_NAME)
        user_ids = [f"{role['RoleId']}:{session}" for session in target.sessions]
        document, pruned = merge_session_policy(existing, user_ids, cutoff, role.get("MaxSessionDuration", 3600))
        names = ", ".join(repr(s) for s in target.sessions)
        plan.caveats.append(f"every session named {names} of this role issued before the cutoff is cut, not "
                            f"only the leaked one; other sessions keep working")
        if pruned:
            plan.caveats.append(f"pruned {len(pruned)} expired statement(s) (older than MaxSessionDuration)")
    plan.params = {"RoleName": target.name, "PolicyName": plan.policy_name, "PolicyDocument": json.dumps(document)}
    total = policy_size(document) + _other_inline_size(calls, target.name, plan.policy_name)
    if total > ROLE_INLINE_LIMIT:
        plan.status = "failed"
        plan.message = (f"the role's inline policies would total {total} characters, over IAM's "
                        f"{ROLE_INLINE_LIMIT} limit: remove an inline policy or use --scope role")
    return plan


def _get_policy(calls: AuditedCalls, operation: str, **params: str) -> dict[str, Any] | None:
    try:
        return _document(calls("iam", operation, **params)["PolicyDocument"])
    except CallFailed as exc:
        if exc.failure.code == "NoSuchEntity":
            return None
        raise


def _other_inline_size(calls: AuditedCalls, role_name: str, replaced: str) -> int:
    names = calls("iam", "ListRolePolicies", RoleName=role_name)["PolicyNames"]
    documents = [_get_policy(calls, "GetRolePolicy", RoleName=role_name, PolicyName=n) for n in names if n != replaced]
    return sum(policy_size(d) for d in documents if d)


def _plan_access_key(target: Target, cutoff: str, calls: AuditedCalls) -> Plan:
    plan = Plan(target, "access-key", target.name, cutoff=cutoff, operation="UpdateAccessKey")
    user = target.user_name or calls("iam", "GetAccessKeyLastUsed", AccessKeyId=target.name)["UserName"]
    keys = calls("iam", "ListAccessKeys", UserName=user)["AccessKeyMetadata"]
    match = [k for k in keys if k["AccessKeyId"] == target.name]
    if not match:
        plan.status, plan.message = "failed", f"access key {target.name} is not a key of user {user}"
        return plan
    plan.label = f"{target.name} (user {user})"
    plan.params = {"UserName": user, "AccessKeyId": target.name, "Status": "Inactive"}
    plan.caveats.append("the secret is public now: delete the key once nothing legitimate depends on it")
    return plan


def _plan_user(target: Target, cutoff: str, calls: AuditedCalls) -> Plan:
    plan = Plan(target, "user", target.name, cutoff=cutoff, operation="PutUserPolicy", policy_name=USER_POLICY_NAME)
    plan.label = calls("iam", "GetUser", UserName=target.name)["User"]["Arn"]
    plan.params = {"UserName": target.name, "PolicyName": USER_POLICY_NAME,
                   "PolicyDocument": json.dumps(revoke_older_sessions(cutoff))}
    plan.caveats.append("temporary credentials of this IAM user issued before the cutoff are denied; the user's "
                        "long-term keys keep working (their requests carry no token issue time)")
    return plan


def plan_target(target: Target, scope: str, cutoff: str, calls: AuditedCalls, operator_account: str | None) -> Plan:
    """The plan for one target; refusals and failures are plans too (status refused/failed)."""
    if target.kind == "role":
        refusal = unmodifiable_reason(target.name, target.path)
        if refusal:
            return Plan(target, scope, target.arn or target.name, status="refused", message=refusal)
    if target.kind == "refused":
        return Plan(target, scope, target.name, status="refused", message=target.refusal)
    if target.account and operator_account and target.account != operator_account:
        return Plan(target, scope, target.name, status="failed",
                    message=f"{target.name} is in account {target.account} but the operator's credentials are for "
                            f"{operator_account}: run again with --profile for {target.account}")
    operation = {"role": "GetRole", "access-key": "ListAccessKeys", "user": "GetUser"}[target.kind]
    try:
        if target.kind == "role":
            return _plan_role(target, scope, cutoff, calls, operator_account)
        if target.kind == "access-key":
            return _plan_access_key(target, cutoff, calls)
        return _plan_user(target, cutoff, calls)
    except CallFailed as exc:
        scope_used = scope if target.kind == "role" else target.kind
        return Plan(target, scope_used, target.name, status="failed", cutoff=cutoff,
                    message=explain(exc.failure, operation, target.name, operator_account))


def _read_back(plan: Plan, calls: AuditedCalls) -> bool:
    params = plan.params
    if plan.operation == "UpdateAccessKey":
        keys = calls("iam", "ListAccessKeys", UserName=params["UserName"])["AccessKeyMetadata"]
        return any(k["AccessKeyId"] == params["AccessKeyId"] and k["Status"] == "Inactive" for k in keys)
    read = {"PutRolePolicy": ("GetRolePolicy", "RoleName"), "PutUserPolicy": ("GetUserPolicy", "UserName")}
    operation, owner = read[plan.operation or ""]
    found = _get_policy(calls, operation, **{owner: params[owner], "PolicyName": params["PolicyName"]})
    return found == json.loads(params["PolicyDocument"])


def apply_plan(plan: Plan, calls: AuditedCalls, operator_account: str | None) -> None:
    """Make the planned call, then read it back; status becomes revoked only when the change is there."""
    if plan.status != "planned" or not plan.operation:
        return
    try:
        calls("iam", plan.operation, **plan.params)
    except CallFailed as exc:
        plan.status = "refused" if exc.failure.code == "UnmodifiableEntity" else "failed"
        plan.message = explain(exc.failure, plan.operation, plan.label, operator_account)
        return
    try:
        confirmed = _read_back(plan, calls)
    except CallFailed as exc:
        plan.status = "failed"
        plan.message = f"applied, but reading it back failed: {exc.failure.message}"
        return
    plan.status = "revoked" if confirmed else "failed"
    plan.message = "read back from IAM" if confirmed else "applied, but IAM does not show the change when read back"


def _fresh_plans(targets: list[Target], scope: str, calls: AuditedCalls, account: str | None) -> list[Plan]:
    from datetime import UTC, datetime

    from scanner.revocation.policy import iso_z

    cutoff = iso_z(datetime.now(UTC))
    plans = [plan_target(t, scope, cutoff, calls, account) for t in targets]
    for plan in plans:
        calls.audit.event("plan", target=plan.label, scope=plan.scope, status=plan.status, cutoff=plan.cutoff,
                          operation=plan.operation, params=plan.params, message=plan.message)
    return plans


def operator_account(calls: AuditedCalls) -> str:
    """The operator's account; one clear StsleakError when there are no usable operator credentials."""
    from scanner.errors import StsleakError

    if not calls.operator.has_credentials():
        raise StsleakError("revoke needs the operator's own AWS credentials and found none (environment, "
                           "--profile, SSO); verification works without them, revocation does not")
    try:
        return calls("sts", "GetCallerIdentity")["Account"]
    except CallFailed as exc:
        raise StsleakError(f"the operator's AWS credentials do not work: {exc.failure.message}") from None


def run_revocation(targets: list[Target], scope: str, operator: Operator, audit: AuditLog, *,
                   show: Callable[[list[Plan]], None], confirm: Callable[[list[Plan]], bool],
                   replan: bool = False) -> list[Plan]:
    """Plan every target, show the plan, and apply it when `confirm(plans)` says so.

    With `replan` (the answer came from a prompt, which may take a while) the plan is made again
    before applying, so the cutoff is the time of applying, not of asking.
    """
    calls = AuditedCalls(operator, audit)
    account = operator_account(calls)
    plans = _fresh_plans(targets, scope, calls, account)
    show(plans)
    apply = confirm(plans)
    if apply and replan:
        plans = _fresh_plans(targets, scope, calls, account)
    if apply:
        for plan in plans:
            apply_plan(plan, calls, account)
            audit.event("outcome", target=plan.label, scope=plan.scope, status=plan.status, message=plan.message)
    for plan in plans:
        for finding in plan.target.findings:
            finding.revocation = plan.revocation()
    return plans
