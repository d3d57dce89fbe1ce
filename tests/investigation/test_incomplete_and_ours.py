"""Issue 21 §§1-3: a failed CloudTrail search is never a clean result, and "ours" cannot be forged.

Every AWS call goes through the recording proxy into the CloudTrail emulator (tests/investigation/conftest.py);
regions of the emulator are broken with `break_region` (HTTP 500 with an HTML page, as a failing proxy answers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.investigation.conftest import REGION, Incident
from tests.support.cli import GitRepo, stsleak

DEPLOY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def _leaked_repo(incident: Incident, tmp_path: Path) -> tuple[Any, GitRepo]:
    world = incident.world
    incident.role("ci-deploy", world.dev_arn, DEPLOY)
    world.enforce_auth()
    leak = world.assume("ci-deploy", "deploy-7")
    repo = GitRepo(tmp_path / "repo")
    repo.commit("debug", {"creds.json": leak.assume_role_json()})
    return leak, repo


def _respond(incident: Incident, repo: GitRepo, report: Path, *regions: str) -> Any:
    return stsleak("respond", str(repo.path), "--regions", ",".join(regions), "--report", str(report),
                   env=incident.env())


def test_respond_with_failing_regions_says_incomplete_everywhere(incident: Incident, tmp_path: Path) -> None:
    leak, repo = _leaked_repo(incident, tmp_path)
    incident.emulator.break_region("eu-west-1")
    incident.emulator.break_region("ap-southeast-2")
    out = tmp_path / "incident.json"
    run = _respond(incident, repo, out, REGION, "eu-west-1", "ap-southeast-2")
    assert run.code == 5, run.stderr  # live, but the investigation is incomplete: 5 (documented), not 3
    report = json.loads(out.read_text())
    investigation = report["investigation"]
    assert investigation["ran"] and not investigation["complete"]
    failed = {(f["region"], f["status"]) for f in investigation["incomplete_searches"]}
    assert failed == {("eu-west-1", "failed"), ("ap-southeast-2", "failed")}
    assert "90 days" in investigation["window"] and "management events" in investigation["window"]
    (item,) = report["credentials"]
    assert item["activity"]["complete"] is False
    steps = " ".join(item["next_steps"])
    assert "No use by anyone but stsleak" not in steps and "INCOMPLETE" in steps and "eu-west-1" in steps
    assert "INVESTIGATION INCOMPLETE" in run.stdout
    for fmt in ("md", "html"):
        path = tmp_path / f"incident.{fmt}"
        assert _respond(incident, repo, path, REGION, "eu-west-1").code == 5
        text = path.read_text()
        assert "INVESTIGATION INCOMPLETE" in text and "eu-west-1" in text
        assert "<center>" not in text and "&lt;center&gt;" not in text and "500 Internal Server Error</h1>" not in text
    assert leak.secret not in out.read_text()


def test_investigate_exits_5_when_a_region_fails_and_0_when_complete(incident: Incident, tmp_path: Path) -> None:
    _, repo = _leaked_repo(incident, tmp_path)
    report = tmp_path / "report.json"
    scanned = stsleak("scan", "--history", "--verify", "--format", "json", "-o", str(report), str(repo.path),
                      env=incident.env())
    assert scanned.code == 3, scanned.stderr
    complete = stsleak("investigate", "--from", str(report), "--regions", REGION, env=incident.env())
    assert complete.code == 0, complete.stderr
    assert "INCOMPLETE" not in complete.stdout
    incident.emulator.break_region("eu-west-1")
    partial = stsleak("investigate", "--from", str(report), "--regions", f"{REGION},eu-west-1", env=incident.env())
    assert partial.code == 5, partial.stderr
    assert "INVESTIGATION INCOMPLETE" in partial.stdout and "eu-west-1" in partial.stdout


def test_an_attacker_with_stsleaks_user_agent_is_still_someone_else(incident: Incident, tmp_path: Path) -> None:
    leak, repo = _leaked_repo(incident, tmp_path)
    import boto3
    from botocore.config import Config

    disguised = boto3.client("s3", endpoint_url=incident.proxy.url, region_name=REGION,
                             aws_access_key_id=leak.access_key_id, aws_secret_access_key=leak.secret,
                             aws_session_token=leak.token, config=Config(user_agent_extra="stsleak/0.1.0"))
    disguised.list_buckets()
    out = tmp_path / "incident.json"
    run = _respond(incident, repo, out, REGION)
    assert run.code == 3, run.stderr
    (item,) = json.loads(out.read_text())["credentials"]
    activity = item["activity"]
    names = {s["name"]: s for s in activity["events_by_name"]}
    assert names["ListBuckets"]["ours"] == 0  # the disguised attacker
    assert names["GetCallerIdentity"]["ours"] == names["GetCallerIdentity"]["count"] >= 1  # our verification
    assert activity["first_use_by_others"] is not None
    assert not any(a["ours"] for a in activity["user_agents"] if "stsleak" in a["agent"] and a["count"] > 1)
    assert "No use by anyone but stsleak" not in " ".join(item["next_steps"])


def test_every_report_target_is_checked_before_any_aws_call(incident: Incident, tmp_path: Path) -> None:
    _, repo = _leaked_repo(incident, tmp_path)
    before = len(incident.emulator.store.all())
    for bad, why in ((tmp_path / "out.txt", "the name must end in .json, .md or .html"),
                     (tmp_path / "missing-dir" / "x.html", f"no such directory {tmp_path / 'missing-dir'}")):
        run = stsleak("respond", str(repo.path), "--yes", "--report", str(tmp_path / "ok.json"), "--report", str(bad),
                      env=incident.env())
        assert run.code == 2 and run.stderr.strip().splitlines() == [f"stsleak: error: --report {bad}: {why}"]
    assert len(incident.emulator.store.all()) == before  # not one call reached AWS (verification, IAM, CloudTrail)
    assert not (tmp_path / "ok.json").exists()
    md, js = tmp_path / "a.md", tmp_path / "a.json"
    run = stsleak(
        "respond", str(repo.path), "--regions", REGION, "--report", str(md), "--report", str(js), env=incident.env())
    assert run.code == 3, run.stderr
    assert md.read_text().startswith("# stsleak incident report") and json.loads(js.read_text())["credentials"]
