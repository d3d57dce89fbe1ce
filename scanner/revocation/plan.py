"""The Plan value and planning: one target -> what would change, read from IAM first.

Planning only reads (GetRole, GetRolePolicy, ListAccessKeys …); every document it proposes is a
merge onto what is there now, and the previous state travels with each change (for the audit
log and undo). Refusals and failures are plans too (status refused/failed).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from scanner.aws_session import Operator
from scanner.investigation.blast_radius import trust_lines, trust_statements
from scanner.model import RevocationStatus
from scanner.revocation import policy as P
from scanner.revocation.audit import AuditLog
from scanner.revocation.calls import AuditedCalls, CallFailed, explain
from scanner.revocation.evidence import access_key_evidence, federated_evidence, role_evidence, user_evidence
from scanner.revocation.identity_center import is_identity_center_role, plan_identity_center
from scanner.revocation.lockout import OperatorIdentity, lockout_reason
from scanner.revocation.managed import managed_state, plan_managed
from scanner.revocation.model import Change, Plan, PlanSettings, Target, TargetKind
from scanner.revocation.off_instance import plan_off_instance
from scanner.revocation.policy import document
from scanner.revocation.targets import FEDERATED_ADVICE, unmodifiable_reason
from scanner.revocation.workloads import (
    SDK_CACHES,
    caller_identity_survives,
    describe_breaks,
    is_instance_session,
    read_workloads,
)

Status = RevocationStatus


def trust_principals(trust: dict[str, Any]) -> list[str]:
    """Who the trust policy trusts, as it is: Allow principals only, each with its statement's conditions."""
    return sorted(trust_lines(trust_statements(trust))[0])


def denied_principals(trust: dict[str, Any]) -> list[str]:
    """The trust policy's Deny principals (never trusted), with their conditions."""
    return sorted(trust_lines(trust_statements(trust))[1])


def get_policy(calls: AuditedCalls, operation: str, **params: str) -> dict[str, Any] | None:
    try:
        return document(calls("iam", operation, **params)["PolicyDocument"])
    except CallFailed as exc:
        if exc.failure.code == "NoSuchEntity":
            return None
        raise


def refusal_before_calls(target: Target) -> str | None:
    """Why a target is refused before any call (the place a dispatch, e.g. to Identity Center, goes)."""
    if target.refusal:
        return target.refusal
    if target.kind is TargetKind.ROLE:
        return unmodifiable_reason(target.name, target.path)
    return None


def _already(plan: Plan, cutoff: datetime, policy_name: str) -> None:
    plan.status = Status.ALREADY_REVOKED
    plan.cutoff = P.iso_z(cutoff)
    plan.changes = []
    plan.message = (f"live, but sessions issued before {plan.cutoff} are denied by {policy_name} "
                    f"(--refresh moves the cutoff to now)")


def leak_marks(target: Target) -> list[str]:
    """The marks of the target's leaked keys (none for a target named by hand: it is always cut again)."""
    return [P.leak_mark(k) for k in target.key_ids]


def _covered(documents: list[dict[str, Any] | None], target: Target, settings: PlanSettings,
             user_id: str | None = None, off_instance: bool = False) -> datetime | None:
    """The cutoff with which IAM already denies every leaked key of the target, or None (decided from
    IAM alone: our statements' Sids record the keys seen live before their cutoff; see policy.py)."""
    if settings.refresh:
        return None
    now = P.parse_iso_z(settings.cutoff)
    assert now is not None
    return P.covering_cutoff(documents, leak_marks(target), now, user_id, off_instance)


def _inline_documents(calls: AuditedCalls, role: str) -> dict[str, dict[str, Any] | None]:
    names = calls.paged("iam", "ListRolePolicies", "PolicyNames", RoleName=role)
    return {n: get_policy(calls, "GetRolePolicy", RoleName=role, PolicyName=n) for n in names}


def _role_facts(plan: Plan, target: Target, settings: PlanSettings, role: dict[str, Any],
                calls: AuditedCalls) -> None:
    """Who may mint new sessions (the trust policy as it is), what the deny breaks and what it cannot reach."""
    trust = document(role.get("AssumeRolePolicyDocument"))
    plan.trusted_principals, plan.denied_principals = trust_principals(trust), denied_principals(trust)
    arns: list[str] = []
    try:
        profiles = calls.paged("iam", "ListInstanceProfilesForRole", "InstanceProfiles", RoleName=role["RoleName"])
        plan.instance_profiles = [p["InstanceProfileName"] for p in profiles]
        arns = [p["Arn"] for p in profiles]
    except CallFailed as exc:
        plan.breaks.append(f"(not known: instance profiles: {exc.failure.message})")
    regions = settings.regions or (calls.operator.options.resolved_region(),)
    radius = read_workloads(role, arns, calls, regions)
    describe_breaks(plan, radius, regions, target.sessions)
    lasts = f"at most {role.get('MaxSessionDuration', 3600)} s, the role's MaxSessionDuration; 3,600 s if chained"
    plan.not_cut.append(caller_identity_survives(role["Arn"], lasts))
    instances = [s for s in target.sessions if is_instance_session(s)]
    if instances and settings.scope != "off-instance":
        plan.caveats.append(f"session {', '.join(instances)} is an EC2 instance's (instance-profile credentials): "
                            f"--scope off-instance denies them only when used off the instance's network, the least "
                            f"disruptive cut (the instance and the role's other workloads keep working)")


def _check_role_arn(target: Target, role: dict[str, Any]) -> str | None:
    if target.arn and role["Arn"] != target.arn:
        return (f"{target.arn} does not match the role IAM has under that name ({role['Arn']}): partition, "
                f"account or path differ, so this is not the role that was named")
    return None


def _plan_role(plan: Plan, target: Target, settings: PlanSettings, calls: AuditedCalls) -> None:
    role = calls("iam", "GetRole", RoleName=target.name)["Role"]
    plan.label = role["Arn"]
    refusal = (_check_role_arn(target, role) or unmodifiable_reason(role["RoleName"], role.get("Path"))
               or (role_evidence(target, role) if target.from_report else None))
    if refusal:
        plan.status, plan.message = Status.REFUSED, refusal
        return
    _role_facts(plan, target, settings, role, calls)
    inline = _inline_documents(calls, target.name)
    managed = managed_state(calls, role)
    if settings.scope == "role":
        _plan_role_scope(plan, target, settings, role, inline, managed)
    elif settings.scope == "off-instance":
        plan_off_instance(plan, target, settings, inline, managed.document, calls,
                          user_id_of=lambda session: _session_user_id(plan, target, role, session),
                          covered_by=lambda documents, session, user_id: _covered(
                              documents, _of_session(target, session), settings, user_id, off_instance=True),
                          marks_of=lambda session: leak_marks(_of_session(target, session)))
    else:
        _plan_session_scope(plan, target, settings, role, inline, managed)
    if plan.status is not Status.PLANNED:
        return
    kept = {n: d for n, d in inline.items() if d and not any(
        c.resource == f"role-policy:{target.name}:{n}" for c in plan.changes)}
    new = [json.loads(c.params["PolicyDocument"]) for c in plan.changes if c.operation == "PutRolePolicy"]
    total = sum(P.policy_size(d) for d in [*kept.values(), *new])
    if total > P.ROLE_INLINE_LIMIT:
        plan_managed(plan, role, managed, total, calls)


def _plan_role_scope(plan: Plan, target: Target, settings: PlanSettings, role: dict[str, Any],
                     inline: dict[str, Any], managed: Any) -> None:
    plan.policy_name = P.ROLE_POLICY_NAME
    existing = inline.get(P.ROLE_POLICY_NAME)
    found = _covered([existing, managed.document], target, settings)
    if found is not None:
        _already(plan, found, P.ROLE_POLICY_NAME)
        return
    ours = [P.older_sessions_statement(settings.cutoff, settings.run_id, leak_marks(target))]
    merged = P.merge(existing, ours)
    plan.cutoff = P.iso_z(P.existing_cutoff(merged) or P.parse_iso_z(settings.cutoff))  # type: ignore[arg-type]
    plan.put_inline_policy("role", target.name, P.ROLE_POLICY_NAME, existing, merged, ours)
    plan.caveats.append("every session of this role issued before the cutoff is denied; sessions issued "
                        "after it keep working")


def _session_user_id(plan: Plan, target: Target, role: dict[str, Any], session: str) -> str:
    verified = target.user_ids.get(session)
    if verified and not verified.startswith(role["RoleId"] + ":"):
        plan.caveats.append(f"session {session!r} was verified as {verified}, but the role's RoleId is now "
                            f"{role['RoleId']}: the role was deleted and recreated; the statement uses the "
                            f"verified id")
    return verified or f"{role['RoleId']}:{session}"


def _of_session(target: Target, session: str) -> Target:
    """The target with only the findings of one session (their marks go into that session's statement)."""
    findings = [f for f in target.findings if f.verification and f.verification.session_name == session]
    return Target(target.kind, target.name, findings=findings)


def _plan_session_scope(plan: Plan, target: Target, settings: PlanSettings, role: dict[str, Any],
                        inline: dict[str, Any], managed: Any) -> None:
    if not target.sessions:
        plan.status = Status.FAILED
        plan.message = "--scope session needs the session name (--session NAME, or a verified finding)"
        return
    now = P.parse_iso_z(settings.cutoff)
    assert now is not None
    covered: list[datetime] = []
    for session in target.sessions:
        user_id = _session_user_id(plan, target, role, session)
        name = P.session_policy_name(user_id)
        existing = inline.get(name)
        found = _covered([*inline.values(), managed.document], _of_session(target, session), settings, user_id)
        if found is not None:
            covered.append(found)
            continue
        marks = leak_marks(_of_session(target, session))
        ours = [P.session_statement(user_id, settings.cutoff, settings.run_id, marks)]
        merged = P.merge(existing, ours)
        plan.put_inline_policy("role", target.name, name, existing, merged, ours)
    if not plan.changes:
        _already(plan, min(covered), "stsleak's session policies")
        return
    plan.cutoff = settings.cutoff
    plan.policy_name = plan.changes[0].params["PolicyName"] if len(plan.changes) == 1 else P.SESSION_POLICY_PREFIX + "*"
    names = ", ".join(repr(s) for s in target.sessions)
    plan.caveats.append(f"every session named {names} of this role issued before the cutoff is cut, not "
                        f"only the leaked one; other sessions keep working")
    _prune(plan, target, inline, now)


def _prune(plan: Plan, target: Target, inline: dict[str, Any], now: datetime) -> None:
    """Delete our session policies older than the longest possible session (43,200 s): nothing they deny lives."""
    written = {c.resource for c in plan.changes}
    old = [n for n, d in inline.items() if n.startswith(P.SESSION_POLICY_PREFIX)
           and f"role-policy:{target.name}:{n}" not in written and P.expired_session_policy(d, now)]
    for name in old:
        plan.changes.append(Change("DeleteRolePolicy", {"RoleName": target.name, "PolicyName": name},
                                   f"role-policy:{target.name}:{name}", {"PolicyDocument": inline[name]}))
    if old:
        plan.caveats.append(f"pruned {len(old)} expired session policy(ies) (cutoff more than 43,200 s ago)")


def _user_policy_change(plan: Plan, user: str, settings: PlanSettings, calls: AuditedCalls,
                        target: Target) -> bool:
    """Merge a deny-before-now into the user's AWSRevokeOlderSessions; False when it already covers."""
    names = calls.paged("iam", "ListUserPolicies", "PolicyNames", UserName=user)
    docs = {n: get_policy(calls, "GetUserPolicy", UserName=user, PolicyName=n) for n in names}
    existing = docs.get(P.USER_POLICY_NAME)
    if _covered([existing], target, settings) is not None:
        return False
    ours = [P.older_sessions_statement(settings.cutoff, settings.run_id, leak_marks(target))]
    merged = P.merge(existing, ours)
    total = P.policy_size(merged) + sum(P.policy_size(d) for n, d in docs.items() if d and n != P.USER_POLICY_NAME)
    if total > P.USER_INLINE_LIMIT:
        plan.status = Status.FAILED
        plan.message = (f"user {user}'s inline policies would total {total} characters, over IAM's "
                        f"{P.USER_INLINE_LIMIT} limit: remove one, or attach a managed deny policy by hand")
        return True
    plan.policy_name = P.USER_POLICY_NAME
    plan.put_inline_policy("user", user, P.USER_POLICY_NAME, existing, merged, ours)
    return True


def _plan_access_key(plan: Plan, target: Target, settings: PlanSettings, calls: AuditedCalls) -> None:
    owner = calls("iam", "GetAccessKeyLastUsed", AccessKeyId=target.name).get("UserName")
    refusal = access_key_evidence(target, owner) if target.from_report else None
    if refusal:
        plan.status, plan.message = Status.REFUSED, refusal
        return
    user = target.user_name or owner or ""
    keys = calls.paged("iam", "ListAccessKeys", "AccessKeyMetadata", UserName=user)
    match = [k for k in keys if k["AccessKeyId"] == target.name]
    if not match:
        plan.status, plan.message = Status.FAILED, f"access key {target.name} is not a key of user {user}"
        return
    plan.label = f"{target.name} (user {user})"
    status = match[0].get("Status", "Active")
    if status != "Inactive":
        plan.changes.append(Change("UpdateAccessKey", {"UserName": user, "AccessKeyId": target.name,
                                                       "Status": "Inactive"},
                                   f"access-key:{target.name}", {"Status": status}))
    wants_policy = _user_policy_change(plan, user, settings, calls, target)
    if plan.status is not Status.PLANNED:
        return
    if not plan.changes and not wants_policy:
        found = P.existing_cutoff(get_policy(calls, "GetUserPolicy", UserName=user, PolicyName=P.USER_POLICY_NAME))
        assert found is not None
        _already(plan, found, f"{P.USER_POLICY_NAME} on user {user} (and the key is Inactive)")
        return
    plan.cutoff = settings.cutoff
    plan.breaks.append(f"everything that signs with access key {target.name} (it is Inactive from now on): find "
                       f"who uses it legitimately before deleting it")
    _user_consequences(plan, user, settings)
    plan.caveats.append("the secret is public now: delete the key once nothing legitimate depends on it")
    plan.caveats.append(f"the user deny-before-now policy ends GetSessionToken/GetFederationToken sessions made "
                        f"with this key; role sessions minted with it (AssumeRole, up to 12 h) are not reached: "
                        f"find them in CloudTrail (events with access key {target.name}) and revoke those roles")


def _plan_user(plan: Plan, target: Target, settings: PlanSettings, calls: AuditedCalls) -> None:
    user = calls("iam", "GetUser", UserName=target.name)["User"]
    plan.label = user["Arn"]
    refusal = user_evidence(target, user) if target.from_report else None
    if refusal:
        plan.status, plan.message = Status.REFUSED, refusal
        return
    if not _user_policy_change(plan, target.name, settings, calls, target):
        found = P.existing_cutoff(get_policy(calls, "GetUserPolicy", UserName=target.name,
                                             PolicyName=P.USER_POLICY_NAME))
        assert found is not None
        _already(plan, found, P.USER_POLICY_NAME)
        return
    plan.cutoff = settings.cutoff
    _user_consequences(plan, target.name, settings, user["Arn"])
    plan.caveats.append("temporary credentials of this IAM user issued before the cutoff are denied; the user's "
                        "long-term keys keep working (their requests carry no token issue time)")


def _user_consequences(plan: Plan, user: str, settings: PlanSettings, arn: str | None = None) -> None:
    """What a deny-before-now on an IAM user breaks and cannot reach."""
    plan.breaks.append(f"every process and credential cache holding temporary credentials of user {user} issued "
                       f"before the cutoff (GetSessionToken, GetFederationToken; {SDK_CACHES}): they get new ones")
    plan.not_cut.append(caller_identity_survives(arn or f"user {user}", "up to 36 h for GetSessionToken and "
                                                                       "GetFederationToken credentials"))


def _federated_user_id(plan: Plan, target: Target, account: str) -> str | None:
    """ACCOUNT:NAME, the federated session's aws:userid (verified, or built from the name the operator gave)."""
    wanted = f"{account}:{target.name}"
    if target.from_report:
        refusal = federated_evidence(target, account)
        if refusal:
            plan.status, plan.message = Status.REFUSED, refusal
            return None
    elif target.principal_ids and target.principal_ids != [wanted]:
        plan.status = Status.REFUSED
        plan.message = (f"the federated session was verified as {', '.join(target.principal_ids)}, not {wanted} "
                        f"(the issuer's account and the federated user's name): refused")
        return None
    return wanted


def _plan_federated(plan: Plan, target: Target, settings: PlanSettings, calls: AuditedCalls) -> None:
    """A deny of this one federated session (aws:userid ACCOUNT:NAME, issued before now) on the IAM user that
    called GetFederationToken, in an inline policy of its own (merged into what is there)."""
    if not target.issuer:
        plan.status, plan.message = Status.REFUSED, FEDERATED_ADVICE
        return
    issuer = calls("iam", "GetUser", UserName=target.issuer)["User"]
    account = issuer["Arn"].split(":")[4]
    if target.account and account != target.account:
        plan.status = Status.REFUSED
        plan.message = (f"the issuer {issuer['Arn']} ({target.issuer_source}) is in account {account}, the federated "
                        f"user in {target.account}: a federated session is always issued by a user of its own "
                        f"account, so this is not its issuer")
        return
    user_id = _federated_user_id(plan, target, account)
    if user_id is None:
        return
    plan.label = f"{target.arn or f'federated user {target.name}'} (issued by {issuer['Arn']})"
    user = target.issuer
    names = calls.paged("iam", "ListUserPolicies", "PolicyNames", UserName=user)
    docs = {n: get_policy(calls, "GetUserPolicy", UserName=user, PolicyName=n) for n in names}
    name = P.session_policy_name(user_id)
    found = _covered(list(docs.values()), target, settings, user_id)
    if found is not None:
        _already(plan, found, f"{name} on user {user}")
        return
    ours = [P.session_statement(user_id, settings.cutoff, settings.run_id, leak_marks(target))]
    existing = docs.get(name)
    merged = P.merge(existing, ours)
    total = P.policy_size(merged) + sum(P.policy_size(d) for n, d in docs.items() if d and n != name)
    if total > P.USER_INLINE_LIMIT:
        plan.status = Status.FAILED
        plan.message = (f"user {user}'s inline policies would total {total} characters, over IAM's "
                        f"{P.USER_INLINE_LIMIT} limit: remove one, or attach a managed deny policy by hand")
        return
    plan.policy_name, plan.cutoff = name, settings.cutoff
    plan.put_inline_policy("user", user, name, existing, merged, ours)
    plan.caveats.append(f"issuer: user {user}, {target.issuer_source}")
    plan.caveats.append(f"only the federated session {target.name!r} (aws:userid {user_id}) issued before the cutoff "
                        f"is denied; user {user}'s own keys and its other federated sessions keep working")
    if not calls.paged("iam", "ListAccessKeys", "AccessKeyMetadata", UserName=user):
        plan.caveats.append(f"user {user} has no access key now, and GetFederationToken needs one: if it did not "
                            f"issue this session (or its key was deleted since), this deny cuts nothing; check "
                            f"CloudTrail's sessionIssuer")
    plan.breaks.append(f"every process and credential cache holding federated session {target.name!r} issued "
                       f"before the cutoff ({SDK_CACHES}), console sessions signed in with it included")
    plan.not_cut.append(caller_identity_survives(target.arn or f"federated user {target.name}",
                                                 "up to 36 h, GetFederationToken's longest"))


def plan_target(target: Target, operator: Operator, settings: PlanSettings, audit: AuditLog) -> Plan:
    """The plan for one target, made with `operator` (whose account must be the target's)."""
    calls = AuditedCalls(operator, audit)
    identity = OperatorIdentity.of(operator)
    scope = settings.scope if target.kind is TargetKind.ROLE else str(target.kind)
    plan = Plan(target, scope, target.arn or target.name)
    if target.kind is TargetKind.ROLE and not target.refusal and is_identity_center_role(target.name, target.path):
        return lockout_check(plan_identity_center(target, settings.cutoff, calls, run=settings.run_id,
                                                 refresh=settings.refresh), identity, settings)  # permission set
    refusal = refusal_before_calls(target)
    if refusal:
        plan.status, plan.message = Status.REFUSED, refusal
        return plan
    if target.account and identity.account and target.account != identity.account:
        plan.status = Status.FAILED
        plan.message = (f"{target.name} is in account {target.account} but the operator's credentials are for "
                        f"{identity.account}: run again with --profile for {target.account}")
        return plan
    planner = {TargetKind.ROLE: _plan_role, TargetKind.ACCESS_KEY: _plan_access_key, TargetKind.USER: _plan_user,
               TargetKind.FEDERATED_USER: _plan_federated}
    try:
        planner[target.kind](plan, target, settings, calls)
    except CallFailed as exc:
        operation = {"role": "GetRole", "access-key": "ListAccessKeys", "user": "GetUser",
                     "federated-user": "GetUser"}[target.kind]
        subject = f"issuer {target.issuer}" if target.kind is TargetKind.FEDERATED_USER else target.name
        plan.status, plan.changes = Status.FAILED, []
        plan.message = explain(exc.failure, operation, subject, identity.account)
        return plan
    return lockout_check(plan, identity, settings)


def lockout_check(plan: Plan, identity: OperatorIdentity, settings: PlanSettings) -> Plan:
    """Refuse (or, with --include-operator, order last) a plan that would cut off the operator's own session."""
    if plan.status is Status.PLANNED:
        reason = lockout_reason(identity, plan)
        if reason and not settings.include_operator:
            plan.status, plan.changes = Status.REFUSED, []
            plan.message = f"{reason}: revoking it would cut off this run half-way; revoke it with other " \
                           f"credentials, or pass --include-operator to revoke it last"
        elif reason:
            plan.operator_target = True
            plan.caveats.append(f"{reason}: applied last, after every other target (--include-operator)")
    return plan
