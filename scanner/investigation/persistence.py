"""Persistence: IAM things the leaked credentials created or changed, confirmed with IAM reads.

From the key's own (successful) CloudTrail events: users, access keys, login profiles, roles,
policies and policy versions, trust-policy changes, permissions granted. Each is then read back
with the operator's credentials (does it still exist?) and listed with the command that removes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scanner.aws_session import Operator, failure_from
from scanner.investigation.model import MAX_DISTINCT, PersistenceItem

# eventName -> (kind, name built from requestParameters/responseElements, removal command template)
Describe = Callable[[dict[str, Any], dict[str, Any]], tuple[str, str]]


def _p(request: dict[str, Any], *names: str) -> str:
    return next((str(request[n]) for n in names if request.get(n)), "?")


def _describe(event: str, request: dict[str, Any], response: dict[str, Any]) -> tuple[str, str, str] | None:
    user, role = _p(request, "userName"), _p(request, "roleName")
    policy = _p(request, "policyArn")
    if event == "CreateUser":
        return "user", user, (f"aws iam delete-user --user-name {user}  (first remove its access keys, login profile, "
                              "policies and group memberships)")
    if event == "CreateAccessKey":
        key = (response.get("accessKey") or {}).get("accessKeyId", "?")
        remove = f"aws iam delete-access-key --user-name {user} --access-key-id {key}"
        return "access-key", f"{key} (user {user})", remove
    if event in ("CreateLoginProfile", "UpdateLoginProfile"):
        return "login-profile", user, f"aws iam delete-login-profile --user-name {user}"
    if event == "CreateRole":
        return "role", role, (f"aws iam delete-role --role-name {role}  (first detach/delete its policies and remove "
                              "it from instance profiles)")
    if event == "UpdateAssumeRolePolicy":
        return "trust-policy", role, (f"restore the trust policy of {role}: aws iam update-assume-role-policy "
                                      f"--role-name {role} --policy-document file://trusted-before.json")
    if event == "CreatePolicy":
        arn = (response.get("policy") or {}).get("arn") or _p(request, "policyName")
        return "policy", arn, f"aws iam delete-policy --policy-arn {arn}  (detach it everywhere first)"
    if event in ("CreatePolicyVersion", "SetDefaultPolicyVersion"):
        return "policy-version", policy, (f"aws iam set-default-policy-version --policy-arn {policy} --version-id "
                                          "<the version before>, then aws iam delete-policy-version")
    grants = {"AttachUserPolicy": ("user", "detach-user-policy --user-name", user, "--policy-arn", policy),
              "AttachRolePolicy": ("role", "detach-role-policy --role-name", role, "--policy-arn", policy),
              "AttachGroupPolicy": ("group", "detach-group-policy --group-name", _p(request, "groupName"),
                                    "--policy-arn", policy),
              "PutUserPolicy": ("user", "delete-user-policy --user-name", user, "--policy-name",
                                _p(request, "policyName")),
              "PutRolePolicy": ("role", "delete-role-policy --role-name", role, "--policy-name",
                                _p(request, "policyName")),
              "AddUserToGroup": ("user", "remove-user-from-group --user-name", user, "--group-name",
                                 _p(request, "groupName"))}
    if event in grants:
        owner, command, who, flag, what = grants[event]
        return "permission", f"{what} on {owner} {who}", f"aws iam {command} {who} {flag} {what}"
    return None


class PersistenceCollector:
    """An on-event callback: keeps (bounded) the IAM changes each key made."""

    def __init__(self) -> None:
        self.items: list[PersistenceItem] = []
        self.dropped = 0

    def __call__(self, record: dict[str, Any], activity: Any) -> None:
        request = record.get("requestParameters") if isinstance(record.get("requestParameters"), dict) else {}
        response = record.get("responseElements") if isinstance(record.get("responseElements"), dict) else {}
        described = _describe(str(record.get("eventName")), request or {}, response or {})
        if described is None:
            return
        if len(self.items) >= MAX_DISTINCT:
            self.dropped += 1
            return
        kind, name, remove = described
        item = PersistenceItem(kind, name, str(record["eventName"]), str(record.get("eventTime") or ""),
                               activity.access_key_id, remove=remove)
        item.detail = _detail(record["eventName"], request or {}, response or {})
        self.items.append(item)


def _detail(event: str, request: dict[str, Any], response: dict[str, Any]) -> str:
    if event == "CreateAccessKey":
        return "a long-term access key for " + str(request.get("userName") or "the caller")
    if event == "UpdateAssumeRolePolicy":
        return "trust policy replaced"
    if event == "CreatePolicyVersion":
        return "new policy version" + (" set as default" if str(request.get("setAsDefault")).lower() == "true" else "")
    return ""


def _user_key(iam: Any, item: PersistenceItem) -> bool:
    key, _, rest = item.name.partition(" (user ")
    keys = iam.list_access_keys(UserName=rest.rstrip(")"))["AccessKeyMetadata"]
    match = [k for k in keys if k["AccessKeyId"] == key]
    if match:
        item.detail = f"{item.detail}; status {match[0]['Status']}".lstrip("; ")
    return bool(match)


def _role_trust(iam: Any, item: PersistenceItem) -> bool:
    import json
    import urllib.parse

    document = iam.get_role(RoleName=item.name)["Role"].get("AssumeRolePolicyDocument")
    if not isinstance(document, dict):
        document = json.loads(urllib.parse.unquote(document or "{}"))
    item.detail = f"trust policy now: {json.dumps(document, sort_keys=True)[:400]}"
    return True


def _exists(iam: Any, item: PersistenceItem) -> bool | None:
    """Read the thing back; False when IAM says NoSuchEntity."""
    readers: dict[str, Callable[[], Any]] = {
        "user": lambda: iam.get_user(UserName=item.name),
        "access-key": lambda: _user_key(iam, item),
        "login-profile": lambda: iam.get_login_profile(UserName=item.name),
        "role": lambda: iam.get_role(RoleName=item.name),
        "trust-policy": lambda: _role_trust(iam, item),
        "policy": lambda: iam.get_policy(PolicyArn=item.name),
        "policy-version": lambda: iam.get_policy(PolicyArn=item.name),
    }
    reader = readers.get(item.kind)
    if reader is None:
        return None
    try:
        answer = reader()
    except Exception as exc:
        failure = failure_from(exc)
        if failure.code == "NoSuchEntity":
            return False
        item.detail = f"{item.detail}; not confirmed: {failure.message}".lstrip("; ")
        return None
    return answer if isinstance(answer, bool) else True


def confirm(items: list[PersistenceItem], operator: Operator) -> None:
    """Set `exists` on each item from an IAM read with the operator's credentials."""
    iam = operator.client("iam")
    for item in items:
        item.exists = _exists(iam, item)
