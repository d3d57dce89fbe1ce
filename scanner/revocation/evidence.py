"""Binding the rows of a report to evidence the operator can check in IAM (`revoke --from`).

A report is a file anyone can write. Its rows are only acted on when what they claim checks out
with the operator's own credentials: a role session's verified `user_id` starts with the role's
current RoleId; an AKIA key belongs (GetAccessKeyLastUsed) to the user the verified ARN names; an
IAM user's verified UserId is the user's; and the account encoded in each key id is the target's.
Rows without a fingerprint are refused before this (targets.py). This cannot prove that a key
leaked — only that the row describes real credentials of that principal — which is the boundary
docs/verify-and-revoke.md documents ("Trust boundary of --from").
"""

from __future__ import annotations

from typing import Any

from scanner.detection.account import account_id_from_key_id
from scanner.revocation.model import Target


def offline_account_mismatch(target: Target) -> str | None:
    for key_id in target.key_ids:
        account = account_id_from_key_id(key_id)
        if account and target.account and account != target.account:
            return (f"report row: key id {key_id} belongs to account {account}, but the row names account "
                    f"{target.account}: refused")
    return None


def role_evidence(target: Target, role: dict[str, Any]) -> str | None:
    mismatch = offline_account_mismatch(target)
    if mismatch:
        return mismatch
    if not target.user_ids:
        return "report rows without a verified user_id (ROLEID:SESSION) cannot be bound to the role: refused"
    for user_id in target.user_ids.values():
        if not user_id.startswith(role["RoleId"] + ":"):
            return (f"report row: user_id {user_id} is not a session of {role['Arn']} (RoleId {role['RoleId']}): "
                    f"refused")
    return None


def access_key_evidence(target: Target, owner: str | None) -> str | None:
    mismatch = offline_account_mismatch(target)
    if mismatch:
        return mismatch
    if not target.user_name:
        return f"report row: no IAM user named for access key {target.name}: refused"
    if owner != target.user_name:
        return (f"report row: IAM says access key {target.name} belongs to {owner or 'no user'}, the row says "
                f"{target.user_name}: refused")
    return None


def user_evidence(target: Target, user: dict[str, Any]) -> str | None:
    mismatch = offline_account_mismatch(target)
    if mismatch:
        return mismatch
    if user.get("UserId") not in target.principal_ids:
        return (f"report row: the verified user_id {', '.join(target.principal_ids) or '(none)'} is not "
                f"{user['Arn']}'s UserId: refused")
    return None


def federated_evidence(target: Target, account: str) -> str | None:
    """A report row's federated user: its verified UserId is ACCOUNT:NAME of the ARN it names (IAM has no record of
    federated users to check it against: the issuer's account is checked by the plan)."""
    mismatch = offline_account_mismatch(target)
    if mismatch:
        return mismatch
    wanted = f"{account}:{target.name}"
    if target.principal_ids != [wanted]:
        return (f"report row: the verified user_id {', '.join(target.principal_ids) or '(none)'} is not "
                f"{wanted}, the federated user the row names: refused")
    return None
