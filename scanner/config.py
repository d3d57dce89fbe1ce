"""Project configuration: `.stsleak.yaml` or `[tool.stsleak]` in pyproject.toml. Flags win.

Looked up from the scanned path upwards, stopping at the repository's top (the dir with .git).
Keys: exclude (list of globs), max_file_size (e.g. "50M"), rules_dir (list, relative to the
config file), format (text|json|sarif).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from scanner.errors import StsleakError

DEFAULT_MAX_SIZE = 50 * 1024 * 1024
DEFAULT_FORMAT = "text"
_KEYS = {"exclude", "max_file_size", "rules_dir", "format"}


def _read(path: Path) -> dict[str, Any] | None:
    try:
        if path.name == "pyproject.toml":
            import tomllib

            table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("stsleak")
            return table if isinstance(table, dict) else None
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, ValueError) as exc:
        raise StsleakError(f"cannot read config {path}: {exc}") from exc
    except Exception as exc:  # yaml.YAMLError, without importing yaml on every path
        raise StsleakError(f"cannot read config {path}: {exc.__class__.__name__}") from exc
    if not isinstance(data, dict):
        raise StsleakError(f"config {path} is not a mapping")
    return data


def find_config(start: Path) -> tuple[Path, dict[str, Any]] | None:
    here = (start if start.is_dir() else start.parent).resolve()
    for directory in (here, *here.parents):
        for name in (".stsleak.yaml", ".stsleak.yml", "pyproject.toml"):
            candidate = directory / name
            if candidate.is_file():
                data = _read(candidate)
                if data is not None:
                    return candidate, data
        if (directory / ".git").exists():
            return None
    return None


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def apply_config(args: argparse.Namespace, start: Path) -> None:
    """Fill what the command line left unset from the config file, then the defaults."""
    found = (path := Path(args.config), _read(path) or {}) if args.config else find_config(start)
    config: dict[str, Any] = {}
    if found:
        path, config = found
        unknown = set(config) - _KEYS
        if unknown:
            raise StsleakError(f"{path}: unknown config key(s): {', '.join(sorted(unknown))}")
        base = path.parent
        args.rules_dir = [str(base / d) for d in _as_list(config.get("rules_dir"))] + list(args.rules_dir)
        args.exclude = _as_list(config.get("exclude")) + list(args.exclude)
    if args.format is None:
        args.format = config.get("format", DEFAULT_FORMAT)
        if args.format not in ("text", "json", "sarif"):
            raise StsleakError(f"config: format must be text, json or sarif, not {args.format!r}")
    if args.max_file_size is None:
        from scanner.cli import _size

        raw = config.get("max_file_size", DEFAULT_MAX_SIZE)
        args.max_file_size = raw if isinstance(raw, int) else _size(str(raw))
