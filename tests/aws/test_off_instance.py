"""`--scope off-instance` (issue 22): leaked EC2 instance-profile credentials denied only off the instance's network.

On moto's server through the CLI: instance `web-1` (role `web` through an instance profile) in a VPC
with a NAT gateway; its credentials leak (EC2 names the session after the instance: the test assumes
the role with that session name, as EC2 does). moto supplies none of the keys the deny is about
(aws:ec2InstanceSourceVPC, aws:SourceVpc, aws:SourceIp …) to its evaluator, so the document written is
pinned and evaluated with tests/support/iam_eval.py in each place a request can come from.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from scanner.revocation.policy import leak_mark, off_instance_id, off_instance_policy_name
from tests.aws.conftest import S3_FULL, World
from tests.support.cli import Run, stsleak
from tests.support.iam_eval import Decision, Request, decide

ATTACKER_IP = "203.0.113.7"


@pytest.fixture
def instance(world: World, tmp_path: Path) -> dict:
    role = world.make_role("web")
    iam = world.setup_client("iam")
    iam.create_instance_profile(InstanceProfileName="web-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="web-profile", RoleName="web")
    ec2 = world.setup_client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    found = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                              IamInstanceProfile={"Name": "web-profile"})["Instances"][0]
    nat_ip = ec2.allocate_address(Domain="vpc")
    ec2.create_nat_gateway(SubnetId=found["SubnetId"], AllocationId=nat_ip["AllocationId"])
    described = ec2.describe_instances(InstanceIds=[found["InstanceId"]])["Reservations"][0]["Instances"][0]
    leak = world.assume("web", found["InstanceId"])
    other = world.assume("web", "deploy")  # another session of the role: untouched
    world.enforce_auth()
    (tmp_path / "imds.json").write_text(leak.assume_role_json())
    return {"role": role, "id": found["InstanceId"], "vpc": described["VpcId"], "ip": described["PrivateIpAddress"],
            "public": described["PublicIpAddress"], "nat": nat_ip["PublicIp"], "leak": leak, "other": other,
            "file": tmp_path / "imds.json"}


def _scan(world: World, instance: dict, *extra: str) -> Run:
    return stsleak("scan", "--verify", "--revoke", "--scope", "off-instance", "--format", "json", "--audit-log",
                   str(world.audit_log), *extra, str(instance["file"]), env=world.env())


def _run_id(run: Run) -> str:
    match = re.search(r"\(run ([0-9a-f]{12})\)", run.stdout + run.stderr)
    assert match, run.stdout + run.stderr
    return match.group(1)


def test_the_off_instance_deny_is_written_exactly(world: World, instance: dict) -> None:
    run = _scan(world, instance, "--yes")
    assert run.code == 3, run.stderr
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["status"] == "revoked" and revocation["scope"] == "off-instance", revocation
    user_id = f"{instance['role']['RoleId']}:{instance['id']}"
    name = off_instance_policy_name(user_id)
    assert revocation["policy_name"] == name and name.startswith(f"StsleakOffInstance.{instance['id']}.")
    assert sorted(world.role_policies("web")) == sorted(["S3FullAccess", name])  # nothing role-wide
    assert world.role_policy("web", name) == {"Version": "2012-10-17", "Statement": [{
        "Sid": f"{off_instance_id(user_id)}Run{_run_id(run)}Keys{leak_mark(instance['leak'].access_key_id)}",
        "Effect": "Deny", "Action": ["*"], "Resource": ["*"], "Condition": {
            "StringEquals": {"aws:userid": user_id, "aws:ec2InstanceSourceVPC": instance["vpc"],
                             "aws:ec2InstanceSourcePrivateIPv4": instance["ip"]},
            "DateLessThan": {"aws:TokenIssueTime": revocation["cutoff"]},
            "StringNotEquals": {"aws:SourceVpc": instance["vpc"]},
            "BoolIfExists": {"aws:ViaAWSService": "false"},
            "NotIpAddress": {"aws:SourceIp": [f"{instance['public']}/32", f"{instance['nat']}/32"]}}}]}
    assert "breaks:            no workload: the instance keeps its credentials on its own network" in run.stderr
    assert any(line.startswith(f"requests {instance['id']} sends through another egress")
               for line in revocation["breaks"])
    assert any(line.startswith(f"a host inside {instance['vpc']}") and "--scope session" in line
               for line in revocation["not_cut"])


def test_the_off_instance_deny_under_an_iam_evaluator(world: World, instance: dict) -> None:
    """Denied where a thief is; allowed where the instance is (its NAT gateway, public IP, VPC endpoints)."""
    run = _scan(world, instance, "--yes")
    revocation = run.json()["findings"][0]["revocation"]
    cutoff = datetime.fromisoformat(revocation["cutoff"].replace("Z", "+00:00"))
    policies = [world.role_policy("web", name) for name in world.role_policies("web")]
    user_id = f"{instance['role']['RoleId']}:{instance['id']}"

    def request(issued: datetime = cutoff - timedelta(minutes=20), who: str = user_id, **network: object) -> Decision:
        context = {"aws:userid": who, "aws:TokenIssueTime": issued, "aws:ViaAWSService": False,
                   "aws:ec2InstanceSourceVPC": instance["vpc"], "aws:ec2InstanceSourcePrivateIPv4": instance["ip"],
                   **network}
        return decide(policies, Request("s3:GetObject", "arn:aws:s3:::data/k", context))

    assert request(**{"aws:SourceIp": ATTACKER_IP}) is Decision.DENY  # the thief, over the internet
    assert request(**{"aws:SourceVpc": "vpc-0thief", "aws:VpcSourceIp": "10.9.9.9"}) is Decision.DENY  # thief's VPCE
    assert request(**{"aws:SourceIp": instance["nat"]}) is Decision.ALLOW  # the instance, through the NAT gateway
    assert request(**{"aws:SourceIp": instance["public"]}) is Decision.ALLOW  # the instance, its public IP
    assert request(**{"aws:SourceVpc": instance["vpc"], "aws:VpcSourceIp": instance["ip"]}) is Decision.ALLOW
    assert request(**{"aws:SourceIp": ATTACKER_IP, "aws:ViaAWSService": True}) is Decision.ALLOW  # a service for it
    assert request(cutoff, **{"aws:SourceIp": ATTACKER_IP}) is Decision.ALLOW  # credentials fetched after the cutoff
    assert request(who=f"{instance['role']['RoleId']}:deploy", **{"aws:SourceIp": ATTACKER_IP}) is Decision.ALLOW


def test_only_instance_sessions_and_live_instances(world: World, instance: dict) -> None:
    not_instance = stsleak("revoke", "--role", "web", "--session", "deploy", "--scope", "off-instance",
                           "--audit-log", str(world.audit_log), env=world.env())
    assert not_instance.code == 4
    assert "--scope off-instance is for EC2 instance-profile credentials" in not_instance.stdout
    assert "'deploy' is not: use --scope session" in not_instance.stdout
    missing = stsleak("revoke", "--role", "web", "--scope", "off-instance", "--audit-log", str(world.audit_log),
                      env=world.env())
    assert missing.code == 2 and "--scope off-instance needs the session name" in missing.stderr
    world.operator_client("ec2").terminate_instances(InstanceIds=[instance["id"]])
    gone = stsleak("revoke", "--role", "web", "--session", instance["id"], "--scope", "off-instance",
                   "--audit-log", str(world.audit_log), env=world.env())
    assert gone.code == 4 and f"instance {instance['id']} is terminated" in gone.stdout
    assert world.role_policies("web") == ["S3FullAccess"]


def test_a_second_run_reads_it_is_revoked_and_undo_takes_it_back(world: World, instance: dict) -> None:
    first = _scan(world, instance, "--yes")
    assert first.json()["findings"][0]["revocation"]["status"] == "revoked", first.stderr
    again = _scan(world, instance, "--yes")
    assert again.json()["findings"][0]["revocation"]["status"] == "already-revoked", again.stderr
    undo = stsleak("revoke", "--undo", _run_id(first), "--yes", "--audit-log", str(world.audit_log),
                   env=world.env())
    assert undo.code == 0, undo.stdout + undo.stderr
    assert f"session '{instance['id']}' of role web, used off the instance's network" in undo.stdout
    assert world.role_policies("web") == ["S3FullAccess"]
    assert json.loads(json.dumps(S3_FULL)) == world.role_policy("web", "S3FullAccess")
