"""What a rules file may say: every key is known, and an extra file only adds.

The shipped rules (rules/*.yaml) define the grammar: the key-id pattern, the separators, the
pairing window, the thresholds. A rules file from --rules-dir or a config's rules_dir may come
from the repository being scanned, so it may only ADD: labels, token prefixes, rules and
allowlist entries — and an allowlist entry must not be able to hide ordinary credentials.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from scanner.errors import StsleakError
from scanner.model import PartKind

SECTIONS: dict[str, frozenset[str]] = {
    "key_id": frozenset({"body", "boundary"}),
    "secret": frozenset({"length", "alphabet", "labels", "min_entropy_labelled", "min_entropy_unlabelled"}),
    "session_token": frozenset({"alphabet", "min_length_labelled", "min_length_prefixed", "labels", "prefixes"}),
    "allowlist": frozenset({"value_substrings", "token_substrings", "key_ids_without_digit_need_partner",
                            "word_like_min_vowels", "word_like_max_entropy"}),
}
# The grammar and the windows: set by the shipped files only. (pairing_lines, pairing_max_reach and
# generic_labels are named here for the linear-time rules that add them.)
SCALARS = frozenset({"version", "label_separator", "pairing_window", "pairing_lines", "pairing_max_reach",
                     "generic_labels"})
TOP_KEYS = frozenset(SECTIONS) | SCALARS | {"rules"}
RULE_KEYS = frozenset({"id", "description", "key_id_prefix", "parts", "severity", "examples", "negative_examples",
                       "references"})
EXAMPLE_KEYS = frozenset({"text", "missing", "line", "encode", "within"})
MISSING_NAMES = frozenset({"secret", "session_token", "access_key_id"})
# What an extra rules file may add to (lists, appended); everything else is the shipped grammar.
ADDABLE = frozenset({("secret", "labels"), ("session_token", "labels"), ("session_token", "prefixes"),
                     ("allowlist", "value_substrings")})
MIN_ALLOW_LENGTH = 8
_SAMPLES = 400  # generated key ids and secrets an extra allowlist entry is tried against


def _fail(path: Path, message: str) -> StsleakError:
    return StsleakError(f"rules file {path}: {message}")


def _string_list(path: Path, where: str, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(path, f"{where} must be a list of non-empty strings")


def _check_section(path: Path, name: str, body: Any, extra: bool) -> None:
    if not isinstance(body, dict):
        raise _fail(path, f"{name} must be a mapping")
    for key, value in body.items():
        if key not in SECTIONS[name]:
            raise _fail(path, f"unknown key {name}.{key}")
        if extra and (name, key) not in ADDABLE:
            raise _fail(path, f"{name}.{key} cannot be changed by an extra rules file "
                        "(it may add labels, token prefixes, allowlist entries and rules)")
        if (name, key) in ADDABLE:
            _string_list(path, f"{name}.{key}", value)


def _check_example(path: Path, where: str, example: Any, negative: bool) -> None:
    if isinstance(example, str):
        return
    if negative or not isinstance(example, dict) or not isinstance(example.get("text"), str):
        kind = "a string" if negative else "a string or a mapping with text"
        raise _fail(path, f"{where} must be {kind}")
    for key in example:
        if key not in EXAMPLE_KEYS:
            raise _fail(path, f"{where}: unknown key {key}")
    missing = example.get("missing", [])
    if not isinstance(missing, list) or any(m not in MISSING_NAMES for m in missing):
        raise _fail(path, f"{where}: missing must list parts ({', '.join(sorted(MISSING_NAMES))})")
    if "line" in example and (not isinstance(example["line"], int) or isinstance(example["line"], bool)):
        raise _fail(path, f"{where}: line must be a number")
    from scanner.testing.fakes import EXAMPLE_ENCODINGS

    steps = example.get("encode", [])
    if not isinstance(steps, list) or any(step not in EXAMPLE_ENCODINGS for step in steps):
        raise _fail(path, f"{where}: encode must list steps ({', '.join(EXAMPLE_ENCODINGS)})")
    within = example.get("within", "{}")
    if not isinstance(within, str) or within.count("{}") != 1:
        raise _fail(path, f"{where}: within must be a string holding {{}} once (where the encoded text goes)")


def _check_rule(path: Path, index: int, rule: Any, extra: bool) -> None:
    if not isinstance(rule, dict):
        raise _fail(path, f"rules[{index}] must be a mapping")
    name = f"rule {rule.get('id', index)}"
    for key in rule:
        if key not in RULE_KEYS:
            raise _fail(path, f"{name}: unknown key {key}")
    if not isinstance(rule.get("id"), str) or not rule["id"]:
        raise _fail(path, f"{name}: id must be a non-empty string")
    if ("key_id_prefix" in rule or extra) and (not isinstance(rule.get("key_id_prefix"), str)
                                               or not rule["key_id_prefix"]):
        raise _fail(path, f"{name}: key_id_prefix must be a non-empty string")
    parts = rule.get("parts", [])
    if not isinstance(parts, list) or any(p not in PartKind._value2member_map_ or p == "key_id" for p in parts):
        raise _fail(path, f"{name}: parts must list secret and/or session_token")
    for field in ("examples", "negative_examples"):
        examples = rule.get(field, [])
        if not isinstance(examples, list):
            raise _fail(path, f"{name}: {field} must be a list")
        for i, example in enumerate(examples):
            _check_example(path, f"{name}: {field}[{i}]", example, field == "negative_examples")


def check_allow_entry(path: Path, entry: str, min_length: int = MIN_ALLOW_LENGTH) -> None:
    """Refuse an allowlist entry that is short, or that matches generated key ids or secrets."""
    if len(entry) < min_length:
        raise _fail(path, f"allowlist entry {entry!r} is shorter than {min_length} characters: "
                    "it would hide real credentials")
    from scanner.testing import fakes

    rng = random.Random(0)
    needle = entry.upper()
    samples = [fakes.key_id(rng.choice(("ASIA", "AKIA")), rng) for _ in range(_SAMPLES)]
    samples += [fakes.secret(rng) for _ in range(_SAMPLES)]
    hits = sum(1 for value in samples if needle in value.upper())
    if hits > len(samples) // 100:
        raise _fail(path, f"allowlist entry {entry!r} matches {hits} of {len(samples)} random key ids and "
                    "secrets: it would hide real credentials")


def check_rules_file(path: Path, data: dict[str, Any], extra: bool) -> None:
    """Raise a one-line StsleakError naming the file and the key for anything not allowed."""
    for key in data:
        if key not in TOP_KEYS:
            raise _fail(path, f"unknown key {key}")
        if extra and key in SCALARS - {"version"}:
            raise _fail(path, f"{key} cannot be changed by an extra rules file "
                        "(it may add labels, token prefixes, allowlist entries and rules)")
    for name in SECTIONS:
        if name in data:
            _check_section(path, name, data[name], extra)
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        raise _fail(path, "rules must be a list")
    for i, rule in enumerate(rules):
        _check_rule(path, i, rule, extra)
    if extra:
        for entry in data.get("allowlist", {}).get("value_substrings", []):
            check_allow_entry(path, entry)
