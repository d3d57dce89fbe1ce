"""Exit codes and the one exception type the CLI turns into a one-line error."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    CLEAN = 0  # nothing found
    FINDINGS = 1  # at least one credential found
    ERROR = 2  # usage or runtime error (one line on stderr)
    LIVE = 3  # with --verify: at least one credential is live
    REVOCATION_INCOMPLETE = 4  # revoke: a target failed or was refused (the others went on)


class StsleakError(Exception):
    """An error the user can act on; printed as one line, never as a traceback."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code
