"""Issue 22, persistence: what AWS itself already says about a leaked access key — the quarantine policy
(`AWSCompromisedKeyQuarantineV3`) AWS attached to its user, and GuardDuty's findings filtered on the key
id (the attacker works from Kali Linux and creates a user) — as rows with "still there?" and the command
that clears them; a region where the operator may not read GuardDuty says so (never "no findings").
After the operator archives a finding and detaches the policy, `investigate --from` reads that back.

AWS's side is played by the emulators: the proxy's IAM extras hold AWS-managed policies moto lacks,
its GuardDuty emulator makes findings from the recorded events while a detector is on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.aws.conftest import Leak
from tests.investigation.conftest import ALLOW_ALL, REGION, Incident
from tests.investigation.persistence_support import (
    REGIONS,
    WEST,
    attacker,
    investigate,
    remove,
    respond,
    rows,
    setup,
)
from tests.support.cli import stsleak

pytestmark = pytest.mark.usefixtures("moto_signs_bodyless_requests")
QUARANTINE = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
KALI = "aws-cli/2.15.0 Python/3.11 Linux/6.6.9-amd64 kali-rolling"


def test_quarantine_policy_and_guardduty_findings_for_the_key(incident: Incident, tmp_path: Path) -> None:
    world = incident.world
    east = setup(incident, "guardduty").create_detector(Enable=True)["DetectorId"]
    setup(incident, "guardduty", WEST).create_detector(Enable=True)
    _, key, secret = world.make_user("ci-bot", ALLOW_ALL)
    setup(incident, "iam").attach_user_policy(UserName="ci-bot", PolicyArn=QUARANTINE)  # AWS found the key exposed
    world.enforce_auth()
    leak = Leak(key, secret, None)
    attacker(incident, leak, "iam", agent=KALI).create_user(UserName="shadow")
    attacker(incident, leak, "ec2", WEST, agent=KALI).describe_instances()
    incident.proxy.guardduty.deny_region(WEST)  # the operator may not read GuardDuty there

    report = tmp_path / "incident.json"
    item = respond(incident, tmp_path, leak, report)
    found = rows(item)
    quarantine = found[("aws-quarantine", "ci-bot")]
    assert (quarantine["category"], quarantine["exists"], quarantine["remove"]) == (
        "signal", True, f"aws iam detach-user-policy --user-name ci-bot --policy-arn {QUARANTINE}  (only once the "
                        "leaked key is deleted and the user reviewed)")
    assert quarantine["detail"].startswith("AWS attached AWSCompromisedKeyQuarantineV3: AWS has already found this key")
    findings = {p["name"]: p for p in item["persistence"] if p["kind"] == "guardduty-finding"}
    assert set(findings) == {"PenTest:IAMUser/KaliLinux", "Persistence:IAMUser/AnomalousBehavior"}
    for finding in findings.values():
        assert (finding["category"], finding["region"], finding["by_key"], finding["exists"], finding["event_name"]) \
            == ("signal", REGION, key, True, "CreateUser")
        assert finding["remove"] == (f"aws guardduty archive-findings --detector-id {east} --finding-ids "
                                     f"{finding['ids']['finding']} --region {REGION}  (once dealt with)")
    assert findings["PenTest:IAMUser/KaliLinux"]["detail"].startswith("severity 5.0: An API was invoked from a Kali "
                                                                     "Linux computer.; 1 time(s)")
    assert found[("user", "shadow")]["exists"] is True
    assert any(note.startswith(f"GuardDuty findings in {WEST} NOT read (AccessDeniedException") and
               note.endswith("whether GuardDuty saw this key there is unknown") for note in item["notes"])
    assert any(step.startswith("AWS has already quarantined user ci-bot (AWSCompromisedKeyQuarantineV3)")
               for step in item["next_steps"])
    assert sum(step.startswith("Review GuardDuty finding ") for step in item["next_steps"]) == 2
    assert json.loads(report.read_text())["summary"]["persistence_by_category"]["signal"] == \
        {"found": 3, "still_there": 3}

    remove(incident, findings["PenTest:IAMUser/KaliLinux"])
    remove(incident, quarantine)
    later = investigate(incident, leak, report, tmp_path / "later.json")
    again = {p["name"]: p["exists"] for p in later["persistence"] if p["kind"] == "guardduty-finding"}
    assert again == {"PenTest:IAMUser/KaliLinux": False, "Persistence:IAMUser/AnomalousBehavior": True}
    assert ("aws-quarantine", "ci-bot") not in rows(later)  # read now: no longer attached
    markdown = tmp_path / "later.md"
    shown = stsleak("investigate", "--from", str(report), "--report", str(markdown), "--regions", REGIONS,
                    env=incident.env(), timeout=240)
    assert shown.code == 0, shown.stderr
    text = markdown.read_text()
    assert "| guardduty-finding | Persistence:IAMUser/AnomalousBehavior | AWS says | us-east-1 | CreateUser |" in text
