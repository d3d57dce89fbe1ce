"""Never lock out the operator half-way: is the operator's own identity among a plan's victims?"""

from __future__ import annotations

import json
from dataclasses import dataclass

from scanner.aws_session import Operator
from scanner.revocation.model import Plan, TargetKind
from scanner.revocation.policy import is_older_sessions, session_user_id, statements
from scanner.verification.sts import parse_principal_arn


@dataclass(frozen=True)
class OperatorIdentity:
    """The operator's GetCallerIdentity (ARN, UserId, account) and the key id it signs with."""

    arn: str | None = None
    user_id: str | None = None
    account: str | None = None
    key_id: str | None = None

    @classmethod
    def of(cls, operator: Operator) -> OperatorIdentity:
        try:
            identity = operator.identity()
        except Exception:
            identity = {}
        return cls(identity.get("Arn"), identity.get("UserId"), identity.get("Account"), operator.access_key_id())


def _denied_user_ids(plan: Plan) -> set[str]:
    found: set[str] = set()
    for change in plan.changes:
        text = change.document_text
        if text:
            for statement in statements(json.loads(text)):
                user_id = session_user_id(statement)
                if user_id:
                    found.add(user_id)
    return found


def _temporary_session_of(identity: OperatorIdentity, user: str | None) -> bool:
    parsed = parse_principal_arn(identity.arn or "")
    return bool(parsed and parsed.principal_type == "iam-user" and parsed.name == user
                and (identity.key_id or "").startswith("ASIA"))


def lockout_reason(identity: OperatorIdentity, plan: Plan) -> str | None:
    """Why applying `plan` would cut off the operator's own credentials, or None."""
    target = plan.target
    parsed = parse_principal_arn(identity.arn or "")
    own_role = (target.kind is TargetKind.ROLE and parsed is not None and parsed.principal_type == "assumed-role"
                and parsed.name == target.name and parsed.account == (target.account or identity.account))
    if own_role and (plan.scope == "role" or identity.user_id in _denied_user_ids(plan)):
        return f"the operator's own session {identity.arn} is a session of this role"
    if target.kind is TargetKind.ACCESS_KEY and identity.key_id == target.name:
        return f"the operator signs with this very access key ({target.name})"
    if target.kind is TargetKind.FEDERATED_USER and identity.user_id in _denied_user_ids(plan):
        return f"the operator's own credentials are this federated session ({identity.arn})"
    users = {c.params.get("UserName") for c in plan.changes
             if c.operation == "PutUserPolicy" and any(is_older_sessions(s) for s in c.statements)}
    if any(_temporary_session_of(identity, user) for user in users):
        return f"the operator's own credentials are a temporary session of this user ({identity.arn})"
    return None
