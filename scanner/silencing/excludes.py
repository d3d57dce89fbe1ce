"""Exclude globs (`--exclude`, `exclude:` in the config), matched on the path and on each path part."""

from __future__ import annotations

import fnmatch


def excluded(display_path: str, patterns: tuple[str, ...]) -> bool:
    parts = display_path.split("/")
    return any(
        fnmatch.fnmatch(display_path, pat) or any(fnmatch.fnmatch(part, pat) for part in parts)
        for pat in patterns
    )
