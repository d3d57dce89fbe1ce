"""The notes that make every suppression visible: which config file applied, what silencing hid
and how to see it (`--no-suppress`), what .gitignore kept out (`--no-ignore`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from scanner.errors import StsleakError
from scanner.model import ScanResult


def _ignored_config(args: argparse.Namespace, start: Path) -> str | None:
    if args.config:
        return args.config
    from scanner.cli.config import find_config

    try:
        found = find_config(start)
    except StsleakError:
        return None
    return str(found[0]) if found else None


def suppressed_text(suppressed: dict[str, int]) -> str:
    return ", ".join(f"{cause} {n}" for cause, n in sorted(suppressed.items()))


def silencing_notes(args: argparse.Namespace, start: Path, result: ScanResult) -> list[str]:
    notes = []
    stats = result.stats
    if args.no_suppress:
        ignored = [f"config {path}" for path in [_ignored_config(args, start)] if path]
        ignored += ["allow comments"] + ([f"baseline {args.baseline}"] if args.baseline else [])
        notes.append(f"--no-suppress: not applied: {', '.join(ignored)}")
    elif getattr(args, "no_allow_comments", False):
        notes.append("--no-allow-comments: allow comments (stsleak:allow, pragma: allowlist secret) not applied")
    text = args.format == "text"  # the text report's summary says both itself
    if args.config_file and not text:
        notes.append(f"config {args.config_file} applied")
    if stats.suppressed and not text:
        notes.append(f"suppressed: {suppressed_text(stats.suppressed)} "
                     "(--no-suppress lifts every cause but the shipped allowlist)")
    ignored_paths = stats.skipped.get("ignored", 0)
    if ignored_paths:
        notes.append(f"{ignored_paths} path(s) ignored by .gitignore were not scanned (--no-ignore scans them)")
    return notes
