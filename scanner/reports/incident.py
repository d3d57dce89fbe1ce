"""The incident report as JSON: a versioned contract (README, "Incident response").

The document is a superset of the scan report (`version`, `findings`, `stats`), so
`stsleak investigate --from incident.json` and `stsleak revoke --from incident.json` read it too.
Secrets and session tokens never appear in it (key ids do); every string is data, never markup.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from enum import Enum
from pathlib import Path
from typing import Any

from scanner.errors import StsleakError
from scanner.investigation.cloudtrail import WINDOW
from scanner.investigation.model import CredentialInvestigation, Incident, TimelineEntry
from scanner.model import ScanResult
from scanner.redact import scrub

INCIDENT_VERSION = 1
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


def timeline(item: CredentialInvestigation) -> list[TimelineEntry]:
    """commit that leaked it -> first use by anyone -> our verification -> cutoff -> read-back -> first AccessDenied."""
    entries = []
    if item.date or item.commit:
        entries.append(TimelineEntry(item.date, f"committed in {(item.commit or '?')[:12]} at {item.path}:{item.line}"
                                     + (f" by {item.author}" if item.author else "")))
    activity = item.activity
    if item.last_used and item.last_used.date:
        entries.append(TimelineEntry(item.last_used.date, f"last used (iam:GetAccessKeyLastUsed, before our "
                                                          f"verification): {item.last_used.service or '?'} in "
                                                          f"{item.last_used.region or '?'}"))
    if activity and activity.first_use_by_others:
        entries.append(TimelineEntry(activity.first_use_by_others, "first use by someone else (CloudTrail)"))
    if activity and activity.last_use_by_others:
        entries.append(TimelineEntry(activity.last_use_by_others, "last use by someone else (CloudTrail)"))
    if item.verified_at:
        entries.append(TimelineEntry(item.verified_at, "stsleak verified it (sts:GetCallerIdentity)"))
    for revocation in item.revocations or ([item.revocation] if item.revocation else []):
        if revocation.get("cutoff") and revocation.get("status") in ("revoked", "planned"):
            verb = "revocation cutoff" if revocation.get("status") == "revoked" else "planned cutoff (not applied)"
            entries.append(TimelineEntry(str(revocation["cutoff"]), f"{verb}: {revocation.get('target')}"))
        if revocation.get("status") == "revoked":
            entries.append(TimelineEntry(str(revocation.get("read_back_at") or revocation.get("cutoff")),
                                         f"read back from IAM: {revocation.get('target')}"))
    if activity and activity.first_access_denied_after_cutoff:
        entries.append(TimelineEntry(activity.first_access_denied_after_cutoff,
                                     "first AccessDenied after the cutoff: the revocation took effect"))
    elif any(r.get("status") == "revoked" for r in item.revocations or []):
        entries.append(TimelineEntry(None, "no AccessDenied seen yet (CloudTrail delivers events within about 15 "
                                           "minutes): run `stsleak investigate --from` this report later"))
    return sorted(entries, key=lambda e: (e.time is None, e.time or ""))


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


def credential_dict(item: CredentialInvestigation) -> dict[str, Any]:
    out = plain(item)
    out["timeline"] = plain(timeline(item))
    out["activity"] = _activity(item.activity)
    out["spawned_activity"] = [_activity(a) for a in item.spawned_activity]
    out["source"] = {k: out.pop(k) for k in ("path", "line", "commit", "author", "date")}
    out["revocation_hints"] = out.pop("hints")
    return out


def incident_dict(incident: Incident, scan: dict[str, Any] | None = None) -> dict[str, Any]:
    base = dict(scan or {"version": 1, "findings": [], "stats": {}})
    base.update({
        "kind": "stsleak-incident", "incident_version": INCIDENT_VERSION, "generated_at": incident.generated_at,
        "repository": incident.repository, "dry_run": incident.dry_run, "investigated": incident.investigated,
        "investigation": investigation_dict(incident),
        "notes": list(incident.notes), "credentials": [credential_dict(c) for c in incident.credentials]})
    return base


def render_summary(data: dict[str, Any]) -> str:
    """A few lines per credential for the terminal; the full story is in --report."""
    lines = []
    for item in data["credentials"]:
        activity = item["activity"] or {}
        lines.append(f"{item['access_key_id']}  {item['status']}  {item['arn'] or ''}")
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
            lines.append(f"  created by the leaked credentials: {found['kind']} {found['name']} ({there})")
        for hint in item["revocation_hints"]:
            lines.append(f"  added to the revocation plan: {hint['kind']} {hint['name']}")
        for revocation in item["revocations"]:
            lines.append(f"  revocation: {revocation.get('status')} {revocation.get('target')}")
    lines += [f"note: {note}" for note in data["notes"]]
    lines += _investigation_lines(data.get("investigation") or {})
    return "\n".join(lines) + ("\n" if lines else "")


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
