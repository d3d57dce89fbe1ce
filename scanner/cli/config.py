"""Project configuration: `.stsleak.yaml` or `[tool.stsleak]` in pyproject.toml. Flags win.

Looked up only at the scan root: the top of the work tree the scanned path is in, or else the
directory given (a file's own directory), never above it (a /tmp/.stsleak.yaml must not silence
every scan under /tmp). `--no-suppress` reads no config file at all.
Keys: exclude (list of globs), max_file_size (e.g. "50M"), rules_dir (list, relative to the
config file), baseline (a baseline file, relative to the config file; `--baseline` wins), format
(text|json|sarif), archive_max_bytes / archive_max_depth / archive_max_members /
archive_max_ratio (limits on opening archives, see scanner/detection/decoders/archives.py).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from scanner.errors import StsleakError
from scanner.model import ReportFormat

DEFAULT_MAX_SIZE = 50 * 1024 * 1024
DEFAULT_FORMAT = "text"
_ARCHIVE_KEYS = ("archive_max_bytes", "archive_max_depth", "archive_max_members", "archive_max_ratio")
_KEYS = {"exclude", "max_file_size", "rules_dir", "baseline", "format", *_ARCHIVE_KEYS}


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
        if not getattr(args, "baseline", None) and config.get("baseline") is not None:
            if not isinstance(config["baseline"], str) or not config["baseline"]:
                raise StsleakError(f"{path}: baseline must be a file name, not {config['baseline']!r}")
            args.baseline = str(base / config["baseline"])  # what `scan --staged` in the hook reads too
        if args.format is None and config.get("format", DEFAULT_FORMAT) not in FORMATS:
            raise StsleakError(f"{path}: format must be one of {', '.join(FORMATS)}, not {config['format']!r}")
        if args.max_file_size is None and "max_file_size" in config:
            args.max_file_size = _max_size(path, config["max_file_size"])
            args.max_size_from_config = True
        _archive_config(args, path, config)
    if args.format is None:
        args.format = config.get("format", DEFAULT_FORMAT)
    if args.max_file_size is None:
        args.max_file_size = DEFAULT_MAX_SIZE


def add_archive_options(parser: argparse.ArgumentParser) -> None:
    def count(text: str) -> int:
        if not text.isdigit():
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
        return int(text)

    def size(text: str) -> int:
        try:
            return parse_size(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 256M)") from None

    group = parser.add_argument_group("archives (.zip .jar .whl .gz .tar .tgz, image tarballs)")
    group.add_argument("--archive-max-bytes", type=size, metavar="SIZE",
                       help="decompress at most SIZE per archive (default 256M)")
    group.add_argument("--archive-max-depth", type=count, metavar="N",
                       help="open archives nested N deep (default 4; 0: do not open archives)")
    group.add_argument("--archive-max-members", type=count, metavar="N",
                       help="skip archives with more than N members (default 10000)")
    group.add_argument("--archive-max-ratio", type=count, metavar="N",
                       help="stop a member decompressing to more than N times its size (default 200)")


def _archive_config(args: argparse.Namespace, path: Path, config: dict[str, Any]) -> None:
    """The archive limits the command line left unset, from the config file; which ones it set
    goes in args.archive_from_config (what a lowered one stops is counted as suppressed)."""
    args.archive_from_config = set()
    for key in _ARCHIVE_KEYS:
        if getattr(args, key, None) is not None or key not in config:
            continue
        value = config[key]
        try:
            number = _max_size(path, value) if key == "archive_max_bytes" else int(value)
        except (TypeError, ValueError, StsleakError):
            number = -1
        if isinstance(value, bool) or number < 0:
            raise StsleakError(f"{path}: {key} must be a {'size' if key == 'archive_max_bytes' else 'whole number'}"
                               f", not {value!r}")
        setattr(args, key, number)
        args.archive_from_config.add(key)


def archive_limits(args: argparse.Namespace) -> Any:
    """The scan's ArchiveLimits: the defaults, with what the flags or the config file set. A limit
    the config file set below its default is named in `lowered`: the scanned repository's own
    file must not hide an archive unseen (what it stops is counted in stats.suppressed)."""
    from scanner.detection.decoders.archives import ArchiveLimits

    given = {key.removeprefix("archive_"): getattr(args, key, None) for key in _ARCHIVE_KEYS}
    limits = ArchiveLimits(**{key: value for key, value in given.items() if value is not None})
    defaults = ArchiveLimits()
    lowered = frozenset(name for key in getattr(args, "archive_from_config", ())
                        if getattr(limits, name := key.removeprefix("archive_")) < getattr(defaults, name))
    return replace(limits, lowered=lowered) if lowered else limits
