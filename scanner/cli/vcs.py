"""The repository a history scan read, for SARIF's versionControlProvenance: its origin URL (without
credentials) or its path as a file: URI, HEAD's commit and branch. Asked of git only when a SARIF
report of a history scan is written."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.model import ReportFormat, ScanMode
from scanner.sources.git.run import repo_config_value, run_git

if TYPE_CHECKING:
    from scanner.reports.version_control import VersionControl

_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?([\w.-]+):(?!//)(.+)$")  # git@github.com:org/repo.git


def repository_uri(origin: str | None, repo: Path) -> str:
    """An absolute URI for the repository: its origin URL with any user:password@ removed (an scp-like
    address as ssh://), else the repository's own path."""
    if origin and _URL.match(origin):
        parts = urllib.parse.urlsplit(origin)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    scp = _SCP_LIKE.match(origin or "")
    if scp and not Path(origin or "").exists():
        return f"ssh://{scp.group(1)}/{urllib.parse.quote(scp.group(2).lstrip('/'), safe='/~')}"
    return repo.resolve().as_uri()


def version_control(repo: Path) -> VersionControl:
    from scanner.reports.version_control import VersionControl

    top = run_git(repo, "rev-parse", "--show-toplevel", check=False).strip()
    root = Path(top) if top else Path(run_git(repo, "rev-parse", "--absolute-git-dir", check=False).strip() or repo)
    revision = run_git(repo, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False).strip()
    branch = run_git(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False).strip()
    return VersionControl(repository_uri(repo_config_value(repo, "remote.origin.url"), root),
                          revision or None, branch or None)


def sarif_version_control(mode: ScanMode, repo: Path, formats: list[str]) -> VersionControl | None:
    """The repository of a history scan when one of the reports is SARIF; None otherwise."""
    if mode != ScanMode.HISTORY or ReportFormat.SARIF not in formats:
        return None
    return version_control(repo)
