"""Issue 22, persistence: data the leaked credentials exposed or put at risk — an S3 bucket's public access
block removed and a public bucket policy put, another bucket's ACL made public-read, an EBS snapshot
shared with everyone, an AMI and an RDS snapshot shared with another account, a KMS key policy replaced,
a grant created, another key scheduled for deletion, a secret and a SecureString parameter read — each
flagged with "still there?" read now and the exact command that closes it, in JSON and in the HTML
report as headless Chromium renders it. After the operator runs those commands (and gives the secrets
new values), `investigate --from` the report reads "no".
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest

from tests.investigation.browser import render
from tests.investigation.conftest import REGION, Incident
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
from tests.support.cli import stsleak

pytestmark = pytest.mark.usefixtures("moto_signs_bodyless_requests")
OTHER = "999988887777"  # the attacker's own account
BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
             "RestrictPublicBuckets": True}
PUBLIC_READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                       "Resource": "arn:aws:s3:::payroll/*"}]}


def _data_at_rest(incident: Incident) -> tuple[str, str, str]:
    s3, ec2 = setup(incident, "s3"), setup(incident, "ec2")
    for bucket in ("payroll", "reports"):
        s3.create_bucket(Bucket=bucket)
    s3.put_public_access_block(Bucket="payroll", PublicAccessBlockConfiguration=BLOCK_ALL)
    volume = ec2.create_volume(Size=8, AvailabilityZone=f"{REGION}a")["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    base = ec2.describe_images()["Images"][0]["ImageId"]
    server = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    image = ec2.create_image(InstanceId=server, Name="golden")["ImageId"]
    rds = setup(incident, "rds")
    rds.create_db_instance(DBInstanceIdentifier="ledger", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="ledger", MasterUserPassword="not-a-real-password", AllocatedStorage=20)
    rds.create_db_snapshot(DBInstanceIdentifier="ledger", DBSnapshotIdentifier="ledger-nightly")
    return snapshot, image, setup(incident, "kms").create_key()["KeyMetadata"]["KeyId"]


def test_data_exposed_is_flagged_shown_in_the_html_report_and_read_back(incident: Incident, tmp_path: Path) -> None:
    snapshot, image, key = _data_at_rest(incident)
    doomed = setup(incident, "kms").create_key()["KeyMetadata"]["KeyId"]
    setup(incident, "secretsmanager").create_secret(Name="prod/db", SecretString=secrets.token_urlsafe(24))
    setup(incident, "ssm").put_parameter(Name="/prod/api-key", Value=secrets.token_urlsafe(24), Type="SecureString")
    setup(incident, "ssm").put_parameter(Name="/prod/region", Value=REGION, Type="String")
    leak = leaked_admin(incident)
    s3 = attacker(incident, leak, "s3")
    s3.delete_public_access_block(Bucket="payroll")
    s3.put_bucket_policy(Bucket="payroll", Policy=json.dumps(PUBLIC_READ))
    s3.put_bucket_acl(Bucket="reports", ACL="public-read")
    ec2 = attacker(incident, leak, "ec2")
    ec2.modify_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission", OperationType="add",
                                  GroupNames=["all"])
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": OTHER}]})
    attacker(incident, leak, "rds").modify_db_snapshot_attribute(DBSnapshotIdentifier="ledger-nightly",
                                                                 AttributeName="restore", ValuesToAdd=[OTHER])
    kms = attacker(incident, leak, "kms")
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "kms:*", "Resource": "*"}]}))
    grant = kms.create_grant(KeyId=key, GranteePrincipal=f"arn:aws:iam::{OTHER}:root",
                             Operations=["Decrypt"])["GrantId"]
    kms.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=7)
    attacker(incident, leak, "secretsmanager").get_secret_value(SecretId="prod/db")
    parameters = attacker(incident, leak, "ssm")
    parameters.get_parameter(Name="/prod/api-key", WithDecryption=True)
    parameters.get_parameter(Name="/prod/region")  # plain configuration: not flagged

    report = tmp_path / "incident.json"
    item = respond(incident, tmp_path, leak, report)
    found = rows(item)
    expected = {
        ("s3-public-access-block", "payroll"): "aws s3api put-public-access-block --bucket payroll "
                                               f"--public-access-block-configuration '{json.dumps(BLOCK_ALL)}' "
                                               f"--region {REGION}",
        ("s3-bucket-policy", "payroll"): f"aws s3api delete-bucket-policy --bucket payroll --region {REGION}",
        ("s3-bucket-acl", "reports"): f"aws s3api put-bucket-acl --bucket reports --acl private --region {REGION}",
        ("ebs-snapshot-shared", snapshot): f"aws ec2 modify-snapshot-attribute --snapshot-id {snapshot} --attribute "
                                           f"createVolumePermission --operation-type remove --group-names all "
                                           f"--region {REGION}",
        ("ami-shared", image): f"aws ec2 modify-image-attribute --image-id {image} --launch-permission "
                               f"'{{\"Remove\": [{{\"UserId\": \"{OTHER}\"}}]}}' --region {REGION}",
        ("rds-snapshot-shared", "ledger-nightly"): "aws rds modify-db-snapshot-attribute --db-snapshot-identifier "
                                                   "ledger-nightly --attribute-name restore --values-to-remove "
                                                   f"{OTHER} --region {REGION}",
        ("kms-key-policy", key): f"aws kms put-key-policy --key-id {key} --policy-name default --policy "
                                 f"file://key-policy-before.json --region {REGION}",
        ("kms-grant", f"{grant} on key {key}"): f"aws kms revoke-grant --key-id {key} --grant-id {grant} "
                                                f"--region {REGION}",
        ("kms-key-deletion", doomed): f"aws kms cancel-key-deletion --key-id {doomed} --region {REGION} && aws kms "
                                      f"enable-key --key-id {doomed} --region {REGION}",
        ("secret-read", "prod/db"): f"aws secretsmanager rotate-secret --secret-id prod/db --region {REGION}  (or "
                                    "put-secret-value with a new value, if it has no rotation)",
        ("parameter-read", "/prod/api-key"): "aws ssm put-parameter --name /prod/api-key --type SecureString --value "
                                             f"NEW-VALUE --overwrite --region {REGION}",
    }
    for row_key, command in expected.items():
        row = found[row_key]
        assert (row["category"], row["exists"], row["remove"], row["by_key"]) == \
            ("data", True, command, leak.access_key_id), row
    assert found[("s3-bucket-policy", "payroll")]["detail"] == "PUBLIC: allows s3:GetObject to anyone"
    assert found[("s3-bucket-acl", "reports")]["detail"] == "the bucket ACL grants READ to AllUsers"
    assert found[("ebs-snapshot-shared", snapshot)]["detail"] == "shared with everyone"
    assert found[("kms-key-policy", key)]["detail"] == f"now grants AWS:arn:aws:iam::{OTHER}:root"
    assert found[("kms-key-deletion", doomed)]["detail"].startswith("scheduled for deletion in 7 days")
    assert sum(step.startswith("Close ") for step in item["next_steps"]) == len(expected)

    html = tmp_path / "incident.html"
    shown = stsleak("investigate", "--from", str(report), "--report", str(html), "--regions", REGION,
                    env=incident.env(), timeout=240)
    assert shown.code == 0, shown.stderr
    page = render(html, tmp_path)
    table = {(row[0], row[1]): row for row in page.rows(leak.access_key_id, "persistence")}
    for row_key, command in expected.items():
        _, _, category, region, _, _, by_key, there, _, removal = table[row_key]
        assert (category, region, by_key, there, removal) == ("data exposed or at risk", REGION, leak.access_key_id,
                                                              "yes", command)
    counts = page.dom.find("p", **{"class": "persistence-counts"})
    assert counts and "data exposed or at risk: 11 (11 still there)" in counts[0].all_text()
    assert ("parameter-read", "/prod/region") not in found

    # The operator runs the printed commands; the key policy before is theirs to put back (a placeholder file),
    # and the secrets get new values of theirs
    by_hand = {("kms-key-policy", key), ("secret-read", "prod/db"), ("parameter-read", "/prod/api-key")}
    for row_key in expected:
        if row_key not in by_hand:
            remove(incident, found[row_key])
    time.sleep(1.1)  # a change in the very second of the read does not count as a rotation
    operator(incident)("secretsmanager", REGION).put_secret_value(SecretId="prod/db",
                                                                  SecretString=secrets.token_urlsafe(24))
    operator(incident)("ssm", REGION).put_parameter(Name="/prod/api-key", Value=secrets.token_urlsafe(24),
                                                    Type="SecureString", Overwrite=True)
    owner = {"AWS": "arn:aws:iam::123456789012:root"}
    before = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": owner, "Action": "kms:*",
                                                      "Resource": "*"}]}
    operator(incident)("kms", REGION).put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(before))

    later = investigate(incident, leak, report, tmp_path / "later.json")
    again = rows(later)
    assert {row_key: again[row_key]["exists"] for row_key in expected} == dict.fromkeys(expected, False)
    assert not any(step.startswith("Close ") for step in later["next_steps"])
