"""Issue 21 §8: every revoke option `respond` accepts takes effect — `--refresh` moves an existing cutoff,
`--include-operator` revokes the operator's own role (last), `--assume-role` acts in the target's account.

On moto's server behind the recording proxy, with the CloudTrail emulator (tests/investigation/conftest.py);
how `revoke` and `scan --revoke` are tested with the same options is in tests/aws.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path
from typing import Any

import boto3

from scanner.revocation.policy import ROLE_POLICY_NAME
from tests.investigation.conftest import ALLOW_ALL, REGION, Incident
from tests.support.cli import GitRepo, Run, stsleak

S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
B = "222222222222"
TEMPLATE = "arn:aws:iam::{account}:role/IncidentResponder"


def _repo(tmp_path: Path, *leaks: Any) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("oops", {f"creds-{i}.json": leak.assume_role_json() for i, leak in enumerate(leaks)})
    return repo


def _respond(incident: Incident, repo: GitRepo, report: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    return stsleak("respond", str(repo.path), "--regions", REGION, "--audit-log", str(incident.world.audit_log),
                   "--report", str(report), *args, env=env or incident.env(), timeout=240)


def _cutoff(document: dict[str, Any]) -> str:
    return document["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]


def _planned_cutoff(run: Run) -> str:
    match = re.search(r"cutoff \(UTC\):\s+(\S+)", run.stderr)
    assert match, run.stderr
    return match.group(1)


def test_refresh_moves_an_existing_cutoff(incident: Incident, tmp_path: Path) -> None:
    world = incident.world
    incident.role("etl", world.dev_arn, S3)
    world.enforce_auth()
    leak = world.assume("etl", "laptop")
    repo = _repo(tmp_path, leak)
    first = _respond(incident, repo, tmp_path / "first.json", "--yes")
    assert first.code == 3, first.stderr
    cutoff = _cutoff(world.role_policy("etl", ROLE_POLICY_NAME))
    time.sleep(1.1)  # cutoffs have whole seconds

    again = _respond(incident, repo, tmp_path / "again.json")
    assert again.code == 3, again.stderr
    assert "ALREADY-REVOKED" in again.stderr
    (item,) = json.loads((tmp_path / "again.json").read_text())["credentials"]
    assert [r["status"] for r in item["revocations"]] == ["already-revoked"]
    assert item["state"]["badge"] == "revoked" and item["state"]["text"].startswith("revoked before this run")

    refreshed = _respond(incident, repo, tmp_path / "refreshed.json", "--refresh")  # a dry run: the plan only
    assert refreshed.code == 3, refreshed.stderr
    assert "ALREADY-REVOKED" not in refreshed.stderr and "[role scope]  PLANNED" in refreshed.stderr
    assert _planned_cutoff(refreshed) > cutoff
    (item,) = json.loads((tmp_path / "refreshed.json").read_text())["credentials"]
    assert [r["status"] for r in item["revocations"]] == ["planned"]
    assert _cutoff(world.role_policy("etl", ROLE_POLICY_NAME)) == cutoff  # nothing applied

    applied = _respond(incident, repo, tmp_path / "applied.json", "--refresh", "--yes")
    assert applied.code == 3, applied.stderr
    moved = _cutoff(world.role_policy("etl", ROLE_POLICY_NAME))
    assert moved > cutoff
    report = json.loads((tmp_path / "applied.json").read_text())
    (item,) = report["credentials"]
    assert [(r["status"], r["cutoff"]) for r in item["revocations"]] == [("revoked", moved)]
    assert report["summary"]["revocations"]["applied"] == 1


def test_include_operator_revokes_the_operators_own_role_last(incident: Incident, tmp_path: Path) -> None:
    world = incident.world
    incident.role("responder", world.dev_arn, ALLOW_ALL)
    leak = world.assume("responder", "leaked")
    me = world.assume("responder", "incident-lead")  # the operator works with a session of the leaked role
    world.enforce_auth()
    repo = _repo(tmp_path, leak)
    env = {**incident.env(operator=False), "AWS_ACCESS_KEY_ID": me.access_key_id, "AWS_SECRET_ACCESS_KEY": me.secret,
           "AWS_SESSION_TOKEN": me.token or ""}
    refused = _respond(incident, repo, tmp_path / "refused.json", "--yes", env=env)
    assert refused.code == 4, refused.stderr
    report = json.loads((tmp_path / "refused.json").read_text())
    assert report["operator"] == "arn:aws:sts::123456789012:assumed-role/responder/incident-lead"
    (item,) = report["credentials"]
    (revocation,) = item["revocations"]
    assert revocation["status"] == "refused" and "--include-operator" in revocation["message"]
    assert item["state"]["badge"] == "live" and item["state"]["text"].startswith("live: NOT revoked")
    assert item["next_steps"][0].startswith("The revocation of arn:aws:iam::123456789012:role/responder was refused")
    assert not any(step.startswith("Revoke the sessions") for step in item["next_steps"])
    assert report["summary"]["revocations"]["refused"] == 1
    assert world.role_policies("responder") == ["access"]

    included = _respond(incident, repo, tmp_path / "included.json", "--yes", "--include-operator", env=env)
    # applied last; then the operator's own session is denied, so it cannot be read back: said so (4), not "revoked"
    assert included.code == 4, included.stderr
    assert "applied last, after every other target (--include-operator)" in included.stderr
    assert ROLE_POLICY_NAME in world.role_policies("responder")
    (item,) = json.loads((tmp_path / "included.json").read_text())["credentials"]
    (revocation,) = item["revocations"]
    assert revocation["status"] == "failed"
    assert "the operator's own session is now denied, as expected" in revocation["message"]
    assert item["state"]["text"].startswith("live: revocation NOT confirmed")  # applied, never called revoked


def _account_b(incident: Incident) -> Any:
    """Account B (auth still off): IncidentResponder trusted by the operator, and role etl; a leaked etl session."""
    world = incident.world
    sts = world.setup_client("sts")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{B}:role/setup", RoleSessionName="setup")["Credentials"]
    iam = boto3.client("iam", endpoint_url=world.url, region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])

    def trust(principal: str) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})

    iam.create_role(RoleName="IncidentResponder", AssumeRolePolicyDocument=trust(
        "arn:aws:iam::123456789012:user/operator"))
    iam.put_role_policy(RoleName="IncidentResponder", PolicyName="admin", PolicyDocument=json.dumps(ALLOW_ALL))
    world.roles["etl-b"] = iam.create_role(RoleName="etl", AssumeRolePolicyDocument=trust(world.dev_arn))["Role"]
    iam.put_role_policy(RoleName="etl", PolicyName="S3FullAccess", PolicyDocument=json.dumps(S3))
    return world.assume("etl-b", "laptop")


def _etl_policies_in_b(incident: Incident) -> list[str]:
    sts = incident.world.operator_client("sts")
    creds = sts.assume_role(RoleArn=TEMPLATE.format(account=B), RoleSessionName="check")["Credentials"]
    iam = boto3.client("iam", endpoint_url=incident.world.url, region_name=REGION,
                       aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])
    return iam.list_role_policies(RoleName="etl")["PolicyNames"]


def test_assume_role_acts_in_the_targets_account(incident: Incident, tmp_path: Path) -> None:
    leak = _account_b(incident)
    incident.world.enforce_auth()
    repo = _repo(tmp_path, leak)
    target = f"arn:aws:iam::{B}:role/etl"

    without = _respond(incident, repo, tmp_path / "without.json", "--yes")
    assert without.code == 4, without.stderr  # the operator's own account has no such role: not revoked
    assert _etl_policies_in_b(incident) == ["S3FullAccess"]

    unnamed = _respond(incident, repo, tmp_path / "unnamed.json", "--assume-role", TEMPLATE, "--yes")
    assert unnamed.code == 4, unnamed.stderr  # B is where STS says the key lives, not an account the operator named
    (item,) = json.loads((tmp_path / "unnamed.json").read_text())["credentials"]
    assert [r["status"] for r in item["revocations"]] == ["refused"]
    assert f"account {B} was not named" in item["revocations"][0]["message"]
    assert _etl_policies_in_b(incident) == ["S3FullAccess"]

    dry = _respond(incident, repo, tmp_path / "dry.json", "--assume-role", TEMPLATE, "--account", B)
    assert dry.code == 3, dry.stderr
    assert f"note: operator: arn:aws:iam::{B}:role/IncidentResponder (assumed, session stsleak-revoke-" in dry.stderr
    (item,) = json.loads((tmp_path / "dry.json").read_text())["credentials"]
    assert [(r["target"], r["status"]) for r in item["revocations"]] == [(target, "planned")]
    assert _etl_policies_in_b(incident) == ["S3FullAccess"]

    applied = _respond(incident, repo, tmp_path / "applied.json", "--assume-role", TEMPLATE, "--account", B, "--yes")
    assert applied.code == 3, applied.stderr
    assert ROLE_POLICY_NAME in _etl_policies_in_b(incident)
    report = json.loads((tmp_path / "applied.json").read_text())
    (item,) = report["credentials"]
    assert [(r["target"], r["status"]) for r in item["revocations"]] == [(target, "revoked")]
    actions = report["actions"]
    assert actions["assume_role"] == TEMPLATE
    assert actions["undo_command"] == shlex.join(["stsleak", "revoke", "--undo", actions["run_id"], "--audit-log",
                                                  str(incident.world.audit_log), "--assume-role", TEMPLATE])
    assert f"undo with: {actions['undo_command']}" in applied.stderr
