"""What a revocation acts on: a role, a long-term access key, an IAM user's temporary sessions, or one
federated-user session (GetFederationToken), cut on the IAM user that issued it.

Targets come from live findings (grouped: one target per role / key / user / federated user) or from
`--role` / `--federated-user`. A target that cannot be revoked here carries a `refusal`; its `kind`
still says what it is. The issuer of a federated-user session is never guessed: the operator names it
(`--issuer`), or the investigation read it from CloudTrail (`userIdentity.sessionContext.sessionIssuer`).
"""

from __future__ import annotations

import re

from scanner.model import Finding
from scanner.revocation.model import Target, TargetKind

SERVICE_LINKED_ADVICE = ("service-linked role: IAM does not let anyone change it, and SCPs do not affect "
                         "service-linked roles; stop the leak at the service that owns it (disable or "
                         "reconfigure the resource using the role) and wait for its sessions to expire")
IDENTITY_CENTER_ADVICE = (
    "IAM Identity Center role: IAM refuses changes to it. In the Identity Center instance's account: find the "
    "permission set named in the role (AWSReservedSSO_<PermissionSet>_…), add to its inline policy a Deny on * "
    "for aws:userid ROLEID:<user name> with aws:TokenIssueTime before now, and re-provision the permission set "
    "to its accounts; then, in the Identity Center console, delete the user's active sessions and disable the "
    "user (or use an SCP in member accounts)")
FEDERATED_ADVICE = ("federated-user session (GetFederationToken): stsleak denies it (aws:userid ACCOUNT:NAME, issued "
                    "before now) on the IAM user that called GetFederationToken, and never guesses that user: name it "
                    "with --issuer USER (or NAME=USER); CloudTrail names it in any event of the leaked key "
                    "(userIdentity.sessionContext.sessionIssuer.userName), and `stsleak respond` reads it from there. "
                    "Deactivating that user's keys does not end sessions already issued")
_FEDERATED_ARN = re.compile(r"^arn:(?P<partition>[a-z][a-z0-9-]{0,30}):sts::(?P<account>[0-9]{12}):federated-user/"
                            r"(?P<name>[\w+=,.@-]{2,32})$")
_FEDERATED_NAME = re.compile(r"^[\w+=,.@-]{2,32}$")
ROOT_ADVICE = ("root session: IAM cannot restrict the root user; deny it with an SCP (member accounts of an "
               "organization) or wait until it expires (at most 1 h for GetSessionToken as root); delete any "
               "root access key in the console (Security credentials) and rotate the root password")


def unmodifiable_reason(role_name: str, path: str | None = None) -> str | None:
    """Roles IAM refuses to change, recognised before any call (the one place that decides)."""
    if role_name.startswith("AWSServiceRoleFor") or "/aws-service-role/" in (path or ""):
        return SERVICE_LINKED_ADVICE
    if is_identity_center_role(role_name, path):
        return IDENTITY_CENTER_ADVICE
    return None


def is_identity_center_role(role_name: str, path: str | None = None) -> bool:
    return role_name.startswith("AWSReservedSSO_") or "/aws-reserved/sso.amazonaws.com/" in (path or "")


def split_role_arn(arn: str) -> tuple[str, str, str, str] | None:
    """(partition, account, path, name) of arn:PARTITION:iam::ACCOUNT:role/PATH/NAME, else None."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    path, _, name = parts[5][len("role"):].rpartition("/")
    return parts[1], parts[4], path + "/", name


def role_target(role: str, sessions: list[str] | None = None) -> Target:
    """A target from `--role ARN|NAME` (ARN: arn:PARTITION:iam::ACCOUNT:role/PATH/NAME)."""
    if role.startswith("arn:"):
        parsed = split_role_arn(role)
        if parsed is None:
            return Target(TargetKind.ROLE, role, refusal=f"not a role ARN: {role}", explicit=True)
        partition, account, path, name = parsed
        return Target(TargetKind.ROLE, name, account=account or None, path=path, sessions=list(sessions or []),
                      arn=role, partition=partition, explicit=True)
    return Target(TargetKind.ROLE, role, sessions=list(sessions or []), explicit=True)


def federated_target(text: str, issuer: str | None = None) -> Target:
    """A target from `--federated-user ARN|NAME` (ARN: arn:PARTITION:sts::ACCOUNT:federated-user/NAME; a bare
    NAME is in the operator's account) and `--issuer USER`."""
    found = _FEDERATED_ARN.match(text)
    if found:
        target = Target(TargetKind.FEDERATED_USER, found["name"], account=found["account"], arn=text,
                        partition=found["partition"], explicit=True)
    elif _FEDERATED_NAME.match(text):
        target = Target(TargetKind.FEDERATED_USER, text, explicit=True)
    else:
        return Target(TargetKind.FEDERATED_USER, text, explicit=True,
                      refusal=f"not a federated user ARN or name: {text} (arn:aws:sts::ACCOUNT:federated-user/NAME)")
    if issuer:
        target.issuer, target.issuer_source = issuer, "named by the operator (--issuer)"
    return target


def name_issuers(targets: list[Target], issuers: dict[str, str]) -> None:
    """The issuers the operator named (`--issuer NAME=USER`, or `--issuer USER` under the key "" for the one
    federated-user target there is) on the federated-user targets that have none yet."""
    federated = [t for t in targets if t.kind is TargetKind.FEDERATED_USER]
    for target in federated:
        issuer = issuers.get(target.name) or (issuers.get("") if len(federated) == 1 else None)
        if issuer and not target.issuer:
            target.issuer, target.issuer_source = issuer, "named by the operator (--issuer)"
        elif "" in issuers and len(federated) > 1 and not target.issuer and target.name not in issuers:
            target.refusal = target.refusal or (f"--issuer {issuers['']} without a name, but {len(federated)} "
                                                f"federated users are leaked: give --issuer {target.name}=USER")


def _identify(finding: Finding) -> tuple[TargetKind, str, str | None, str | None]:
    """(kind, name, user name, refusal) for a live finding."""
    v = finding.verification
    assert v is not None
    user = (v.arn or "").rsplit("/", 1)[-1] if v.principal_type == "iam-user" else None
    if v.principal_type == "assumed-role" and v.role_name:
        return TargetKind.ROLE, v.role_name, None, None
    if v.principal_type == "iam-user" and finding.access_key_id.startswith("AKIA"):
        return TargetKind.ACCESS_KEY, finding.access_key_id, user, None
    if v.principal_type == "iam-user" and user:
        return TargetKind.USER, user, None, None
    name = v.arn or finding.access_key_id
    federated = _FEDERATED_ARN.match(v.arn or "")
    if v.principal_type == "federated-user" and federated:
        return TargetKind.FEDERATED_USER, federated["name"], None, None
    if v.principal_type == "federated-user":
        return TargetKind.FEDERATED_USER, name, None, f"not a federated-user ARN: {v.arn}"
    if v.principal_type == "root":
        return TargetKind.USER, name, None, ROOT_ADVICE
    return TargetKind.USER, name, None, "unknown principal type: nothing to revoke"


def targets_from_findings(findings: list[Finding], *, fingerprints: list[str | None] | None = None) -> list[Target]:
    """One target per role / key / user among the live findings, carrying all their findings.

    `fingerprints` (one per finding, from a report's rows) marks the targets as coming from a
    report: their evidence is checked against IAM before anything is planned, and a row without a
    fingerprint refuses its target.
    """
    targets: dict[tuple[TargetKind, str | None, str], Target] = {}
    for index, finding in enumerate(findings):
        v = finding.verification
        if not v or v.status != "live":
            continue
        kind, name, user, refusal = _identify(finding)
        target = targets.setdefault((kind, v.account, name), Target(kind, name, account=v.account))
        target.user_name = target.user_name or user
        target.refusal = target.refusal or refusal
        if v.arn:
            target.partition = v.arn.split(":")[1] if v.arn.count(":") >= 5 else target.partition
        if v.session_name and v.session_name not in target.sessions:
            target.sessions.append(v.session_name)
        if v.session_name and v.user_id:
            target.user_ids.setdefault(v.session_name, v.user_id)
        if v.user_id and v.user_id not in target.principal_ids:
            target.principal_ids.append(v.user_id)
        if v.role_arn and (parsed := split_role_arn(v.role_arn)):
            target.arn, target.path = v.role_arn, parsed[2]
        if kind is TargetKind.FEDERATED_USER:
            target.arn = v.arn
        target.findings.append(finding)
        if fingerprints is None:
            target.fingerprints.append(finding.fingerprint)
            continue
        target.from_report = True
        row_print = fingerprints[index] if index < len(fingerprints) else None
        if row_print:
            target.fingerprints.append(row_print)
        else:
            target.refusal = target.refusal or ("a report row without a fingerprint (not made by `stsleak scan "
                                                "--verify --format json`): refused")
    return list(targets.values())
