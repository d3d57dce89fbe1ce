"""The merged report of an organisation scan, built from the state file (so a resumed run reports all)."""

from __future__ import annotations

import json
from typing import Any

from scanner import __version__
from scanner.errors import ExitCode
from scanner.org.state import RepoRecord, RepoStatus, State
from scanner.reports.escape import escape as escape_text
from scanner.reports.sarif import SCHEMA


def json_report(state: State, urls: list[str]) -> dict[str, Any]:
    wanted = set(urls)
    records = [r for r in state.all() if r.url in wanted]
    findings = [row for url, row in state.findings() if url in wanted]
    return {
        "version": 1,
        "findings": findings,
        "repositories": [_repo_row(r) for r in records],
        "stats": {"repositories": len(records),
                  "failed": sum(r.status == RepoStatus.FAILED for r in records),
                  "findings": len(findings)},
    }


def _repo_row(r: RepoRecord) -> dict[str, Any]:
    return {"repository": r.url, "status": str(r.status), "findings": r.findings, "live": r.live,
            "seconds": r.seconds, "error": r.error, "tips": r.tips}


def sarif_report(state: State, urls: list[str]) -> dict[str, Any]:
    wanted = set(urls)
    runs = [run for url, run in state.sarif_runs() if url in wanted]
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": runs}


def _status_text(r: RepoRecord) -> str:
    return f"{r.status}: {r.error}" if r.error else str(r.status)


def text_report(state: State, urls: list[str]) -> str:
    report = json_report(state, urls)
    lines = []
    for f in report["findings"]:
        place = f"{f['path']}:{f['line']}" if f.get("path") else f"blob {f.get('blob')}"
        commit = f"  commit {f['commit'][:12]}" if f.get("commit") else ""
        verdict = f"  {f['verification']['status'].upper()}" if f.get("verification") else ""
        lines.append(escape_text(f"{f['repository']}  {place}{commit}  {f['rule']}  {f['access_key_id']}{verdict}"))
    if lines:
        lines.append("")
    width = max([len(r["repository"]) for r in report["repositories"]] + [10])
    lines.append(f"{'repository':<{width}}  {'status':<9}  findings  seconds")
    for r in state.all():
        if r.url in set(urls):
            seconds = f"{r.seconds:.2f}" if r.seconds is not None else "-"
            lines.append(escape_text(f"{r.url:<{width}}  {_status_text(r):<9}  {r.findings:>8}  {seconds:>7}"))
    stats = report["stats"]
    lines.append(f"{stats['repositories']} repositories, {stats['failed']} failed, {stats['findings']} findings "
                 f"(stsleak {__version__})")
    return "\n".join(lines) + "\n"


def render(fmt: str, state: State, urls: list[str]) -> str:
    if fmt == "json":
        return json.dumps(json_report(state, urls), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(sarif_report(state, urls), indent=2) + "\n"
    return text_report(state, urls)


def exit_code(state: State, urls: list[str]) -> ExitCode:
    records = [r for r in state.all() if r.url in set(urls)]
    if any(r.live for r in records):
        return ExitCode.LIVE
    if any(r.findings for r in records):
        return ExitCode.FINDINGS
    return ExitCode.ERROR if any(r.status == RepoStatus.FAILED for r in records) else ExitCode.CLEAN
