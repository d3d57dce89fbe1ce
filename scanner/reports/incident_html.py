"""The incident report as one self-contained HTML file (inline CSS, no scripts, no external assets).

Every value from the repository or AWS goes through `html.escape`, attributes included; the page
carries a Content-Security-Policy that forbids scripts and remote loads even if one slipped through.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from scanner.reports.incident_summary import action_rows, summary_lines

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;
color:#1b1f24;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.5rem;border-bottom:2px solid #d0d7de;padding-bottom:.3rem}
h3{margin-top:1.6rem}table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:13px}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top;word-break:break-word}
th{background:#f6f8fa;white-space:nowrap}tr.ours td{color:#57606a}.meta{color:#57606a}
.badge{display:inline-block;padding:0 .45rem;
border-radius:.6rem;font-size:12px;font-weight:600;background:#eaeef2}.live,.failed,.refused{background:#ffebe9;
color:#a40e26}.revoked{background:#dafbe1;color:#116329}.planned{background:#fff8c5;color:#7d4e00}
tr.still.category-logging td,tr.still.category-data td{background:#fff5f5}
table.persistence td:nth-child(-n+4),table.persistence td:nth-child(8){word-break:normal}
table.persistence td:nth-child(10){font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.flag{color:#a40e26;font-weight:600}code{font-size:12px;background:#f6f8fa;padding:0 .2rem}
ol li{margin:.3rem 0}.none{color:#57606a;font-style:italic}
.summary{border:1px solid #d0d7de;border-radius:.4rem;padding:.2rem 1rem;background:#f6f8fa}
.summary ul{margin:.4rem 0}.mode{font-weight:600}.mode.dry-run{color:#7d4e00}ul.done li{color:#116329}
"""


def e(value: Any) -> str:
    return "—" if value is None or value == "" else escape(str(value), quote=True)


def table(kind: str, headers: list[str], rows: list[list[Any]], row_classes: list[str] | None = None) -> str:
    if not rows:
        return f'<p class="none" data-empty="{e(kind)}">none</p>'
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        cls = f' class="{e(row_classes[index])}"' if row_classes and row_classes[index] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
    return f'<table class="{e(kind)}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def badge(status: Any) -> str:
    return f'<span class="badge {e(status)}">{e(status)}</span>'


def _activity(activity: dict[str, Any] | None) -> str:
    if not activity:
        return '<p class="none">CloudTrail was not searched.</p>'
    parts = [f'<p>{e(activity["events"])} event(s), {e(activity["ours"])} by stsleak itself, in '
             f'{e(len(activity["regions_searched"]))} region(s) searched. First use {e(activity["first_use"])}, last '
             f'use {e(activity["last_use"])}; by others: first {e(activity["first_use_by_others"])}, last '
             f'{e(activity["last_use_by_others"])}.</p>']
    stats = activity["events_by_name"]
    parts.append(table("activity", ["event", "source", "count", "by stsleak", "first", "last", "errors", "regions"],
                       [[s["name"], s["source"], s["count"], s["ours"], s["first"], s["last"],
                         ", ".join(f"{k} x{v}" for k, v in s["errors"].items()), ", ".join(s["regions"])]
                        for s in stats], ["ours" if s["ours"] == s["count"] else "" for s in stats]))
    parts.append(table("source-ips", ["source IP", "events"], [[ip, n] for ip, n in activity["source_ips"].items()]))
    agents = activity["user_agents"]
    parts.append(table("user-agents", ["user agent", "events", "ours"],
                       [[a["agent"], a["count"], "stsleak" if a["ours"] else ""] for a in agents],
                       ["ours" if a["ours"] else "" for a in agents]))
    if activity["error_codes"]:
        parts.append(table("error-codes", ["error code", "events"], list(map(list, activity["error_codes"].items()))))
    parts += [f'<p class="meta">note: {e(n)}</p>' for n in activity["notes"]]
    return "".join(parts)


def _blast(radius: dict[str, Any]) -> str:
    parts = [f'<h3>Blast radius: <code>{e(radius["role_arn"])}</code></h3>']
    parts.append(table("policies", ["policy", "kind", "allows *", "IAM changes", "sts:AssumeRole on"],
                       [[p["name"], p["kind"], "YES" if p["allows_everything"] else "", ", ".join(p["allows_iam"]),
                         ", ".join(p["assume_role_on"])] for p in radius["policies"]]))
    parts.append(table("trust", ["effect", "principals", "actions", "conditions"],
                       [[t["effect"], ", ".join(t["principals"]), ", ".join(t["actions"]),
                         json.dumps(t["conditions"], sort_keys=True) if t["conditions"] else ""]
                        for t in radius["trust"]]))
    mint = "".join(f'<li class="{"flag" if "[" in line else ""}">{e(line)}</li>' for line in radius["can_mint"])
    mint = mint or "<li>nobody</li>"
    parts.append(f'<p>Who can mint fresh sessions after the cutoff:</p><ul class="can-mint">{mint}</ul>')
    parts.append(table("workloads", ["workload", "uses the role", "after the cutoff"], [
        *[["EC2 instance", i, "keeps cached credentials until restarted"] for i in radius["instances"]],
        *[["Lambda function", f, "warm environments keep them until the function is updated"]
          for f in radius["functions"]],
        *[["ECS task definition", t, "running tasks lose them; restart"] for t in radius["task_definitions"]]]))
    parts += [f'<p class="meta">note: {e(n)}</p>' for n in radius["notes"]]
    return "".join(parts)


PERSISTENCE_HEADERS = ["kind", "name", "category", "region", "event", "time", "by key", "still there", "detail",
                       "remove with (nothing is removed automatically)"]
CATEGORIES = {"logging": "logging/detection switched off", "iam": "IAM", "compute": "compute created",
              "data": "data exposed or at risk", "signal": "AWS says"}


def _persistence(rows: list[dict[str, Any]]) -> str:
    """Persistence and damage: one row each, with "still there?" as read now and the command that removes it."""
    counts = []
    for category, label in CATEGORIES.items():
        mine = [p for p in rows if p.get("category", "iam") == category]
        if mine:
            counts.append(f"{label}: {len(mine)} ({sum(p['exists'] is True for p in mine)} still there)")
    head = "<h3>Persistence and damage: what the leaked credentials created, changed or switched off</h3>"
    if counts:
        head += f'<p class="persistence-counts">{e("; ".join(counts))}</p>'
    there = {True: "yes", False: "no", None: "unknown"}
    return head + table("persistence", PERSISTENCE_HEADERS,
                        [[p["kind"], p["name"], CATEGORIES.get(p.get("category", "iam"), p.get("category")),
                          p.get("region") or "global", p["event_name"], p["event_time"], p["by_key"],
                          there[p["exists"]], p["detail"], p["remove"]] for p in rows],
                        [f"category-{p.get('category', 'iam')}" + (" still" if p["exists"] else "") for p in rows])


def _credential(item: dict[str, Any]) -> str:
    source, key, state = item["source"], item["access_key_id"], item["state"]
    parts = [f'<section class="credential" data-key="{e(key)}"><h2><code>{e(key)}</code> {badge(state["badge"])}</h2>',
             f'<p class="state">State after actions: {e(state["text"])}<br>Verified {e(item["status"])}'
             + (f' at {e(item["verified_at"])}' if item["verified_at"] else "") + "</p>",
             f'<p>Identity <code>{e(item["arn"])}</code> (account {e(item["account"])}, {e(item["principal_type"])})'
             f'<br>Role <code>{e(item["role_arn"])}</code>, session {e(item["session_name"])}'
             f'<br>Found at <code>{e(source["path"])}:{e(source["line"])}</code>, commit <code>{e(source["commit"])}'
             f'</code> ({e(source["author"])}, {e(source["date"])})</p>']
    if item["first_outside_use_before_commit"]:
        parts.append(f'<p class="flag leaked-elsewhere">LEAKED ELSEWHERE FIRST: someone else used it at '
                     f'{e(item["activity"]["first_use_by_others"])}, before the commit that leaked it '
                     f'({e(source["date"])}).</p>')
    if item["last_used"]:
        lu = item["last_used"]
        parts.append(f'<p>Last used (read before verification): {e(lu["date"] or "never")} {e(lu["service"])} '
                     f'{e(lu["region"])} {e(lu["error"] or "")}</p>')
    parts.append("<h3>Timeline</h3>" + table("timeline", ["time (UTC)", "what"],
                                             [[t["time"] or "", t["what"]] for t in item["timeline"]]))
    parts.append("<h3>Activity (CloudTrail)</h3>" + _activity(item["activity"]))
    parts.append("<h3>Spawned credentials</h3>" + table(
        "spawned", ["kind", "event", "time", "by key", "minted key", "role", "session", "user", "revocation"],
        [[s["kind"], s["event_name"], s["event_time"], s["by_key"], s["minted_key_id"], s["role_arn"],
          s["session_name"], s["user_name"], (s["revocation"] or {}).get("status")] for s in item["spawned"]]))
    for activity in item["spawned_activity"]:
        parts.append(f'<h3>Activity of spawned key <code>{e(activity["access_key_id"])}</code></h3>'
                     + _activity(activity))
    parts.append(_persistence(item["persistence"]))
    revocations = item["revocations"] or ([item["revocation"]] if item["revocation"] else [])
    parts.append("<h3>Revocation</h3>" + table(
        "revocation", ["target", "scope", "status", "cutoff", "read back", "message"],
        [[r.get("target"), r.get("scope"), r.get("status"), r.get("cutoff"), r.get("read_back_at"), r.get("message")]
         for r in revocations]))
    parts += [_blast(radius) for radius in item["blast_radius"]]
    done = "".join(f"<li>{e(step)}</li>" for step in item["done"]) or '<li class="none">nothing yet</li>'
    steps = "".join(f"<li>{e(step)}</li>" for step in item["next_steps"]) or '<li class="none">nothing</li>'
    parts.append(f'<h3>Done</h3><ul class="done">{done}</ul><h3>To do</h3><ol class="next-steps">{steps}</ol>')
    parts += [f'<p class="meta">note: {e(n)}</p>' for n in item["notes"]]
    return "".join(parts) + "</section>"


def _investigation(data: dict[str, Any]) -> str:
    """The verdict on every "no use found": complete, or which searches failed (never raw error bodies)."""
    investigation = data.get("investigation") or {}
    if not investigation.get("ran"):
        return '<p class="investigation none">CloudTrail was not searched: use of the keys is unknown.</p>'
    window = f'<p class="meta">{e(investigation.get("window"))}; regions searched: ' \
             f'{e(", ".join(investigation.get("regions_searched") or []))}</p>'
    if investigation.get("complete"):
        return f'<p class="investigation complete">Investigation complete.</p>{window}'
    failed = investigation.get("incomplete_searches") or []
    rows = [[f["access_key_id"], f["region"], f["status"], f["pages"], f["reason"]] for f in failed]
    return (f'<p class="investigation incomplete flag">INVESTIGATION INCOMPLETE: {e(len(failed))} CloudTrail '
            f'search(es) failed or stopped; "no use found" does not hold for them.</p>{window}'
            + table("incomplete-searches", ["key", "region", "status", "pages read", "reason"], rows))


def _summary(data: dict[str, Any]) -> str:
    """The report opens with the counts, who acted, the audit run and the exact undo command."""
    counts = "".join(f'<li class="{"flag" if line.startswith(("LEAKED", "investigation: INCOMPLETE")) else ""}">'
                     f"{e(line)}</li>" for line in summary_lines(data))
    actions = []
    for what, value, comment in action_rows(data):
        cls = what.replace(" ", "-")
        actions.append(f'<tr class="{e(cls)}"><th>{e(what)}</th><td><code class="{e(cls)}">{e(value)}</code>'
                       + (f' <span class="meta">({e(comment)})</span>' if comment else "") + "</td></tr>")
    return (f'<section class="summary"><h2>Summary</h2><ul class="summary">{counts}</ul>'
            f'<table class="actions"><tbody>{"".join(actions)}</tbody></table></section>')


def render_html(data: dict[str, Any]) -> str:
    mode = data["mode"]
    mode_class = "mode dry-run" if mode.startswith("DRY RUN") else "mode"
    notes = "".join(f"<li>{e(n)}</li>" for n in data["notes"])
    body = "".join(_credential(item) for item in data["credentials"]) or \
        '<p class="none">No live or expired credential was investigated.</p>'
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>stsleak incident report</title><style>{CSS}</style></head><body>"
            f"<h1>stsleak incident report</h1><p class=\"meta\">Repository <code>{e(data.get('repository'))}</code> · "
            f"generated {e(data['generated_at'])} · contract {e(data['kind'])} v{e(data['incident_version'])}</p>"
            f"<p class=\"{mode_class}\">{e(mode)}</p>{_summary(data)}{_investigation(data)}"
            f"<ul class=\"notes\">{notes}</ul>{body}"
            "</body></html>\n")
