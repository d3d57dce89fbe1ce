"""Next steps, concrete for this incident: what to rotate, remove, rewrite and who to tell."""

from __future__ import annotations

from scanner.investigation.model import CredentialInvestigation, HintKind


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
    if key.startswith("AKIA"):
        user = item.last_used.user_name if item.last_used and item.last_used.user_name else \
            (item.arn or "").rsplit("/", 1)[-1] or "USER"
        return [f"Deactivate, then delete access key {key}: `aws iam update-access-key --user-name {user} "
                f"--access-key-id {key} --status Inactive`, then `aws iam delete-access-key --user-name {user} "
                f"--access-key-id {key}`; issue the owner a new key through your normal process."]
    if item.principal_type == "assumed-role":
        role = item.role_arn or item.arn or "the role"
        return [f"Revoke the sessions of {role} issued before now (the revocation plan below does it), then find and "
                "fix whatever wrote the assume-role output into the repository."]
    return []


def _spawn_steps(item: CredentialInvestigation) -> list[str]:
    steps = []
    for hint in item.hints:
        if hint.kind is HintKind.ROLE:
            steps.append(f"Revoke sessions of {hint.name} too ({hint.reason}); chained sessions survive a "
                         "revocation of the first role.")
        elif hint.kind is HintKind.USER:
            steps.append(f"Deny temporary credentials of IAM user {hint.name} issued before now ({hint.reason}).")
        else:
            steps.append(f"Deactivate and delete access key {hint.name} of {hint.user_name} ({hint.reason}).")
    return steps


def _persistence_steps(item: CredentialInvestigation) -> list[str]:
    present = [p for p in item.persistence if p.exists is not False]
    return [f"Remove {p.kind} {p.name} created by the leaked credentials ({p.event_name} at {p.event_time}): "
            f"{p.remove}" for p in present]


def _workload_steps(item: CredentialInvestigation) -> list[str]:
    steps = []
    for radius in item.blast_radius:
        if radius.instances:
            steps.append(f"EC2 instances using {radius.role_name} keep serving cached pre-cutoff credentials: "
                         f"stop/start them (or refresh the credentials): {', '.join(radius.instances)}.")
        if radius.functions:
            steps.append(f"Warm Lambda environments of {radius.role_name} keep old credentials until the function is "
                         f"updated (any configuration change): {', '.join(radius.functions)}.")
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
        ips = ", ".join(ip for ip, _ in activity.source_ips.most_common(5)) if activity else ""
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


def next_steps(item: CredentialInvestigation) -> list[str]:
    return [*_key_steps(item), *_spawn_steps(item), *_persistence_steps(item), *_workload_steps(item),
            *_source_steps(item), *_tell_steps(item)]
