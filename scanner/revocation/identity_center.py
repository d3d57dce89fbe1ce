"""IAM Identity Center sessions: `AWSReservedSSO_<PermissionSet>_<hex>` roles cannot be changed in IAM.

Their sessions are cut in the permission set the role was provisioned from: a deny for the leaked
session (`aws:userid` = ROLEID:SESSION, the session name being the Identity Center user name, and
`aws:TokenIssueTime` before the cutoff) is merged into the permission set's one inline policy,
keeping every statement already there, then the permission set is provisioned again and the result
read back. The operator's credentials must reach the Identity Center instance (its account: the
organisation's management account or the delegated administrator). What only the console can do
is printed as steps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from scanner.model import RevocationStatus
from scanner.revocation.calls import AuditedCalls, CallFailed
from scanner.revocation.evidence import role_evidence
from scanner.revocation.model import Change, Plan, Target
from scanner.revocation.policy import (
    VERSION,
    combine,
    covering_cutoff,
    iso_z,
    leak_mark,
    parse_iso_z,
    policy_size,
    session_statement,
    stamp_of,
    statement_id,
)
from scanner.revocation.targets import IDENTITY_CENTER_ADVICE, is_identity_center_role
from scanner.revocation.workloads import caller_identity_survives

Status = RevocationStatus

ROLE_PREFIX = "AWSReservedSSO_"
ROLE_PATH = "/aws-reserved/sso.amazonaws.com/"
OPERATION = "sso-admin:PutInlinePolicyToPermissionSet"
INLINE_POLICY_LIMIT = 10_240  # characters of a permission set's inline policy, whitespace not counted
LONGEST_SESSION = timedelta(seconds=43_200)  # a permission set session lasts at most 12 hours
WRITE_ATTEMPTS = 3

Policy = dict[str, Any]


@dataclass
class Polling:
    """How long to wait for ProvisionPermissionSet (asynchronous on AWS)."""

    first_delay: float = 1.0
    max_delay: float = 10.0
    timeout: float = 300.0


@dataclass
class IdentityCenterPlan(Plan):
    instance_arn: str = ""
    permission_set_arn: str = ""
    permission_set_name: str = ""
    user_ids: list[str] = field(default_factory=list)
    previous: Policy | None = None
    provision: dict[str, str] = field(default_factory=dict)
    polling: Polling = field(default_factory=Polling)
    run: str | None = None  # stamped into our statements (policy.Stamp)
    marks: dict[str, list[str]] = field(default_factory=dict)  # user id -> its leaked keys' marks


__all__ = ["is_identity_center_role"]


def permission_set_name(role_name: str) -> str | None:
    """`AWSReservedSSO_<PermissionSet>_<16 hex>` -> `<PermissionSet>` (which may itself hold `_`)."""
    if not role_name.startswith(ROLE_PREFIX):
        return None
    name, _, suffix = role_name[len(ROLE_PREFIX):].rpartition("_")
    if not name or len(suffix) != 16 or any(c not in "0123456789abcdef" for c in suffix):
        return None
    return name


def console_steps(users: list[str]) -> list[str]:
    """What AWS documents for an Identity Center user and only the console can do."""
    who = ", ".join(repr(u) for u in users) or "the user"
    return [f"in the IAM Identity Center console, Users -> {who} -> Active sessions: delete the user's active "
            f"sessions (ends the AWS access portal session, so no new role credentials are handed out)",
            f"disable user access for {who} (Users -> user -> Disable user access) until the incident is closed; "
            f"if the identity source is external (IdP, Active Directory), disable the user there too",
            "remove the user's deny statement from the permission set's inline policy only after the leak is "
            "understood (it denies nothing issued after the cutoff)"]


def _statements(document: Policy | None) -> list[dict[str, Any]]:
    statements = (document or {}).get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]


def _cutoff_of(statement: dict[str, Any]) -> datetime | None:
    value = statement.get("Condition", {}).get("DateLessThan", {}).get("aws:TokenIssueTime")
    return parse_iso_z(value) if isinstance(value, str) else None


def merge_permission_set_policy(existing: Policy | None, user_ids: list[str], cutoff: str, run: str | None = None,
                                marks: dict[str, list[str]] | None = None) -> tuple[Policy, list[str]]:
    """The inline policy with a deny per user id merged in; returns it and the pruned statement ids.

    Every statement already there is kept, except this tool's own statements that can no longer
    match a live session (cutoff more than 12 hours ago). A statement of ours for the same user id
    keeps the later of its cutoff and the new one (a revocation never moves backwards) and its marks.
    The new statements are stamped with `run` and each user id's leaked-key `marks` (policy.Stamp).
    """
    now = parse_iso_z(cutoff) or datetime.now(UTC)
    fresh = {statement_id(uid): session_statement(uid, cutoff, run, (marks or {}).get(uid, ()))
             for uid in dict.fromkeys(user_ids)}
    same: dict[str, list[dict[str, Any]]] = {sid: [] for sid in fresh}
    kept: list[dict[str, Any]] = []
    pruned: list[str] = []
    for statement in _statements(existing):
        stamp = stamp_of(statement) if isinstance(statement, dict) else None
        when = _cutoff_of(statement) if isinstance(statement, dict) else None
        if stamp is not None and stamp.base in fresh and when is not None:
            same[stamp.base].append(statement)
            continue
        sid = statement.get("Sid") if isinstance(statement, dict) else None
        if isinstance(sid, str) and sid.startswith("StsleakSession") and when and when + LONGEST_SESSION <= now:
            pruned.append(sid)
            continue
        kept.append(statement)
    version = (existing or {}).get("Version", VERSION)
    return {"Version": version, "Statement": kept + [combine(fresh[b], same[b]) for b in fresh]}, pruned


def _has_revocations(document: Policy | None, user_ids: list[str], cutoff: str) -> bool:
    """Every user id has our statement with a cutoff at or after `cutoff`."""
    wanted = parse_iso_z(cutoff)
    by_sid = {stamp.base: s for s in _statements(document)
              if isinstance(s, dict) and (stamp := stamp_of(s)) is not None}
    for uid in user_ids:
        statement = by_sid.get(statement_id(uid))
        when = _cutoff_of(statement) if statement else None
        if not statement or when is None or (wanted and when < wanted) or \
                statement.get("Condition", {}).get("StringEquals", {}).get("aws:userid") != uid:
            return False
    return True


def _marks(target: Target, user_ids: list[str]) -> dict[str, list[str]]:
    """Each user id's leaked keys, as marks (a session named by --session has none)."""
    found: dict[str, list[str]] = {uid: [] for uid in user_ids}
    for finding in target.findings:
        uid = finding.verification.user_id if finding.verification else None
        if uid in found:
            found[uid].append(leak_mark(finding.access_key_id))
    return found


def _already(document: Policy | None, marks: dict[str, list[str]], cutoff: str) -> datetime | None:
    """The cutoff with which the permission set already denies every leaked key, or None (from IAM alone)."""
    now = parse_iso_z(cutoff)
    if now is None or not marks or not all(marks.values()):
        return None
    found = [covering_cutoff([document], uid_marks, now, uid) for uid, uid_marks in marks.items()]
    return None if any(c is None for c in found) else min(c for c in found if c)


def _pages(calls: AuditedCalls, operation: str, key: str, **params: Any) -> list[Any]:
    items: list[Any] = []
    while True:
        response = calls("sso-admin", operation, **params)
        items += response.get(key, [])
        token = response.get("NextToken")
        if not token:
            return items
        params["NextToken"] = token


def _parse_inline(text: str | None) -> Policy | None:
    """None when there is no inline policy; raises ValueError when it is not a JSON object."""
    if not text or not text.strip():
        return None
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document


def _user_ids(target: Target, role_calls: AuditedCalls) -> tuple[list[str], str | None]:
    """ROLEID:SESSION of each leaked session (the verified user id, else GetRole's RoleId + --session),
    and a refusal when the target comes from a report whose rows do not bind to the role."""
    verified = [uid for uid in target.user_ids.values() if ":" in uid] or [
        f.verification.user_id for f in target.findings
        if f.verification and f.verification.user_id and ":" in f.verification.user_id]
    if verified and not target.from_report:
        return list(dict.fromkeys(verified)), None
    if not verified and not target.sessions:
        return [], None
    role = role_calls("iam", "GetRole", RoleName=target.name)["Role"]
    if target.from_report:
        refusal = role_evidence(target, role)
        if refusal:
            return [], refusal
    if verified:
        return list(dict.fromkeys(verified)), None
    return [f"{role['RoleId']}:{session}" for session in dict.fromkeys(target.sessions)], None


def _find_permission_set(calls: AuditedCalls, name: str) -> tuple[str, str] | None:
    for instance in _pages(calls, "ListInstances", "Instances"):
        arn = instance["InstanceArn"]
        for ps_arn in _pages(calls, "ListPermissionSets", "PermissionSets", InstanceArn=arn):
            described = calls("sso-admin", "DescribePermissionSet", InstanceArn=arn, PermissionSetArn=ps_arn)
            if described["PermissionSet"].get("Name") == name:
                return arn, ps_arn
    return None


def _refused(target: Target, label: str, reason: str) -> Plan:
    plan = Plan(target, "session", label, status=Status.REFUSED, message=f"{reason}; {IDENTITY_CENTER_ADVICE}")
    plan.caveats += console_steps(target.sessions)
    return plan


def plan_identity_center(target: Target, cutoff: str, calls: AuditedCalls,
                         role_calls: AuditedCalls | None = None, *, run: str | None = None,
                         refresh: bool = False) -> Plan:
    """The plan for an Identity Center role: a session deny merged into its permission set's inline policy."""
    label = target.arn or target.name
    name = permission_set_name(target.name)
    if name is None:
        return _refused(target, label, f"{target.name} is not named like an Identity Center role "
                                       f"(AWSReservedSSO_<PermissionSet>_<16 hex>)")
    if not target.findings and not target.sessions:
        return _refused(target, label, "IAM Identity Center role: give --session USER (the Identity Center user "
                                       "name is the session name) to deny that user's sessions in the permission set")
    try:
        return _plan(target, label, name, cutoff, calls, role_calls or calls, run, refresh)
    except CallFailed as exc:
        return Plan(target, "session", label, status=Status.FAILED, cutoff=cutoff,
                    message=f"Identity Center lookup for {target.name} failed: {exc.failure.message}")


def resource(ps_arn: str, provision: dict[str, str]) -> str:
    """The audit resource of a permission set write; it names where to provision it again (undo)."""
    return f"permission-set:{ps_arn}@{provision.get('TargetId', 'all')}"


def provision_of(resource_name: str) -> dict[str, str]:
    where = resource_name.rpartition("@")[2]
    return {"TargetType": "ALL_PROVISIONED_ACCOUNTS"} if where in ("", "all") else \
        {"TargetType": "AWS_ACCOUNT", "TargetId": where}


def _plan(target: Target, label: str, name: str, cutoff: str, calls: AuditedCalls, role_calls: AuditedCalls,
          run: str | None, refresh: bool) -> Plan:
    user_ids, refusal = _user_ids(target, role_calls)
    if refusal:
        return Plan(target, "session", label, status=Status.REFUSED, message=refusal)
    try:
        found = _find_permission_set(calls, name)
    except CallFailed as exc:
        return _refused(target, label, f"no IAM Identity Center instance is reachable with the operator's "
                                       f"credentials ({exc.failure.message})")
    if found is None:
        return _refused(target, label, f"no permission set named {name!r} in the IAM Identity Center instance(s) "
                                       f"the operator's credentials reach")
    instance_arn, ps_arn = found
    if target.account:
        accounts = _pages(calls, "ListAccountsForProvisionedPermissionSet", "AccountIds",
                          InstanceArn=instance_arn, PermissionSetArn=ps_arn)
        if target.account not in accounts:
            return _refused(target, label, f"permission set {name!r} ({ps_arn}) is not provisioned to account "
                                           f"{target.account}: this role does not come from that instance")
    text = calls("sso-admin", "GetInlinePolicyForPermissionSet", InstanceArn=instance_arn,
                 PermissionSetArn=ps_arn).get("InlinePolicy")
    try:
        previous = _parse_inline(text)
    except ValueError:
        return Plan(target, "session", label, status=Status.FAILED, cutoff=cutoff,
                    message=f"the inline policy of permission set {name!r} is not a JSON policy: not overwriting it")
    marks = _marks(target, user_ids)
    covered = None if refresh else _already(previous, marks, cutoff)
    if covered is not None:
        return Plan(target, "session", label, status=Status.ALREADY_REVOKED, cutoff=iso_z(covered),
                    policy_name=f"permission set {name}",
                    message=f"live, but sessions issued before {iso_z(covered)} are denied by permission set "
                            f"{name!r} (--refresh moves the cutoff to now)")
    document, pruned = merge_permission_set_policy(previous, user_ids, cutoff, run, marks)
    provision = {"TargetType": "AWS_ACCOUNT", "TargetId": target.account} if target.account \
        else {"TargetType": "ALL_PROVISIONED_ACCOUNTS"}
    ours = [session_statement(uid, cutoff, run, marks.get(uid, ())) for uid in dict.fromkeys(user_ids)]
    change = Change(OPERATION, {"InstanceArn": instance_arn, "PermissionSetArn": ps_arn,
                                "InlinePolicy": json.dumps(document)},
                    resource(ps_arn, provision), None if previous is None else {"PolicyDocument": previous}, ours)
    plan = IdentityCenterPlan(
        target, "session", label, cutoff=cutoff, policy_name=f"permission set {name}", changes=[change],
        replaces=[json.dumps(previous)] if previous is not None else [],
        instance_arn=instance_arn, permission_set_arn=ps_arn, permission_set_name=name, user_ids=user_ids,
        previous=previous, provision=provision, run=run, marks=marks)
    calls.audit.event("previous-document", target=label, permission_set=ps_arn, document=previous)
    _describe(plan, pruned)
    too_big = oversize(change.params["InlinePolicy"], name, user_ids)
    if too_big:
        plan.status, plan.changes, plan.message = Status.REFUSED, [], too_big
    return plan


def oversize(text: str, name: str, user_ids: list[str]) -> str | None:
    """Why an inline policy cannot be written (over the limit, counted as sso-admin counts), with what to do."""
    size = policy_size(text)
    if size <= INLINE_POLICY_LIMIT:
        return None
    users = ", ".join(user_ids)
    return (f"the merged inline policy of permission set {name!r} would have {size} characters (whitespace not "
            f"counted), over IAM Identity Center's {INLINE_POLICY_LIMIT}: nothing written. Make room in the inline "
            f"policy (move its statements into a customer managed policy or an AWS managed policy attached to the "
            f"permission set) and run again; or, in each member account, deny aws:userid {users} with "
            f"aws:TokenIssueTime before now in an SCP; and now, in the IAM Identity Center console, delete the user's "
            f"active sessions and disable the user")


def _describe(plan: IdentityCenterPlan, pruned: list[str]) -> None:
    users = [uid.split(":", 1)[1] for uid in plan.user_ids]
    kept = len(_statements(plan.previous))
    where = f"account {plan.provision['TargetId']}" if "TargetId" in plan.provision else "all provisioned accounts"
    plan.caveats.append(f"merged into the permission set's inline policy; {kept} statement(s) already there are "
                        f"kept" + (f" (was: {json.dumps(plan.previous)})" if plan.previous else " (there was none)"))
    plan.caveats.append(f"then sso-admin:ProvisionPermissionSet to {where}, and waits for it")
    plan.caveats.append(f"sessions of {', '.join(repr(u) for u in users)} under this role issued before the "
                        f"cutoff are denied; other users of the permission set are not affected")
    if pruned:
        plan.caveats.append(f"pruned {len(pruned)} expired stsleak statement(s) (older than 12 hours)")
    plan.breaks.append(f"every credential cache holding a pre-cutoff session of {', '.join(repr(u) for u in users)} "
                       f"under this role (~/.aws/sso/cache, ~/.aws/cli/cache, long-running processes): refresh it")
    plan.not_cut.append(caller_identity_survives(plan.label, "at most the permission set's session duration, up "
                                                             "to 12 h"))
    plan.caveats += [f"console: {step}" for step in console_steps(users)]
