"""What a revocation breaks, and what it cannot reach, named in the plan before it is applied.

A deny on a role cuts the current credentials of every workload using the role, not only the leaked
session: EC2 instances (instance profiles; they keep serving cached credentials until refreshed),
Lambda functions (warm environments), ECS tasks (of task definitions and the services running them),
and every SDK/CLI credential cache. They are read (read-only, with the operator's credentials) in the
regions the plan was given, and each is listed with what to do; a region or service that could not be
read is said, never taken for "none".

No policy can deny `sts:GetCallerIdentity`, so services that authenticate with a presigned
GetCallerIdentity (EKS, Vault's AWS auth method) keep accepting a revoked session until it expires:
the plan says so, with the fix on their side.
"""

from __future__ import annotations

import re
from typing import Any

from scanner.investigation.blast_radius import BlastRadiusReader
from scanner.investigation.model import BlastRadius
from scanner.revocation.calls import AuditedCalls
from scanner.revocation.model import Plan

INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
SDK_CACHES = "~/.aws/cli/cache, ~/.aws/sso/cache, credential_process output, SDK clients of long-running processes"


def is_instance_session(session: str) -> bool:
    """EC2 names the session of an instance profile's credentials after the instance id."""
    return INSTANCE_ID.match(session) is not None


def caller_identity_survives(principal: str, lasts: str) -> str:
    """The EKS/Vault caveat for sessions of `principal` (a role or user ARN, or a description)."""
    arn = principal if principal.startswith("arn:") else "ITS_ARN"
    return (f"EKS and Vault still accept a revoked session of {principal} until it expires ({lasts}): they "
            f"authenticate with a presigned sts:GetCallerIdentity, which no policy can deny. Until then remove its "
            f"EKS access entry (aws eks delete-access-entry --cluster-name CLUSTER --principal-arn {arn}) or "
            f"its aws-auth mapping, and unbind it in Vault's AWS auth method (remove it from the role's "
            f"bound_iam_principal_arn; vault lease revoke -prefix auth/aws/login)")


def read_workloads(role: dict[str, Any], profiles: list[str], calls: AuditedCalls,
                   regions: tuple[str, ...]) -> BlastRadius:
    """The role's workloads in `regions` (instance profiles already read by the plan, as ARNs)."""
    radius = BlastRadius(role["Arn"], role["RoleName"], instance_profiles=profiles)
    BlastRadiusReader(calls.operator, list(regions)).regional_workloads(radius)
    calls.audit.event("workloads", target=role["Arn"], regions=list(regions), instances=radius.instances,
                      functions=radius.functions, task_definitions=radius.task_definitions,
                      services=radius.services, notes=radius.notes)
    return radius


def _standalone_tasks(radius: BlastRadius) -> list[str]:
    """Task definitions no service listed runs ("api:1 (us-east-1, taskRoleArn)" vs a service's "(us-east-1, task
    definition api:1, …)"): a service already names its tasks."""
    served = {(s.split("task definition ", 1)[1].split(",", 1)[0], s.split(" (", 1)[1].split(",", 1)[0])
              for s in radius.services if "task definition " in s and " (" in s}
    return [t for t in radius.task_definitions
            if (t.split(" ", 1)[0], t.split(" (", 1)[-1].split(",", 1)[0]) not in served]


def _all(radius: BlastRadius) -> list[str]:
    lines = [f"EC2 instance {i}: serves cached pre-cutoff credentials, denied until it refreshes them (within "
             f"minutes; or stop/start it)" for i in radius.instances]
    lines += [f"Lambda function {f}: warm environments hold pre-cutoff credentials and fail until replaced (update "
              f"the function's configuration to recycle them)" for f in radius.functions]
    lines += [f"ECS service {s}: running tasks fail until replaced (aws ecs update-service --force-new-deployment)"
              for s in radius.services]
    lines += [f"ECS task definition {t}: its running tasks (standalone, scheduled) fail until restarted"
              for t in _standalone_tasks(radius)]
    return lines


def _named(radius: BlastRadius, sessions: list[str]) -> tuple[list[str], int]:
    """Workloads whose session is one of `sessions` (EC2: the instance id; Lambda: the function name), and how
    many other workloads there are."""
    wanted = set(sessions)
    instances = [i for i in radius.instances if i.split(" ", 1)[0] in wanted]
    functions = [f for f in radius.functions if f.split(" ", 1)[0] in wanted]
    hit = _all(BlastRadius(radius.role_arn, radius.role_name, instances=instances, functions=functions))
    others = len(radius.instances) + len(radius.functions) + len(radius.services) + len(_standalone_tasks(radius)) \
        - len(instances) - len(functions)
    return hit, others


def describe_breaks(plan: Plan, radius: BlastRadius, regions: tuple[str, ...], sessions: list[str]) -> None:
    """Fill `plan.breaks` for its scope: every workload of the role (role scope), or only those whose session
    names are cut (session scope); off-instance cuts none of them."""
    where = ", ".join(regions)
    if plan.scope == "off-instance":
        plan.breaks.append("no workload: the instance keeps its credentials on its own network, and every other "
                           "workload of the role is untouched")
        return
    if plan.scope == "role":
        found = _all(radius)
        plan.breaks += found or [f"no EC2 instance, Lambda function, ECS service or task definition using this role "
                                 f"was found in {where}"]
        plan.breaks.append(f"every SDK/CLI credential cache holding a session of this role issued before the cutoff "
                           f"({SDK_CACHES}): refresh it")
    else:
        found, others = _named(radius, sessions)
        plan.breaks += found
        names = ", ".join(repr(s) for s in sessions)
        if others:
            plan.breaks.append(f"not the {others} other workload(s) of this role found in {where}: their sessions "
                               f"have other names")
        plan.breaks.append(f"every SDK/CLI credential cache holding a pre-cutoff session named {names} "
                           f"({SDK_CACHES}): refresh it")
    plan.breaks.append(f"(workloads looked for in {where} only)")
    plan.breaks += [f"(not known: {note})" for note in radius.notes]
