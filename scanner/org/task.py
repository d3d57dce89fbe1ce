"""What one Dask task does on a worker: one repository, cloned, scanned in a subprocess, cleaned up.

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
from scanner.org.state import RepoStatus


@dataclass(frozen=True)
class Job:
    url: str
    local: bool
    old_tips: dict[str, str] = field(default_factory=dict)
    since_last: bool = False  # with a previous scan: skip when no ref moved, else scan only past old_tips
    scanned_before: bool = False
    verify: bool = False
    aws_args: tuple[str, ...] = ()
    task_timeout: float = 3600.0
    max_file_size: int = 50 * 1024 * 1024


def _scratch() -> Path:
    try:
        from distributed import get_worker

        base = get_worker().local_directory
    except (ImportError, ValueError):
        base = None
    return Path(tempfile.mkdtemp(prefix="stsleak-org-", dir=base))


def _local_tips(repo: Path) -> dict[str, str]:
    """A local repository's refs, read through the one hardened git helper."""
    from scanner.errors import StsleakError
    from scanner.sources.git.run import require_repo, run_git

    try:
        require_repo(repo)
        out = run_git(repo, "for-each-ref", "--format=%(objectname) %(refname)")
    except StsleakError as exc:
        raise GitFailed(str(exc)) from None
    pairs = (line.split(" ", 1) for line in out.splitlines() if " " in line)
    return {ref: sha for sha, ref in pairs}


def _known_commits(repo: Path, shas: list[str]) -> list[str]:
    """The old tips this copy still has (a force-pushed-away tip is gone)."""
    from scanner.sources.git.run import run_git

    return [sha for sha in dict.fromkeys(shas)
            if run_git(repo, "rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}", check=False).strip()]


def _run_scan_one(argv: list[str], scratch: Path, timeout: float) -> subprocess.CompletedProcess[bytes]:
    """In a child of the worker's fork server; a fresh subprocess where there is none."""
    from scanner.org.scan_server import ServerGone, run_forked, server_address

    try:
        return run_forked(server_address(), argv, scratch, timeout)
    except ServerGone:
        return run_bounded([sys.executable, "-m", "scanner.org.scan_one", *argv], timeout)


def _scan(job: Job, repo: Path, scratch: Path, since: list[str], timeout: float) -> dict[str, Any]:
    cmd = [str(repo), "--repository", redact_url(job.url),
           "--max-file-size", str(job.max_file_size), *(f"--since={sha}" for sha in since),
           *(["--verify", *job.aws_args] if job.verify else [])]
    try:
        proc = _run_scan_one(cmd, scratch, timeout)
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
    try:
        tips = _local_tips(Path(job.url)) if job.local else remote_tips(job.url, deadline - time.time(), scratch)
        if job.since_last and job.scanned_before and tips == job.old_tips:
            return _outcome(RepoStatus.UNCHANGED, started, tips=tips)
        repo = Path(job.url)
        if not job.local:
            repo = scratch / "mirror.git"
            mirror_clone(job.url, repo, deadline - time.time())
        since = _known_commits(repo, list(job.old_tips.values())) if job.since_last and job.old_tips else []
        scanned = _scan(job, repo, scratch, since, deadline - time.time())
    except GitFailed as exc:
        return _outcome(RepoStatus.FAILED, started, error=str(exc))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    status = RepoStatus.FAILED if scanned["errors"] else RepoStatus.DONE
    return _outcome(status, started, tips=tips, error="; ".join(scanned["errors"]) or None,
                    findings=scanned["findings"], sarif_run=scanned["sarif_run"], notes=scanned["notes"],
                    since=since, stats=scanned["stats"])


def _outcome(status: RepoStatus, started: float, **fields: Any) -> dict[str, Any]:
    return {"status": str(status), "started": started, "seconds": round(time.time() - started, 3), **fields}


def job_dict(job: Job) -> dict[str, Any]:
    return asdict(job)
