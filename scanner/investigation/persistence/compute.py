"""Compute the leaked credentials created: EC2 instances (still running?), key pairs, security groups
opened to the internet, Lambda functions and code, ECS task definitions — read back in their region."""

from __future__ import annotations

import json
from typing import Any

from scanner.aws_session import failure_from
from scanner.investigation.model import PersistenceCategory, PersistenceItem
from scanner.investigation.persistence.common import (
    MAX_IDS,
    Clients,
    Event,
    Reader,
    Rule,
    find,
    get,
    listed,
    regional_item,
    short,
    text,
)

COMPUTE = PersistenceCategory.COMPUTE
RULES: dict[str, Rule] = {}
READERS: dict[str, Reader] = {}
WORLD = ("0.0.0.0/0", "::/0")
PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
GONE = ("terminated", "shutting-down")


def item(kind: str, name: str, region: str, remove: str, *, detail: str = "", **ids: Any) -> PersistenceItem:
    return regional_item(COMPUTE, kind, name, region, remove, detail=detail, **ids)


# --- EC2 -------------------------------------------------------------------------------------------
def _run_instances(e: Event) -> list[PersistenceItem]:
    instances = [str(get(i, "instanceId")) for i in listed(get(e.response, "instancesSet"))
                 if isinstance(i, dict) and get(i, "instanceId")][:MAX_IDS]
    if not instances:
        return []
    image, kind = (find(e.request, "imageId") or ["?"])[0], (find(e.request, "instanceType") or ["?"])[0]
    return [item("instances", short(instances), e.region,
                 f"aws ec2 terminate-instances --instance-ids {' '.join(instances)}",
                 detail=f"{len(instances)} instance(s) of {image} ({kind})", instances=instances)]


def _key_pair(e: Event) -> list[PersistenceItem]:
    name = text(e.request, "keyName")
    holder = "the attacker's public key" if e.name == "ImportKeyPair" else "its private key went to the attacker"
    return [item("key-pair", name, e.region, f"aws ec2 delete-key-pair --key-name {name}",
                 detail=f"{holder}: instances launched with it let them in over SSH (deleting the key pair does not "
                        "remove it from those instances)", key_pair=name)]


def _rule_of(permission: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    protocol = str(get(permission, "ipProtocol") or "-1")
    protocol = PROTOCOLS.get(protocol, protocol)
    low, high = str(get(permission, "fromPort") or "-1"), str(get(permission, "toPort") or "-1")
    cidrs = [str(c) for c in find(permission, "cidrIp") + find(permission, "cidrIpv6")]
    return [(protocol, low, high, c) for c in cidrs if c in WORLD]


def _open_group(e: Event) -> list[PersistenceItem]:
    rules = [r for p in listed(get(e.request, "ipPermissions")) if isinstance(p, dict) for r in _rule_of(p)]
    if get(e.request, "cidrIp") in WORLD:  # the old flat form: IpProtocol/FromPort/ToPort/CidrIp
        rules += _rule_of(e.request)
    if not rules:
        return []
    group = get(e.request, "groupId")
    name = str(group or get(e.request, "groupName") or "?")
    ports = ", ".join(f"{p} {lo}-{hi} from {c}" if lo != "-1" else f"{p} from {c}" for p, lo, hi, c in rules)
    return [item("security-group-open", name, e.region, _revoke(name, group is not None, rules),
                 detail=f"open to the internet: {ports}", group_id=group,
                 group_name=None if group else name, rules=[list(r) for r in rules])]


def _revoke(name: str, by_id: bool, rules: list[tuple[str, str, str, str]]) -> str:
    permissions = []
    for protocol, low, high, cidr in rules:
        permission: dict[str, Any] = {"IpProtocol": protocol}
        if low != "-1" or high != "-1":
            permission |= {"FromPort": int(low), "ToPort": int(high)}
        permission["Ipv6Ranges" if ":" in cidr else "IpRanges"] = [{"CidrIpv6" if ":" in cidr else "CidrIp": cidr}]
        permissions.append(permission)
    target = f"--group-id {name}" if by_id else f"--group-name {name}"
    return f"aws ec2 revoke-security-group-ingress {target} --ip-permissions '{json.dumps(permissions)}'"


RULES.update({"RunInstances": _run_instances, "ImportKeyPair": _key_pair, "CreateKeyPair": _key_pair,
              "AuthorizeSecurityGroupIngress": _open_group})


def _read_instances(c: Clients, found: PersistenceItem) -> bool:
    ids = found.ids["instances"]
    try:
        answer = c("ec2", found.region).describe_instances(InstanceIds=ids)
    except Exception as exc:
        if failure_from(exc).code == "InvalidInstanceID.NotFound":
            return False
        raise
    states = {i["InstanceId"]: i.get("State", {}).get("Name", "?")
              for r in answer.get("Reservations", []) for i in r.get("Instances", [])}
    alive = [i for i in ids if states.get(i, "terminated") not in GONE]
    found.detail = f"{found.detail}; now: " + ", ".join(f"{i} {states.get(i, 'gone')}" for i in ids)
    if alive:
        found.remove = f"aws ec2 terminate-instances --instance-ids {' '.join(alive)} --region {found.region}"
    return bool(alive)


def _read_key_pair(c: Clients, found: PersistenceItem) -> bool:
    c("ec2", found.region).describe_key_pairs(KeyNames=[found.ids["key_pair"]])
    return True


def _read_group(c: Clients, found: PersistenceItem) -> bool:
    ec2 = c("ec2", found.region)
    by_id = "group_id" in found.ids
    answer = (ec2.describe_security_groups(GroupIds=[found.ids["group_id"]]) if by_id
              else ec2.describe_security_groups(GroupNames=[found.ids["group_name"]]))
    now = {tuple(r) for group in answer.get("SecurityGroups", [])
           for p in group.get("IpPermissions", []) for r in _rule_of(_lower(p))}
    still = [(p, lo, hi, cidr) for p, lo, hi, cidr in found.ids["rules"] if (p, lo, hi, cidr) in now]
    if still:
        found.remove = f"{_revoke(found.name, by_id, still)} --region {found.region}"
    return bool(still)


def _lower(permission: dict[str, Any]) -> dict[str, Any]:
    """An EC2 answer's permission in CloudTrail's shape (for `_rule_of`)."""
    return {"ipProtocol": permission.get("IpProtocol"), "fromPort": permission.get("FromPort"),
            "toPort": permission.get("ToPort"),
            "ipRanges": [{"cidrIp": r.get("CidrIp")} for r in permission.get("IpRanges", [])],
            "ipv6Ranges": [{"cidrIpv6": r.get("CidrIpv6")} for r in permission.get("Ipv6Ranges", [])]}


READERS.update({"instances": _read_instances, "key-pair": _read_key_pair, "security-group-open": _read_group})


# --- Lambda, ECS -------------------------------------------------------------------------------------------
def _function(e: Event) -> list[PersistenceItem]:
    name = str(get(e.response, "functionName") or text(e.request, "functionName"))
    role = get(e.response, "role") or get(e.request, "role")
    return [item("lambda-function", name, e.region, f"aws lambda delete-function --function-name {name}",
                 detail=f"runs as {role}" if role else "", function=name)]


def _function_code(e: Event) -> list[PersistenceItem]:
    name = str(get(e.response, "functionName") or text(e.request, "functionName"))
    sha = get(e.response, "codeSha256")
    return [item("lambda-code", name, e.region,
                 f"aws lambda update-function-code --function-name {name} --zip-file fileb://KNOWN-GOOD.zip",
                 detail=f"its code was replaced (sha256 {sha or '?'})", function=name, sha=sha)]


def _task_definition(e: Event) -> list[PersistenceItem]:
    task = get(e.response, "taskDefinition") or {}
    arn = str(get(task, "taskDefinitionArn") or "")
    name = arn.rsplit("/", 1)[-1] if arn else f"{text(e.request, 'family')}:?"
    images = [str(i) for i in find(e.request.get("containerDefinitions"), "image")]
    role = get(task, "taskRoleArn") or get(e.request, "taskRoleArn")
    detail = f"images {short(images)}" if images else ""
    return [item("ecs-task-definition", name, e.region, f"aws ecs deregister-task-definition --task-definition {name}",
                 detail=detail + (f"; task role {role}" if role else ""), task_definition=arn or name)]


RULES.update({"CreateFunction": _function, "UpdateFunctionCode": _function_code,
              "RegisterTaskDefinition": _task_definition})


def _read_function(c: Clients, found: PersistenceItem) -> bool:
    c("lambda", found.region).get_function(FunctionName=found.ids["function"])
    return True


def _read_code(c: Clients, found: PersistenceItem) -> bool | None:
    now = c("lambda", found.region).get_function(FunctionName=found.ids["function"])["Configuration"]
    if not found.ids.get("sha"):
        return None
    return bool(now.get("CodeSha256") == found.ids["sha"])


def _read_task_definition(c: Clients, found: PersistenceItem) -> bool:
    try:
        task = c("ecs", found.region).describe_task_definition(taskDefinition=found.ids["task_definition"])
    except Exception as exc:
        if failure_from(exc).code == "ClientException":  # ECS: "Unable to describe task definition"
            return False
        raise
    return bool(task["taskDefinition"].get("status") == "ACTIVE")


READERS.update({"lambda-function": _read_function, "lambda-code": _read_code,
                "ecs-task-definition": _read_task_definition})
