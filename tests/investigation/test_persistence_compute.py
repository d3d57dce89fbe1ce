"""Issue 22, persistence: compute the leaked credentials created — EC2 instances (still running?), an
imported key pair, a security group opened to 0.0.0.0/0 and ::/0 (a 10.0.0.0/8 rule is not flagged),
a Lambda function created and another's code replaced (in a second region), an ECS task definition —
each flagged with "still there?" read now and the exact command that removes it; after the operator
runs those commands, `investigate --from` the report reads "no".
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.investigation.conftest import REGION, Incident
from tests.investigation.persistence_support import (
    WEST,
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


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


def _public_key() -> bytes:
    """An SSH public key made now (the attacker's)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


def test_compute_created_is_flagged_with_still_there_and_removal_commands(incident: Incident,
                                                                         tmp_path: Path) -> None:
    iam = setup(incident, "iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="billing-fn", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    setup(incident, "lambda", WEST).create_function(FunctionName="billing", Runtime="python3.12", Role=role,
                                                    Handler="handler.main", Code={"ZipFile": _zip("def main(e, c): 1")})
    group = setup(incident, "ec2").create_security_group(GroupName="web", Description="web tier")["GroupId"]
    image = setup(incident, "ec2").describe_images()["Images"][0]["ImageId"]
    leak = leaked_admin(incident)

    ec2 = attacker(incident, leak, "ec2")
    ec2.import_key_pair(KeyName="kp-x", PublicKeyMaterial=_public_key())
    instances = [i["InstanceId"] for i in ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, KeyName="kp-x",
                                                             InstanceType="c5.4xlarge")["Instances"]]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    functions = attacker(incident, leak, "lambda", WEST)
    functions.create_function(FunctionName="miner", Runtime="python3.12", Role=role, Handler="handler.main",
                              Code={"ZipFile": _zip("import os  # mine")})
    functions.update_function_code(FunctionName="billing", ZipFile=_zip("def main(e, c): exfiltrate()"))
    attacker(incident, leak, "ecs").register_task_definition(family="miner", containerDefinitions=[
        {"name": "xmrig", "image": "attacker/xmrig:latest", "memory": 512}])

    item = respond(incident, tmp_path, leak, tmp_path / "incident.json")
    found = rows(item)
    world_open = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
                  {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]
    expected = {
        ("instances", ", ".join(instances)): f"aws ec2 terminate-instances --instance-ids {' '.join(instances)} "
                                             f"--region {REGION}",
        ("key-pair", "kp-x"): f"aws ec2 delete-key-pair --key-name kp-x --region {REGION}",
        ("security-group-open", group): f"aws ec2 revoke-security-group-ingress --group-id {group} --ip-permissions "
                                        f"'{json.dumps(world_open)}' --region {REGION}",
        ("lambda-function", "miner"): f"aws lambda delete-function --function-name miner --region {WEST}",
        ("lambda-code", "billing"): "aws lambda update-function-code --function-name billing --zip-file "
                                    f"fileb://KNOWN-GOOD.zip --region {WEST}",
        ("ecs-task-definition", "miner:1"): f"aws ecs deregister-task-definition --task-definition miner:1 "
                                            f"--region {REGION}",
    }
    for key, command in expected.items():
        row = found[key]
        assert (row["category"], row["exists"], row["remove"], row["by_key"]) == \
            ("compute", True, command, leak.access_key_id), row
    assert found[("instances", ", ".join(instances))]["detail"].startswith("2 instance(s) of ")
    assert "c5.4xlarge" in found[("instances", ", ".join(instances))]["detail"]
    assert "running" in found[("instances", ", ".join(instances))]["detail"]
    assert found[("security-group-open", group)]["detail"].startswith(
        "open to the internet: tcp 22-22 from 0.0.0.0/0, tcp 3389-3389 from ::/0")
    assert "attacker/xmrig:latest" in found[("ecs-task-definition", "miner:1")]["detail"]
    assert found[("lambda-function", "miner")]["region"] == WEST
    assert sum(step.startswith("Remove ") for step in item["next_steps"]) == len(expected)

    # The operator runs the printed commands; the replaced code needs a known-good package: uploaded by hand
    for key in expected:
        if key != ("lambda-code", "billing"):
            remove(incident, found[key])
    operator(incident)("lambda", WEST).update_function_code(FunctionName="billing",
                                                            ZipFile=_zip("def main(e, c): 1  # restored"))

    later = investigate(incident, leak, tmp_path / "incident.json", tmp_path / "later.json")
    again = rows(later)
    assert {key: again[key]["exists"] for key in expected} == dict.fromkeys(expected, False)
    assert all(f"{i} terminated" in again[("instances", ", ".join(instances))]["detail"] for i in instances)
    assert not any(step.startswith("Remove ") for step in later["next_steps"])
    (now,) = operator(incident)("ec2", REGION).describe_security_groups(GroupIds=[group])["SecurityGroups"]
    rules = now["IpPermissions"]
    assert [r["IpRanges"] for r in rules] == [[{"CidrIp": "10.0.0.0/8"}]]  # the printed command removed only the two
