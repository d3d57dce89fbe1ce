"""Next steps, concrete for this incident, split into what stsleak has done (revocations applied and
read back, by this run or by the run the report records) and what is still to do: rotate, remove,
rewrite, find where else it leaked, who to tell. A step is never "to do" once it is done."""

from __future__ import annotations

from typing import Any

from scanner.investigation.model import (
    CredentialInvestigation,
    HintKind,
    PersistenceCategory,
    PersistenceItem,
    RevocationHint,
)

DONE = ("revoked", "already-revoked")
NOT_DONE = ("failed", "refused")


def own_revocations(item: CredentialInvestigation) -> list[dict[str, Any]]:
    """The revocations of the leaked credential's own target (not of what it spawned)."""
    entries = item.revocations or ([item.revocation] if item.revocation else [])
    return [r for r in entries if not r.get("reason") and not r.get("hint")]


def _hint_revocation(item: CredentialInvestigation, hint: RevocationHint) -> dict[str, Any] | None:
    return next((r for r in item.revocations if r.get("hint") == hint.name
                 or (not r.get("hint") and r.get("reason") and r.get("reason") == hint.reason)), None)


def done_line(entry: dict[str, Any]) -> str:
    """One revocation that took effect, as a sentence: what, from when, and that IAM was read back."""
    target, cutoff, policy = entry.get("target"), entry.get("cutoff"), entry.get("policy_name")
    if entry.get("status") == "already-revoked":
        return f"{target} was already revoked before this run ({entry.get('message') or 'an existing cutoff'})."
    read = f"read back from IAM at {entry['read_back_at']}" if entry.get("read_back_at") else "read back from IAM"
    scope = entry.get("scope")
    if scope == "access-key":
        return f"Deactivated access key {target}: status Inactive, {read}."
    what = {"role": f"every session of {target}", "session": f"the leaked session(s) of {target}",
            "user": f"temporary credentials of {target}"}.get(str(scope), str(target))
    return f"Revoked {what} issued before {cutoff} ({policy or 'deny policy'}; {read})."


def _revocation_steps(item: CredentialInvestigation) -> tuple[list[str], list[str]]:
    done, todo, seen = [], [], set()
    for entry in item.revocations or ([item.revocation] if item.revocation else []):
        if entry.get("target") in seen:
            continue
        seen.add(entry.get("target"))
        if entry.get("status") in DONE:
            done.append(done_line(entry))
        elif entry.get("status") == "refused":
            todo.append(f"The revocation of {entry.get('target')} was refused: {entry.get('message')}. It is NOT "
                        "cut off: deal with that and run again, or revoke it by hand.")
        elif entry.get("status") == "failed":
            todo.append(f"The revocation of {entry.get('target')} failed: {entry.get('message')}. It is not "
                        "confirmed as cut off: check it in IAM, fix what failed and run again, or revoke it by hand.")
    return done, todo


def _leaked_elsewhere_steps(item: CredentialInvestigation) -> list[str]:
    if not item.first_outside_use_before_commit or item.activity is None:
        return []
    return [f"Someone else used this key at {item.activity.first_use_by_others}, BEFORE the commit that leaked it "
            f"({item.date}): it leaked somewhere else first. Find where (other repositories, CI logs, chat, "
            "tickets, laptops, build artefacts) and treat every copy as public."]


def _source_steps(item: CredentialInvestigation) -> list[str]:
    if not item.path and not item.commit:
        return []
    where = f"{item.path}:{item.line}" if item.path else "an unreachable git object"
    commit = f" in commit {item.commit[:12]}" if item.commit else ""
    who = f" by {item.author}" if item.author else ""
    return [f"The key was committed at {where}{commit}{who}. Deleting the file does NOT remove it from history: "
            f"rewrite history (e.g. `git filter-repo --invert-paths --path {item.path or 'FILE'}`), force-push every "
            "branch and tag, and have the host purge cached views and pull-request refs — or make the repository "
            "private. Clones and forks keep copies: treat the key as public for good."]


def _key_steps(item: CredentialInvestigation) -> list[str]:
    key = item.access_key_id
    own = own_revocations(item)
    revoked = bool(own) and all(r.get("status") in DONE for r in own)
    planned = any(r.get("status") == "planned" for r in own)
    broken = any(r.get("status") in NOT_DONE for r in own)  # its own to-do line comes first
    if key.startswith("AKIA"):
        user = item.last_used.user_name if item.last_used and item.last_used.user_name else \
            (item.arn or "").rsplit("/", 1)[-1] or "USER"
        delete = f"`aws iam delete-access-key --user-name {user} --access-key-id {key}`"
        if revoked:
            return [f"Delete access key {key} (deactivated) once nothing legitimate needs it: {delete}; issue the "
                    "owner a new key through your normal process."]
        how = " (the revocation plan below does it: --yes applies it)" if planned else ""
        return [f"Deactivate, then delete access key {key}{how}: `aws iam update-access-key --user-name {user} "
                f"--access-key-id {key} --status Inactive`, then {delete}; issue the owner a new key through your "
                "normal process."]
    if item.principal_type == "assumed-role":
        role = item.role_arn or item.arn or "the role"
        fix = "find and fix whatever wrote the assume-role output into the repository."
        if revoked or broken:
            return [fix[0].upper() + fix[1:]]
        how = ("the revocation plan below does it: --yes applies it" if planned
               else "`stsleak respond --yes` or `stsleak revoke --from REPORT --yes` does it")
        return [f"Revoke the sessions of {role} issued before now ({how}), then {fix}"]
    return []


def _spawn_steps(item: CredentialInvestigation) -> list[str]:
    steps = []
    for hint in item.hints:
        entry = _hint_revocation(item, hint)
        if entry is not None and entry.get("status") not in ("planned", None):
            continue  # done (listed as done) or failed (listed first, as not cut off)
        if hint.kind is HintKind.ROLE:
            steps.append(f"Revoke sessions of {hint.name} too ({hint.reason}); chained sessions survive a "
                         "revocation of the first role.")
        elif hint.kind is HintKind.USER:
            steps.append(f"Deny temporary credentials of IAM user {hint.name} issued before now ({hint.reason}).")
        else:
            steps.append(f"Deactivate and delete access key {hint.name} of {hint.user_name} ({hint.reason}).")
    return steps


def _persistence_step(p: PersistenceItem) -> str:
    where = f" in {p.region}" if p.region else ""
    unsure = " (whether it is still there could not be read)" if p.exists is None else ""
    if p.kind == "aws-quarantine":
        return (f"AWS has already quarantined user {p.name} ({p.detail.split(':', 1)[0].removeprefix('AWS attached ')})"
                f": AWS found this key exposed. Keep the policy until the key is deleted; then {p.remove}")
    if p.kind == "guardduty-finding":
        return f"Review GuardDuty finding {p.name}{where} ({p.detail}), then archive it: {p.remove}"
    if p.category is PersistenceCategory.LOGGING:
        return (f"Switch back on what the leaked credentials switched off{unsure} — {p.kind} {p.name}{where} "
                f"({p.event_name} at {p.event_time}): {p.remove}")
    verb = "Close" if p.category is PersistenceCategory.DATA else "Remove"
    return (f"{verb} {p.kind} {p.name}{where}, created or changed by the leaked credentials{unsure} "
            f"({p.event_name} at {p.event_time}): {p.remove}")


def _persistence_steps(item: CredentialInvestigation) -> list[str]:
    """One step per row still there (or not known to be gone), logging and detection first."""
    return [_persistence_step(p) for p in item.persistence if p.exists is not False]


def _workload_steps(item: CredentialInvestigation) -> list[str]:
    steps = []
    for radius in item.blast_radius:
        if radius.instances:
            steps.append(f"EC2 instances using {radius.role_name} keep serving cached pre-cutoff credentials: "
                         f"stop/start them (or refresh the credentials): {', '.join(radius.instances)}.")
        if radius.functions:
            steps.append(f"Warm Lambda environments of {radius.role_name} keep old credentials until the function is "
                         f"updated (any configuration change): {', '.join(radius.functions)}.")
        if radius.services:
            steps.append(f"Replace the running tasks of ECS services using {radius.role_name} (aws ecs update-service "
                         f"--force-new-deployment): {', '.join(radius.services)}.")
        if radius.task_definitions:
            steps.append(f"Restart ECS tasks using {radius.role_name}: {', '.join(radius.task_definitions)}.")
        flagged = [line for line in radius.can_mint if "[" in line]
        if flagged:
            steps.append(f"Review who may still assume {radius.role_name} after the cutoff: {'; '.join(flagged)}.")
    return steps


def _unsearched(item: CredentialInvestigation) -> list[str]:
    """The regions whose CloudTrail search failed or stopped, for this key and what it spawned."""
    activities = [a for a in (item.activity, *item.spawned_activity) if a is not None]
    return [f"{s.region} ({s.status})" for a in activities for s in a.incomplete]


def _tell_steps(item: CredentialInvestigation) -> list[str]:
    activity = item.activity
    others = activity.events - activity.ours if activity else 0
    unsearched = _unsearched(item)
    gap = (f" The CloudTrail search is INCOMPLETE: {', '.join(unsearched)} could not be read, so use there is "
           f"unknown — search those regions again (--regions) or in the console." if unsearched else "")
    if others:
        ips = ", ".join(ip for ip, _ in activity.others_source_ips.most_common(5)) if activity else ""
        return [f"Someone other than stsleak used this key ({others} CloudTrail events since "
                f"{activity.first_use_by_others if activity else '?'}; source IPs {ips}): treat it as a security "
                "incident — tell your security team and the account owner, keep this report, and check billing and "
                "every region for resources you do not recognise." + gap]
    if unsearched:
        return ["Use of this key is UNKNOWN where CloudTrail could not be searched; no use by others was found "
                "elsewhere." + gap + " Tell your security team and the account owner."]
    if activity and activity.searched:
        return ["No use by anyone but stsleak was found in CloudTrail's management events (last 90 days, regions "
                f"{', '.join(activity.regions_searched)}). Tell the committer and the account owner anyway; data "
                "events (e.g. S3 GetObject) are only in trails that record them."]
    return ["Tell your security team and the account owner; CloudTrail was not searched, so use is unknown."]


def split_steps(item: CredentialInvestigation) -> tuple[list[str], list[str]]:
    """(done, to do) for one credential, from its revocations and what the investigation found."""
    done, failed = _revocation_steps(item)
    todo = [*failed, *_key_steps(item), *_spawn_steps(item), *_persistence_steps(item), *_workload_steps(item),
            *_source_steps(item), *_leaked_elsewhere_steps(item), *_tell_steps(item)]
    return done, todo


def next_steps(item: CredentialInvestigation) -> list[str]:
    """What is still to do (`split_steps` has what is done too)."""
    return split_steps(item)[1]


def fill_steps(item: CredentialInvestigation) -> None:
    item.done, item.next_steps = split_steps(item)
