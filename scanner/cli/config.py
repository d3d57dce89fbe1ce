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
from scanner.model import ReportFormat

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


FORMATS = tuple(ReportFormat)


def parse_size(text: str) -> int:
    """'50M', '10k', '1G' or a number of bytes; ValueError otherwise."""
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    text = text.strip().lower().removesuffix("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _as_list(path: Path, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise StsleakError(f"{path}: {key} must be a string or a list of strings")


def _max_size(path: Path, value: Any) -> int:
    try:
        return value if isinstance(value, int) and not isinstance(value, bool) else parse_size(str(value))
    except ValueError:
        raise StsleakError(f"{path}: max_file_size must be a size such as 50M, not {value!r}") from None


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
        args.rules_dir = [str(base / d) for d in _as_list(path, "rules_dir", config.get("rules_dir"))] + args.rules_dir
        args.exclude = _as_list(path, "exclude", config.get("exclude")) + list(args.exclude)
        if args.format is None and config.get("format", DEFAULT_FORMAT) not in FORMATS:
            raise StsleakError(f"{path}: format must be one of {', '.join(FORMATS)}, not {config['format']!r}")
        if args.max_file_size is None and "max_file_size" in config:
            args.max_file_size = _max_size(path, config["max_file_size"])
    if args.format is None:
        args.format = config.get("format", DEFAULT_FORMAT)
    if args.max_file_size is None:
        args.max_file_size = DEFAULT_MAX_SIZE
