"""What one Dask task does on a worker: one repository, cloned, scanned in a process of its own (a child
of the worker's fork server, or a subprocess), cleaned up. A local repository lists its tips in that
process too; a URL's are listed (`ls-remote`) before it is cloned, so an unchanged one is not cloned.

The task's argument and result are plain dicts: a URL, the old tips, options — and back only what a
JSON report holds (hashes, key ids, locations, verdicts). No secret or token crosses the cluster.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scanner.org.clone import GitFailed, mirror_clone, remote_tips
from scanner.org.process import run_bounded
from scanner.org.repos import redact_url
from scanner.org.scan_one import ScanJob, write_job
from scanner.org.state import RepoStatus


@dataclass(frozen=True)
class Job:
    url: str
    local: bool
    old_tips: dict[str, str] = field(default_factory=dict)
    since_last: bool = False  # with a previous scan: skip when no ref moved, else scan only past old_tips
    scanned_before: bool = False
    verify: bool = False
    aws: dict[str, Any] = field(default_factory=dict)  # AwsOptions' fields, for verification on the worker
    task_timeout: float = 3600.0
    max_file_size: int = 50 * 1024 * 1024


def _scratch() -> Path:
    try:
        from distributed import get_worker

        base = get_worker().local_directory
    except (ImportError, ValueError):
        base = None
    return Path(tempfile.mkdtemp(prefix="stsleak-org-", dir=base))


def _run_scan_one(job: ScanJob, scratch: Path, timeout: float) -> subprocess.CompletedProcess[bytes]:
    """In a child of the worker's fork server; a fresh subprocess where there is none."""
    from scanner.org.scan_server import ServerGone, run_forked, server_address

    try:
        return run_forked(server_address(), job, scratch, timeout)
    except ServerGone:
        return run_bounded([sys.executable, "-m", "scanner.org.scan_one", str(write_job(job, scratch))], timeout)


def _scan_job(job: Job, repo: Path) -> ScanJob:
    """What scan_one does: a local repository lists its own tips (and is skipped there when none moved)."""
    since_last = job.since_last and bool(job.old_tips or job.scanned_before)
    return ScanJob(repo=str(repo), repository=redact_url(job.url), list_tips=job.local,
                   old_tips=dict(job.old_tips) if since_last else None,
                   skip_unchanged=since_last and job.local and job.scanned_before,
                   verify=job.verify, aws=dict(job.aws) if job.verify else {}, max_file_size=job.max_file_size)


def _scan(job: Job, repo: Path, scratch: Path, timeout: float) -> dict[str, Any]:
    try:
        proc = _run_scan_one(_scan_job(job, repo), scratch, timeout)
    except TimeoutError as exc:
        raise GitFailed(f"scan {exc}") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitFailed(lines[-1].removeprefix("stsleak: error: ") if lines else f"scan exit code {proc.returncode}")
    return json.loads(proc.stdout)


def scan_repository(job_fields: dict[str, Any]) -> dict[str, Any]:
    """Run on a worker: the outcome of one repository (status, tips, findings, SARIF run, timings)."""
    job = Job(**job_fields)
    started = time.time()
    deadline = started + job.task_timeout
    scratch = _scratch()
    tips: dict[str, str] | None = None
    try:
        repo = Path(job.url)
        if not job.local:
            tips = remote_tips(job.url, deadline - time.time(), scratch)
            if job.since_last and job.scanned_before and tips == job.old_tips:
                return _outcome(RepoStatus.UNCHANGED, started, tips=tips)
            repo = scratch / "mirror.git"
            mirror_clone(job.url, repo, deadline - time.time())
        scanned = _scan(job, repo, scratch, deadline - time.time())
    except GitFailed as exc:
        return _outcome(RepoStatus.FAILED, started, error=str(exc))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    tips = scanned.get("tips", tips)
    if scanned.get("unchanged"):
        return _outcome(RepoStatus.UNCHANGED, started, tips=tips)
    status = RepoStatus.FAILED if scanned["errors"] else RepoStatus.DONE
    return _outcome(status, started, tips=tips, error="; ".join(scanned["errors"]) or None,
                    findings=scanned["findings"], sarif_run=scanned["sarif_run"], notes=scanned["notes"],
                    since=scanned["since"], stats=scanned["stats"])


def _outcome(status: RepoStatus, started: float, **fields: Any) -> dict[str, Any]:
    return {"status": str(status), "started": started, "seconds": round(time.time() - started, 3), **fields}


def job_dict(job: Job) -> dict[str, Any]:
    return asdict(job)
