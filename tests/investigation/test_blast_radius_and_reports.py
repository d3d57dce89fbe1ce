"""Trust policies keep Effect and Condition; reports escape everything from the repo and AWS;
without operator credentials `respond` skips the investigation with one line and the scan report stands."""

from __future__ import annotations

import json
import re
from pathlib import Path

from scanner.investigation.blast_radius import summarise_policy, trust_statements, who_can_mint
from scanner.investigation.model import (
    Activity,
    CredentialInvestigation,
    Incident,
    PersistenceItem,
)
from scanner.investigation.next_steps import next_steps
from scanner.reports.incident import render_incident
from tests.investigation.conftest import Incident as World
from tests.support.cli import GitRepo, stsleak

ROLE = "arn:aws:iam::111122223333:role/deploy"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions."
                                                   "githubusercontent.com"},
     "Action": "sts:AssumeRoleWithWebIdentity",
     "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"}}},
    {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root", ROLE]}, "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
    {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::444455556666:user/mallory"}, "Action": "sts:AssumeRole"}]}


def test_trust_keeps_effect_and_conditions_and_flags_who_can_mint() -> None:
    trust = trust_statements(TRUST)
    assert [t.effect for t in trust] == ["Allow", "Allow", "Allow", "Deny"]
    assert trust[0].conditions == {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"}}
    lines = who_can_mint(trust, ROLE)
    assert not any("mallory" in line for line in lines)  # a Deny principal is not "trusted by"
    oidc = next(line for line in lines if line.startswith("Federated:"))
    assert 'repo:acme/*' in oidc and "WILDCARD CONDITION" in oidc
    assert any("ACCOUNT ROOT" in line for line in lines if ":root" in line)
    assert any("SELF-TRUST" in line for line in lines if line.startswith(f"AWS:{ROLE}"))
    assert any("WILDCARD: anyone (no condition!)" in line for line in lines if line.startswith("*"))


def test_policy_summary_flags_everything_iam_and_assume_role() -> None:
    summary = summarise_policy("p", "inline", {"Statement": [
        {"Effect": "Allow", "Action": ["iam:PassRole", "s3:GetObject"], "Resource": "*"},
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::1:role/other"},
        {"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    assert not summary.allows_everything
    assert summary.allows_iam == ["iam:PassRole"]
    assert summary.assume_role_on == ["arn:aws:iam::1:role/other"]
    assert summarise_policy("q", "managed", {"Statement": {"Effect": "Allow", "Action": "*",
                                                           "Resource": "*"}}).allows_everything


def _hostile_incident() -> Incident:
    evil = '<script>alert(1)</script>| [x](http://evil) ![i](http://evil/i.png) &amp;'
    item = CredentialInvestigation("ASIAIOSFODNN7EXAMPLE", "live", arn=f"arn:aws:sts::1:assumed-role/{evil}/s",
                                   path=f"deploy/{evil}.json", line=3, commit="c0ffee" * 6, author=evil,
                                   date="2026-01-01T00:00:00Z")
    item.activity = Activity(item.access_key_id, searched=True)
    from scanner.investigation.cloudtrail import fold

    fold(item.activity, {"eventTime": "2026-01-02T00:00:00Z", "eventName": evil, "eventSource": "s3.amazonaws.com",
                         "awsRegion": "us-east-1", "sourceIPAddress": evil, "userAgent": evil}, None)
    item.persistence.append(PersistenceItem("user", evil, "CreateUser", "2026-01-02T00:00:00Z", item.access_key_id,
                                            exists=True, remove=f"aws iam delete-user --user-name {evil}"))
    item.next_steps = next_steps(item)
    return Incident([item], notes=[evil], repository=evil, generated_at="2026-01-03T00:00:00Z")


def test_html_and_markdown_escape_everything() -> None:
    incident = _hostile_incident()
    html = render_incident("html", incident, None, [])
    assert "<script" not in html and 'href=' not in html and "<img" not in html and "http://evil" in html
    assert "&lt;script&gt;" in html
    assert "default-src 'none'" in html  # no remote loads even if something slipped through
    md = render_incident("md", incident, None, [])
    assert not re.search(r"(?<!\\)[<\[]", md)  # no tag, link or image can start
    assert "\\<script\\>" in md
    header_cells = 0
    for line in md.splitlines():
        if line.startswith("|"):
            cells = len(re.split(r"(?<!\\)\|", line))
            header_cells = header_cells or cells
            assert cells == header_cells, line  # a hostile value adds no column
        else:
            header_cells = 0
    data = json.loads(render_incident("json", incident, None, []))
    assert data["credentials"][0]["persistence"][0]["name"].startswith("<script>")  # JSON: data stays data


def test_respond_without_operator_credentials_skips_the_investigation(incident: World, tmp_path: Path) -> None:
    world = incident.world
    world.make_role("app")
    world.enforce_auth()
    leak = world.assume("app", "laptop")
    repo = GitRepo(tmp_path / "repo")
    repo.commit("oops", {"creds.json": leak.assume_role_json()})
    report = tmp_path / "incident.md"
    run = stsleak("respond", str(repo.path), "--report", str(report), env=incident.env(operator=False))
    assert run.code == 3, run.stderr
    skipped = [line for line in run.stderr.splitlines() if "investigation and revocation skipped" in line]
    assert len(skipped) == 1 and "no operator AWS credentials" in skipped[0]
    text = report.read_text()
    assert leak.access_key_id in text and "CloudTrail was not searched" in text
    assert leak.secret not in text and (leak.token or "") not in text + run.stdout + run.stderr
    assert "Traceback" not in run.stderr


def test_bad_report_name_and_since_are_one_line_errors(tmp_path: Path) -> None:
    run = stsleak("investigate", "--from", str(tmp_path / "missing.json"))
    assert run.code == 2 and run.stderr.startswith("stsleak: error: cannot read report")
    run = stsleak("respond", str(tmp_path), "--since", "yesterday")
    assert run.code == 2 and run.stderr.strip().splitlines() == [
        "stsleak: error: --since 'yesterday': not an ISO 8601 date (e.g. 2026-11-01)"]


def test_last_use_of_a_long_term_key_is_read_before_verification(incident: World, tmp_path: Path) -> None:
    world = incident.world
    _, key, secret = world.make_user("ci-bot", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
    world.enforce_auth()
    repo = GitRepo(tmp_path / "repo")
    repo.commit("ci", {"ci.env": f"AWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={secret}\n"})
    report = tmp_path / "incident.json"
    run = stsleak("respond", str(repo.path), "--regions", "us-east-1", "--report", str(report), env=incident.env())
    assert run.code == 3, run.stderr
    item = json.loads(report.read_text())["credentials"][0]
    assert item["last_used"]["user_name"] == "ci-bot"
    assert item["last_used"]["date"] is None  # never used: our own GetCallerIdentity came after this read
    assert item["last_used"]["read_at"] <= item["verified_at"]
    after = world.operator_client("iam").get_access_key_last_used(AccessKeyId=key)["AccessKeyLastUsed"]
    assert after.get("LastUsedDate") is not None  # verification did use it
    assert any("update-access-key" in step for step in item["next_steps"])
    assert secret not in report.read_text() + run.stdout + run.stderr
