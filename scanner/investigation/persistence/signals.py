"""What AWS itself already says about the key: GuardDuty findings filtered on its access key id (and on
the keys it minted), in the regions where they were used, when GuardDuty is on; and AWS's quarantine
policy (`AWSCompromisedKeyQuarantine`, `…V2`, `…V3`), which AWS attaches to a user whose key it found
exposed. Read with the operator's credentials; a read that fails says so, never "nothing found"."""

from __future__ import annotations

from typing import Any

from scanner.aws_session import failure_from
from scanner.investigation.model import CredentialInvestigation, PersistenceCategory, PersistenceItem
from scanner.investigation.persistence.common import Clients

SIGNAL = PersistenceCategory.SIGNAL
QUARANTINE = "AWSCompromisedKeyQuarantine"
KEY_FIELD = "resource.accessKeyDetails.accessKeyId"
KEYS_PER_QUERY = 10
MAX_FINDINGS = 200  # per region, across the keys


def _users(item: CredentialInvestigation) -> list[str]:
    """The IAM users whose keys leaked: the key's own user (AKIA, or a GetSessionToken session's)."""
    users = []
    if item.arn and ":user/" in item.arn:
        users.append(item.arn.rsplit("/", 1)[-1])
    if item.last_used and item.last_used.user_name:
        users.append(item.last_used.user_name)
    return list(dict.fromkeys(users))


def quarantine(clients: Clients, item: CredentialInvestigation) -> tuple[list[PersistenceItem], list[str]]:
    found, notes = [], []
    for user in _users(item):
        try:
            attached = clients("iam").list_attached_user_policies(UserName=user)["AttachedPolicies"]
        except Exception as exc:
            notes.append(f"AWS's quarantine policy on user {user} not checked: {failure_from(exc).message}")
            continue
        for policy in attached:
            if not str(policy.get("PolicyName", "")).startswith(QUARANTINE):
                continue
            arn = policy["PolicyArn"]
            found.append(PersistenceItem(
                "aws-quarantine", user, "AttachUserPolicy (by AWS)", "", item.access_key_id, exists=True,
                detail=f"AWS attached {policy['PolicyName']}: AWS has already found this key exposed. The policy "
                       "denies some actions (creating users, keys, instances, …), not all: revoke and delete the "
                       "key anyway, and answer AWS's support case",
                remove=f"aws iam detach-user-policy --user-name {user} --policy-arn {arn}  (only once the leaked key "
                       "is deleted and the user reviewed)",
                category=SIGNAL, ids={"user": user, "policy_arn": arn}))
    return found, notes


def _finding(region: str, detector: str, finding: dict[str, Any]) -> PersistenceItem:
    service = finding.get("Service") or {}
    call = ((service.get("Action") or {}).get("AwsApiCallAction") or {})
    key = ((finding.get("Resource") or {}).get("AccessKeyDetails") or {}).get("AccessKeyId", "?")
    archived = bool(service.get("Archived"))
    first, last = service.get("EventFirstSeen"), service.get("EventLastSeen") or finding.get("UpdatedAt")
    detail = (f"severity {finding.get('Severity')}: {finding.get('Title')}; {service.get('Count', 1)} time(s)"
              f"{f' from {first} to {last}' if first else ''}; finding {finding.get('Id')}"
              + ("; archived" if archived else ""))
    return PersistenceItem(
        "guardduty-finding", str(finding.get("Type")), str(call.get("Api") or "GuardDuty finding"), str(last or ""),
        str(key), exists=not archived, detail=detail,
        remove=f"aws guardduty archive-findings --detector-id {detector} --finding-ids {finding.get('Id')} --region "
               f"{region}  (once dealt with)",
        category=SIGNAL, region=region, ids={"detector": detector, "finding": finding.get("Id")})


def _findings_in(clients: Clients, region: str, keys: list[str]) -> tuple[list[PersistenceItem], list[str]]:
    guardduty = clients("guardduty", region)
    detectors = guardduty.list_detectors().get("DetectorIds", [])
    if not detectors:
        return [], [f"GuardDuty is off in {region} (no detector): no findings to read there"]
    found: list[PersistenceItem] = []
    notes: list[str] = []
    for detector in detectors:
        if guardduty.get_detector(DetectorId=detector).get("Status") != "ENABLED":
            notes.append(f"GuardDuty detector {detector} in {region} is disabled: it makes no new findings")
        ids: list[str] = []
        for start in range(0, len(keys), KEYS_PER_QUERY):
            criteria = {"Criterion": {KEY_FIELD: {"Eq": keys[start:start + KEYS_PER_QUERY]}}}
            for page in guardduty.get_paginator("list_findings").paginate(DetectorId=detector,
                                                                          FindingCriteria=criteria):
                ids += page.get("FindingIds", [])
                if len(ids) >= MAX_FINDINGS:
                    break
        if len(ids) > MAX_FINDINGS:
            notes.append(f"GuardDuty in {region}: only the first {MAX_FINDINGS} findings for these keys are listed")
        ids = ids[:MAX_FINDINGS]
        for start in range(0, len(ids), 50):
            answer = guardduty.get_findings(DetectorId=detector, FindingIds=ids[start:start + 50])
            found += [_finding(region, detector, f) for f in answer.get("Findings", [])]
    return found, notes


def guardduty_findings(clients: Clients, keys: list[str],
                       regions: list[str]) -> tuple[list[PersistenceItem], list[str]]:
    """Findings about `keys` in `regions`, and a note for each region where they could not be read."""
    found: list[PersistenceItem] = []
    notes: list[str] = []
    for region in regions:
        try:
            more, said = _findings_in(clients, region, keys)
        except Exception as exc:
            notes.append(f"GuardDuty findings in {region} NOT read ({failure_from(exc).message}): whether GuardDuty "
                         "saw this key there is unknown")
            continue
        found += more
        notes += said
    return found, notes


def signals(clients: Clients, item: CredentialInvestigation,
            regions: list[str]) -> tuple[list[PersistenceItem], list[str]]:
    keys = list(dict.fromkeys([item.access_key_id, *(a.access_key_id for a in item.spawned_activity)]))
    quarantined, notes = quarantine(clients, item)
    findings, more = guardduty_findings(clients, keys, regions)
    return quarantined + findings, notes + more
