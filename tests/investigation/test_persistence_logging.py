"""Issue 22, persistence: logging and detection switched off by the leaked credentials — CloudTrail
StopLogging / UpdateTrail / DeleteTrail / PutEventSelectors, GuardDuty UpdateDetector (disabled) and
DeleteDetector (in a second region), the Config recorder stopped — each flagged with "still there?"
read now and the exact command that undoes it; GuardDuty's own findings about the key are rows too.
The operator runs the printed commands; `investigate --from` the report then reads "no" for those.

moto behind the recording proxy (every call a CloudTrail event), the CloudTrail emulator for
LookupEvents, the proxy's GuardDuty emulator for findings (tests/investigation/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.investigation.conftest import REGION, Incident
from tests.investigation.persistence_support import (
    WEST,
    attacker,
    investigate,
    leaked_admin,
    remove,
    respond,
    rows,
    setup,
)

pytestmark = pytest.mark.usefixtures("moto_signs_bodyless_requests")


def _logging_on(incident: Incident) -> tuple[str, str]:
    """Before the leak: four trails logging, GuardDuty on in two regions, a Config recorder recording."""
    s3, trails = setup(incident, "s3"), setup(incident, "cloudtrail")
    s3.create_bucket(Bucket="trail-logs")
    for name in ("main", "audit", "org", "mgmt"):
        trails.create_trail(Name=name, S3BucketName="trail-logs", IsMultiRegionTrail=True)
        trails.start_logging(Name=name)
    east = setup(incident, "guardduty").create_detector(Enable=True)["DetectorId"]
    west = setup(incident, "guardduty", WEST).create_detector(Enable=True)["DetectorId"]
    config = setup(incident, "config")
    config.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": "arn:aws:iam::123456789012:role/config-recorder"})
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "trail-logs"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    return east, west


def test_logging_and_detection_switched_off_are_flagged_and_read_back(incident: Incident, tmp_path: Path) -> None:
    east, west = _logging_on(incident)
    leak = leaked_admin(incident)
    trails = attacker(incident, leak, "cloudtrail")
    trails.stop_logging(Name="main")
    trails.update_trail(Name="audit", IsMultiRegionTrail=False, IncludeGlobalServiceEvents=False)
    trails.delete_trail(Name="org")
    trails.put_event_selectors(TrailName="mgmt", EventSelectors=[
        {"ReadWriteType": "All", "IncludeManagementEvents": False}])
    attacker(incident, leak, "guardduty").update_detector(DetectorId=east, Enable=False)
    attacker(incident, leak, "guardduty", WEST).delete_detector(DetectorId=west)
    attacker(incident, leak, "config").stop_configuration_recorder(ConfigurationRecorderName="default")

    item = respond(incident, tmp_path, leak, tmp_path / "incident.json")
    found = rows(item)
    expected = {
        ("trail-logging-off", "main"): f"aws cloudtrail start-logging --name main --region {REGION}",
        ("trail-changed", "audit"): f"aws cloudtrail update-trail --name audit --is-multi-region-trail "
                                    f"--include-global-service-events --region {REGION}",
        ("trail-deleted", "org"): f"aws cloudtrail create-trail --name org --s3-bucket-name YOUR-LOG-BUCKET "
                                  f"--is-multi-region-trail --region {REGION} && aws cloudtrail start-logging "
                                  f"--name org --region {REGION}",
        ("trail-selectors", "mgmt"): "aws cloudtrail put-event-selectors --trail-name mgmt --event-selectors "
                                     f"'[{{\"ReadWriteType\": \"All\", \"IncludeManagementEvents\": true}}]' "
                                     f"--region {REGION}",
        ("guardduty-disabled", east): f"aws guardduty update-detector --detector-id {east} --enable --region {REGION}",
        ("guardduty-deleted", west): f"aws guardduty create-detector --enable --region {WEST}",
        ("config-recorder-stopped", "default"): "aws configservice start-configuration-recorder "
                                                f"--configuration-recorder-name default --region {REGION}",
    }
    for key, command in expected.items():
        row = found[key]
        assert (row["category"], row["exists"], row["remove"], row["by_key"]) == \
            ("logging", True, command, leak.access_key_id), row
    assert found[("guardduty-deleted", west)]["region"] == WEST
    assert found[("trail-changed", "audit")]["detail"].endswith("still so: isMultiRegionTrail, "
                                                                "includeGlobalServiceEvents")

    # GuardDuty (on in us-east-1 until the attacker disabled it) saw the trails switched off
    findings = {p["ids"]["finding"]: p for p in item["persistence"] if p["kind"] == "guardduty-finding"}
    assert {p["name"] for p in findings.values()} == {"Stealth:IAMUser/CloudTrailLoggingDisabled"}
    assert len(findings) == 3 and all(p["exists"] and p["by_key"] == leak.access_key_id for p in findings.values())
    assert any(f"detector {east} in {REGION} is disabled" in note for note in item["notes"])
    assert f"GuardDuty is off in {WEST} (no detector): no findings to read there" in item["notes"]
    summary_counts = [p["category"] for p in item["persistence"]]
    assert summary_counts == sorted(summary_counts, key=["logging", "iam", "compute", "data", "signal"].index)
    assert sum("Switch back on what the leaked credentials switched off" in s for s in item["next_steps"]) == 7

    # The operator runs the printed commands, but not the one for the deleted trail (it names a placeholder
    # bucket): that row stays "yes"
    for key in expected:
        if key != ("trail-deleted", "org"):
            remove(incident, found[key])
    archived = next(iter(findings.values()))
    remove(incident, archived)

    later = investigate(incident, leak, tmp_path / "incident.json", tmp_path / "later.json")
    again = rows(later)
    assert {key: again[key]["exists"] for key in expected} == {**{key: False for key in expected},
                                                              ("trail-deleted", "org"): True}
    assert "GuardDuty is on again" in again[("guardduty-deleted", west)]["detail"]
    assert {p["ids"]["finding"]: p["exists"] for p in later["persistence"] if p["kind"] == "guardduty-finding"} == \
        {finding: finding != archived["ids"]["finding"] for finding in findings}
    assert not any("Switch back on" in step and "main" in step for step in later["next_steps"])
    assert any("trail-deleted org" in step for step in later["next_steps"])
