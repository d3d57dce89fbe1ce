"""Data exposed or put at risk: S3 buckets made public (policy, ACL, public access block removed), EBS
snapshots, AMIs and RDS snapshots shared, KMS key policies replaced, grants created, keys disabled or
scheduled for deletion (what they encrypt becomes unreadable), Secrets Manager secrets and SecureString
parameters read (still the value that was read?) — read back in their region."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from scanner.aws_session import failure_from
from scanner.investigation.model import PersistenceCategory, PersistenceItem, moment
from scanner.investigation.persistence.common import (
    Clients,
    Event,
    Reader,
    Rule,
    document,
    flag,
    get,
    leaves,
    principals,
    public_principals,
    regional_item,
    same_document,
    short,
    text,
)

DATA = PersistenceCategory.DATA
RULES: dict[str, Rule] = {}
READERS: dict[str, Reader] = {}
EVERYONE = ("http://acs.amazonaws.com/groups/global/AllUsers",
            "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
PUBLIC_WORDS = ("AllUsers", "AuthenticatedUsers", "public-read", "authenticated-read")
BLOCK_ALL = json.dumps({"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                        "RestrictPublicBuckets": True})


def item(kind: str, name: str, region: str, remove: str, *, detail: str = "", **ids: Any) -> PersistenceItem:
    return regional_item(DATA, kind, name, region, remove, detail=detail, **ids)


def _adds(request: dict[str, Any]) -> bool:
    """A Modify*Attribute call that adds a permission (EC2's `add` list or operationType, RDS's valuesToAdd)."""
    if str(get(request, "operationType")).lower() == "add" or get(request, "valuesToAdd"):
        return True
    return any("add" in path for path, _ in leaves(request))


def _who_it_opens(doc: dict[str, Any] | None, grants: str, replaced: str) -> tuple[list[str], str]:
    """A resource policy's public grants, and its detail: what it allows anyone, else whom it grants
    (`grants` and the principals), else (no document) `replaced`."""
    opened = public_principals(doc)
    detail = (f"PUBLIC: allows {short(opened)} to anyone" if opened
              else f"{grants} {short(principals(doc))}" if doc else replaced)
    return opened, detail


# --- S3 ----------------------------------------------------------------------------------------------
def _bucket_policy(e: Event) -> list[PersistenceItem]:
    bucket = text(e.request, "bucketName")
    doc = document(get(e.request, "bucketPolicy"))
    opened, detail = _who_it_opens(doc, "grants", "bucket policy replaced")
    return [item("s3-bucket-policy", bucket, e.region, f"aws s3api delete-bucket-policy --bucket {bucket}",
                 detail=detail + " (or put back the policy before)", bucket=bucket, document=doc,
                 public=bool(opened))]


def _bucket_acl(e: Event) -> list[PersistenceItem]:
    if not any(word in json.dumps(e.request) for word in PUBLIC_WORDS):
        return []
    bucket = text(e.request, "bucketName")
    return [item("s3-bucket-acl", bucket, e.region, f"aws s3api put-bucket-acl --bucket {bucket} --acl private",
                 detail="the bucket ACL grants access to everyone", bucket=bucket)]


def _public_access_block(e: Event) -> list[PersistenceItem]:
    if e.name.startswith("Put") and not any(flag(v) is False for _, v in leaves(e.request)):
        return []
    bucket = text(e.request, "bucketName")
    verb = "removed" if e.name.startswith("Delete") else "turned off"
    return [item("s3-public-access-block", bucket, e.region,
                 f"aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration "
                 f"'{BLOCK_ALL}'", detail=f"S3 Block Public Access {verb} for the bucket", bucket=bucket)]


RULES.update({"PutBucketPolicy": _bucket_policy, "PutBucketAcl": _bucket_acl,
              "DeleteBucketPublicAccessBlock": _public_access_block,
              "PutBucketPublicAccessBlock": _public_access_block})


def _read_bucket_policy(c: Clients, found: PersistenceItem) -> bool:
    try:
        now = document(c("s3", found.region).get_bucket_policy(Bucket=found.ids["bucket"])["Policy"])
    except Exception as exc:
        if failure_from(exc).code in ("NoSuchBucketPolicy", "NoSuchBucket"):
            return False
        raise
    if found.ids.get("public"):
        opened = public_principals(now)
        found.detail = (f"PUBLIC: allows {short(opened)} to anyone" if opened
                        else "the bucket policy is no longer public")
        return bool(opened)
    return "document" not in found.ids or same_document(now, found.ids["document"])


def _read_bucket_acl(c: Clients, found: PersistenceItem) -> bool:
    grants = c("s3", found.region).get_bucket_acl(Bucket=found.ids["bucket"]).get("Grants", [])
    public = [f"{g.get('Permission')} to {g['Grantee']['URI'].rsplit('/', 1)[-1]}" for g in grants
              if (g.get("Grantee") or {}).get("URI") in EVERYONE]
    if public:
        found.detail = f"the bucket ACL grants {', '.join(public)}"
    return bool(public)


def _read_public_access_block(c: Clients, found: PersistenceItem) -> bool:
    try:
        config = c("s3", found.region).get_public_access_block(Bucket=found.ids["bucket"])
    except Exception as exc:
        if failure_from(exc).code == "NoSuchPublicAccessBlockConfiguration":
            found.detail = f"{found.detail}; the bucket has no public access block now"
            return True
        raise
    off = [k for k, v in (config.get("PublicAccessBlockConfiguration") or {}).items() if v is False]
    if off:
        found.detail = f"{found.detail}; off now: {', '.join(off)}"
    return bool(off)


READERS.update({"s3-bucket-policy": _read_bucket_policy, "s3-bucket-acl": _read_bucket_acl,
                "s3-public-access-block": _read_public_access_block})


# --- snapshots and images shared -------------------------------------------------------------------------
def _snapshot(e: Event) -> list[PersistenceItem]:
    attribute = str(get(e.request, "attribute") or get(e.request, "attributeType") or "createVolumePermission")
    if not _adds(e.request) or "volume" not in attribute.lower():
        return []
    snapshot = text(e.request, "snapshotId")
    return [item("ebs-snapshot-shared", snapshot, e.region,
                 f"aws ec2 modify-snapshot-attribute --snapshot-id {snapshot} --attribute createVolumePermission "
                 "--operation-type remove --group-names all", detail="EBS snapshot shared", snapshot=snapshot)]


def _image(e: Event) -> list[PersistenceItem]:
    attribute = str(get(e.request, "attribute") or get(e.request, "attributeType") or "launchPermission")
    if not _adds(e.request) or "launch" not in (attribute + json.dumps(e.request)).lower():
        return []
    image = text(e.request, "imageId")
    return [item("ami-shared", image, e.region, _image_remove(image, [{"Group": "all"}]), detail="AMI shared",
                 image=image)]


def _image_remove(image: str, permissions: list[dict[str, str]]) -> str:
    remove = json.dumps({"Remove": permissions})
    return f"aws ec2 modify-image-attribute --image-id {image} --launch-permission '{remove}'"


def _db_snapshot(e: Event) -> list[PersistenceItem]:
    added = [str(v) for v in get(e.request, "valuesToAdd") or []]
    if not added or str(get(e.request, "attributeName")) != "restore":
        return []
    cluster = "Cluster" in e.name
    snapshot = text(e.request, "dBClusterSnapshotIdentifier" if cluster else "dBSnapshotIdentifier")
    option = "--db-cluster-snapshot-identifier" if cluster else "--db-snapshot-identifier"
    command = "modify-db-cluster-snapshot-attribute" if cluster else "modify-db-snapshot-attribute"
    return [item("rds-cluster-snapshot-shared" if cluster else "rds-snapshot-shared", snapshot, e.region,
                 f"aws rds {command} {option} {snapshot} --attribute-name restore --values-to-remove {' '.join(added)}",
                 detail=f"RDS snapshot shared with {'everyone' if 'all' in added else short(added)}",
                 snapshot=snapshot)]


RULES.update({"ModifySnapshotAttribute": _snapshot, "ModifyImageAttribute": _image,
              "ModifyDBSnapshotAttribute": _db_snapshot, "ModifyDBClusterSnapshotAttribute": _db_snapshot})


def _shared_with(permissions: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    groups = [str(p["Group"]) for p in permissions if p.get("Group")]
    users = [str(p["UserId"]) for p in permissions if p.get("UserId")]
    return groups, users


def _read_snapshot(c: Clients, found: PersistenceItem) -> bool:
    answer = c("ec2", found.region).describe_snapshot_attribute(SnapshotId=found.ids["snapshot"],
                                                                Attribute="createVolumePermission")
    groups, users = _shared_with(answer.get("CreateVolumePermissions", []))
    if groups or users:
        found.detail = f"shared with {short(['everyone' if g == 'all' else g for g in groups] + users)}"
        found.remove = (f"aws ec2 modify-snapshot-attribute --snapshot-id {found.ids['snapshot']} --attribute "
                        "createVolumePermission --operation-type remove"
                        + (f" --group-names {' '.join(groups)}" if groups else "")
                        + (f" --user-ids {' '.join(users)}" if users else "") + f" --region {found.region}")
    return bool(groups or users)


def _read_image(c: Clients, found: PersistenceItem) -> bool:
    answer = c("ec2", found.region).describe_image_attribute(ImageId=found.ids["image"], Attribute="launchPermission")
    groups, users = _shared_with(answer.get("LaunchPermissions", []))
    if groups or users:
        found.detail = f"shared with {short(['everyone' if g == 'all' else g for g in groups] + users)}"
        found.remove = _image_remove(found.ids["image"], [{"Group": g} for g in groups]
                                     + [{"UserId": u} for u in users]) + f" --region {found.region}"
    return bool(groups or users)


def _read_db_snapshot(c: Clients, found: PersistenceItem) -> bool:
    rds = c("rds", found.region)
    if found.kind == "rds-cluster-snapshot-shared":
        result = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=found.ids["snapshot"])
        attributes = result["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
    else:
        result = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=found.ids["snapshot"])
        attributes = result["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]
    shared = [str(v) for a in attributes if a.get("AttributeName") == "restore" for v in a.get("AttributeValues", [])]
    if shared:
        found.detail = f"RDS snapshot shared with {'everyone' if 'all' in shared else short(shared)}"
        found.remove = f"{found.remove.split(' --values-to-remove ')[0]} --values-to-remove {' '.join(shared)} " \
                       f"--region {found.region}"
    return bool(shared)


READERS.update({"ebs-snapshot-shared": _read_snapshot, "ami-shared": _read_image,
                "rds-snapshot-shared": _read_db_snapshot, "rds-cluster-snapshot-shared": _read_db_snapshot})


# --- KMS ---------------------------------------------------------------------------------------------------
def _key_policy(e: Event) -> list[PersistenceItem]:
    key = text(e.request, "keyId")
    doc = document(get(e.request, "policy"))
    _, detail = _who_it_opens(doc, "now grants", "key policy replaced")
    return [item("kms-key-policy", key, e.region, f"aws kms put-key-policy --key-id {key} --policy-name default "
                                                  "--policy file://key-policy-before.json",
                 detail=detail, key=key, document=doc)]


def _grant(e: Event) -> list[PersistenceItem]:
    key, grant = text(e.request, "keyId"), text(e.response, "grantId")
    operations = [str(o) for o in get(e.request, "operations") or []]
    return [item("kms-grant", f"{grant} on key {key}", e.region,
                 f"aws kms revoke-grant --key-id {key} --grant-id {grant}",
                 detail=f"lets {text(e.request, 'granteePrincipal')} {short(operations)}", key=key, grant=grant)]


def _key_deletion(e: Event) -> list[PersistenceItem]:
    key = text(e.request, "keyId")
    days = get(e.request, "pendingWindowInDays") or 30
    return [item("kms-key-deletion", key, e.region, f"aws kms cancel-key-deletion --key-id {key} --region {e.region} "
                                                    f"&& aws kms enable-key --key-id {key}",
                 detail=f"scheduled for deletion in {days} days: what it encrypts becomes unreadable for good",
                 key=key, state="PendingDeletion")]


def _key_disabled(e: Event) -> list[PersistenceItem]:
    key = text(e.request, "keyId")
    return [item("kms-key-disabled", key, e.region, f"aws kms enable-key --key-id {key}",
                 detail="disabled: what it encrypts cannot be read", key=key, state="Disabled")]


RULES.update({"PutKeyPolicy": _key_policy, "CreateGrant": _grant, "ScheduleKeyDeletion": _key_deletion,
              "DisableKey": _key_disabled})


def _read_key_policy(c: Clients, found: PersistenceItem) -> bool | None:
    now = c("kms", found.region).get_key_policy(KeyId=found.ids["key"], PolicyName="default")["Policy"]
    if "document" not in found.ids:
        return None
    return same_document(now, found.ids["document"])


def _read_grant(c: Clients, found: PersistenceItem) -> bool:
    kms = c("kms", found.region)
    for page in kms.get_paginator("list_grants").paginate(KeyId=found.ids["key"]):
        if any(g.get("GrantId") == found.ids["grant"] for g in page.get("Grants", [])):
            return True
    return False


def _read_key_state(c: Clients, found: PersistenceItem) -> bool:
    state = c("kms", found.region).describe_key(KeyId=found.ids["key"])["KeyMetadata"].get("KeyState")
    if state != found.ids["state"]:
        found.detail = f"{found.detail}; the key is {state} now"
    return bool(state == found.ids["state"])


READERS.update({"kms-key-policy": _read_key_policy, "kms-grant": _read_grant, "kms-key-deletion": _read_key_state,
                "kms-key-disabled": _read_key_state})


# --- secrets read: rotate them -----------------------------------------------------------------------------
def _secret(e: Event) -> list[PersistenceItem]:
    secret = text(e.request, "secretId")
    return [item("secret-read", secret, e.region, f"aws secretsmanager rotate-secret --secret-id {secret}  (or "
                                                  "put-secret-value with a new value, if it has no rotation)",
                 detail="the leaked credentials read its value: rotate it", secret=secret)]


def _parameters(e: Event) -> list[PersistenceItem]:
    if flag(get(e.request, "withDecryption")) is not True:
        return []  # a SecureString is read in clear only with decryption
    names = [str(n) for n in (get(e.request, "names") or [get(e.request, "name")]) if n]
    return [item("parameter-read", name, e.region, f"aws ssm put-parameter --name {name} --type SecureString "
                                                   "--value NEW-VALUE --overwrite",
                 detail="the leaked credentials read its decrypted value: change it", parameter=name)
            for name in names]


RULES.update({"GetSecretValue": _secret, "GetParameter": _parameters, "GetParameters": _parameters})


def _changed_since(found: PersistenceItem, changed: Any) -> bool:
    """Changed after the read: later than the read's whole second (CloudTrail times have no fraction), so a
    change in that same second never counts as a rotation."""
    read = moment(found.event_time)
    if read is None or not isinstance(changed, datetime):
        return False
    return changed >= read + timedelta(seconds=1)


def _read_secret(c: Clients, found: PersistenceItem) -> bool:
    secret = c("secretsmanager", found.region).describe_secret(SecretId=found.ids["secret"])
    changed = max((d for d in (secret.get("LastChangedDate"), secret.get("LastRotatedDate")) if d), default=None)
    if _changed_since(found, changed):
        found.detail = f"{found.detail}; changed since ({changed})"
        return False
    return True


def _read_parameter(c: Clients, found: PersistenceItem) -> bool:
    parameter = c("ssm", found.region).get_parameter(Name=found.ids["parameter"])["Parameter"]
    if _changed_since(found, parameter.get("LastModifiedDate")):
        found.detail = f"{found.detail}; changed since ({parameter.get('LastModifiedDate')})"
        return False
    return True


READERS.update({"secret-read": _read_secret, "parameter-read": _read_parameter})
