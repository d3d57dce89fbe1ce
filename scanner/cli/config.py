"""Project configuration: `.stsleak.yaml` or `[tool.stsleak]` in pyproject.toml. Flags win.

Looked up only at the scan root: the top of the work tree the scanned path is in, or else the
directory given (a file's own directory), never above it (a /tmp/.stsleak.yaml must not silence
every scan under /tmp). `--no-suppress` reads no config file at all.
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


def scan_root(start: Path) -> Path:
    """Where the config of a scan of `start` is looked for: the work tree's top, or `start`."""
    here = start if start.is_dir() else start.parent
    if not here.is_dir():
        return here
    from scanner.sources.git.run import run_git

    top = run_git(here, "rev-parse", "--show-toplevel", check=False).strip()  # empty outside a work tree
    return Path(top) if top else here.resolve()


def find_config(start: Path) -> tuple[Path, dict[str, Any]] | None:
    root = scan_root(start)
    for name in (".stsleak.yaml", ".stsleak.yml", "pyproject.toml"):
        candidate = root / name
        if candidate.is_file():
            data = _read(candidate)
            if data is not None:
                return candidate, data
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
        size = value if isinstance(value, int) and not isinstance(value, bool) else parse_size(str(value))
    except ValueError:
        size = 0
    if size <= 0:
        raise StsleakError(f"{path}: max_file_size must be a size such as 50M (above 0), not {value!r}")
    return size


def apply_config(args: argparse.Namespace, start: Path) -> None:
    """Fill what the command line left unset from the config file, then the defaults.

    Sets args.config_file (the file that applied, or None), args.config_exclude (its globs, kept
    apart from --exclude's so their suppressions are told apart) and args.max_size_from_config.
    """
    args.config_file, args.config_exclude, args.max_size_from_config = None, [], False
    found = None
    if not getattr(args, "no_suppress", False):
        found = (path := Path(args.config), _read(path) or {}) if args.config else find_config(start)
    config: dict[str, Any] = {}
    if found:
        path, config = found
        unknown = set(config) - _KEYS
        if unknown:
            raise StsleakError(f"{path}: unknown config key(s): {', '.join(sorted(unknown))}")
        args.config_file = str(path.resolve())
        base = path.parent
        args.rules_dir = [str(base / d) for d in _as_list(path, "rules_dir", config.get("rules_dir"))] + args.rules_dir
        args.config_exclude = _as_list(path, "exclude", config.get("exclude"))
        if args.format is None and config.get("format", DEFAULT_FORMAT) not in FORMATS:
            raise StsleakError(f"{path}: format must be one of {', '.join(FORMATS)}, not {config['format']!r}")
        if args.max_file_size is None and "max_file_size" in config:
            args.max_file_size = _max_size(path, config["max_file_size"])
            args.max_size_from_config = True
    if args.format is None:
        args.format = config.get("format", DEFAULT_FORMAT)
    if args.max_file_size is None:
        args.max_file_size = DEFAULT_MAX_SIZE
