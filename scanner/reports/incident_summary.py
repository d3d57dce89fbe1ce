"""The incident report's opening lines, from its JSON contract: the summary counts, who acted, the
audit run and the exact undo command. The terminal, Markdown and HTML show these same sentences."""

from __future__ import annotations

from typing import Any


def summary_lines(data: dict[str, Any]) -> list[str]:
    """The summary as plain sentences (terminal, Markdown and HTML say the same thing)."""
    s = data["summary"]
    used, persistence, revocations = s["used_by_others"], s["persistence"], s["revocations"]
    lines = [f"keys found: {s['keys_found']} ({s['live']} live, {s['expired']} expired; "
             f"{s['revoked_keys']} revoked now)",
             f"used by others: {used['events']} time(s) from {used['source_ips']} IP(s)",
             f"credentials spawned: {s['credentials_spawned']}",
             f"persistence found: {persistence['found']} ({persistence['still_there']} still there)",
             f"revocations: {revocations['applied']} applied, {revocations['already_revoked']} already revoked, "
             f"{revocations['planned']} planned (not applied), {revocations['refused']} refused, "
             f"{revocations['failed']} failed",
             _investigation_line(s["investigation"], data.get("investigation") or {})]
    if s["first_outside_use_before_commit"]:
        lines.append(f"LEAKED ELSEWHERE FIRST: someone else used {', '.join(s['first_outside_use_before_commit'])} "
                     "before the commit that leaked it")
    return lines


def action_rows(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, value, comment): who acted, which audit run, where its log is, and the exact undo command."""
    rows = [("operator", data.get("operator") or "none", "" if data.get("operator") else
             "no usable operator credentials")]
    actions = data.get("actions")
    if not actions:
        return rows
    whose = "this run" if actions["this_run"] else "an earlier run, recorded in the report read"
    state = "applied" if actions["applied"] else "dry run, nothing applied"
    by = f", by {actions['operator']}" if actions.get("operator") and not actions["this_run"] else ""
    rows.append(("audit run", actions["run_id"] or "unknown", f"{whose}; {state}{by}"))
    if actions.get("audit_log"):
        rows.append(("audit log", actions["audit_log"], ""))
    if actions["undo_command"]:
        rows.append(("undo", actions["undo_command"], "puts back what the run changed; dry run without --yes"))
    elif actions["applied"]:
        rows.append(("undo", "nothing to undo", "the run changed nothing"))
    return rows


def action_lines(data: dict[str, Any]) -> list[str]:
    return [f"{what}: {value}" + (f" ({comment})" if comment else "") for what, value, comment in action_rows(data)]


def _investigation_line(verdict: str, investigation: dict[str, Any]) -> str:
    if verdict == "not run":
        return "investigation: not run (CloudTrail was not searched: use of the keys is unknown)"
    regions = len(investigation.get("regions_searched") or [])
    if verdict == "complete":
        return f"investigation: complete ({regions} region(s) searched to the last page)"
    failed = len(investigation.get("incomplete_searches") or [])
    return f"investigation: INCOMPLETE ({failed} CloudTrail search(es) failed or stopped; {regions} region(s) searched)"
