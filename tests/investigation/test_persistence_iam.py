"""Issue 22, persistence: IAM footholds beyond users, keys and roles — an OIDC and a SAML identity provider,
a group with an inline policy and a member, a console password, an MFA device the attacker holds, an
SSH key, a service-specific credential (emulated: moto lacks them), permissions boundaries removed from
a role and a user (the user's emulated), a trust policy rewritten on an existing role — each flagged with
"still there?" read now and the exact command that removes it; after the operator removes them,
`investigate --from` the report reads "no".
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.investigation.conftest import ALLOW_ALL, REGION, Incident
from tests.investigation.persistence_support import (
    attacker,
    investigate,
    leaked_admin,
    operator,
    remove,
    respond,
    rows,
    setup,
)

pytestmark = pytest.mark.usefixtures("moto_signs_bodyless_requests")
OTHER = "999988887777"
BOUNDARY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _trust(principal: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})


def _ssh_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def test_iam_footholds_are_flagged_and_read_back(incident: Incident, tmp_path: Path) -> None:
    iam = setup(incident, "iam")
    iam.create_user(UserName="svc-build")
    iam.put_user_permissions_boundary(UserName="svc-build", PermissionsBoundary=BOUNDARY)
    iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=_trust(incident.world.dev_arn),
                    PermissionsBoundary=BOUNDARY)
    iam.create_role(RoleName="ci-target", AssumeRolePolicyDocument=_trust(incident.world.dev_arn))
    leak = leaked_admin(incident)

    evil = attacker(incident, leak, "iam")
    oidc = evil.create_open_id_connect_provider(
        Url="https://token.attacker.example", ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["a" * 40])["OpenIDConnectProviderArn"]
    saml = evil.create_saml_provider(Name="okta-evil", SAMLMetadataDocument="<EntityDescriptor>" + "x" * 1000
                                     + "</EntityDescriptor>")["SAMLProviderArn"]
    evil.create_group(GroupName="ops-shadow")
    evil.put_group_policy(GroupName="ops-shadow", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
    evil.add_user_to_group(GroupName="ops-shadow", UserName="svc-build")
    evil.create_login_profile(UserName="svc-build", Password=secrets.token_urlsafe(18) + "!Aa1")
    serial = evil.create_virtual_mfa_device(VirtualMFADeviceName="evil-mfa")["VirtualMFADevice"]["SerialNumber"]
    evil.enable_mfa_device(UserName="svc-build", SerialNumber=serial, AuthenticationCode1="123456",
                           AuthenticationCode2="654321")
    ssh_key = evil.upload_ssh_public_key(UserName="svc-build", SSHPublicKeyBody=_ssh_key())["SSHPublicKey"][
        "SSHPublicKeyId"]
    credential = evil.create_service_specific_credential(UserName="svc-build", ServiceName="codecommit.amazonaws.com")
    credential_id = credential["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    evil.delete_role_permissions_boundary(RoleName="deployer")
    evil.delete_user_permissions_boundary(UserName="svc-build")
    evil.update_assume_role_policy(RoleName="ci-target", PolicyDocument=_trust(f"arn:aws:iam::{OTHER}:root"))

    report = tmp_path / "incident.json"
    item = respond(incident, tmp_path, leak, report, regions=REGION)
    found = rows(item)
    runnable = {  # in the order the operator runs them (a group goes once empty; an MFA device once deactivated)
        ("oidc-provider", oidc): f"aws iam delete-open-id-connect-provider --open-id-connect-provider-arn {oidc}",
        ("saml-provider", saml): f"aws iam delete-saml-provider --saml-provider-arn {saml}",
        ("group-membership", "user svc-build in group ops-shadow"): "aws iam remove-user-from-group --user-name "
                                                                    "svc-build --group-name ops-shadow",
        ("permission", "all on group ops-shadow"): "aws iam delete-group-policy --group-name ops-shadow "
                                                   "--policy-name all",
        ("group", "ops-shadow"): "aws iam delete-group --group-name ops-shadow  (first remove its users and policies)",
        ("login-profile", "svc-build"): "aws iam delete-login-profile --user-name svc-build",
        ("mfa-device", f"{serial} (user svc-build)"): f"aws iam deactivate-mfa-device --user-name svc-build "
                                                      f"--serial-number {serial}",
        ("virtual-mfa-device", serial): f"aws iam delete-virtual-mfa-device --serial-number {serial}  (deactivate it "
                                        "on its user first)",
        ("ssh-key", f"{ssh_key} (user svc-build)"): "aws iam delete-ssh-public-key --user-name svc-build "
                                                    f"--ssh-public-key-id {ssh_key}",
        ("service-credential", f"{credential_id} (user svc-build)"): (
            f"aws iam delete-service-specific-credential --user-name svc-build --service-specific-credential-id "
            f"{credential_id}"),
    }
    by_hand = {
        ("boundary-removed", "role deployer"): "aws iam put-role-permissions-boundary --role-name deployer "
                                               "--permissions-boundary <the boundary policy ARN before>",
        ("boundary-removed", "user svc-build"): "aws iam put-user-permissions-boundary --user-name svc-build "
                                                "--permissions-boundary <the boundary policy ARN before>",
        ("trust-policy", "ci-target"): "restore the trust policy of ci-target: aws iam update-assume-role-policy "
                                       "--role-name ci-target --policy-document file://trust-policy-before.json",
    }
    for key, command in {**runnable, **by_hand}.items():
        row = found[key]
        assert (row["category"], row["exists"], row["remove"], row["by_key"], row["region"]) == \
            ("iam", True, command, leak.access_key_id, None), row
    assert found[("trust-policy", "ci-target")]["detail"] == \
        f"trust policy replaced; now trusts AWS:arn:aws:iam::{OTHER}:root"
    assert found[("service-credential", f"{credential_id} (user svc-build)")]["detail"].startswith(
        "a password for codecommit.amazonaws.com, which deactivating the leaked key does not touch; status Active")
    assert "token.attacker.example" in found[("oidc-provider", oidc)]["detail"]
    assert all(credential["ServiceSpecificCredential"]["ServicePassword"] not in text
               for text in (report.read_text(), json.dumps(incident.emulator.store.all())))

    for key in runnable:
        remove(incident, found[key])
    iam_now = operator(incident)("iam", REGION)
    iam_now.put_role_permissions_boundary(RoleName="deployer", PermissionsBoundary=BOUNDARY)
    iam_now.put_user_permissions_boundary(UserName="svc-build", PermissionsBoundary=BOUNDARY)
    iam_now.update_assume_role_policy(RoleName="ci-target", PolicyDocument=_trust(incident.world.dev_arn))

    later = investigate(incident, leak, report, tmp_path / "later.json", regions=REGION)
    again = rows(later)
    assert {key: again[key]["exists"] for key in {**runnable, **by_hand}} == dict.fromkeys({**runnable, **by_hand},
                                                                                           False)
    assert again[("trust-policy", "ci-target")]["detail"].endswith("(changed again since)")
    assert not any(step.startswith("Remove ") for step in later["next_steps"])
