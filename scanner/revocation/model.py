"""The values of a revocation (a leaf: it imports nothing from revocation/).

A Target is what is acted on; a Change is one mutating call with the state it replaces; a Plan
is every change for one target, a value you can print before it is applied. `Surface` answers,
in this one place, which kind of thing a change writes: an IAM role, an IAM user, or an IAM
Identity Center permission set (sso-admin, not IAM).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from scanner.model import Finding, Revocation, RevocationStatus
from scanner.revocation.policy import policy_text

Status = RevocationStatus


class TargetKind(StrEnum):
    ROLE = "role"
    ACCESS_KEY = "access-key"
    USER = "user"
    FEDERATED_USER = "federated-user"  # a GetFederationToken session, cut on the IAM user that issued it


class Scope(StrEnum):
    """How wide a plan cuts: a role's sessions, only named sessions, only use off an EC2 instance's network, a key,
    a user's sessions, one federated-user session, or an undo."""

    ROLE = "role"
    SESSION = "session"
    OFF_INSTANCE = "off-instance"
    ACCESS_KEY = "access-key"
    USER = "user"
    FEDERATED_USER = "federated-user"
    UNDO = "undo"


ROLE_SCOPES = (Scope.ROLE, Scope.SESSION, Scope.OFF_INSTANCE)  # what --scope may ask of a role


class Surface(StrEnum):
    """What a change writes, and so which service's API it calls."""

    IAM_ROLE = "iam-role"  # the role's inline policies, and the managed policy stsleak attaches to it
    IAM_USER = "iam-user"  # the user's inline policies and access keys
    PERMISSION_SET = "permission-set"  # an IAM Identity Center permission set (sso-admin)

    @property
    def service(self) -> str:
        return "sso-admin" if self is Surface.PERMISSION_SET else "iam"


_ROLE_OPERATIONS = frozenset({
    "PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy", "CreatePolicy",
    "CreatePolicyVersion", "SetDefaultPolicyVersion", "DeletePolicyVersion", "DeletePolicy"})
_USER_OPERATIONS = frozenset({"PutUserPolicy", "DeleteUserPolicy", "UpdateAccessKey"})
SSO_PREFIX = "sso-admin:"


def surface_of(operation: str) -> Surface:
    """The surface an operation writes (IAM operations unqualified, sso-admin ones as `sso-admin:Name`)."""
    if operation.startswith(SSO_PREFIX):
        return Surface.PERMISSION_SET
    name = operation.removeprefix("iam:")
    if name in _ROLE_OPERATIONS:
        return Surface.IAM_ROLE
    if name in _USER_OPERATIONS:
        return Surface.IAM_USER
    raise ValueError(f"not a revocation write: {operation}")


def qualified(operation: str) -> str:
    """`iam:Operation` for IAM's operations; others (e.g. `sso-admin:…`) already name their service."""
    return operation if ":" in operation else f"iam:{operation}"


@dataclass
class Target:
    kind: TargetKind
    name: str  # role name, key id or user name
    account: str | None = None
    path: str | None = None  # role path, when an ARN told us
    user_name: str | None = None  # access-key: the owning user, when the verified ARN told us
    arn: str | None = None  # the role's full ARN, when known before any call
    partition: str | None = None
    sessions: list[str] = field(default_factory=list)
    user_ids: dict[str, str] = field(default_factory=dict)  # session -> verified aws:userid (ROLEID:SESSION)
    principal_ids: list[str] = field(default_factory=list)  # verified UserIds (AIDA… for IAM users)
    findings: list[Finding] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)
    refusal: str | None = None
    from_report: bool = False  # rows of a report: each must be bound to evidence checked in IAM
    explicit: bool = False  # named by the user (--role, --federated-user)
    issuer: str | None = None  # federated-user: the IAM user that called GetFederationToken
    issuer_source: str | None = None  # how the issuer is known: named by the operator, or the CloudTrail event

    @property
    def key_ids(self) -> list[str]:
        return list(dict.fromkeys(f.access_key_id for f in self.findings))


@dataclass
class Change:
    """One mutating call, the state it replaces (None: there was nothing) and our statements."""

    operation: str
    params: dict[str, Any]
    resource: str  # what it changes, e.g. role-policy:etl:AWSRevokeOlderSessions
    previous: dict[str, Any] | None = None
    statements: list[dict[str, Any]] = field(default_factory=list)
    expect: Any = None  # the state it leaves, when not derivable from operation and params (undo)

    @property
    def surface(self) -> Surface:
        return surface_of(self.operation)

    @property
    def document_text(self) -> str | None:
        """The policy document this change writes, as sent (IAM: PolicyDocument; sso-admin: InlinePolicy)."""
        return self.params.get("PolicyDocument") or self.params.get("InlinePolicy")

    def summary(self) -> str:
        name = self.params.get("PolicyName") or self.params.get("PolicyArn") or self.params.get("AccessKeyId") \
            or self.params.get("PermissionSetArn")
        return f"{qualified(self.operation)} {name or ''}".rstrip()


@dataclass
class Plan:
    target: Target
    scope: str
    label: str
    status: RevocationStatus = Status.PLANNED
    message: str | None = None
    cutoff: str | None = None
    policy_name: str | None = None
    trusted_principals: list[str] | None = None  # Allow principals of the trust policy, with their conditions
    denied_principals: list[str] | None = None  # Deny principals of the trust policy: never trusted
    instance_profiles: list[str] | None = None
    breaks: list[str] = field(default_factory=list)  # the workloads (and caches) whose credentials the plan cuts
    not_cut: list[str] = field(default_factory=list)  # what the deny cannot reach (GetCallerIdentity sign-ins, …)
    caveats: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    replaces: list[str] = field(default_factory=list)  # the documents a change replaces, shown in the plan
    operator_target: bool = False  # the operator's own credentials belong to it: applied last
    audit_errors: list[str] = field(default_factory=list)
    reenables: list[str] = field(default_factory=list)  # undo: what each step lets work again

    @property
    def operation(self) -> str | None:
        return self.changes[0].operation if self.changes else None

    @property
    def params(self) -> dict[str, Any]:
        return self.changes[0].params if self.changes else {}

    @property
    def surface(self) -> Surface | None:
        """The surface of the plan's first change (a plan writes one surface), None when it writes nothing."""
        return self.changes[0].surface if self.changes else None

    def put_inline_policy(self, kind: str, owner: str, name: str, existing: dict[str, Any] | None,
                          merged: dict[str, Any], ours: list[dict[str, Any]]) -> None:
        """Add the change that puts `merged` as inline policy `name` of role or user (`kind`) `owner`; the
        document it replaces (if any) is shown in the plan and kept for undo."""
        operation, owner_param = {"role": ("PutRolePolicy", "RoleName"), "user": ("PutUserPolicy", "UserName")}[kind]
        if existing is not None:
            self.replaces.append(policy_text(existing))
        self.changes.append(Change(operation, {owner_param: owner, "PolicyName": name,
                                               "PolicyDocument": policy_text(merged)},
                                   f"{kind}-policy:{owner}:{name}",
                                   None if existing is None else {"PolicyDocument": existing}, ours))

    def revocation(self) -> Revocation:
        return Revocation(self.status, self.scope, self.label, self.policy_name, self.cutoff, self.message,
                          self.trusted_principals, self.instance_profiles, list(self.breaks) or None,
                          list(self.not_cut) or None, self.denied_principals)

    def shape(self) -> str:
        """Everything the user approved except the cutoff (a re-plan that changes more is shown again)."""
        text = json.dumps([self.status, self.label, [(c.operation, c.params) for c in self.changes]],
                          sort_keys=True, default=str)
        return text.replace(self.cutoff, "CUTOFF") if self.cutoff else text


@dataclass
class PlanSettings:
    scope: str
    cutoff: str
    refresh: bool = False
    include_operator: bool = False
    run_id: str | None = None  # stamped into our statements' Sids (undo removes only its own run's)
    regions: tuple[str, ...] = ()  # where the workloads of a role are looked for (default: the operator's region)
