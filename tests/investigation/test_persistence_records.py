"""Issue 22, persistence: the rules read CloudTrail records as AWS writes them, not only as the recording
proxy does — EC2's {"items": […]} lists and nested attribute changes, Lambda's versioned event names,
IAM's `sSHPublicKey`/`sAMLProviderArn`, S3's `bucketPolicy` and `PublicAccessBlockConfiguration`, trail
ARNs — and the collector stays bounded (one row per thing, the newest event wins; the rest counted).
In process: records in, rows out (the read-back is shown end to end in the other test_persistence_* files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scanner.investigation.model import MAX_DISTINCT
from scanner.investigation.persistence import PersistenceCollector

KEY = "ASIA" + "Q" * 16  # a key id shape only: the collector never uses it as a credential


@dataclass
class Activity:
    access_key_id: str = KEY


def record(name: str, source: str, request: dict[str, Any], response: dict[str, Any] | None = None,
           region: str = "eu-west-1", when: str = "2026-11-02T10:00:00Z") -> dict[str, Any]:
    return {"eventName": name, "eventSource": f"{source}.amazonaws.com", "awsRegion": region, "eventTime": when,
            "recipientAccountId": "111122223333", "userIdentity": {"accessKeyId": KEY, "type": "AssumedRole"},
            "requestParameters": request, "responseElements": response}


def rows(*records: dict[str, Any]) -> dict[tuple[str, str], Any]:
    collector = PersistenceCollector()
    for one in records:
        collector(one, Activity())
    return {(p.kind, p.name): p for p in collector.items}


def test_ec2_records_as_aws_writes_them() -> None:
    found = rows(
        record("RunInstances", "ec2", {"instancesSet": {"items": [
            {"imageId": "ami-0abc", "minCount": 1, "maxCount": 2}]}, "instanceType": "p4d.24xlarge"},
               {"reservationId": "r-1", "instancesSet": {"items": [{"instanceId": "i-01", "imageId": "ami-0abc"},
                                                                    {"instanceId": "i-02", "imageId": "ami-0abc"}]}}),
        record("AuthorizeSecurityGroupIngress", "ec2", {"groupId": "sg-1", "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "groups": {}, "ipRanges": {"items": [
                {"cidrIp": "0.0.0.0/0"}]}, "ipv6Ranges": {}, "prefixListIds": {}},
            {"ipProtocol": "-1", "groups": {}, "ipRanges": {}, "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}},
            {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [
                {"cidrIp": "10.0.0.0/8"}]}}]}}),
        record("AuthorizeSecurityGroupIngress", "ec2", {"groupId": "sg-2", "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "ipRanges": {"items": [
                {"cidrIp": "10.1.0.0/16"}]}}]}}),
        record("ModifySnapshotAttribute", "ec2", {"snapshotId": "snap-1", "createVolumePermission": {"add": {"items": [
            {"userId": "444455556666"}]}}, "attributeType": "CREATE_VOLUME_PERMISSION"}),
        record("ModifySnapshotAttribute", "ec2", {"snapshotId": "snap-2", "createVolumePermission": {"remove": {
            "items": [{"group": "all"}]}}, "attributeType": "CREATE_VOLUME_PERMISSION"}),
        record("ModifyImageAttribute", "ec2", {"imageId": "ami-9", "launchPermission": {"add": {"items": [
            {"group": "all"}]}}, "attributeType": "launchPermission"}),
        record("ModifyImageAttribute", "ec2", {"imageId": "ami-8", "description": {"value": "x"},
                                               "attributeType": "description"}),
    )
    instances = found[("instances", "i-01, i-02")]
    assert (instances.category, instances.region, instances.remove) == (
        "compute", "eu-west-1", "aws ec2 terminate-instances --instance-ids i-01 i-02 --region eu-west-1")
    assert instances.detail == "2 instance(s) of ami-0abc (p4d.24xlarge)"
    group = found[("security-group-open", "sg-1")]
    assert group.detail == "open to the internet: tcp 22-22 from 0.0.0.0/0, -1 from ::/0"
    assert json.loads(group.remove.split("--ip-permissions ")[1].split("'")[1]) == [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]
    assert ("security-group-open", "sg-2") not in found  # not open to the internet
    assert ("ebs-snapshot-shared", "snap-1") in found and ("ebs-snapshot-shared", "snap-2") not in found
    assert ("ami-shared", "ami-9") in found and ("ami-shared", "ami-8") not in found


def test_iam_lambda_s3_logging_records_as_aws_writes_them() -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                      "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}
    found = rows(
        record("UploadSSHPublicKey", "iam", {"userName": "u", "sSHPublicKeyBody": "ssh-rsa AAAA"},
               {"sSHPublicKey": {"userName": "u", "sSHPublicKeyId": "APKAEXAMPLEID", "status": "Active"}},
               region="us-east-1"),
        record("CreateSAMLProvider", "iam", {"name": "idp", "sAMLMetadataDocument": "<x/>"},
               {"sAMLProviderArn": "arn:aws:iam::111122223333:saml-provider/idp"}, region="us-east-1"),
        record("CreateFunction20150331", "lambda", {"functionName": "f", "role": "arn:aws:iam::111122223333:role/r",
                                                    "code": {}}, {"functionName": "f", "codeSha256": "abc="}),
        record("UpdateFunctionCode20150331v2", "lambda", {"functionName": "g", "publish": False},
               {"functionName": "g", "codeSha256": "def="}),
        record("PutBucketPolicy", "s3", {"bucketName": "b", "bucketPolicy": policy, "policy": [""], "Host": "b.s3"}),
        record("PutBucketPublicAccessBlock", "s3", {"bucketName": "c", "publicAccessBlock": "",
                                                    "PublicAccessBlockConfiguration": {
                                                        "RestrictPublicBuckets": False, "BlockPublicPolicy": True,
                                                        "BlockPublicAcls": True, "IgnorePublicAcls": True}}),
        record("PutBucketPublicAccessBlock", "s3", {"bucketName": "d", "PublicAccessBlockConfiguration": {
            "RestrictPublicBuckets": True, "BlockPublicPolicy": True, "BlockPublicAcls": True,
            "IgnorePublicAcls": True}}),
        record("StopLogging", "cloudtrail", {"name": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/main"}),
        record("PutEventSelectors", "cloudtrail", {"trailName": "t", "eventSelectors": [
            {"readWriteType": "All", "includeManagementEvents": False, "dataResources": [],
             "excludeManagementEventSources": []}]}),
        record("UpdateDetector", "guardduty", {"detectorId": "d1", "features": [
            {"name": "S3_DATA_EVENTS", "status": "DISABLED"}, {"name": "EKS_AUDIT_LOGS", "status": "ENABLED"}]}),
        record("ModifyDBSnapshotAttribute", "rds", {"dBSnapshotIdentifier": "s", "attributeName": "restore",
                                                    "valuesToAdd": ["all"]}),
    )
    assert found[("ssh-key", "APKAEXAMPLEID (user u)")].remove == \
        "aws iam delete-ssh-public-key --user-name u --ssh-public-key-id APKAEXAMPLEID"
    saml = found[("saml-provider", "arn:aws:iam::111122223333:saml-provider/idp")]
    assert (saml.region, saml.category) == (None, "iam")
    assert found[("lambda-function", "f")].remove == "aws lambda delete-function --function-name f --region eu-west-1"
    assert found[("lambda-code", "g")].ids["sha"] == "def="
    assert found[("s3-bucket-policy", "b")].detail.startswith("PUBLIC: allows s3:GetObject, s3:ListBucket to anyone")
    assert ("s3-public-access-block", "c") in found and ("s3-public-access-block", "d") not in found
    trail = found[("trail-logging-off", "main")]
    assert trail.remove == ("aws cloudtrail start-logging --name arn:aws:cloudtrail:eu-west-1:111122223333:trail/main "
                            "--region eu-west-1")
    assert ("trail-selectors", "t") in found
    assert found[("guardduty-features-off", "d1: S3_DATA_EVENTS")].remove == (
        "aws guardduty update-detector --detector-id d1 --features '[{\"Name\": \"S3_DATA_EVENTS\", \"Status\": "
        "\"ENABLED\"}]' --region eu-west-1")
    assert found[("rds-snapshot-shared", "s")].detail == "RDS snapshot shared with everyone"


def test_the_collector_is_bounded_and_keeps_the_newest_event_of_a_thing() -> None:
    collector = PersistenceCollector()
    for when, principal in (("2026-11-02T10:00:05Z", "arn:aws:iam::444455556666:root"),
                            ("2026-11-02T10:00:01Z", "arn:aws:iam::111122223333:root")):  # newest first, as CloudTrail
        trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]}
        collector(record("UpdateAssumeRolePolicy", "iam", {"roleName": "r", "policyDocument": json.dumps(trust)},
                         when=when), Activity())
    (trust_row,) = collector.items
    assert trust_row.event_time == "2026-11-02T10:00:05Z" and "444455556666" in trust_row.detail
    for number in range(MAX_DISTINCT + 30):
        collector(record("CreateUser", "iam", {"userName": f"u{number}"}), Activity())
    assert len(collector.items) == MAX_DISTINCT and collector.dropped == 31
