"""The incident report as JSON: a versioned contract (docs/incident-response.md, "The report").

The document is a superset of the scan report (`version`, `findings`, `stats`), so
`stsleak investigate --from incident.json` and `stsleak revoke --from incident.json` read it too.
Secrets and session tokens never appear in it (key ids do); every string is data, never markup.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from scanner.errors import StsleakError
from scanner.investigation.cloudtrail import WINDOW
from scanner.investigation.model import (
    Actions,
    CredentialInvestigation,
    Incident,
    Recorded,
    TimelineEntry,
    moment,
)
from scanner.investigation.next_steps import DONE, NOT_DONE, own_revocations
from scanner.model import ScanResult
from scanner.redact import scrub
from scanner.reports.incident_summary import action_lines, summary_lines

INCIDENT_VERSION = 1
PERSISTENCE_LINES = {"logging": "switched off by the leaked credentials", "iam": "created by the leaked credentials",
                     "compute": "created by the leaked credentials",
                     "data": "exposed or put at risk by the leaked credentials", "signal": "AWS says"}
FORMATS = {".json": "json", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}


def plain(value: Any) -> Any:
    """Dataclasses, Counters, sets and enums -> JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Counter):
        return {str(k): v for k, v in value.most_common()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value


# Where an entry goes among entries of the same second: the order things happen in.
COMMITTED, LAST_USED, FIRST_OTHER, LAST_OTHER, VERIFIED, CUTOFF, READ_BACK, DENIED = range(8)


def timeline(item: CredentialInvestigation) -> list[TimelineEntry]:
    """commit that leaked it -> first use by anyone -> our verification -> cutoff -> read-back -> first AccessDenied.

    Ordered by the moment (git, CloudTrail and IAM times parsed, not compared as strings), then by the
    order things happen in. A cutoff is AWS's clock rounded up to the next second, so a read-back in
    the same second is still after it: it is placed after its cutoff."""
    entries: list[tuple[datetime | None, int, TimelineEntry]] = []

    def add(time: str | None, rank: int, what: str, after: str | None = None) -> None:
        at, not_before = moment(time), moment(after)
        shown = time if at is None else at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        entries.append((max(at, not_before) if at and not_before else at, rank, TimelineEntry(shown, what)))

    if item.date or item.commit:
        add(item.date, COMMITTED, f"committed in {(item.commit or '?')[:12]} at {item.path}:{item.line}"
            + (f" by {item.author}" if item.author else ""))
    activity = item.activity
    if item.last_used and item.last_used.date:
        add(item.last_used.date, LAST_USED, f"last used (iam:GetAccessKeyLastUsed, before our verification): "
                                            f"{item.last_used.service or '?'} in {item.last_used.region or '?'}")
    if activity and activity.first_use_by_others:
        flag = (" — BEFORE the commit that leaked it: the key leaked somewhere else first"
                if item.first_outside_use_before_commit else "")
        add(activity.first_use_by_others, FIRST_OTHER, f"first use by someone else (CloudTrail){flag}")
    if activity and activity.last_use_by_others:
        add(activity.last_use_by_others, LAST_OTHER, "last use by someone else (CloudTrail)")
    if item.verified_at:
        add(item.verified_at, VERIFIED, "stsleak verified it (sts:GetCallerIdentity)")
    for revocation in _revocations(item):
        status, target, cutoff = revocation.get("status"), revocation.get("target"), revocation.get("cutoff")
        if revocation.get("scope") == "access-key":  # deactivated, not cut off at a time
            if status == "revoked":
                add(str(revocation.get("read_back_at") or cutoff), READ_BACK,
                    f"deactivated, read back from IAM (Inactive): {target}")
            continue
        if cutoff and status in ("revoked", "planned", "already-revoked"):
            verb = {"revoked": "revocation cutoff (sessions issued before it are denied)",
                    "planned": "planned cutoff (not applied)",
                    "already-revoked": "existing cutoff (revoked before this run)"}[str(status)]
            add(str(cutoff), CUTOFF, f"{verb}: {target}")
        if status == "revoked":
            add(str(revocation.get("read_back_at") or cutoff), READ_BACK, f"read back from IAM: {target}",
                after=str(cutoff) if cutoff else None)
    if activity and activity.first_access_denied_after_cutoff:
        add(activity.first_access_denied_after_cutoff, DENIED,
            "first AccessDenied after the cutoff: the revocation took effect")
    elif any(r.get("status") == "revoked" for r in _revocations(item)):
        add(None, DENIED, "no AccessDenied seen yet (CloudTrail delivers events within about 15 minutes): run "
                          "`stsleak investigate --from` this report later")
    never = datetime.max.replace(tzinfo=UTC)
    return [entry for _, _, entry in sorted(entries, key=lambda e: (e[0] or never, e[1]))]


def _revocations(item: CredentialInvestigation) -> list[dict[str, Any]]:
    return item.revocations or ([item.revocation] if item.revocation else [])


def _activity(activity: Any) -> dict[str, Any] | None:
    if activity is None:
        return None
    out = plain(activity)
    out["events_by_name"] = sorted(out.pop("by_name").values(), key=lambda s: (-s["count"], s["name"]))
    ours = activity.our_user_agents  # an agent is ours only if every event with it was one of our own requests
    out["user_agents"] = [{"agent": agent, "count": count, "ours": ours.get(agent, 0) == count}
                          for agent, count in activity.user_agents.most_common()]
    out.pop("our_user_agents")
    out["complete"] = activity.complete
    return out


def investigation_dict(incident: Incident) -> dict[str, Any]:
    """Whether the investigation could search everywhere it had to: the verdict on every "no use found"."""
    failed = [{"access_key_id": a.access_key_id, "region": s.region, "status": str(s.status), "pages": s.pages,
               "reason": s.reason} for a in incident.activities() for s in a.incomplete]
    regions = sorted({r for a in incident.activities() for r in a.regions_searched})
    return {"complete": incident.complete, "ran": incident.investigated, "window": WINDOW,
            "regions_searched": regions, "incomplete_searches": failed}


def credential_state(item: CredentialInvestigation) -> dict[str, str]:
    """The key's state after what was done (the badge), and one line saying how it got there."""
    own = own_revocations(item)
    if own and all(r.get("status") in DONE for r in own):
        parts = []
        for r in own:
            if r.get("status") == "already-revoked":
                parts.append(f"revoked before this run (cutoff {r.get('cutoff') or '?'})")
            elif r.get("scope") == "access-key":
                parts.append("deactivated, read back from IAM" + (f" at {r['read_back_at']}"
                                                                  if r.get("read_back_at") else ""))
            else:
                parts.append(f"revoked at {r.get('cutoff') or '?'}, read back from IAM"
                             + (f" at {r['read_back_at']}" if r.get("read_back_at") else ""))
        return {"badge": "revoked", "text": "; ".join(dict.fromkeys(parts))}
    broken = [r for r in own if r.get("status") in NOT_DONE]
    if broken:
        verdict = "NOT revoked" if broken[0].get("status") == "refused" else "revocation NOT confirmed"
        return {"badge": item.status, "text": f"{item.status}: {verdict} — {broken[0].get('status')}: "
                                             f"{broken[0].get('message') or ''}".rstrip(": ")}
    if any(r.get("status") == "planned" for r in own):
        return {"badge": item.status, "text": f"{item.status}: revocation planned, not applied (dry run)"}
    return {"badge": item.status, "text": f"{item.status}: not revoked" if item.status == "live" else item.status}


def credential_dict(item: CredentialInvestigation, incident: Incident | None = None) -> dict[str, Any]:
    out = plain(item)
    out["timeline"] = plain(timeline(item))
    out["activity"] = _activity(item.activity)
    out["spawned_activity"] = [_activity(a) for a in item.spawned_activity]
    out["source"] = {k: out.pop(k) for k in ("path", "line", "commit", "author", "date")}
    out["revocation_hints"] = out.pop("hints")
    out["state"] = credential_state(item)
    actions = incident.actions if incident else None
    if actions and not actions.this_run and item.revocations:  # what the report read says; not re-done here
        out["state"]["text"] += f" (as recorded by run {actions.run_id or '?'}; IAM was not re-read)"
    out["first_outside_use_before_commit"] = item.first_outside_use_before_commit
    return out


def _unique_revocations(incident: Incident) -> list[dict[str, Any]]:
    """Every revocation once (two leaked keys of one role share its revocation)."""
    seen: dict[Any, dict[str, Any]] = {}
    for item in incident.credentials:
        for r in _revocations(item):
            seen.setdefault(r.get("target"), r)
    return list(seen.values())


def _persistence_counts(incident: Incident) -> dict[str, dict[str, int]]:
    """Persistence rows by category (logging, iam, compute, data, signal): found, and still there now."""
    counts: dict[str, dict[str, int]] = {}
    for found in (p for c in incident.credentials for p in c.persistence):
        entry = counts.setdefault(str(found.category), {"found": 0, "still_there": 0})
        entry["found"] += 1
        entry["still_there"] += found.exists is True
    return counts


def summary_dict(incident: Incident, scan: dict[str, Any] | None) -> dict[str, Any]:
    """The counts the report opens with: what leaked, who used it, what it left, what was done, how sure we are."""
    findings = [f for f in (scan or {}).get("findings") or [] if isinstance(f, dict)]
    keys = {str(f.get("access_key_id")) for f in findings} | {c.access_key_id for c in incident.credentials}
    roots = [c.activity for c in incident.credentials if c.activity is not None]
    ips = {ip for a in roots for ip in a.others_source_ips if ip != "(other)"}
    statuses = Counter(str(r.get("status")) for r in _unique_revocations(incident))
    states = [credential_state(c)["badge"] for c in incident.credentials]
    investigation = "not run" if not incident.investigated else "complete" if incident.complete else "incomplete"
    return {
        "keys_found": len(keys),
        "live": sum(c.status == "live" for c in incident.credentials),
        "expired": sum(c.status == "expired" for c in incident.credentials),
        "revoked_keys": states.count("revoked"),
        "used_by_others": {"events": sum(a.events - a.ours for a in roots), "source_ips": len(ips),
                           "keys": sum(a.events > a.ours for a in roots)},
        "first_outside_use_before_commit": [c.access_key_id for c in incident.credentials
                                            if c.first_outside_use_before_commit],
        "credentials_spawned": sum(len(c.spawned) for c in incident.credentials),
        "persistence": {"found": sum(len(c.persistence) for c in incident.credentials),
                        "still_there": sum(p.exists is True for c in incident.credentials for p in c.persistence)},
        "persistence_by_category": _persistence_counts(incident),
        "revocations": {"applied": statuses["revoked"], "already_revoked": statuses["already-revoked"],
                        "planned": statuses["planned"], "refused": statuses["refused"], "failed": statuses["failed"]},
        "investigation": investigation,
    }


def actions_dict(incident: Incident) -> dict[str, Any] | None:
    actions = incident.actions
    if actions is None:
        return None
    return {**plain(actions), "undo_command": actions.undo_command}


def mode_line(incident: Incident) -> str:
    """One line that says what this run changed, consistent with every table below it."""
    actions = incident.actions
    run = f" (run {actions.run_id})" if actions and actions.run_id else ""
    if actions is None:
        return "no revocation was planned: nothing was changed"
    if actions.this_run:
        return f"revocation applied{run}" if actions.applied else \
            "DRY RUN — nothing was changed (--yes applies the revocation plan)"
    if actions.applied:
        return f"read-only investigation; the revocation was applied earlier{run}"
    return f"read-only investigation; the earlier run was a dry run{run}: nothing was revoked"


def incident_dict(incident: Incident, scan: dict[str, Any] | None = None) -> dict[str, Any]:
    base = dict(scan or {"version": 1, "findings": [], "stats": {}})
    base.update({
        "kind": "stsleak-incident", "incident_version": INCIDENT_VERSION, "generated_at": incident.generated_at,
        "repository": incident.repository, "dry_run": incident.dry_run, "investigated": incident.investigated,
        "mode": mode_line(incident), "operator": incident.operator, "actions": actions_dict(incident),
        "summary": summary_dict(incident, scan), "investigation": investigation_dict(incident),
        "notes": list(incident.notes), "credentials": [credential_dict(c, incident) for c in incident.credentials]})
    return base


def render_summary(data: dict[str, Any]) -> str:
    """The summary, who acted and how to undo it, then a few lines per credential; the full story is in --report."""
    lines = [f"summary ({data['mode']}):", *(f"  {line}" for line in summary_lines(data)),
             *action_lines(data)] if data["credentials"] or data.get("actions") else []
    for item in data["credentials"]:
        activity = item["activity"] or {}
        lines.append(f"{item['access_key_id']}  {item['state']['badge']}  {item['arn'] or ''}")
        if item["state"]["text"] != item["state"]["badge"]:
            lines.append(f"  state: {item['state']['text']}")
        if activity:
            names = ", ".join(f"{s['name']} x{s['count']}" + (f" ({', '.join(s['errors'])})" if s["errors"] else "")
                              for s in activity["events_by_name"][:12])
            state = "" if activity.get("complete", True) else " [INCOMPLETE: some regions could not be searched]"
            lines.append(f"  CloudTrail: {activity['events']} event(s), {activity['ours']} by stsleak{state}; {names}")
        for spawned in item["spawned"]:
            lines.append(f"  spawned: {spawned['event_name']} -> {spawned['minted_key_id']} "
                         f"{spawned['role_arn'] or spawned['user_name'] or ''}")
        for found in item["persistence"]:
            there = {True: "still there", False: "gone", None: "unconfirmed"}[found["exists"]]
            what = PERSISTENCE_LINES.get(found.get("category", "iam"), "created by the leaked credentials")
            where = f" in {found['region']}" if found.get("region") else ""
            lines.append(f"  {what}: {found['kind']} {found['name']}{where} ({there})")
        for hint in item["revocation_hints"]:
            lines.append(f"  added to the revocation plan: {hint['kind']} {hint['name']}")
        for revocation in item["revocations"]:
            lines.append(f"  revocation: {revocation.get('status')} {revocation.get('target')}")
    lines += [f"note: {note}" for note in data["notes"]]
    lines += _investigation_lines(data.get("investigation") or {})
    return "\n".join(lines) + ("\n" if lines else "")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def recorded(report: dict[str, Any]) -> Recorded:
    """What an earlier incident report (respond) records as done; nothing from a plain scan report.

    The report is input: only values of the expected types are taken, and they are data (shown, never run)."""
    if report.get("kind") != "stsleak-incident":
        return Recorded()
    out = Recorded()
    actions = report.get("actions")
    if isinstance(actions, dict):
        out.actions = Actions(applied=actions.get("applied") is True, run_id=_text(actions.get("run_id")),
                              audit_log=_text(actions.get("audit_log")), operator=_text(actions.get("operator")),
                              assume_role=_text(actions.get("assume_role")), this_run=False,
                              changed=actions.get("changed") is True)
    for item in report.get("credentials") or []:
        if not isinstance(item, dict) or not isinstance(item.get("access_key_id"), str):
            continue
        entries: list[dict[str, object]] = [
            {str(k): v for k, v in r.items() if v is None or isinstance(v, str | int | bool)}
                   for r in item.get("revocations") or [] if isinstance(r, dict) and isinstance(r.get("status"), str)]
        if entries:
            out.revocations[item["access_key_id"]] = entries
        if isinstance(item.get("verified_at"), str):
            out.verified_at[item["access_key_id"]] = item["verified_at"]
    return out


def _investigation_lines(investigation: dict[str, Any]) -> list[str]:
    if not investigation.get("ran") or investigation.get("complete"):
        return []
    failed = investigation.get("incomplete_searches") or []
    where = "; ".join(f"{f['access_key_id']} {f['region']}: {f['status']}" for f in failed[:10])
    more = f" (+{len(failed) - 10} more)" if len(failed) > 10 else ""
    return [f"INVESTIGATION INCOMPLETE: {len(failed)} CloudTrail search(es) failed or stopped ({where}{more}); "
            f"\"no use found\" does not hold there"]


def scan_dict(result: ScanResult) -> dict[str, Any]:
    from scanner.reports.json_report import report_dict

    return report_dict(result, show_secrets=False)


def render_incident(fmt: str, incident: Incident, scan: dict[str, Any] | None, secrets: list[str]) -> str:
    data = incident_dict(incident, scan)
    if fmt == "json":
        text = json.dumps(data, indent=2) + "\n"
    elif fmt == "md":
        from scanner.reports.incident_md import render_markdown

        text = render_markdown(data)
    else:
        from scanner.reports.incident_html import render_html

        text = render_html(data)
    return scrub(text, secrets)  # belt and braces: no secret or token reaches the file


def check_target(path: str) -> str:
    """The report's format; a one-line error when the name or the folder will not do (nothing is written)."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise StsleakError(f"--report {path}: the name must end in .json, .md or .html")
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise StsleakError(f"--report {path}: is a directory")
    if not folder.is_dir():
        raise StsleakError(f"--report {path}: no such directory {folder}")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise StsleakError(f"--report {path}: not writable")
    return fmt


def write_incident(path: str, incident: Incident, scan: dict[str, Any] | None, secrets: list[str]) -> None:
    fmt = check_target(path)
    try:
        Path(path).write_text(render_incident(fmt, incident, scan, secrets), encoding="utf-8")
    except OSError as exc:
        raise StsleakError(f"cannot write {path}: {exc.strerror}") from None
