"""The pre-receive hook's settings: the server's git config (`stsleak.*`), typed.

Only the server decides: these come from the receiving repository's config and the system and
global config files of the account git runs as, never from anything pushed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import StsleakError

DEFAULT_MAX_SIZE = 50 * 1024 * 1024
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}
_BOOLS = {"allowpushoption": "allow_push_option", "verify": "verify", "failopen": "fail_open",
          "allowcomments": "allow_comments"}
_TEXTS = {"region": "region", "endpointurl": "endpoint_url", "profile": "profile"}


@dataclass(frozen=True)
class Settings:
    override_log: Path
    allow_push_option: bool = False
    verify: bool = False
    fail_open: bool = False
    allow_comments: bool = False
    max_size: int = DEFAULT_MAX_SIZE
    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    unknown: tuple[str, ...] = ()  # stsleak.* keys this version does not know (a typo reads as "off")

    def aws_options(self) -> Any:
        """For --verify (imports boto3's side only when asked)."""
        from scanner.aws_session import AwsOptions

        return AwsOptions(region=self.region, endpoint_url=self.endpoint_url, profile=self.profile)


def _bool(key: str, value: str | None) -> bool:
    if value is None:  # `[stsleak] verify` without a value is true, as in git
        return True
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise StsleakError(f"stsleak.{key} = {value!r} in the server's git config is not a boolean (true or false)")


def _size(value: str) -> int:
    from scanner.cli.config import parse_size

    try:
        size = parse_size(value)
    except ValueError:
        size = 0
    if size <= 0:
        raise StsleakError(f"stsleak.maxFileSize = {value!r} in the server's git config is not a size (e.g. 50M)")
    return size


def read_settings(git_dir: Path, verify: bool = False) -> Settings:
    """The settings of the repository at `git_dir`; `verify`: the hook's own --verify."""
    from scanner.sources.git.prereceive import server_config

    fields: dict[str, Any] = {"override_log": git_dir / "stsleak" / "overrides.jsonl"}
    unknown = []
    for key, value in server_config(git_dir).items():
        name = key.removeprefix("stsleak.")
        if name in _BOOLS:
            fields[_BOOLS[name]] = _bool(name, value)
        elif name == "maxfilesize":
            fields["max_size"] = _size(value or "")
        elif name == "overridelog":
            if not value:
                raise StsleakError("stsleak.overrideLog in the server's git config names no file")
            path = Path(value).expanduser()
            fields["override_log"] = path if path.is_absolute() else git_dir / path
        elif name in _TEXTS:
            fields[_TEXTS[name]] = value or None
        else:
            unknown.append(key)
    fields["verify"] = fields.get("verify", False) or verify
    return Settings(**fields, unknown=tuple(unknown))
