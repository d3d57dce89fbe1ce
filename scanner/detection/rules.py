"""Load the detection rules (rules/*.yaml) and compile them once into a RuleSet."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.detection.rule_schema import SECTIONS, check_rules_file
from scanner.errors import StsleakError
from scanner.model import PartKind

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the scanner package


def default_rules_dir() -> Path:
    """rules/ ships inside the wheel as scanner/rules; an editable install reads the repo's rules/."""
    for candidate in (_PACKAGE_DIR / "rules", _PACKAGE_DIR.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise StsleakError("cannot find the stsleak rules directory (broken install?)")


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    key_id_prefix: str
    parts: tuple[PartKind, ...]
    severity: str = "error"
    examples: tuple[Any, ...] = ()
    negative_examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    key_id_re: re.Pattern[str]
    secret_labelled_re: re.Pattern[str]
    secret_bare_re: re.Pattern[str]
    token_labelled_re: re.Pattern[str]
    token_prefixed_re: re.Pattern[str]
    token_run_re: re.Pattern[str]  # the token alphabet, to finish a token cut at a search bound
    pairing_window: int
    secret_min_entropy_labelled: float
    secret_min_entropy_unlabelled: float
    allow_substrings: tuple[str, ...]
    key_ids_without_digit_need_partner: bool
    word_like_min_vowels: int
    word_like_max_entropy: float
    sources: tuple[Path, ...] = field(default=())

    @property
    def key_id_prefixes(self) -> tuple[str, ...]:
        return tuple(rule.key_id_prefix for rule in self.rules)

    def rule_for(self, key_id: str) -> Rule:
        for rule in self.rules:
            if key_id.startswith(rule.key_id_prefix):
                return rule
        raise KeyError(key_id)


def _alternation(words: list[str]) -> str:
    # Longest first, so "aws_secret_access_key" wins over "secret".
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _read_yaml(path: Path, extra: bool) -> dict[str, Any]:
    import yaml

    try:
        # libyaml's loader when present: the pre-commit path loads the rules on every commit.
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise StsleakError(f"cannot read rules file {path}: {exc.__class__.__name__}") from exc
    if not isinstance(data, dict):
        raise StsleakError(f"rules file {path} is not a mapping")
    check_rules_file(path, data, extra)
    return data


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Later files add labels, prefixes, allowlist entries and rules (lists are appended)."""
    merged = dict(base)
    for section in SECTIONS:
        if section in extra:
            combined = dict(merged.get(section, {}))
            for key, value in extra[section].items():
                if isinstance(value, list):
                    combined[key] = list(combined.get(key, [])) + value
                else:
                    combined[key] = value
            merged[section] = combined
    merged["rules"] = list(base.get("rules", [])) + list(extra.get("rules", []))
    for key in ("pairing_window", "label_separator"):  # shipped files only: check_rules_file refuses extras
        if key in extra:
            merged[key] = extra[key]
    return merged


def rule_files(extra_dirs: tuple[Path, ...] = ()) -> list[tuple[Path, bool]]:
    """The shipped rule files, then each extra directory's: (path, is_extra)."""
    files = [(path, False) for path in sorted(default_rules_dir().glob("*.yaml"))]
    for directory in extra_dirs:
        if not directory.is_dir():
            raise StsleakError(f"rules directory not found: {directory}")
        files += [(path, True) for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))]
    return files


def load_ruleset(extra_dirs: tuple[Path, ...] = ()) -> RuleSet:
    files = rule_files(extra_dirs)
    if not files:
        raise StsleakError("no rule files found")
    data: dict[str, Any] = {}
    for path, extra in files:
        data = _merge(data, _read_yaml(path, extra)) if data else _read_yaml(path, extra)
    try:
        return compile_ruleset(data, tuple(path for path, _ in files))
    except (KeyError, TypeError, ValueError, re.error) as exc:
        raise StsleakError(f"invalid rules: {exc.__class__.__name__}: {exc}") from exc


def compile_ruleset(data: dict[str, Any], sources: tuple[Path, ...] = ()) -> RuleSet:
    rules = tuple(
        Rule(
            id=r["id"],
            description=r.get("description", ""),
            key_id_prefix=r["key_id_prefix"],
            parts=tuple(PartKind(p) for p in r.get("parts", [])),
            severity=r.get("severity", "error"),
            examples=tuple(r.get("examples", ())),
            negative_examples=tuple(r.get("negative_examples", ())),
        )
        for r in data["rules"]
    )
    key, secret, token = data["key_id"], data["secret"], data["session_token"]
    sep = data["label_separator"]
    b = key["boundary"]
    prefixes = _alternation([r.key_id_prefix for r in rules])
    key_id_re = re.compile(f"(?<!{b})(?:{prefixes}){key['body']}(?!{b})")
    s_alpha, s_len = secret["alphabet"], int(secret["length"])
    s_value = f"(?<![{s_alpha}])(?P<value>[{s_alpha}]{{{s_len}}})(?![{s_alpha}=])"
    t_alpha = token["alphabet"]
    return RuleSet(
        rules=rules,
        key_id_re=key_id_re,
        secret_labelled_re=re.compile(f"(?i:{_alternation(secret['labels'])}){sep}{s_value}"),
        secret_bare_re=re.compile(s_value),
        token_labelled_re=re.compile(
            f"(?i:{_alternation(token['labels'])}){sep}"
            f"(?P<value>[{t_alpha}]{{{int(token['min_length_labelled'])},}})"
        ),
        token_prefixed_re=re.compile(
            f"(?<![{t_alpha}])(?P<value>(?:{_alternation(token['prefixes'])})"
            f"[{t_alpha}]{{{int(token['min_length_prefixed'])},}})"
        ),
        token_run_re=re.compile(f"[{t_alpha}]*"),
        pairing_window=int(data["pairing_window"]),
        secret_min_entropy_labelled=float(secret["min_entropy_labelled"]),
        secret_min_entropy_unlabelled=float(secret["min_entropy_unlabelled"]),
        allow_substrings=tuple(data["allowlist"]["value_substrings"]),
        key_ids_without_digit_need_partner=bool(
            data["allowlist"].get("key_ids_without_digit_need_partner", True)
        ),
        word_like_min_vowels=int(data["allowlist"].get("word_like_min_vowels", 6)),
        word_like_max_entropy=float(data["allowlist"].get("word_like_max_entropy", 3.0)),
        sources=sources,
    )
