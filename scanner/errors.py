"""Exit codes and the one exception type the CLI turns into a one-line error."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.model import Finding


class ExitCode(IntEnum):
    CLEAN = 0  # nothing found
    FINDINGS = 1  # at least one credential found
    ERROR = 2  # usage or runtime error (one line on stderr)
    LIVE = 3  # with --verify: at least one credential is live
    REVOCATION_INCOMPLETE = 4  # revoke: a target failed or was refused (the others went on)
    INVESTIGATION_INCOMPLETE = 5  # investigate/respond: a CloudTrail search failed or stopped somewhere


class StsleakError(Exception):
    """An error the user can act on; printed as one line, never as a traceback."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def with_investigation(code: ExitCode, complete: bool) -> ExitCode:
    """respond's verdict: a failed revocation (4) first, then an incomplete investigation (5), then the scan's."""
    return code if complete or code is ExitCode.REVOCATION_INCOMPLETE else ExitCode.INVESTIGATION_INCOMPLETE


def exit_code(findings: Sequence[Finding], errors: Sequence[str], fail_on: str = "any") -> ExitCode:
    """The verdict of a scan (and of what followed it) as an exit code: 4 over 3 over 1; an error never reads as 0."""
    if any(f.revocation and f.revocation.status in ("failed", "refused") for f in findings):
        return ExitCode.REVOCATION_INCOMPLETE
    live = any(f.verification and f.verification.status == "live" for f in findings)
    if fail_on == "live":
        return ExitCode.LIVE if live else ExitCode.ERROR if errors else ExitCode.CLEAN
    if live:
        return ExitCode.LIVE
    if findings:
        return ExitCode.FINDINGS
    return ExitCode.ERROR if errors else ExitCode.CLEAN
