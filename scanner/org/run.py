"""The client of an organisation scan: submit one task per repository, record each result as it arrives.

Resumable: a repository is recorded in one transaction when its task ends, so after Ctrl-C or a
dead machine a rerun submits only what is not recorded yet. A worker that dies mid-task has its
task rerun elsewhere by Dask; each repository is recorded (and reported) once however often it ran.
"""

from __future__ import annotations

import hashlib
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.org.repos import RepoSpec, redact_url
from scanner.org.state import RepoRecord, RepoStatus, State
from scanner.org.task import Job, job_dict, scan_repository


@dataclass(frozen=True)
class OrgOptions:
    state: Path
    workers: int = 2
    scheduler: str | None = None
    verify: bool = False
    since_last: bool = False
    task_timeout: float = 3600.0
    retries: int = 2
    aws: dict[str, Any] = field(default_factory=dict)  # AwsOptions' fields, for verification on the workers
    max_file_size: int = 50 * 1024 * 1024


@dataclass
class OrgRun:
    submitted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


Progress = Callable[[str, RepoStatus, int], None]  # (repository, status, findings so far)


def _needs_task(record: RepoRecord | None, since_last: bool) -> bool:
    if record is None or since_last:
        return True
    return record.status not in (RepoStatus.DONE, RepoStatus.UNCHANGED)


def _job(spec: RepoSpec, record: RepoRecord | None, options: OrgOptions) -> Job:
    before = options.since_last and record is not None and record.status in (RepoStatus.DONE, RepoStatus.UNCHANGED)
    return Job(url=spec.url, local=spec.local, old_tips=record.tips if before and record else {},
               since_last=options.since_last, scanned_before=before, verify=options.verify,
               aws=options.aws, task_timeout=options.task_timeout, max_file_size=options.max_file_size)


def _task_key(url: str, run_id: str) -> str:
    return f"stsleak-repo-{hashlib.sha256(url.encode()).hexdigest()[:16]}-{run_id}"


def run_org_scan(specs: list[RepoSpec], options: OrgOptions, progress: Progress | None = None) -> OrgRun:
    from distributed import as_completed

    from scanner.org.cluster import dask_client

    state = State(options.state)
    outcome = OrgRun()
    try:
        todo: dict[str, RepoSpec] = {}
        state.add(*(redact_url(spec.url) for spec in specs))
        for spec in specs:
            key = redact_url(spec.url)
            if _needs_task(state.get(key), options.since_last):
                todo[key] = spec
            else:
                outcome.skipped.append(key)
        if not todo:
            return outcome
        run_id = uuid.uuid4().hex[:8]
        with dask_client(options.workers, options.scheduler) as client:
            _start_scan_servers(client)
            futures = {client.submit(scan_repository, job_dict(_job(spec, state.get(key), options)),
                                     key=_task_key(key, run_id), retries=options.retries, pure=False): key
                       for key, spec in todo.items()}
            outcome.submitted = list(futures.values())
            found = 0
            for future in as_completed(futures):
                key = futures[future]
                result = _result_of(future)
                unchanged = result["status"] == RepoStatus.UNCHANGED
                state.record(key, result, replace_findings=not options.since_last and not unchanged)
                found += len(result.get("findings", []))
                if progress:
                    progress(key, RepoStatus(result["status"]), found)
    finally:
        state.close()
    return outcome


def _start_scan_servers(client: Any) -> None:
    """One fork server per worker (also on workers that join later); tasks fall back to subprocesses."""
    from scanner.org.scan_server import PLUGIN_NAME, ScanServerPlugin

    client.register_plugin(ScanServerPlugin(), name=PLUGIN_NAME)


def _result_of(future: Any) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as exc:  # the task's process died more often than Dask retries, or a bug
        message = f"{exc.__class__.__name__}: {exc}".strip()
        print(f"stsleak: warning: task failed: {message}", file=sys.stderr)
        return {"status": str(RepoStatus.FAILED), "error": message[:500]}
