"""End to end: an attacker uses a leaked session on moto, then `stsleak respond` tells the story and cuts it off.

The attacker (own user agent and source IP) reads S3 with the leaked ci-deploy session, assumes a
second role (prod-admin), creates an IAM user with an access key; the second role's session creates
another user. Everything goes through the recording proxy, so CloudTrail holds what really happened.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.investigation.conftest import ATTACKER_AGENT, ATTACKER_IP, Incident
from tests.support.cli import GitRepo, stsleak

DEPLOY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:*", "sts:AssumeRole", "iam:CreateUser", "iam:CreateAccessKey"],
     "Resource": "*"}]}
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:*", "s3:*"], "Resource": "*"}]}


def _play_attacker(incident: Incident) -> tuple[Any, Any, dict[str, str]]:
    world = incident.world
    deploy = incident.role("ci-deploy", world.dev_arn, DEPLOY)
    # moto matches the trust principal against the caller's session ARN (AWS accepts the role ARN too)
    session_arn = deploy["Arn"].replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/deploy-42"
    admin = incident.role("prod-admin", [deploy["Arn"], session_arn], ADMIN)
    s3 = world.setup_client("s3")
    s3.create_bucket(Bucket="payroll")
    s3.put_object(Bucket="payroll", Key="salaries.csv", Body=b"alice,1\n")
    world.enforce_auth()
    leak = world.assume("ci-deploy", "deploy-42")
    attacker_s3 = incident.attacker(leak, "s3")
    attacker_s3.list_buckets()
    attacker_s3.get_object(Bucket="payroll", Key="salaries.csv")["Body"].read()
    chained = incident.attacker(leak, "sts").assume_role(RoleArn=admin["Arn"], RoleSessionName="pwn")["Credentials"]
    iam = incident.attacker(leak, "iam")
    iam.create_user(UserName="backdoor")
    backdoor_key = iam.create_access_key(UserName="backdoor")["AccessKey"]
    from tests.aws.conftest import Leak

    second = Leak(chained["AccessKeyId"], chained["SecretAccessKey"], chained["SessionToken"])
    incident.attacker(second, "iam").create_user(UserName="shadow-admin")
    secrets = {"leak_secret": leak.secret, "leak_token": leak.token or "", "chained_secret": second.secret,
               "chained_token": second.token or "", "backdoor_secret": backdoor_key["SecretAccessKey"]}
    return leak, (second, backdoor_key), secrets


def _credential(report: dict[str, Any], key: str) -> dict[str, Any]:
    return next(c for c in report["credentials"] if c["access_key_id"] == key)


def test_respond_reports_the_attack_plans_the_spawned_role_and_cuts_both(incident: Incident, tmp_path: Path) -> None:
    leak, (second, backdoor_key), secrets = _play_attacker(incident)
    repo = GitRepo(tmp_path / "repo")
    leaked_commit = repo.commit("deploy debug", {"deploy/creds.json": leak.assume_role_json()})
    report_path = tmp_path / "incident.json"

    run = stsleak("respond", str(repo.path), "--report", str(report_path), "--yes",
                  "--audit-log", str(tmp_path / "audit.jsonl"), env=incident.env(), timeout=240)

    assert run.code == 3, run.stderr  # live credentials, as `scan --verify --revoke`
    report = json.loads(report_path.read_text())
    assert report["kind"] == "stsleak-incident" and report["incident_version"] == 1
    item = _credential(report, leak.access_key_id)
    assert item["status"] == "live" and item["arn"].endswith(":assumed-role/ci-deploy/deploy-42")
    assert item["source"]["commit"] == leaked_commit

    names = {s["name"]: s for s in item["activity"]["events_by_name"]}
    for action in ("ListBuckets", "AssumeRole", "CreateUser", "CreateAccessKey", "GetCallerIdentity"):
        assert action in names, sorted(names)
    assert "GetObject" not in names  # an S3 data event: not in CloudTrail's event history
    assert names["GetCallerIdentity"]["ours"] == names["GetCallerIdentity"]["count"] >= 1
    assert names["ListBuckets"]["ours"] == 0
    assert ATTACKER_IP in item["activity"]["source_ips"]
    agents = {a["agent"]: a["ours"] for a in item["activity"]["user_agents"]}
    assert any(ATTACKER_AGENT in a and not ours for a, ours in agents.items())
    assert any(ours for ours in agents.values())
    assert item["activity"]["first_use_by_others"]

    spawned = {s["minted_key_id"]: s for s in item["spawned"]}
    assert spawned[second.access_key_id]["role_arn"] == incident.world.roles["prod-admin"]["Arn"]
    assert spawned[second.access_key_id]["session_name"] == "pwn"
    assert spawned[backdoor_key["AccessKeyId"]]["user_name"] == "backdoor"
    assert second.access_key_id in {a["access_key_id"] for a in item["spawned_activity"]}

    persistence = {(p["kind"], p["name"]): p for p in item["persistence"]}
    assert persistence[("user", "backdoor")]["exists"] is True
    assert persistence[("access-key", f"{backdoor_key['AccessKeyId']} (user backdoor)")]["exists"] is True
    assert persistence[("user", "shadow-admin")]["by_key"] == second.access_key_id  # found via the chained session
    assert "delete-access-key" in persistence[("access-key", f"{backdoor_key['AccessKeyId']} (user backdoor)")][
        "remove"]

    hints = {(h["kind"], h["name"]) for h in item["revocation_hints"]}
    assert ("role", incident.world.roles["prod-admin"]["Arn"]) in hints
    targets = {r["target"]: r["status"] for r in item["revocations"]}
    assert targets[incident.world.roles["ci-deploy"]["Arn"]] == "revoked"
    assert targets[incident.world.roles["prod-admin"]["Arn"]] == "revoked"
    for role in ("ci-deploy", "prod-admin"):  # both roles carry the deny, read back with the operator's keys
        document = incident.world.role_policy(role, "AWSRevokeOlderSessions")
        assert document["Statement"][0]["Effect"] == "Deny"
    keys = incident.world.operator_client("iam").list_access_keys(UserName="backdoor")["AccessKeyMetadata"]
    assert [k["Status"] for k in keys if k["AccessKeyId"] == backdoor_key["AccessKeyId"]] == ["Inactive"]

    radius = {b["role_name"]: b for b in item["blast_radius"]}
    assert {"ci-deploy", "prod-admin"} <= set(radius)
    assert radius["prod-admin"]["policies"][0]["allows_iam"] == ["iam:*"]
    assert any("sts:AssumeRole" in t["actions"] for t in radius["prod-admin"]["trust"])
    assert any("backdoor" in step for step in item["next_steps"])
    kinds = [t["what"] for t in item["timeline"]]
    assert kinds[0].startswith("committed in") and any("verified" in k for k in kinds)
    assert any(k.startswith("read back from IAM") for k in kinds)

    outputs = [report_path.read_text(), run.stdout, run.stderr, (tmp_path / "audit.jsonl").read_text()]
    for name, value in secrets.items():
        assert all(value not in text for text in outputs), name

    # Later: the attacker tries again and is denied; `investigate --from` sees the revocation took effect.
    time.sleep(1.1)  # CloudTrail times have whole seconds; the cutoff may carry a fraction
    with pytest.raises(Exception, match="AccessDenied"):
        incident.attacker(leak, "s3").list_buckets()
    html = tmp_path / "incident.html"
    later = stsleak("investigate", "--from", str(report_path), "--report", str(html), "--regions", "us-east-1",
                    env=incident.env(), timeout=120)
    assert later.code == 0, later.stderr
    text = html.read_text()
    assert "first AccessDenied after the cutoff" in text
    assert all(value not in text for value in secrets.values())
    from tests.investigation.browser import render

    page = render(html, tmp_path)
    assert page.screenshot.stat().st_size > 10_000
    activity = page.rows(leak.access_key_id, "activity")
    assert {"ListBuckets", "AssumeRole", "CreateUser", "CreateAccessKey"} <= {row[0] for row in activity}
    spawned_rows = page.rows(leak.access_key_id, "spawned")
    assert {row[4] for row in spawned_rows} >= {second.access_key_id, backdoor_key["AccessKeyId"]}
    persistence_rows = page.rows(leak.access_key_id, "persistence")
    assert {"backdoor", "shadow-admin"} <= {row[1] for row in persistence_rows}
