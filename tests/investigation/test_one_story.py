"""Issue 21 §10: every report tells one consistent story — `respond --yes` and a later `investigate --from`
its report both say what was applied (never "DRY RUN"), show the key as revoked, split the next steps
into done and to do, open with a summary, name the operator, the audit run and the exact undo command,
order the timeline cutoff -> read back, and flag a key someone used before the commit that leaked it.

The attacker uses the key first; the commit that leaks it comes a moment later (its date is set), so
the key must have leaked somewhere else before. Reports are checked as JSON, Markdown and, in headless
Chromium, as HTML (a screenshot of each is kept under the test's tmp_path and its path printed).
"""

from __future__ import annotations

import json
import shlex
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scanner.reports.incident_md import esc
from tests.investigation.browser import Node, Page, render
from tests.investigation.conftest import ATTACKER_IP, REGION, Incident
from tests.support.cli import GitRepo, stsleak

DEPLOY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:*", "iam:CreateUser", "iam:CreateAccessKey"], "Resource": "*"}]}
OPERATOR = "arn:aws:iam::123456789012:user/operator"


def _attack_then_commit(incident: Incident, tmp_path: Path) -> tuple[Any, str, GitRepo, str]:
    """The attacker uses the leaked session (3 calls from one IP), THEN it is committed: leaked elsewhere first."""
    world = incident.world
    incident.role("ci-deploy", world.dev_arn, DEPLOY)
    world.enforce_auth()
    leak = world.assume("ci-deploy", "deploy-9")
    incident.attacker(leak, "s3").list_buckets()
    iam = incident.attacker(leak, "iam")
    iam.create_user(UserName="backdoor")
    backdoor = iam.create_access_key(UserName="backdoor")["AccessKey"]["AccessKeyId"]
    time.sleep(1.1)  # CloudTrail times have whole seconds: the commit is strictly later than the first use
    committed_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    repo = GitRepo(tmp_path / "repo")
    repo.commit("deploy debug", {"deploy/creds.json": leak.assume_role_json()}, date=committed_at)
    return leak, backdoor, repo, committed_at


def _page(html: Path, tmp_path: Path, name: str, record_property: Any) -> Page:
    """The report as headless Chromium builds it; the screenshot is kept and its path printed and recorded."""
    folder = tmp_path / name
    folder.mkdir()
    page = render(html, folder)
    assert page.screenshot.stat().st_size > 10_000
    print(f"screenshot of {html.name}: {page.screenshot}")
    record_property(f"screenshot-{name}", str(page.screenshot))
    return page


def _texts(nodes: list[Node]) -> list[str]:
    return [" ".join(node.all_text().split()) for node in nodes]


def _section(page: Page, key: str) -> Node:
    (section,) = page.dom.find("section", **{"data-key": key})
    return section


def _check_html(page: Page, key: str, mode: str, run_id: str, undo: str) -> None:
    body = " ".join(page.dom.all_text().split())
    assert "DRY RUN" not in body
    assert _texts(page.dom.find("p", **{"class": "mode"})) == [mode]
    summary = _texts(page.dom.find("ul", **{"class": "summary"})[0].find("li"))
    assert summary[0] == "keys found: 1 (1 live, 0 expired; 1 revoked now)"
    assert any(line.startswith("LEAKED ELSEWHERE FIRST") and key in line for line in summary)
    (actions,) = page.dom.find("table", **{"class": "actions"})
    assert _texts(actions.find("code", **{"class": "operator"})) == [OPERATOR]
    assert _texts(actions.find("code", **{"class": "audit-run"})) == [run_id]
    assert _texts(actions.find("code", **{"class": "undo"})) == [undo]
    section = _section(page, key)
    assert _texts(section.find("span", **{"class": "badge"}))[0] == "revoked"
    assert not section.find("span", **{"class": "live"})
    assert _texts(section.find("p", **{"class": "state"}))[0].startswith("State after actions: revoked at ")
    assert section.find("p", **{"class": "leaked-elsewhere"})
    done = _texts(section.find("ul", **{"class": "done"})[0].find("li"))
    todo = _texts(section.find("ol", **{"class": "next-steps"})[0].find("li"))
    assert any(step.startswith("Revoked every session of arn:aws:iam::123456789012:role/ci-deploy") for step in done)
    assert not any("Revoke the sessions of" in step for step in todo)
    whats = [row[1] for row in page.rows(key, "timeline")]
    cutoff = next(i for i, w in enumerate(whats) if w.startswith("revocation cutoff") and "ci-deploy" in w)
    read_back = next(i for i, w in enumerate(whats) if w.startswith("read back from IAM") and "ci-deploy" in w)
    assert cutoff < read_back


def _check_story(report: dict[str, Any], key: str, committed_at: str) -> dict[str, Any]:
    """What both reports must say the same way (the JSON contract)."""
    assert report["dry_run"] is False
    assert report["operator"] == OPERATOR
    (item,) = report["credentials"]
    assert item["status"] == "live"  # GetCallerIdentity cannot be denied: still "live" to STS
    assert item["state"]["badge"] == "revoked"
    (own,) = [r for r in item["revocations"] if "ci-deploy" in r["target"]]
    assert item["state"]["text"].startswith(f"revoked at {own['cutoff']}, read back from IAM at {own['read_back_at']}")
    assert own["status"] == "revoked"
    assert any(step.startswith("Revoked every session of arn:aws:iam::123456789012:role/ci-deploy issued before "
                               f"{own['cutoff']}") for step in item["done"])
    assert any(step.startswith("Deactivated access key") for step in item["done"])
    assert not any("Revoke the sessions of" in step or "Deactivate and delete" in step for step in item["next_steps"])
    assert any("BEFORE the commit that leaked it" in step and "leaked somewhere else first" in step
               for step in item["next_steps"])
    assert item["first_outside_use_before_commit"] is True
    assert item["source"]["date"] == committed_at
    whats = [t["what"] for t in item["timeline"]]
    first_use = next(i for i, w in enumerate(whats) if w.startswith("first use by someone else"))
    assert "BEFORE the commit" in whats[first_use] and first_use < whats.index(next(
        w for w in whats if w.startswith("committed in")))
    cutoff = whats.index(f"revocation cutoff (sessions issued before it are denied): {own['target']}")
    assert cutoff < whats.index(f"read back from IAM: {own['target']}")
    summary = report["summary"]
    assert summary["keys_found"] == 1 and summary["live"] == 1 and summary["expired"] == 0
    assert summary["revoked_keys"] == 1
    assert summary["used_by_others"]["source_ips"] == 1
    assert summary["credentials_spawned"] == 1  # the backdoor's access key
    assert summary["persistence"] == {"found": 2, "still_there": 2}  # user backdoor and its key
    assert summary["revocations"] == {"applied": 2, "already_revoked": 0, "planned": 0, "refused": 0, "failed": 0}
    assert summary["investigation"] == "complete"
    assert summary["first_outside_use_before_commit"] == [key]
    return item


def test_respond_and_a_later_investigation_tell_one_story(incident: Incident, tmp_path: Path,
                                                          record_property: Any) -> None:
    leak, backdoor, repo, committed_at = _attack_then_commit(incident, tmp_path)
    key, audit = leak.access_key_id, tmp_path / "audit.jsonl"
    reports = [tmp_path / f"incident.{fmt}" for fmt in ("json", "md", "html")]
    run = stsleak("respond", str(repo.path), "--yes", "--regions", REGION, "--audit-log", str(audit),
                  *[arg for path in reports for arg in ("--report", str(path))], env=incident.env(), timeout=240)
    assert run.code == 3, run.stderr  # live (GetCallerIdentity cannot be denied), revoked, investigation complete

    # the run id and the exact undo command are printed, and they are the audit log's
    (run_id,) = {json.loads(line)["run"] for line in audit.read_text().splitlines()
                 if json.loads(line)["event"] == "outcome"}
    undo = shlex.join(["stsleak", "revoke", "--undo", run_id, "--audit-log", str(audit)])
    assert f"audit log: {audit} (run {run_id})" in run.stderr
    assert f"undo with: {undo}" in run.stderr
    assert "at None:0" not in run.stderr  # the spawned key is in no file
    assert f"finding: {backdoor} (minted by the leaked credentials: seen in CloudTrail, not in a file)" in run.stderr

    report = json.loads(reports[0].read_text())
    assert report["mode"] == f"revocation applied (run {run_id})"
    assert report["actions"]["run_id"] == run_id and report["actions"]["undo_command"] == undo
    assert report["actions"]["applied"] is True and report["actions"]["this_run"] is True
    item = _check_story(report, key, committed_at)
    assert report["summary"]["used_by_others"]["events"] == 3  # ListBuckets, CreateUser, CreateAccessKey
    assert item["activity"]["others_source_ips"] == {ATTACKER_IP: 3}
    assert "summary (revocation applied" in run.stdout and f"undo: {undo}" in run.stdout

    markdown = reports[1].read_text()
    assert "DRY RUN" not in markdown and "## Summary" in markdown
    assert f"**{esc(report['mode'])}**" in markdown and esc(undo) in markdown and esc(OPERATOR) in markdown
    assert f"## {esc(key)} — revoked" in markdown and "### Done" in markdown and "### To do" in markdown
    assert "LEAKED ELSEWHERE FIRST" in markdown
    _check_html(_page(reports[2], tmp_path, "respond", record_property), key, report["mode"], run_id, undo)

    # Later: the attacker is denied; `investigate --from` the incident report says the same, and more
    time.sleep(1.1)  # CloudTrail times have whole seconds; the cutoff may carry a fraction
    with pytest.raises(Exception, match="AccessDenied"):
        incident.attacker(leak, "s3").list_buckets()
    later_json, later_html = tmp_path / "later.json", tmp_path / "later.html"
    later = stsleak("investigate", "--from", str(reports[0]), "--regions", REGION, "--report", str(later_json),
                    "--report", str(later_html), env=incident.env(), timeout=120)
    assert later.code == 0, later.stderr
    again = json.loads(later_json.read_text())
    mode = f"read-only investigation; the revocation was applied earlier (run {run_id})"
    assert again["mode"] == mode
    assert again["actions"]["run_id"] == run_id and again["actions"]["undo_command"] == undo
    assert again["actions"]["this_run"] is False and again["actions"]["operator"] == OPERATOR
    item = _check_story(again, key, committed_at)
    assert item["state"]["text"].endswith(f"(as recorded by run {run_id}; IAM was not re-read)")
    assert item["verified_at"] == report["credentials"][0]["verified_at"]
    assert again["summary"]["used_by_others"]["events"] == 4  # and the denied ListBuckets
    assert item["activity"]["access_denied_after_cutoff"] == 1
    whats = [t["what"] for t in item["timeline"]]
    assert whats.index(next(w for w in whats if w.startswith("read back from IAM"))) < \
        whats.index("first AccessDenied after the cutoff: the revocation took effect")
    assert {s["minted_key_id"]: s["revocation"]["status"] for s in item["spawned"]} == {backdoor: "revoked"}
    assert "DRY RUN" not in later.stdout and f"undo: {undo}" in later.stdout
    _check_html(_page(later_html, tmp_path, "investigate", record_property), key, mode, run_id, undo)

    # the undo command is one stsleak takes as it is (without --yes: a dry run of the undo plan)
    dry_undo = stsleak(*shlex.split(undo)[1:], env=incident.env())
    assert "Traceback" not in dry_undo.stderr and "undo plan (DRY RUN" in dry_undo.stdout, dry_undo.stderr


def test_a_dry_run_says_so_and_plans_what_is_to_do(incident: Incident, tmp_path: Path) -> None:
    _, _, repo, _ = _attack_then_commit(incident, tmp_path)
    report_path = tmp_path / "incident.json"
    run = stsleak("respond", str(repo.path), "--regions", REGION, "--report", str(report_path),
                  "--audit-log", str(tmp_path / "audit.jsonl"), env=incident.env(), timeout=240)
    assert run.code == 3, run.stderr
    report = json.loads(report_path.read_text())
    assert report["dry_run"] is True
    assert report["mode"] == "DRY RUN — nothing was changed (--yes applies the revocation plan)"
    assert report["actions"]["applied"] is False and report["actions"]["undo_command"] is None
    assert "undo with" not in run.stderr
    (item,) = report["credentials"]
    assert item["state"] == {"badge": "live", "text": "live: revocation planned, not applied (dry run)"}
    assert item["done"] == []
    assert any(step.startswith("Revoke the sessions of arn:aws:iam::123456789012:role/ci-deploy") and "--yes" in step
               for step in item["next_steps"])
    assert report["summary"]["revocations"]["planned"] == 2 and report["summary"]["revocations"]["applied"] == 0
    assert report["summary"]["revoked_keys"] == 0
    assert incident.world.role_policies("ci-deploy") == ["access"]
