"""IAM footholds: users, access keys, login profiles, roles, trust-policy edits, policies and versions,
permission grants, groups and memberships, OIDC/SAML identity providers, MFA devices, SSH keys,
service-specific credentials and permissions boundaries — each read back with IAM."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from scanner.investigation.model import PersistenceCategory, PersistenceItem
from scanner.investigation.persistence.common import (
    Clients,
    Event,
    Reader,
    Rule,
    document,
    get,
    principals,
    same_document,
    short,
    text,
)
from scanner.investigation.persistence.common import item as _item

IAM = PersistenceCategory.IAM
MAX_DOCUMENT = 100_000  # characters of a SAML metadata document kept to compare with what is there now
RULES: dict[str, Rule] = {}
READERS: dict[str, Reader] = {}


def item(kind: str, name: str, remove: str, *, detail: str = "", **ids: Any) -> PersistenceItem:
    return _item(kind, name, IAM, remove, detail=detail, **ids)


def rule(*names: str) -> Callable[[Rule], Rule]:
    def register(function: Rule) -> Rule:
        for name in names:
            RULES[name] = function
        return function
    return register


def reader(kind: str) -> Callable[[Reader], Reader]:
    def register(function: Reader) -> Reader:
        READERS[kind] = function
        return function
    return register


# --- users, keys, roles, policies (what the key's events created) ------------------------------------
@rule("CreateUser")
def _user(e: Event) -> list[PersistenceItem]:
    user = text(e.request, "userName")
    return [item("user", user, f"aws iam delete-user --user-name {user}  (first remove its access keys, login "
                               "profile, policies, group memberships, MFA devices, SSH keys and service-specific "
                               "credentials)", user=user)]


@rule("CreateAccessKey")
def _access_key(e: Event) -> list[PersistenceItem]:
    key_data = get(e.response, "accessKey") or {}
    key, user = text(key_data, "accessKeyId"), str(get(key_data, "userName") or text(e.request, "userName"))
    return [item("access-key", f"{key} (user {user})",
                 f"aws iam delete-access-key --user-name {user} --access-key-id {key}",
                 detail=f"a long-term access key for {user}", user=user, key=key)]


@rule("CreateLoginProfile", "UpdateLoginProfile")
def _login_profile(e: Event) -> list[PersistenceItem]:
    user = text(e.request, "userName")
    return [item("login-profile", user, f"aws iam delete-login-profile --user-name {user}",
                 detail="a console password the attacker knows", user=user)]


@rule("CreateRole")
def _role(e: Event) -> list[PersistenceItem]:
    role = text(e.request, "roleName")
    trusted = principals(document(get(e.request, "assumeRolePolicyDocument")))
    return [item("role", role, f"aws iam delete-role --role-name {role}  (first detach/delete its policies and remove "
                               "it from instance profiles)",
                 detail=f"trusts {short(trusted)}" if trusted else "", role=role)]


@rule("UpdateAssumeRolePolicy")
def _trust(e: Event) -> list[PersistenceItem]:
    role = text(e.request, "roleName")
    doc = document(get(e.request, "policyDocument"))
    trusted = principals(doc)
    return [item("trust-policy", role, f"restore the trust policy of {role}: aws iam update-assume-role-policy "
                                       f"--role-name {role} --policy-document file://trust-policy-before.json",
                 detail="trust policy replaced" + (f"; now trusts {short(trusted)}" if trusted else ""),
                 role=role, document=doc)]


@rule("CreatePolicy")
def _policy(e: Event) -> list[PersistenceItem]:
    arn = str(get(get(e.response, "policy"), "arn") or text(e.request, "policyName"))
    return [item("policy", arn, f"aws iam delete-policy --policy-arn {arn}  (detach it everywhere and delete its "
                                "other versions first)", arn=arn)]


@rule("CreatePolicyVersion", "SetDefaultPolicyVersion")
def _policy_version(e: Event) -> list[PersistenceItem]:
    arn = text(e.request, "policyArn")
    version = get(get(e.response, "policyVersion"), "versionId") or get(e.request, "versionId")
    default = e.name == "SetDefaultPolicyVersion" or str(get(e.request, "setAsDefault")).lower() == "true"
    return [item("policy-version", arn, f"aws iam set-default-policy-version --policy-arn {arn} --version-id "
                                        f"<the version before>, then aws iam delete-policy-version --policy-arn "
                                        f"{arn} --version-id {version or '<its id>'}",
                 detail=f"version {version or '?'}" + (" set as default" if default else ""),
                 arn=arn, version=version if default else None)]


# --- permissions granted: policies on users/roles/groups, group memberships, groups ------------------
GRANTS = {  # event -> (owner kind, request field, CLI command, flag, what field)
    "AttachUserPolicy": ("user", "userName", "detach-user-policy --user-name", "--policy-arn", "policyArn"),
    "AttachRolePolicy": ("role", "roleName", "detach-role-policy --role-name", "--policy-arn", "policyArn"),
    "AttachGroupPolicy": ("group", "groupName", "detach-group-policy --group-name", "--policy-arn", "policyArn"),
    "PutUserPolicy": ("user", "userName", "delete-user-policy --user-name", "--policy-name", "policyName"),
    "PutRolePolicy": ("role", "roleName", "delete-role-policy --role-name", "--policy-name", "policyName"),
    "PutGroupPolicy": ("group", "groupName", "delete-group-policy --group-name", "--policy-name", "policyName"),
}


@rule(*GRANTS)
def _grant(e: Event) -> list[PersistenceItem]:
    owner, field, command, option, what_field = GRANTS[e.name]
    who, what = text(e.request, field), text(e.request, what_field)
    doc = document(get(e.request, "policyDocument"))
    detail = "allows everything" if doc and '"*"' in json.dumps(doc.get("Statement")) else ""
    return [item("permission", f"{what} on {owner} {who}", f"aws iam {command} {who} {option} {what}",
                 detail=detail, grant=e.name, owner=who, what=what)]


@rule("AddUserToGroup")
def _membership(e: Event) -> list[PersistenceItem]:
    user, group = text(e.request, "userName"), text(e.request, "groupName")
    return [item("group-membership", f"user {user} in group {group}",
                 f"aws iam remove-user-from-group --user-name {user} --group-name {group}", user=user, group=group)]


@rule("CreateGroup")
def _group(e: Event) -> list[PersistenceItem]:
    group = text(e.request, "groupName")
    return [item("group", group, f"aws iam delete-group --group-name {group}  (first remove its users and "
                                 "policies)", group=group)]


# --- identity providers ----------------------------------------------------------------------------
@rule("CreateOpenIDConnectProvider")
def _oidc(e: Event) -> list[PersistenceItem]:
    arn = text(e.response, "openIDConnectProviderArn")
    clients = get(e.request, "clientIDList") or []
    return [item("oidc-provider", arn, f"aws iam delete-open-id-connect-provider --open-id-connect-provider-arn {arn}",
                 detail=f"tokens of {text(e.request, 'url')} (client ids {short([str(c) for c in clients])}) can "
                        "assume roles that trust it", arn=arn)]


@rule("AddClientIDToOpenIDConnectProvider")
def _oidc_client(e: Event) -> list[PersistenceItem]:
    arn, client = text(e.request, "openIDConnectProviderArn"), text(e.request, "clientID")
    return [item("oidc-client-id", f"{client} on {arn}",
                 f"aws iam remove-client-id-from-open-id-connect-provider --open-id-connect-provider-arn {arn} "
                 f"--client-id {client}", arn=arn, client=client)]


@rule("UpdateOpenIDConnectProviderThumbprint")
def _oidc_thumbprint(e: Event) -> list[PersistenceItem]:
    arn = text(e.request, "openIDConnectProviderArn")
    prints = [str(p) for p in get(e.request, "thumbprintList") or []]
    return [item("oidc-thumbprint", arn, f"aws iam update-open-id-connect-provider-thumbprint "
                                         f"--open-id-connect-provider-arn {arn} --thumbprint-list <the thumbprints "
                                         "before>", detail=f"thumbprints set to {short(prints)}", arn=arn,
                 thumbprints=prints)]


@rule("CreateSAMLProvider")
def _saml(e: Event) -> list[PersistenceItem]:
    arn = str(get(e.response, "sAMLProviderArn") or f"arn:aws:iam::{e.account}:saml-provider/{text(e.request, 'name')}")
    return [item("saml-provider", arn, f"aws iam delete-saml-provider --saml-provider-arn {arn}",
                 detail="assertions it signs can assume roles that trust it", arn=arn)]


@rule("UpdateSAMLProvider")
def _saml_update(e: Event) -> list[PersistenceItem]:
    arn = text(e.request, "sAMLProviderArn")
    metadata = get(e.request, "sAMLMetadataDocument")
    return [item("saml-metadata", arn, f"aws iam update-saml-provider --saml-provider-arn {arn} "
                                       "--saml-metadata-document file://metadata-before.xml",
                 detail="its signing metadata was replaced", arn=arn,  # kept to compare, if small (memory bounded)
                 metadata=metadata if isinstance(metadata, str) and len(metadata) <= MAX_DOCUMENT else None)]


# --- credentials of users: MFA, SSH keys, service-specific credentials -------------------------------
@rule("EnableMFADevice")
def _mfa(e: Event) -> list[PersistenceItem]:
    user, serial = text(e.request, "userName"), text(e.request, "serialNumber")
    return [item("mfa-device", f"{serial} (user {user})",
                 f"aws iam deactivate-mfa-device --user-name {user} --serial-number {serial}",
                 detail="an MFA device the attacker holds: they pass MFA as this user", user=user, serial=serial)]


@rule("CreateVirtualMFADevice")
def _virtual_mfa(e: Event) -> list[PersistenceItem]:
    serial = text(get(e.response, "virtualMFADevice"), "serialNumber")
    return [item("virtual-mfa-device", serial, f"aws iam delete-virtual-mfa-device --serial-number {serial}  "
                                               "(deactivate it on its user first)",
                 detail="its seed went to the attacker", serial=serial)]


@rule("UploadSSHPublicKey")
def _ssh(e: Event) -> list[PersistenceItem]:
    key = get(e.response, "sSHPublicKey", "sshPublicKey") or {}
    user = str(get(key, "userName") or text(e.request, "userName"))
    key_id = text(key, "sSHPublicKeyId", "sshPublicKeyId")
    return [item("ssh-key", f"{key_id} (user {user})",
                 f"aws iam delete-ssh-public-key --user-name {user} --ssh-public-key-id {key_id}",
                 detail="git over SSH to CodeCommit as this user", user=user, key=key_id)]


@rule("CreateServiceSpecificCredential", "ResetServiceSpecificCredential")
def _service_credential(e: Event) -> list[PersistenceItem]:
    credential = get(e.response, "serviceSpecificCredential") or {}
    user = str(get(credential, "userName") or text(e.request, "userName"))
    cid = str(get(credential, "serviceSpecificCredentialId") or text(e.request, "serviceSpecificCredentialId"))
    service = str(get(credential, "serviceName") or get(e.request, "serviceName") or "?")
    verb = "new password for" if e.name.startswith("Reset") else "a password for"
    return [item("service-credential", f"{cid} (user {user})",
                 f"aws iam delete-service-specific-credential --user-name {user} --service-specific-credential-id "
                 f"{cid}", detail=f"{verb} {service}, which deactivating the leaked key does not touch",
                 user=user, credential=cid)]


# --- permissions boundaries --------------------------------------------------------------------------
@rule("PutUserPermissionsBoundary", "PutRolePermissionsBoundary", "DeleteUserPermissionsBoundary",
      "DeleteRolePermissionsBoundary")
def _boundary(e: Event) -> list[PersistenceItem]:
    owner = "user" if "User" in e.name else "role"
    who = text(e.request, f"{owner}Name")
    if e.name.startswith("Delete"):
        return [item("boundary-removed", f"{owner} {who}",
                     f"aws iam put-{owner}-permissions-boundary --{owner}-name {who} --permissions-boundary "
                     "<the boundary policy ARN before>",
                     detail="its permissions boundary was removed: it may now use all its policies allow",
                     owner=owner, who=who)]
    boundary = text(e.request, "permissionsBoundary")
    return [item("boundary-set", f"{owner} {who}", f"aws iam delete-{owner}-permissions-boundary --{owner}-name {who}"
                                                   "  (or put back the boundary it had)",
                 detail=f"permissions boundary set to {boundary}", owner=owner, who=who, boundary=boundary)]


# --- read back ------------------------------------------------------------------------------------
@reader("user")
def _read_user(c: Clients, found: PersistenceItem) -> bool:
    c("iam").get_user(UserName=found.ids.get("user", found.name))
    return True


@reader("access-key")
def _read_key(c: Clients, found: PersistenceItem) -> bool:
    keys = c("iam").list_access_keys(UserName=found.ids["user"])["AccessKeyMetadata"]
    match = [k for k in keys if k["AccessKeyId"] == found.ids["key"]]
    if match:
        found.detail = f"{found.detail}; status {match[0]['Status']}".lstrip("; ")
    return bool(match)


@reader("login-profile")
def _read_login(c: Clients, found: PersistenceItem) -> bool:
    c("iam").get_login_profile(UserName=found.ids.get("user", found.name))
    return True


@reader("role")
def _read_role(c: Clients, found: PersistenceItem) -> bool:
    c("iam").get_role(RoleName=found.ids.get("role", found.name))
    return True


@reader("trust-policy")
def _read_trust(c: Clients, found: PersistenceItem) -> bool | None:
    now = document(c("iam").get_role(RoleName=found.ids["role"])["Role"].get("AssumeRolePolicyDocument"))
    found.detail = f"trust policy replaced; now trusts {short(principals(now)) or 'nobody'}"
    if "document" not in found.ids:
        return None
    if not same_document(now, found.ids["document"]):
        found.detail += " (changed again since)"
        return False
    return True


@reader("policy")
def _read_policy(c: Clients, found: PersistenceItem) -> bool:
    c("iam").get_policy(PolicyArn=found.ids["arn"])
    return True


@reader("policy-version")
def _read_version(c: Clients, found: PersistenceItem) -> bool:
    policy = c("iam").get_policy(PolicyArn=found.ids["arn"])["Policy"]
    version = found.ids.get("version")
    if version is None:
        return True
    found.detail = f"{found.detail}; the default version is {policy.get('DefaultVersionId')} now"
    return bool(policy.get("DefaultVersionId") == version)


@reader("permission")
def _read_grant(c: Clients, found: PersistenceItem) -> bool:
    iam, grant, who, what = c("iam"), found.ids["grant"], found.ids["owner"], found.ids["what"]
    if grant.startswith("Attach"):
        owner = grant.removeprefix("Attach").removesuffix("Policy")
        listing = getattr(iam, f"list_attached_{owner.lower()}_policies")(**{f"{owner}Name": who})
        return what in [p["PolicyArn"] for p in listing["AttachedPolicies"]]
    owner = grant.removeprefix("Put").removesuffix("Policy")
    getattr(iam, f"get_{owner.lower()}_policy")(**{f"{owner}Name": who, "PolicyName": what})
    return True


@reader("group-membership")
def _read_membership(c: Clients, found: PersistenceItem) -> bool:
    groups = c("iam").list_groups_for_user(UserName=found.ids["user"])["Groups"]
    return found.ids["group"] in [g["GroupName"] for g in groups]


@reader("group")
def _read_group(c: Clients, found: PersistenceItem) -> bool:
    c("iam").get_group(GroupName=found.ids["group"])
    return True


@reader("oidc-provider")
def _read_oidc(c: Clients, found: PersistenceItem) -> bool:
    c("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=found.ids["arn"])
    return True


@reader("oidc-client-id")
def _read_oidc_client(c: Clients, found: PersistenceItem) -> bool:
    provider = c("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=found.ids["arn"])
    return found.ids["client"] in provider.get("ClientIDList", [])


@reader("oidc-thumbprint")
def _read_oidc_thumbprint(c: Clients, found: PersistenceItem) -> bool:
    provider = c("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=found.ids["arn"])
    return sorted(provider.get("ThumbprintList", [])) == sorted(found.ids.get("thumbprints", []))


@reader("saml-provider")
def _read_saml(c: Clients, found: PersistenceItem) -> bool:
    c("iam").get_saml_provider(SAMLProviderArn=found.ids["arn"])
    return True


@reader("saml-metadata")
def _read_saml_metadata(c: Clients, found: PersistenceItem) -> bool | None:
    provider = c("iam").get_saml_provider(SAMLProviderArn=found.ids["arn"])
    metadata = found.ids.get("metadata")
    return None if metadata is None else bool(provider.get("SAMLMetadataDocument") == metadata)


@reader("mfa-device")
def _read_mfa(c: Clients, found: PersistenceItem) -> bool:
    devices = c("iam").list_mfa_devices(UserName=found.ids["user"])["MFADevices"]
    return found.ids["serial"] in [d["SerialNumber"] for d in devices]


@reader("virtual-mfa-device")
def _read_virtual_mfa(c: Clients, found: PersistenceItem) -> bool:
    for page in c("iam").get_paginator("list_virtual_mfa_devices").paginate():
        for device in page.get("VirtualMFADevices", []):
            if device.get("SerialNumber") == found.ids["serial"]:
                user = (device.get("User") or {}).get("UserName")
                if user:
                    found.detail = f"{found.detail}; enabled on user {user}"
                return True
    return False


@reader("ssh-key")
def _read_ssh(c: Clients, found: PersistenceItem) -> bool:
    keys = c("iam").list_ssh_public_keys(UserName=found.ids["user"])["SSHPublicKeys"]
    match = [k for k in keys if k["SSHPublicKeyId"] == found.ids["key"]]
    if match:
        found.detail = f"{found.detail}; status {match[0].get('Status')}"
    return bool(match)


@reader("service-credential")
def _read_service_credential(c: Clients, found: PersistenceItem) -> bool:
    listing = c("iam").list_service_specific_credentials(UserName=found.ids["user"])
    match = [k for k in listing["ServiceSpecificCredentials"]
             if k["ServiceSpecificCredentialId"] == found.ids["credential"]]
    if match:
        found.detail = f"{found.detail}; status {match[0].get('Status')}"
    return bool(match)


def _boundary_now(c: Clients, found: PersistenceItem) -> str | None:
    owner, who = found.ids["owner"], found.ids["who"]
    answer = c("iam").get_user(UserName=who)["User"] if owner == "user" else c("iam").get_role(RoleName=who)["Role"]
    return (answer.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")


@reader("boundary-removed")
def _read_boundary_removed(c: Clients, found: PersistenceItem) -> bool:
    now = _boundary_now(c, found)
    if now:
        found.detail = f"{found.detail}; it has the boundary {now} now"
    return now is None


@reader("boundary-set")
def _read_boundary_set(c: Clients, found: PersistenceItem) -> bool:
    return bool(_boundary_now(c, found) == found.ids.get("boundary"))
