"""What a revocation breaks, named before it is applied (issue 22), on moto's server through the CLI.

Role `web` is used by a Lambda function, an ECS service and a standalone task definition, and an EC2
instance (instance profile); its trust policy trusts GitHub's OIDC provider under a `sub` condition and
the developer, and denies an intern. A leaked session of it is revoked in a dry run: the plan names
each workload with what to do, shows the trust policy as it is (the Deny principal not "trusted", the
condition with its principal), and says that EKS/Vault sign-ins by GetCallerIdentity are not cut.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.aws.conftest import S3_FULL, World
from tests.support.cli import Run, stsleak

OIDC = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
INTERN = "arn:aws:iam::123456789012:user/intern"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return 1\n")
    return buffer.getvalue()


@pytest.fixture
def web(world: World, tmp_path: Path) -> dict:
    iam = world.setup_client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": world.dev_arn}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"Federated": OIDC}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/web:*"}}},
        {"Effect": "Deny", "Principal": {"AWS": INTERN}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="web", AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=7200)["Role"]
    iam.put_role_policy(RoleName="web", PolicyName="S3FullAccess", PolicyDocument=json.dumps(S3_FULL))
    world.roles["web"] = role
    world.setup_client("lambda").create_function(FunctionName="thumbnailer", Runtime="python3.12", Role=role["Arn"],
                                                 Handler="handler.handle", Code={"ZipFile": _zip()})
    ecs = world.setup_client("ecs")
    ecs.create_cluster(clusterName="prod")
    container = [{"name": "app", "image": "nginx", "memory": 128}]
    ecs.register_task_definition(family="api", taskRoleArn=role["Arn"], containerDefinitions=container)
    ecs.register_task_definition(family="nightly", executionRoleArn=role["Arn"], containerDefinitions=container)
    ecs.register_task_definition(family="other", containerDefinitions=container)
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api:1", desiredCount=1)
    iam.create_instance_profile(InstanceProfileName="web-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="web-profile", RoleName="web")
    ec2 = world.setup_client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                                 IamInstanceProfile={"Name": "web-profile"})["Instances"][0]["InstanceId"]
    if not ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]:
        ec2.associate_iam_instance_profile(IamInstanceProfile={"Name": "web-profile"}, InstanceId=instance)
    leak = world.assume("web", "laptop")  # auth stays off: moto's Lambda rejects every signature once it is on
    (tmp_path / "leak.json").write_text(leak.assume_role_json())
    return {"role": role, "instance": instance, "file": tmp_path / "leak.json"}


def _plan(world: World, web: dict, *extra: str) -> Run:
    return stsleak("scan", "--verify", "--revoke", "--format", "json", "--audit-log", str(world.audit_log), *extra,
                   str(web["file"]), env=world.env())


def test_the_plan_names_the_workloads_a_role_wide_deny_breaks(world: World, web: dict) -> None:
    run = _plan(world, web)
    assert run.code == 3, run.stderr
    text = run.stderr
    breaks = [line.split("breaks:", 1)[1].strip() for line in text.splitlines() if "    breaks:" in line]
    assert any(line.startswith(f"EC2 instance {web['instance']} (us-east-1): serves cached pre-cutoff credentials")
               and "stop/start" in line for line in breaks), breaks
    assert any(line.startswith("Lambda function thumbnailer (us-east-1): warm environments") for line in breaks)
    assert any(line.startswith("ECS service api on cluster prod (us-east-1, task definition api:1, taskRoleArn)")
               and "--force-new-deployment" in line for line in breaks), breaks
    assert any(line.startswith("ECS task definition nightly:1 (us-east-1, executionRoleArn)") for line in breaks)
    assert not any("other:1" in line for line in breaks)
    assert not any(line.startswith("ECS task definition api:1") for line in breaks)  # its service names it
    assert any(line.startswith("every SDK/CLI credential cache holding a session of this role issued before the "
                               "cutoff (~/.aws/cli/cache") for line in breaks)
    assert "(workloads looked for in us-east-1 only)" in breaks
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["breaks"] == breaks
    assert revocation["instance_profiles"] == ["web-profile"]


def test_the_trust_policy_is_shown_as_it_is(world: World, web: dict) -> None:
    run = _plan(world, web)
    revocation = run.json()["findings"][0]["revocation"]
    assert revocation["trusted_principals"] == [
        f"AWS:{world.dev_arn}",
        f'Federated:{OIDC} when StringLike token.actions.githubusercontent.com:sub="repo:acme/web:*"']
    assert revocation["denied_principals"] == [f"AWS:{INTERN}"]
    assert f"denied by trust:   AWS:{INTERN} (never trusted)" in run.stderr
    assert INTERN not in next(line for line in run.stderr.splitlines() if "trusted by:" in line)


def test_get_caller_identity_sign_ins_are_said_to_survive(world: World, web: dict) -> None:
    run = _plan(world, web)
    (not_cut,) = run.json()["findings"][0]["revocation"]["not_cut"]
    assert not_cut.startswith(f"EKS and Vault still accept a revoked session of {web['role']['Arn']} until it expires "
                              "(at most 7200 s, the role's MaxSessionDuration")
    assert "no policy can deny" in not_cut
    assert f"aws eks delete-access-entry --cluster-name CLUSTER --principal-arn {web['role']['Arn']}" in not_cut
    assert "bound_iam_principal_arn" in not_cut and "vault lease revoke" in not_cut
    assert f"not cut:           {not_cut}" in run.stderr


def test_session_scope_names_only_what_it_cuts(world: World, web: dict) -> None:
    run = _plan(world, web, "--scope", "session")
    assert run.code == 3, run.stderr
    breaks = run.json()["findings"][0]["revocation"]["breaks"]
    assert not any(line.startswith(("EC2 instance", "Lambda function", "ECS")) for line in breaks), breaks
    assert "not the 4 other workload(s) of this role found in us-east-1: their sessions have other names" in breaks
    assert any("pre-cutoff session named 'laptop'" in line for line in breaks)


def test_a_workload_that_cannot_be_read_is_said_never_none(world: World, web: dict) -> None:
    world.enforce_auth()  # moto's Lambda then answers SignatureDoesNotMatch to every request
    run = _plan(world, web)
    assert run.code == 3, run.stderr
    breaks = run.json()["findings"][0]["revocation"]["breaks"]
    assert not any(line.startswith("Lambda function") for line in breaks)
    assert any(line.startswith("(not known: us-east-1: functions unknown:") for line in breaks), breaks
    assert any(line.startswith("ECS service api on cluster prod") for line in breaks)


def test_an_instance_session_is_offered_the_off_instance_scope(world: World, web: dict) -> None:
    run = stsleak("revoke", "--role", "web", "--session", web["instance"], "--audit-log", str(world.audit_log),
                  env=world.env())
    assert run.code == 0, run.stdout + run.stderr
    assert f"breaks:            EC2 instance {web['instance']} (us-east-1): serves cached" in run.stdout
    assert f"note: session {web['instance']} is an EC2 instance's (instance-profile credentials): --scope " \
           f"off-instance" in run.stdout
