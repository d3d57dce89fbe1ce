"""Blast radius of revoking a role: what it may do, who can mint fresh sessions, which workloads lose
their current credentials (EC2 via instance profiles, Lambda functions, ECS task definitions and the
services running them).

Trust statements keep their Effect and Condition: a Deny principal is not "trusted by", and an OIDC
condition such as `token.actions.githubusercontent.com:sub: repo:org/*` stays attached to its principal.
A NotPrincipal in an Allow trusts everyone but the principals it names.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from scanner.aws_session import Operator, client_config, failure_from
from scanner.investigation.model import BlastRadius, PolicySummary, TrustStatement

IAM_WRITE_PREFIXES = ("iam:*", "iam:create", "iam:put", "iam:attach", "iam:update", "iam:passrole", "iam:add",
                      "iam:set", "iam:delete")
MAX_TASK_DEFINITIONS = 200
MAX_SERVICES = 200
GET_CALLER_IDENTITY_NOTE = (
    "services that authenticate with a presigned sts:GetCallerIdentity — EKS (aws-iam-authenticator, access "
    "entries, aws-auth) and HashiCorp Vault's AWS auth method — still accept a revoked session until it expires: no "
    "policy can deny GetCallerIdentity. Remove the principal's EKS access entry or aws-auth mapping and unbind it "
    "from Vault (bound_iam_principal_arn; vault lease revoke -prefix auth/aws/login) until then")


def document(value: Any) -> dict[str, Any]:
    """IAM documents arrive decoded (boto3) or URL-encoded JSON."""
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(urllib.parse.unquote(value or "{}"))
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _list(doc.get("Statement")) if isinstance(s, dict)]


def summarise_policy(name: str, kind: str, doc: dict[str, Any]) -> PolicySummary:
    summary = PolicySummary(name, kind)
    for statement in statements(doc):
        if statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _list(statement.get("Action"))]
        resources = [str(r) for r in _list(statement.get("Resource"))]
        summary.actions.extend(a for a in actions if a not in summary.actions)
        lowered = [a.lower() for a in actions]
        if "*" in lowered:
            summary.allows_everything = True
        summary.allows_iam.extend(a for a, low in zip(actions, lowered, strict=True)
                                  if (low == "*" or low.startswith(IAM_WRITE_PREFIXES)) and a not in summary.allows_iam)
        if any(low in ("*", "sts:*", "sts:assumerole", "sts:assume*") for low in lowered):
            summary.assume_role_on.extend(r for r in resources if r not in summary.assume_role_on)
    return summary


def principals_of(statement: dict[str, Any], element: str = "Principal") -> list[str]:
    principal = statement.get(element)
    if principal == "*":
        return ["*"]
    if not isinstance(principal, dict):
        return []
    return [f"{kind}:{value}" for kind, values in principal.items() for value in _list(values)]


def _condition(statement: dict[str, Any]) -> dict[str, dict[str, object]]:
    condition = statement.get("Condition")
    return condition if isinstance(condition, dict) else {}


def trust_statements(doc: dict[str, Any]) -> list[TrustStatement]:
    return [TrustStatement(str(s.get("Effect", "?")), principals_of(s), [str(a) for a in _list(s.get("Action"))],
                           _condition(s), principals_of(s, "NotPrincipal"))
            for s in statements(doc)]


def conditions_text(conditions: dict[str, dict[str, object]]) -> str:
    """` when OP key=value; …`, or "" without conditions."""
    parts = [f"{op} {key}={json.dumps(value)}" for op, pairs in conditions.items() if isinstance(pairs, dict)
             for key, value in pairs.items()]
    return f" when {'; '.join(parts)}" if parts else ""



def trust_lines(trust: list[TrustStatement]) -> tuple[list[str], list[str]]:
    """(trusted, denied): the trust policy as it is, one line per principal with its statement's conditions.
    Only Allow statements trust; a Deny principal is listed as denied, never as trusted."""
    trusted: list[str] = []
    denied: list[str] = []
    for statement in trust:
        condition = conditions_text(statement.conditions)
        lines = [f"{p}{condition}" for p in statement.principals]
        if statement.not_principals:
            lines.append(f"everyone but {', '.join(statement.not_principals)}{condition}")
        (trusted if statement.effect == "Allow" else denied).extend(lines)
    return list(dict.fromkeys(trusted)), list(dict.fromkeys(denied))


def who_can_mint(trust: list[TrustStatement], role_arn: str) -> list[str]:
    """One line per Allow principal, flagged: they can start fresh sessions after the cutoff."""
    lines = []
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    for statement in trust:
        if statement.effect != "Allow":
            continue
        condition = conditions_text(statement.conditions)
        if statement.not_principals:
            lines.append(f"everyone but {', '.join(statement.not_principals)}{condition}  [WILDCARD: NotPrincipal]")
        for principal in statement.principals:
            value = principal.split(":", 1)[-1]
            flag = ""
            if principal == "*" or value == "*":
                flag = "WILDCARD: anyone" + ("" if condition else " (no condition!)")
            elif value.endswith(":root") or value == account:
                flag = f"ACCOUNT ROOT: any principal of {value.split(':')[4] if ':' in value else value} " \
                       "whose own policy allows sts:AssumeRole"
            elif value == role_arn or value.endswith(f":role/{role_arn.rsplit('/', 1)[-1]}"):
                flag = "SELF-TRUST: sessions of this role can mint new ones"
            elif "*" in condition:
                flag = "WILDCARD CONDITION"
            lines.append(f"{principal}{condition}" + (f"  [{flag}]" if flag else ""))
    return lines


class BlastRadiusReader:
    """Read-only IAM, EC2, Lambda and ECS calls with the operator's credentials."""

    def __init__(self, operator: Operator, regions: list[str]) -> None:
        self.operator = operator
        self.regions = regions
        self.iam = operator.client("iam")
        self._clients: dict[tuple[str, str], Any] = {}

    def regional(self, service: str, region: str) -> Any:
        from dataclasses import replace

        if (service, region) not in self._clients:
            aws = replace(self.operator.options, region=region)
            self._clients[(service, region)] = self.operator.session.client(
                service, region_name=region, endpoint_url=aws.endpoint_url, config=client_config(aws))
        return self._clients[(service, region)]

    def role(self, name: str) -> BlastRadius:
        role = self.iam.get_role(RoleName=name)["Role"]
        radius = BlastRadius(role["Arn"], role["RoleName"])
        radius.trust = trust_statements(document(role.get("AssumeRolePolicyDocument")))
        radius.can_mint = who_can_mint(radius.trust, role["Arn"])
        denied = trust_lines(radius.trust)[1]
        if denied:
            radius.notes.append(f"the trust policy denies {'; '.join(denied)}: never trusted, whatever else it allows")
        self._policies(radius)
        self.workloads(radius)
        radius.notes.append("SDK/CLI credential caches (~/.aws/cli/cache, long-running processes) holding a session "
                            "of this role issued before the cutoff fail until refreshed")
        radius.notes.append(GET_CALLER_IDENTITY_NOTE)
        return radius

    def _policies(self, radius: BlastRadius) -> None:
        try:
            for policy_name in self.iam.list_role_policies(RoleName=radius.role_name)["PolicyNames"]:
                doc = self.iam.get_role_policy(RoleName=radius.role_name, PolicyName=policy_name)["PolicyDocument"]
                radius.policies.append(summarise_policy(policy_name, "inline", document(doc)))
            for attached in self.iam.list_attached_role_policies(RoleName=radius.role_name)["AttachedPolicies"]:
                policy = self.iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
                version = self.iam.get_policy_version(PolicyArn=attached["PolicyArn"],
                                                      VersionId=policy["DefaultVersionId"])["PolicyVersion"]
                radius.policies.append(summarise_policy(attached["PolicyName"], "managed",
                                                        document(version.get("Document"))))
        except Exception as exc:
            radius.notes.append(f"policies not fully read: {failure_from(exc).message}")

    def workloads(self, radius: BlastRadius) -> None:
        """The workloads using the role's credentials, in every region of the reader; what could not be read is a
        note (never silently none)."""
        try:
            profiles = self.iam.list_instance_profiles_for_role(RoleName=radius.role_name)["InstanceProfiles"]
            radius.instance_profiles = [p["Arn"] for p in profiles]
        except Exception as exc:
            radius.notes.append(f"instance profiles unknown: {failure_from(exc).message}")
        self.regional_workloads(radius)

    def regional_workloads(self, radius: BlastRadius) -> None:
        """EC2 instances (of radius.instance_profiles), Lambda functions, ECS task definitions and services."""
        for region in self.regions:
            for reader in (self._instances, self._functions, self._tasks, self._services):
                try:
                    reader(radius, region)
                except Exception as exc:
                    radius.notes.append(f"{region}: {reader.__name__.lstrip('_')} unknown: "
                                        f"{failure_from(exc).message}")

    def _instances(self, radius: BlastRadius, region: str) -> None:
        if not radius.instance_profiles:
            return
        ec2 = self.regional("ec2", region)
        for page in ec2.get_paginator("describe_iam_instance_profile_associations").paginate():
            for association in page.get("IamInstanceProfileAssociations", []):
                if association.get("IamInstanceProfile", {}).get("Arn") in radius.instance_profiles and \
                        association.get("State") in ("associated", "associating", None):
                    radius.instances.append(f"{association['InstanceId']} ({region})")

    def _functions(self, radius: BlastRadius, region: str) -> None:
        for page in self.regional("lambda", region).get_paginator("list_functions").paginate():
            radius.functions.extend(f"{f['FunctionName']} ({region})" for f in page.get("Functions", [])
                                    if f.get("Role") == radius.role_arn)

    def _tasks(self, radius: BlastRadius, region: str) -> None:
        ecs = self.regional("ecs", region)
        arns: list[str] = []
        for page in ecs.get_paginator("list_task_definitions").paginate(status="ACTIVE"):
            arns.extend(page.get("taskDefinitionArns", []))
        for arn in arns[:MAX_TASK_DEFINITIONS]:
            task = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            uses = [k for k in ("taskRoleArn", "executionRoleArn") if task.get(k) == radius.role_arn]
            if uses:
                radius.task_definitions.append(f"{arn.rsplit('/', 1)[-1]} ({region}, {' and '.join(uses)})")
        if len(arns) > MAX_TASK_DEFINITIONS:
            radius.notes.append(f"{region}: only the first {MAX_TASK_DEFINITIONS} of {len(arns)} task definitions "
                                "were read")

    def _services(self, radius: BlastRadius, region: str) -> None:
        """ECS services whose task definition (read for each service, whatever its status) uses the role."""
        ecs = self.regional("ecs", region)
        uses: dict[str, list[str]] = {}  # task definition ARN -> which of its roles is this one
        seen = 0
        for page in ecs.get_paginator("list_clusters").paginate():
            for cluster in page.get("clusterArns", []):
                names: list[str] = []
                for services in ecs.get_paginator("list_services").paginate(cluster=cluster):
                    names.extend(services.get("serviceArns", []))
                for start in range(0, min(len(names), MAX_SERVICES - seen), 10):
                    for service in ecs.describe_services(cluster=cluster,
                                                         services=names[start:start + 10]).get("services", []):
                        seen += 1
                        arn = service.get("taskDefinition") or ""
                        if arn and arn not in uses:
                            task = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
                            uses[arn] = [k for k in ("taskRoleArn", "executionRoleArn")
                                         if task.get(k) == radius.role_arn]
                        if uses.get(arn):
                            radius.services.append(f"{service.get('serviceName')} on cluster "
                                                   f"{cluster.rsplit('/', 1)[-1]} ({region}, task definition "
                                                   f"{arn.rsplit('/', 1)[-1]}, {' and '.join(uses[arn])})")
                if seen >= MAX_SERVICES:
                    radius.notes.append(f"{region}: only the first {MAX_SERVICES} ECS services were read")
                    return


def blast_radius(reader: BlastRadiusReader, role_name: str) -> BlastRadius:
    try:
        return reader.role(role_name)
    except Exception as exc:
        radius = BlastRadius(role_name, role_name)
        radius.notes.append(f"iam:GetRole failed: {failure_from(exc).message}")
        return radius
