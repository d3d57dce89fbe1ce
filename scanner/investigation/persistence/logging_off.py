"""Logging and detection switched off: CloudTrail trails stopped, deleted, redirected or told to skip
management events; GuardDuty detectors deleted or disabled (or features turned off); AWS Config
recorders stopped or deleted. "Still there" means: still off."""

from __future__ import annotations

import json
from typing import Any

from scanner.aws_session import failure_from
from scanner.investigation.model import PersistenceCategory, PersistenceItem
from scanner.investigation.persistence.common import (
    Clients,
    Event,
    Reader,
    Rule,
    flag,
    get,
    listed,
    regional_item,
    text,
)

LOGGING = PersistenceCategory.LOGGING
RULES: dict[str, Rule] = {}
READERS: dict[str, Reader] = {}
# UpdateTrail settings: request field -> (GetTrail field, the option that puts it right)
TRAIL_SETTINGS = {
    "s3BucketName": ("S3BucketName", "--s3-bucket-name YOUR-LOG-BUCKET"),
    "s3KeyPrefix": ("S3KeyPrefix", "--s3-key-prefix YOUR-PREFIX"),
    "isMultiRegionTrail": ("IsMultiRegionTrail", "--is-multi-region-trail"),
    "includeGlobalServiceEvents": ("IncludeGlobalServiceEvents", "--include-global-service-events"),
    "enableLogFileValidation": ("LogFileValidationEnabled", "--enable-log-file-validation"),
    "kmsKeyId": ("KmsKeyId", "--kms-key-id YOUR-KMS-KEY"),
    "cloudWatchLogsLogGroupArn": ("CloudWatchLogsLogGroupArn", "--cloud-watch-logs-log-group-arn YOUR-LOG-GROUP-ARN"),
    "cloudWatchLogsRoleArn": ("CloudWatchLogsRoleArn", "--cloud-watch-logs-role-arn YOUR-ROLE-ARN"),
    "snsTopicName": ("SnsTopicName", "--sns-topic-name YOUR-TOPIC"),
    "isOrganizationTrail": ("IsOrganizationTrail", "--is-organization-trail"),
}
ALL_MANAGEMENT_EVENTS = json.dumps([{"ReadWriteType": "All", "IncludeManagementEvents": True}])


def item(kind: str, name: str, region: str, remove: str, *, detail: str = "", **ids: Any) -> PersistenceItem:
    return regional_item(LOGGING, kind, name, region, remove, detail=detail, **ids)


def _trail_name(value: str) -> str:
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def _missing(exc: Exception, *codes: str) -> bool:
    return failure_from(exc).code in codes


# --- CloudTrail ----------------------------------------------------------------------------------------
def _stop_logging(e: Event) -> list[PersistenceItem]:
    trail = text(e.request, "name")
    return [item("trail-logging-off", _trail_name(trail), e.region, f"aws cloudtrail start-logging --name {trail}",
                 detail="CloudTrail logging stopped: nothing after this is delivered to the trail", trail=trail)]


def _delete_trail(e: Event) -> list[PersistenceItem]:
    trail = text(e.request, "name")
    name = _trail_name(trail)
    return [item("trail-deleted", name, e.region,
                 f"aws cloudtrail create-trail --name {name} --s3-bucket-name YOUR-LOG-BUCKET --is-multi-region-trail "
                 f"--region {e.region} && aws cloudtrail start-logging --name {name}",
                 detail="the trail and its settings are gone (recreate it as it was: bucket, KMS key, regions)",
                 trail=trail)]


def _update_trail(e: Event) -> list[PersistenceItem]:
    trail = text(e.request, "name")
    settings = {k: v for k, v in e.request.items() if k in TRAIL_SETTINGS}
    fixes = [TRAIL_SETTINGS[k][1] for k in settings]
    changed = ", ".join(f"{k}={v}" for k, v in settings.items()) or "settings"
    return [item("trail-changed", _trail_name(trail), e.region,
                 f"aws cloudtrail update-trail --name {trail} {' '.join(fixes)}".rstrip(),
                 detail=f"trail changed: {changed}", trail=trail, settings=settings)]


def _event_selectors(e: Event) -> list[PersistenceItem]:
    selectors = listed(get(e.request, "eventSelectors"))
    advanced = listed(get(e.request, "advancedEventSelectors"))
    skips = [s for s in selectors if isinstance(s, dict) and (flag(get(s, "includeManagementEvents")) is False
                                                              or get(s, "excludeManagementEventSources")
                                                              or str(get(s, "readWriteType") or "All") != "All")]
    if not skips and not advanced:
        return []
    trail = text(e.request, "trailName")
    return [item("trail-selectors", _trail_name(trail), e.region,
                 f"aws cloudtrail put-event-selectors --trail-name {trail} --event-selectors '{ALL_MANAGEMENT_EVENTS}'",
                 detail="the trail was told to record fewer management events (add back any data-event selectors "
                        "you had)", trail=trail)]


RULES.update({"StopLogging": _stop_logging, "DeleteTrail": _delete_trail, "UpdateTrail": _update_trail,
              "PutEventSelectors": _event_selectors})


def _read_logging(c: Clients, found: PersistenceItem) -> bool:
    try:
        status = c("cloudtrail", found.region).get_trail_status(Name=found.ids["trail"])
    except Exception as exc:
        if _missing(exc, "TrailNotFoundException"):
            found.detail = f"{found.detail}; the trail has been deleted since"
            return True
        raise
    return not status.get("IsLogging")


def _read_deleted(c: Clients, found: PersistenceItem) -> bool:
    try:
        c("cloudtrail", found.region).get_trail(Name=_trail_name(found.ids["trail"]))
    except Exception as exc:
        if _missing(exc, "TrailNotFoundException"):
            return True
        raise
    found.detail = f"{found.detail}; a trail of that name exists again"
    return False


def _read_changed(c: Clients, found: PersistenceItem) -> bool:
    trail = c("cloudtrail", found.region).get_trail(Name=found.ids["trail"])["Trail"]
    still = [k for k, v in found.ids.get("settings", {}).items()
             if str(trail.get(TRAIL_SETTINGS[k][0])).lower() == str(v).lower()]
    if still:
        found.detail = f"{found.detail}; still so: {', '.join(still)}"
    return bool(still)


def _read_selectors(c: Clients, found: PersistenceItem) -> bool:
    answer = c("cloudtrail", found.region).get_event_selectors(TrailName=found.ids["trail"])
    basic = any(s.get("IncludeManagementEvents") and s.get("ReadWriteType", "All") == "All"
                and not s.get("ExcludeManagementEventSources") for s in answer.get("EventSelectors") or [])
    advanced = any(f.get("Field") == "eventCategory" and "Management" in (f.get("Equals") or [])
                   for s in answer.get("AdvancedEventSelectors") or [] for f in s.get("FieldSelectors") or [])
    return not (basic or advanced)


READERS.update({"trail-logging-off": _read_logging, "trail-deleted": _read_deleted, "trail-changed": _read_changed,
                "trail-selectors": _read_selectors})


# --- GuardDuty -----------------------------------------------------------------------------------------
def _delete_detector(e: Event) -> list[PersistenceItem]:
    detector = text(e.request, "detectorId")
    return [item("guardduty-deleted", detector, e.region, "aws guardduty create-detector --enable",
                 detail="GuardDuty detector deleted, with its findings: no threat detection in this region",
                 detector=detector)]


def _update_detector(e: Event) -> list[PersistenceItem]:
    detector = text(e.request, "detectorId")
    found = []
    if flag(get(e.request, "enable")) is False:
        found.append(item("guardduty-disabled", detector, e.region,
                          f"aws guardduty update-detector --detector-id {detector} --enable",
                          detail="GuardDuty detector disabled: no new findings", detector=detector))
    off = [str(get(f, "name")) for f in listed(get(e.request, "features"))
           if isinstance(f, dict) and str(get(f, "status")).upper() == "DISABLED"]
    if off:
        features = json.dumps([{"Name": name, "Status": "ENABLED"} for name in off])
        found.append(item("guardduty-features-off", f"{detector}: {', '.join(off)}", e.region,
                          f"aws guardduty update-detector --detector-id {detector} --features '{features}'",
                          detail=f"GuardDuty protections turned off: {', '.join(off)}", detector=detector,
                          features=off))
    return found


RULES.update({"DeleteDetector": _delete_detector, "UpdateDetector": _update_detector})


def _read_detector_deleted(c: Clients, found: PersistenceItem) -> bool:
    guardduty = c("guardduty", found.region)
    detectors = guardduty.list_detectors().get("DetectorIds", [])
    enabled = [d for d in detectors if guardduty.get_detector(DetectorId=d).get("Status") == "ENABLED"]
    if enabled:
        found.detail = f"{found.detail}; GuardDuty is on again (detector {enabled[0]})"
    return not enabled


def _detector(c: Clients, found: PersistenceItem) -> dict[str, Any] | None:
    try:
        return dict(c("guardduty", found.region).get_detector(DetectorId=found.ids["detector"]))
    except Exception as exc:
        if _missing(exc, "BadRequestException", "ResourceNotFoundException"):
            found.detail = f"{found.detail}; the detector has been deleted since"
            return None
        raise


def _read_detector_disabled(c: Clients, found: PersistenceItem) -> bool:
    detector = _detector(c, found)
    return detector is None or detector.get("Status") == "DISABLED"


def _read_features(c: Clients, found: PersistenceItem) -> bool | None:
    detector = _detector(c, found)
    if detector is None:
        return True
    features = {f.get("Name"): f.get("Status") for f in detector.get("Features") or []}
    if not features:
        return None
    return any(features.get(name) != "ENABLED" for name in found.ids.get("features", []))


READERS.update({"guardduty-deleted": _read_detector_deleted, "guardduty-disabled": _read_detector_disabled,
                "guardduty-features-off": _read_features})


# --- AWS Config ------------------------------------------------------------------------------------------
def _stop_recorder(e: Event) -> list[PersistenceItem]:
    name = text(e.request, "configurationRecorderName")
    return [item("config-recorder-stopped", name, e.region,
                 f"aws configservice start-configuration-recorder --configuration-recorder-name {name}",
                 detail="AWS Config stopped recording configuration changes", recorder=name)]


def _delete_recorder(e: Event) -> list[PersistenceItem]:
    name = text(e.request, "configurationRecorderName")
    recorder = json.dumps({"name": name, "roleARN": "YOUR-CONFIG-ROLE-ARN"})
    return [item("config-recorder-deleted", name, e.region,
                 f"aws configservice put-configuration-recorder --configuration-recorder '{recorder}' --region "
                 f"{e.region} && aws configservice start-configuration-recorder --configuration-recorder-name {name}",
                 detail="AWS Config recorder deleted", recorder=name)]


def _delete_channel(e: Event) -> list[PersistenceItem]:
    name = text(e.request, "deliveryChannelName")
    channel = json.dumps({"name": name, "s3BucketName": "YOUR-CONFIG-BUCKET"})
    return [item("config-channel-deleted", name, e.region,
                 f"aws configservice put-delivery-channel --delivery-channel '{channel}'",
                 detail="AWS Config delivery channel deleted: nothing is delivered", channel=name)]


RULES.update({"StopConfigurationRecorder": _stop_recorder, "DeleteConfigurationRecorder": _delete_recorder,
              "DeleteDeliveryChannel": _delete_channel})


def _read_recorder_stopped(c: Clients, found: PersistenceItem) -> bool:
    try:
        answer = c("config", found.region).describe_configuration_recorder_status(
            ConfigurationRecorderNames=[found.ids["recorder"]])
    except Exception as exc:
        if _missing(exc, "NoSuchConfigurationRecorderException"):
            found.detail = f"{found.detail}; the recorder has been deleted since"
            return True
        raise
    return not any(s.get("recording") for s in answer.get("ConfigurationRecordersStatus") or [])


def _read_recorder_deleted(c: Clients, found: PersistenceItem) -> bool:
    answer = c("config", found.region).describe_configuration_recorders()
    return found.ids["recorder"] not in [r.get("name") for r in answer.get("ConfigurationRecorders") or []]


def _read_channel_deleted(c: Clients, found: PersistenceItem) -> bool:
    answer = c("config", found.region).describe_delivery_channels()
    return found.ids["channel"] not in [d.get("name") for d in answer.get("DeliveryChannels") or []]


READERS.update({"config-recorder-stopped": _read_recorder_stopped, "config-recorder-deleted": _read_recorder_deleted,
                "config-channel-deleted": _read_channel_deleted})
