"""Writing the report: every way the output can fail is one clear line and exit 2, never an
"internal error"; a reader that goes away (`| head -1`) is not an error at all."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StsleakError(f"cannot write {output}: {_reason(exc)}") from None
    except UnicodeEncodeError:
        raise StsleakError(f"cannot write {output}: the report holds text that is not valid Unicode") from None
