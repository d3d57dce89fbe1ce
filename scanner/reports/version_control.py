"""The repository a history scan read, as SARIF's versionControlProvenance names it (a value; the CLI
asks git for it, scanner/cli/vcs.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VersionControl:
    """Where the repository lives (an absolute URI), and the commit and branch HEAD named when it was scanned."""

    repository_uri: str
    revision_id: str | None = None
    branch: str | None = None
