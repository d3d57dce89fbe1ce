"""`--scope off-instance`: leaked EC2 instance-profile credentials denied only when used off the instance.

EC2 names the role session of an instance profile's credentials after the instance (`i-…`). Cutting
that session (or the role) also cuts the instance, and every workload of the role, until they get new
credentials. The off-instance deny leaves them working: it denies the instance's credentials issued
before the cutoff only when a request comes neither through a VPC endpoint of the instance's VPC nor
from one of its public egress addresses (its public IP, its VPC's NAT gateways), as read from EC2 now
(policy.off_instance_statement has the document and why it reads as it does).

What it does not cut, said in the plan: a host inside the instance's VPC (its endpoints and NAT gateways
are the instance's network too), and credentials the instance fetches after the cutoff (if the instance
itself is compromised, that is the thing to fix). What it breaks, also said: requests the instance sends
through another egress (a proxy, a NAT gateway in another VPC, a transit gateway).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from scanner.aws_session import client_config, failure_from
from scanner.model import RevocationStatus
from scanner.revocation import policy as P
from scanner.revocation.calls import AuditedCalls
from scanner.revocation.model import Plan, PlanSettings, Target
from scanner.revocation.workloads import is_instance_session

Status = RevocationStatus


def _ec2(calls: AuditedCalls, region: str) -> Any:
    operator = calls.operator
    aws = replace(operator.options, region=region)
    return operator.session.client("ec2", region_name=region, endpoint_url=aws.endpoint_url, config=client_config(aws))


def instance_network(calls: AuditedCalls, instance_id: str, regions: tuple[str, ...]) -> P.InstanceNetwork | str:
    """The instance's VPC, private IP and public egress addresses (read in `regions`), or why they are not known."""
    tried: list[str] = []
    for region in regions:
        ec2 = _ec2(calls, region)
        try:
            reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        except Exception as exc:
            failure = failure_from(exc)
            if failure.code in ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"):
                tried.append(region)
                continue
            return f"ec2:DescribeInstances in {region} failed: {failure.message}"
        instances = [i for r in reservations for i in r.get("Instances", [])]
        if not instances:
            tried.append(region)
            continue
        instance = instances[0]
        state = (instance.get("State") or {}).get("Name")
        if state in ("terminated", "shutting-down"):
            return (f"instance {instance_id} is {state}: nothing of it to spare, so --scope session cuts its leaked "
                    f"credentials without breaking anything")
        if not instance.get("VpcId") or not instance.get("PrivateIpAddress"):
            return f"instance {instance_id} has no VPC or private address: the off-instance conditions cannot hold"
        egress = [instance["PublicIpAddress"]] if instance.get("PublicIpAddress") else []
        try:
            gateways = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [instance["VpcId"]]},
                                                         {"Name": "state", "Values": ["available"]}])
        except Exception as exc:
            return f"ec2:DescribeNatGateways in {region} failed: {failure_from(exc).message}"
        egress += [a["PublicIp"] for g in gateways.get("NatGateways", []) for a in g.get("NatGatewayAddresses", [])
                   if a.get("PublicIp")]
        network = P.InstanceNetwork(instance_id, instance["VpcId"], instance["PrivateIpAddress"],
                                    tuple(dict.fromkeys(egress)))
        calls.audit.event("instance-network", instance=instance_id, region=region, vpc=network.vpc_id,
                          private_ip=network.private_ip, egress_ips=list(network.egress_ips))
        return network
    return (f"instance {instance_id} was not found in {', '.join(tried) or 'any region'} (the plan's regions: the "
            f"operator's region, or respond's --regions)")


UserIdOf = Callable[[str], str]  # session -> its aws:userid (ROLEID:i-…)
CoveredBy = Callable[[list[Any], str, str], datetime | None]  # documents, session, user id -> cutoff already denying
MarksOf = Callable[[str], list[str]]  # session -> the marks of its leaked keys


def plan_off_instance(plan: Plan, target: Target, settings: PlanSettings, inline: dict[str, Any],
                      managed_document: dict[str, Any] | None, calls: AuditedCalls, user_id_of: UserIdOf,
                      covered_by: CoveredBy, marks_of: MarksOf) -> None:
    """One off-instance deny per leaked instance session, each in an inline policy of its own (merged)."""
    now = P.parse_iso_z(settings.cutoff)
    assert now is not None
    regions = settings.regions or (calls.operator.options.resolved_region(),)
    others = [s for s in target.sessions if not is_instance_session(s)]
    if not target.sessions or others:
        plan.status = Status.FAILED
        plan.message = (f"--scope off-instance is for EC2 instance-profile credentials, whose session is named after "
                        f"the instance (i-…); {', '.join(repr(s) for s in others) or 'no session'} is not: use "
                        f"--scope session")
        return
    covered: list[datetime] = []
    for session in target.sessions:
        network = instance_network(calls, session, regions)
        if isinstance(network, str):
            plan.status, plan.changes = Status.FAILED, []
            plan.message = f"{network}; --scope session cuts the leaked session instead (the instance too)"
            return
        user_id = user_id_of(session)
        found = covered_by([*inline.values(), managed_document], session, user_id)
        if found is not None:
            covered.append(found)
            continue
        name = P.off_instance_policy_name(user_id)
        existing = inline.get(name)
        ours = [P.off_instance_statement(user_id, network, settings.cutoff, settings.run_id, marks_of(session))]
        merged = P.merge(existing, ours)
        plan.put_inline_policy("role", target.name, name, existing, merged, ours)
        _describe(plan, network)
    if not plan.changes:
        plan.status, plan.cutoff, plan.message = Status.ALREADY_REVOKED, P.iso_z(min(covered)), (
            f"live, but sessions issued before {P.iso_z(min(covered))} are denied by stsleak's policies "
            f"(--refresh moves the cutoff to now)")
        return
    plan.cutoff = settings.cutoff
    plan.policy_name = plan.changes[0].params["PolicyName"] if len(plan.changes) == 1 else \
        P.OFF_INSTANCE_POLICY_PREFIX + "*"


def _describe(plan: Plan, network: P.InstanceNetwork) -> None:
    egress = ", ".join(network.egress_ips) or "none (no public IP, no NAT gateway)"
    plan.caveats.append(
        f"instance {network.instance_id}'s credentials issued before the cutoff are denied only off its network: "
        f"outside {network.vpc_id}'s VPC endpoints and its public egress addresses ({egress}); the instance, "
        f"and every other workload of the role, keep working")
    plan.not_cut.append(
        f"a host inside {network.vpc_id} using the leaked credentials (its VPC endpoints and NAT gateways are the "
        f"instance's network too): if the attacker may be inside the VPC, use --scope session")
    plan.not_cut.append(
        f"credentials {network.instance_id} fetches after the cutoff: if the instance itself is compromised (SSRF, "
        f"IMDSv1), fix that first (require IMDSv2), or they leak again")
    plan.breaks.append(
        f"requests {network.instance_id} sends through another egress (a proxy, a NAT gateway in another VPC, a "
        f"transit gateway): check its routes before applying")
