"""One repository's tips and history scan, in a process of its own on the worker: prints JSON without secrets.

    python -m scanner.org.scan_one JOB.json

JOB.json is a `ScanJob` (the repository, the revisions already scanned, whether to verify and the
AWS options as a plain dict) written by the worker's task: typed values cross the cluster, never a
command line parsed again. A process of its own so that a task can be timed out and killed, and its
memory ends with it: a child forked by the worker's fork server (scanner/org/forkserver.py), or a
subprocess without one. Secrets and tokens stay in this process: what it prints holds hashes, key
ids and locations (and, with verification, only the verdict), exactly as `stsleak scan --format
json` without --show-secrets.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.errors import ExitCode, StsleakError
from scanner.runtime import collect_garbage_less_often

JOB_FILE = "job.json"


@dataclass(frozen=True)
class ScanJob:
    repo: str  # the local path of the clone (or the local repository)
    repository: str  # the repository as the report names it
    since: tuple[str, ...] = ()
    list_tips: bool = False  # list the ref tips first; the output has them
    old_tips: dict[str, str] | None = None  # the last scan's tips: scan only past those still here
    skip_unchanged: bool = False  # with list_tips and old_tips: no scan when no ref moved
    verify: bool = False
    aws: dict[str, Any] = field(default_factory=dict)  # AwsOptions' fields
    max_file_size: int = 50 * 1024 * 1024

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> ScanJob:
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or not {"repo", "repository"} <= data.keys() or not data.keys() <= names:
            raise StsleakError(f"not a scan job: {sorted(data) if isinstance(data, dict) else type(data).__name__}")
        return cls(**{**data, "since": tuple(data.get("since") or ())})


def write_job(job: ScanJob, directory: Path) -> Path:
    """The job as a file in the task's private scratch directory (what both ways of running it read)."""
    path = directory / JOB_FILE
    path.write_text(json.dumps(job.to_dict()), encoding="utf-8")
    return path


def read_job(path: str) -> ScanJob:
    try:
        return ScanJob.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise StsleakError(f"cannot read the scan job {path}: {exc}") from None


def _verify(findings: list[Any], aws: dict[str, Any]) -> list[str]:
    from scanner.aws_session import AwsOptions
    from scanner.verification.sts import verify_findings

    return verify_findings(findings, AwsOptions(**aws))


def scan(job: ScanJob, rules: Any = None) -> dict[str, Any]:
    from scanner.detection.rules import load_ruleset
    from scanner.model import ScanMode
    from scanner.org.tips import known_commits, local_tips
    from scanner.pipeline import ScanRequest, run_scan
    from scanner.reports.json_report import finding_to_dict
    from scanner.reports.sarif import sarif_dict

    tips = local_tips(Path(job.repo)) if job.list_tips else None
    old_tips = job.old_tips
    if job.skip_unchanged and tips is not None and tips == old_tips:
        return {"unchanged": True, "tips": tips}
    known = known_commits(Path(job.repo), list(old_tips.values())) if old_tips else []
    rules = rules if rules is not None else load_ruleset(())  # the fork server's, loaded once
    since = tuple(job.since) + tuple(known) or None
    request = ScanRequest(mode=ScanMode.HISTORY, paths=(Path(job.repo),), since=since, max_size=job.max_file_size)
    result = run_scan(request, rules)
    if job.verify:
        result.notes.extend(_verify(result.findings, job.aws))
    rows = [{**finding_to_dict(f), "repository": job.repository} for f in result.findings]
    run = sarif_dict(result, rules)["runs"][0]
    run["automationDetails"] = {"id": f"stsleak/{job.repository}"}
    run["versionControlProvenance"] = [{"repositoryUri": job.repository}]
    stats = result.stats
    return {"findings": rows, "sarif_run": run, "notes": result.notes, "errors": stats.errors,
            "since": list(since or ()), **({"tips": tips} if tips is not None else {}),
            "stats": {"blobs": stats.blobs, "bytes": stats.bytes, "seconds": stats.seconds,
                      "skipped": stats.skipped}}


def main(job_file: str, rules: Any = None) -> int:
    try:
        out = scan(read_job(job_file), rules)
    except StsleakError as exc:
        print(f"stsleak: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    sys.stdout.write(json.dumps(out) + "\n")
    return int(ExitCode.CLEAN)


if __name__ == "__main__":
    collect_garbage_less_often()  # as the CLI scans (a forked scan has it from the fork server)
    if len(sys.argv) != 2:
        print("usage: python -m scanner.org.scan_one JOB.json", file=sys.stderr)
        sys.exit(int(ExitCode.ERROR))
    sys.exit(main(sys.argv[1]))
