"""Writing the report: every way the output can fail is one clear line and exit 2, never an
"internal error"; a reader that goes away (`| head -1`) is not an error at all."""

from __future__ import annotations

import os
import sys

from scanner.errors import StsleakError


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the flush at exit does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


# Our own typography, and what it becomes on a console that cannot show it (cp1252 can; ASCII cannot).
_PLAIN = str.maketrans({"\u2026": "...", "\u2014": "-", "\u2013": "-", "\u2192": "->", "\u00d7": "x"})


def fit_encoding(text: str, encoding: str | None) -> str:
    """`text` as is when the stream's encoding can show it, else with our own typography made plain."""
    try:
        text.encode(encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return text.translate(_PLAIN)
    return text


def write_stdout(text: str) -> None:
    """The report on stdout. A closed pipe ends the output quietly (the scan's exit code stands)."""
    try:
        sys.stdout.write(fit_encoding(text, getattr(sys.stdout, "encoding", None)))
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except UnicodeEncodeError:
        encoding = getattr(sys.stdout, "encoding", None) or "?"
        raise StsleakError(f"stdout cannot show the report: its encoding ({encoding}) lacks some of its characters; "
                           "set PYTHONIOENCODING=utf-8, or use --output FILE or --format json") from None
    except OSError as exc:
        _silence_stdout()
        raise StsleakError(f"cannot write the report to stdout: {_reason(exc)}") from None


def write_file(text: str, output: str) -> None:
    """The report in a file. A file it creates is private (0600, whatever the umask): a report
    says where credentials are and, with --show-secrets, holds them. A file that is already there
    (or a device such as /dev/stdout) keeps its owner's mode."""
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise StsleakError(f"cannot write {output}: {_reason(exc)}") from None
    except UnicodeEncodeError:
        raise StsleakError(f"cannot write {output}: the report holds text that is not valid Unicode") from None
