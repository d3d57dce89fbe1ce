"""The incident report as Markdown, from the JSON contract (scanner/reports/incident.py).

Everything from the repository or AWS is escaped: table cells cannot break out of their row,
and no text can become a link, an image or HTML.
"""

from __future__ import annotations

import re
from typing import Any

from scanner.reports.incident_summary import action_lines, summary_lines

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>!|~&])")  # `-`, `#`, `+` matter only at a line start: no value is


def esc(value: Any) -> str:
    text = "—" if value is None or value == "" else str(value)
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return ["_none_", ""]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def activity_rows(activity: dict[str, Any] | None) -> list[list[Any]]:
    if not activity:
        return []
    return [[s["name"], s["source"], s["count"], s["ours"], s["first"], s["last"],
             ", ".join(f"{k} x{v}" for k, v in s["errors"].items()), ", ".join(s["regions"])]
            for s in activity["events_by_name"]]


PERSISTENCE_HEADERS = ["kind", "name", "category", "region", "event", "time", "by key", "still there", "detail",
                       "remove with (nothing is removed automatically)"]
CATEGORIES = {"logging": "logging/detection switched off", "iam": "IAM", "compute": "compute created",
              "data": "data exposed or at risk", "signal": "AWS says"}
ACTIVITY_HEADERS = ["event", "source", "count", "by stsleak", "first", "last", "errors", "regions"]


def _activity(activity: dict[str, Any] | None) -> list[str]:
    if not activity:
        return ["CloudTrail was not searched.", ""]
    lines = [f"{activity['events']} event(s) ({activity['ours']} by stsleak itself) in "
             f"{len(activity['regions_searched'])} region(s) searched; first use {esc(activity['first_use'])}, "
             f"last use {esc(activity['last_use'])}; by others: first {esc(activity['first_use_by_others'])}, "
             f"last {esc(activity['last_use_by_others'])}.", ""]
    lines += table(ACTIVITY_HEADERS, activity_rows(activity))
    lines += ["Source IPs: " + (esc(", ".join(f"{ip} ({n})" for ip, n in activity["source_ips"].items())) or "—"), ""]
    lines += table(["user agent", "count", "ours"],
                   [[a["agent"], a["count"], "yes" if a["ours"] else ""] for a in activity["user_agents"]])
    if activity["error_codes"]:
        lines += ["Error codes: " + esc(", ".join(f"{k} ({v})" for k, v in activity["error_codes"].items())), ""]
    lines += [f"- note: {esc(n)}" for n in activity["notes"]]
    return [*lines, ""]


def _blast(radius: dict[str, Any]) -> list[str]:
    lines = [f"#### Blast radius: {esc(radius['role_arn'])}", ""]
    lines += table(["policy", "kind", "allows *", "IAM changes", "sts:AssumeRole on"],
                   [[p["name"], p["kind"], "YES" if p["allows_everything"] else "", ", ".join(p["allows_iam"]),
                     ", ".join(p["assume_role_on"])] for p in radius["policies"]])
    lines += table(["effect", "principals", "actions", "conditions"],
                   [[t["effect"], ", ".join(t["principals"]), ", ".join(t["actions"]), t["conditions"] or ""]
                    for t in radius["trust"]])
    lines += ["Who can mint fresh sessions after the cutoff:", ""]
    lines += [f"- {esc(line)}" for line in radius["can_mint"]] or ["- nobody"]
    lines += ["", "Workloads that lose their current credentials: "
              f"EC2 {esc(', '.join(radius['instances']) or 'none')} (cached until restart); "
              f"Lambda {esc(', '.join(radius['functions']) or 'none')} (warm ones until the function is updated); "
              f"ECS {esc(', '.join(radius['task_definitions']) or 'none')}.", ""]
    lines += [f"- note: {esc(n)}" for n in radius["notes"]]
    return [*lines, ""]


def _credential(item: dict[str, Any]) -> list[str]:
    source = item["source"]
    lines = [f"## {esc(item['access_key_id'])} — {esc(item['state']['badge'])}", "",
             f"- state after actions: {esc(item['state']['text'])}",
             f"- verified: {esc(item['status'])}" + (f" at {esc(item['verified_at'])}" if item["verified_at"] else ""),
             f"- identity: {esc(item['arn'])} (account {esc(item['account'])}, {esc(item['principal_type'])})",
             f"- role: {esc(item['role_arn'])}, session {esc(item['session_name'])}",
             f"- found at: {esc(source['path'])}:{esc(source['line'])}, commit {esc(source['commit'])} "
             f"({esc(source['author'])}, {esc(source['date'])})"]
    if item["first_outside_use_before_commit"]:
        lines.append(f"- **LEAKED ELSEWHERE FIRST**: someone else used it at "
                     f"{esc(item['activity']['first_use_by_others'])}, before the commit that leaked it")
    if item["last_used"]:
        lu = item["last_used"]
        lines.append(f"- last used (read before verification): {esc(lu['date'] or 'never')} {esc(lu['service'])} "
                     f"{esc(lu['region'])}" + (f" — {esc(lu['error'])}" if lu["error"] else ""))
    lines += ["", "### Timeline", ""]
    lines += table(["time (UTC)", "what"], [[e["time"] or "", e["what"]] for e in item["timeline"]])
    lines += ["### Activity (CloudTrail)", "", *_activity(item["activity"])]
    lines += ["### Spawned credentials", ""]
    lines += table(["kind", "event", "time", "by key", "minted key", "role", "session", "user", "revocation"],
                   [[s["kind"], s["event_name"], s["event_time"], s["by_key"], s["minted_key_id"], s["role_arn"],
                     s["session_name"], s["user_name"], (s["revocation"] or {}).get("status")]
                    for s in item["spawned"]])
    for activity in item["spawned_activity"]:
        lines += [f"#### Activity of spawned key {esc(activity['access_key_id'])}", "", *_activity(activity)]
    lines += ["### Persistence and damage (created, changed or switched off by the leaked credentials)", ""]
    lines += table(PERSISTENCE_HEADERS,
                   [[p["kind"], p["name"], CATEGORIES.get(p.get("category", "iam"), p.get("category")),
                     p.get("region") or "global", p["event_name"], p["event_time"], p["by_key"],
                     {True: "yes", False: "no", None: "unknown"}[p["exists"]], p["detail"], p["remove"]]
                    for p in item["persistence"]])
    lines += ["### Revocation", ""]
    lines += table(["target", "scope", "status", "cutoff", "read back", "message"],
                   [[r.get("target"), r.get("scope"), r.get("status"), r.get("cutoff"), r.get("read_back_at"),
                     r.get("message")]
                    for r in item["revocations"] or ([item["revocation"]] if item["revocation"] else [])])
    for radius in item["blast_radius"]:
        lines += _blast(radius)
    lines += ["### Done", ""]
    lines += [f"- {esc(step)}" for step in item["done"]] or ["_nothing yet_"]
    lines += ["", "### To do", ""]
    lines += [f"{n}. {esc(step)}" for n, step in enumerate(item["next_steps"], 1)] or ["_nothing_"]
    lines += ["", *[f"- note: {esc(n)}" for n in item["notes"]], ""]
    return lines


def _investigation(investigation: dict[str, Any]) -> list[str]:
    if not investigation.get("ran"):
        return ["**CloudTrail was not searched: use of the keys is unknown.**", ""]
    window = f"{esc(investigation.get('window'))}; regions searched: " \
             f"{esc(', '.join(investigation.get('regions_searched') or []))}"
    if investigation.get("complete"):
        return ["Investigation complete. " + window, ""]
    failed = investigation.get("incomplete_searches") or []
    return [f"**INVESTIGATION INCOMPLETE**: {len(failed)} CloudTrail search(es) failed or stopped; \"no use found\" "
            f"does not hold for them. {window}", "",
            *table(["key", "region", "status", "pages read", "reason"],
                   [[f["access_key_id"], f["region"], f["status"], f["pages"], f["reason"]] for f in failed]), ""]


def _summary(data: dict[str, Any]) -> list[str]:
    """The report opens with the counts, who acted, the audit run and the exact undo command."""
    lines = ["## Summary", ""]
    lines += [f"- {esc(line)}" for line in summary_lines(data)]
    lines += [f"- {esc(line)}" for line in action_lines(data)]
    return [*lines, ""]


def render_markdown(data: dict[str, Any]) -> str:
    lines = ["# stsleak incident report", "",
             f"Repository: {esc(data.get('repository'))} · generated {esc(data['generated_at'])} · "
             f"**{esc(data['mode'])}** · report contract {data['kind']} v{data['incident_version']}", ""]
    lines += _summary(data)
    lines += _investigation(data.get("investigation") or {})
    lines += [f"- note: {esc(n)}" for n in data["notes"]]
    lines.append("")
    if not data["credentials"]:
        lines += ["No live or expired credential was investigated.", ""]
    for item in data["credentials"]:
        lines += _credential(item)
    return "\n".join(lines).rstrip() + "\n"
