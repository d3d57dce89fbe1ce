"""Operators in many accounts (`--assume-role TEMPLATE`), on moto's server through the CLI.

moto keeps one state per account id and picks the account from the access key: credentials from
sts:AssumeRole of a role ARN in account B act in account B (the role need not exist while auth is
off, which is how the setup reaches accounts B and C). With auth on, moto checks the operator's
identity policy for sts:AssumeRole (so a Deny on account C's roles makes that assumption fail with
AccessDenied), but it does not check cross-account trust policies: that refusal is AWS's, not shown here.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from scanner.revocation.operators import RoleTemplate
from scanner.revocation.policy import ROLE_POLICY_NAME
from tests.aws.conftest import ALLOW_ALL, REGION, S3_FULL, SETUP_KEY, SETUP_SECRET, Leak, World
from tests.support.cli import stsleak

A, B, C = "123456789012", "222222222222", "333333333333"
TEMPLATE = "arn:aws:iam::{account}:role/IncidentResponder"
NO_C = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{C}:role/*"}]}


def _client(world: World, creds: dict, service: str):
    return boto3.client(service, endpoint_url=world.url, region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])


def _setup_iam(world: World, account: str):
    """IAM of `account` during setup (auth off): credentials of a role ARN in that account."""
    sts = boto3.client("sts", endpoint_url=world.url, region_name=REGION, aws_access_key_id=SETUP_KEY,
                       aws_secret_access_key=SETUP_SECRET)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/setup", RoleSessionName="setup")["Credentials"]
    return _client(world, creds, "iam")


def _responder_iam(world: World, account: str):
    """IAM of `account` as the operator's IncidentResponder there (auth on)."""
    sts = world.operator_client("sts")
    creds = sts.assume_role(RoleArn=TEMPLATE.format(account=account), RoleSessionName="check")["Credentials"]
    return _client(world, creds, "iam")


def _trust(principal: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})


@pytest.fixture
def org(world: World, tmp_path: Path):
    """Role etl in accounts A (the operator's), B and C; IncidentResponder in A and B; C cannot be assumed."""
    world.setup_client("iam").put_user_policy(UserName="operator", PolicyName="no-c", PolicyDocument=json.dumps(NO_C))
    operator_arn = f"arn:aws:iam::{A}:user/operator"
    leaks: dict[str, list[Leak]] = {}
    for account in (A, B, C):
        iam = _setup_iam(world, account)
        if account != C:
            iam.create_role(RoleName="IncidentResponder", AssumeRolePolicyDocument=_trust(operator_arn))
            iam.put_role_policy(RoleName="IncidentResponder", PolicyName="admin", PolicyDocument=json.dumps(ALLOW_ALL))
        role = iam.create_role(RoleName="etl", AssumeRolePolicyDocument=_trust(world.dev_arn))["Role"]
        iam.put_role_policy(RoleName="etl", PolicyName="S3FullAccess", PolicyDocument=json.dumps(S3_FULL))
        world.roles[f"etl-{account}"] = role
        sessions = ("laptop", "ci") if account == B else ("laptop",)
        leaks[account] = [world.assume(f"etl-{account}", session) for session in sessions]
    world.enforce_auth()
    folder = tmp_path / "src"
    folder.mkdir()
    for account, found in leaks.items():
        for i, leak in enumerate(found):
            (folder / f"{account}-{i}.json").write_text(leak.assume_role_json())
    return folder


def _records(world: World) -> list[dict]:
    return [json.loads(line) for line in world.audit_log.read_text().splitlines()]


NAMED = ("--account", A, "--account", f"{B},{C}")  # the accounts the operator may act in


def test_one_run_revokes_across_accounts(world: World, org: Path) -> None:
    run = stsleak("scan", "--verify", "--revoke", "--yes", "--assume-role", TEMPLATE, *NAMED, "--format", "json",
                  "--audit-log", str(world.audit_log), str(org), env=world.env())
    assert run.code == 4, run.stderr  # account C's target failed (4, not 3); the others still went on
    by_account = {}
    for finding in run.json()["findings"]:
        by_account.setdefault(finding["verification"]["account"], []).append(finding["revocation"])
    assert [r["status"] for r in by_account[A]] == ["revoked"]
    assert [r["status"] for r in by_account[B]] == ["revoked", "revoked"]
    assert by_account[B][0]["target"] == f"arn:aws:iam::{B}:role/etl"
    (failed,) = by_account[C]
    assert failed["status"] == "failed"
    assert failed["message"].startswith(f"cannot assume arn:aws:iam::{C}:role/IncidentResponder for account {C}: "
                                        "AccessDenied")
    assert f"revocation failed: cannot assume arn:aws:iam::{C}:role/IncidentResponder" in run.stderr
    for account in (A, B):  # the deny landed in each account's own role
        assert ROLE_POLICY_NAME in _responder_iam(world, account).list_role_policies(RoleName="etl")["PolicyNames"]
    records = _records(world)
    run_id = records[0]["run"]
    assumed = [r["params"] for r in records if r["event"] == "call" and r["operation"] == "sts:AssumeRole"]
    assert sorted(p["RoleArn"] for p in assumed) == sorted(TEMPLATE.format(account=a) for a in (A, B, C))  # once each
    assert {p["RoleSessionName"] for p in assumed} == {f"stsleak-revoke-{run_id}"}
    assert sorted(r["account"] for r in records if r["event"] == "assumed-role") == [A, B]


def test_dry_run_assumes_but_changes_nothing(world: World, org: Path) -> None:
    run = stsleak("scan", "--verify", "--revoke", "--assume-role", TEMPLATE, *NAMED, "--format", "json",
                  "--audit-log", str(world.audit_log), str(org), env=world.env())
    assert run.code == 4, run.stderr  # account C's target failed (4, not 3); the others still went on
    statuses = sorted(f["revocation"]["status"] for f in run.json()["findings"])
    assert statuses == ["failed", "planned", "planned", "planned"]
    assert f"note: operator: arn:aws:iam::{B}:role/IncidentResponder (assumed, session stsleak-revoke-" in run.stderr
    for account in (A, B):
        assert _responder_iam(world, account).list_role_policies(RoleName="etl")["PolicyNames"] == ["S3FullAccess"]
    operations = {r["operation"] for r in _records(world) if r["event"] == "call"}
    assert "iam:PutRolePolicy" not in operations


def test_revoke_role_arn_in_another_account(world: World, org: Path) -> None:
    run = stsleak("revoke", "--role", f"arn:aws:iam::{B}:role/etl", "--yes", "--assume-role", TEMPLATE,
                  "--account", B, "--audit-log", str(world.audit_log), env=world.env())
    assert run.code == 0, run.stderr
    assert f"revoked: arn:aws:iam::{B}:role/etl" in run.stdout
    without = stsleak("revoke", "--role", f"arn:aws:iam::{B}:role/etl", "--audit-log", str(world.audit_log),
                      env=world.env())
    assert without.code == 4 and "run again with --profile" in without.stdout


@pytest.mark.parametrize("template", ["arn:aws:iam::123456789012:role/IncidentResponder",
                                      "arn:aws:iam::{account}:role/{name}", "IncidentResponder-{account}",
                                      "arn:aws:iam::{account}:user/bob"])
def test_bad_templates_are_usage_errors(world: World, template: str) -> None:
    run = stsleak("revoke", "--role", "etl", "--assume-role", template, "--audit-log", str(world.audit_log),
                  env=world.env())
    assert run.code == 2
    assert run.stderr.startswith("stsleak: error: --assume-role") and "Traceback" not in run.stderr


def test_template_fills_the_account() -> None:
    assert RoleTemplate.parse(TEMPLATE).arn_for(B) == f"arn:aws:iam::{B}:role/IncidentResponder"
    assert RoleTemplate.parse("arn:aws-cn:iam::{account}:role/ops/Responder").arn_for(C) == \
        f"arn:aws-cn:iam::{C}:role/ops/Responder"
    with pytest.raises(ValueError):
        RoleTemplate.parse(TEMPLATE).arn_for("12345")


def test_undo_across_accounts_with_assume_role(world: World, org: Path) -> None:
    run = stsleak("scan", "--verify", "--revoke", "--yes", "--assume-role", TEMPLATE, *NAMED, "--format", "json",
                  "--audit-log", str(world.audit_log), str(org), env=world.env())
    assert run.code == 4, run.stderr  # account C cannot be assumed
    run_id = _records(world)[0]["run"]
    for account in (A, B):
        assert ROLE_POLICY_NAME in _responder_iam(world, account).list_role_policies(RoleName="etl")["PolicyNames"]
    intents = [r for r in _records(world) if r["event"] == "intent"]
    assert sorted(r["operator_account"] for r in intents) == [A, B]
    assert {r["operator_arn"].split("/")[1] for r in intents if r["operator_account"] == B} == {"IncidentResponder"}
    without = stsleak("revoke", "--undo", run_id, "--yes", "--audit-log", str(world.audit_log), env=world.env())
    assert without.code == 2 and f"changed account {A}, {B}" in without.stderr, without.stdout + without.stderr
    undo = stsleak("revoke", "--undo", run_id, "--yes", "--assume-role", TEMPLATE,
                   "--audit-log", str(world.audit_log), env=world.env())
    assert undo.code == 0, undo.stdout + undo.stderr
    assert undo.stdout.count("undone:") == 2, undo.stdout
    for account in (A, B):
        assert _responder_iam(world, account).list_role_policies(RoleName="etl")["PolicyNames"] == ["S3FullAccess"]


def test_only_the_accounts_named_are_acted_in(world: World, org: Path) -> None:
    """Issue 22: the account STS reports for a leaked key is where the key lives, not where the operator may act:
    without --account B the leaked keys of B are refused and no role is assumed there."""
    run = stsleak("scan", "--verify", "--revoke", "--yes", "--assume-role", TEMPLATE, "--account", A, "--format",
                  "json", "--audit-log", str(world.audit_log), str(org), env=world.env())
    assert run.code == 4, run.stderr
    by_account: dict[str, list[dict]] = {}
    for finding in run.json()["findings"]:
        by_account.setdefault(finding["verification"]["account"], []).append(finding["revocation"])
    assert [r["status"] for r in by_account[A]] == ["revoked"]
    for account in (B, C):
        assert {r["status"] for r in by_account[account]} == {"refused"}
        assert by_account[account][0]["message"].startswith(f"account {account} was not named: --assume-role acts "
                                                            f"only in accounts given with --account")
        assert f"--account {account}" in by_account[account][0]["message"]
    assert _responder_iam(world, B).list_role_policies(RoleName="etl")["PolicyNames"] == ["S3FullAccess"]
    records = _records(world)
    assumed = [r["params"]["RoleArn"] for r in records if r["event"] == "call" and r["operation"] == "sts:AssumeRole"]
    assert assumed == [TEMPLATE.format(account=A)]
    (accounts,) = [r for r in records if r["event"] == "accounts"]
    assert accounts["named"] == [A] and accounts["unnamed"] == [B, C] and accounts["confirmed"] is False


def test_account_needs_assume_role_and_twelve_digits(world: World) -> None:
    for extra in (["--account", B], ["--assume-role", TEMPLATE, "--account", "12345"]):
        run = stsleak("revoke", "--role", "etl", *extra, "--audit-log", str(world.audit_log), env=world.env())
        assert run.code == 2 and run.stderr.startswith("stsleak: error: --account"), run.stderr


def _on_a_terminal(world: World, org: Path, answer: bytes) -> tuple[int, bytes]:
    """`revoke --assume-role` of etl in A, B and C at a terminal, naming only account A: it asks about B and C."""
    master, slave = pty.openpty()
    env = {**os.environ, **world.env(), "NO_COLOR": "1"}
    roles = [arg for account in (A, B, C) for arg in ("--role", f"arn:aws:iam::{account}:role/etl")]
    proc = subprocess.Popen([sys.executable, "-m", "scanner", "revoke", *roles, "--assume-role", TEMPLATE,
                             "--account", A, "--audit-log", str(world.audit_log)],
                            stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    seen = b""
    while b"Act in them? [y/N]" not in seen:
        seen += os.read(master, 4096)
    os.write(master, answer)
    while b"Apply this plan? [y/N]" not in seen:
        seen += os.read(master, 4096)
    os.write(master, b"n\n")
    code = proc.wait(timeout=120)
    os.close(master)
    return code, seen


@pytest.mark.parametrize("answer", [b"y\n", b"n\n"])
def test_accounts_not_named_are_confirmed_at_the_prompt(world: World, org: Path, answer: bytes) -> None:
    code, seen = _on_a_terminal(world, org, answer)
    assert f"--assume-role would act in account(s) {B}, {C}, not named with --account".encode() in seen
    plan = seen.split(b"Act in them? [y/N]")[1]
    assert code == 4  # C fails or is refused
    if answer == b"y\n":
        assert f"operator: arn:aws:iam::{B}:role/IncidentResponder (assumed".encode() in plan
        assert f"cannot assume arn:aws:iam::{C}:role/IncidentResponder".encode() in plan  # confirmed, then denied
    else:
        assert f"account {B} was not named".encode() in plan and f"account {C} was not named".encode() in plan
        assumed = [r["params"]["RoleArn"] for r in _records(world)
                   if r["event"] == "call" and r["operation"] == "sts:AssumeRole"]
        assert assumed == [TEMPLATE.format(account=A)]
