"""Load the detection rules (rules/*.yaml) and compile them once into a RuleSet."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
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
class LabelTail:
    """Labelled values found from one anchor (a substring every such label holds, e.g. "secret").

    `pattern` is matched where the anchor ends: the rest of the label, the separator, the value —
    one anchored match per place the anchor occurs, never a search.
    """

    anchor: str
    pattern: re.Pattern[str]
    heads: dict[str, tuple[str, ...]]  # rest of a label -> the label beginnings it goes with, longest first

    def label_at(self, text: str, at: int, rest: str) -> str | None:
        """The label whose anchor is at `at` and which ends with `rest`, or None."""
        for head in self.heads.get(rest.lower(), ()):
            if at >= len(head) and text[at - len(head):at].lower() == head:
                return head + self.anchor + rest.lower()
        return None


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    key_id_re: re.Pattern[str]
    secret_labelled_re: re.Pattern[str]
    secret_bare_re: re.Pattern[str]
    token_labelled_re: re.Pattern[str]
    token_prefixed_re: re.Pattern[str]
    token_run_re: re.Pattern[str]  # the token alphabet, to finish a token cut at a search bound
    secret_run_char_re: re.Pattern[str]  # one character that would make a 40-char run longer
    secret_label_tails: tuple[LabelTail, ...]  # labelled secrets, found from their labels' anchors
    token_label_tails: tuple[LabelTail, ...]
    token_prefixes: tuple[str, ...]
    secret_labels: frozenset[str]  # lower case
    token_labels: frozenset[str]
    token_value_re: re.Pattern[str]  # a whole token, to read a file that holds only one
    generic_labels: frozenset[str]  # labels that do not name AWS alone: no secret-only finding
    pairing_window: int
    pairing_lines: int  # parts may also stand this many lines from the key id ...
    pairing_max_reach: int  # ... but never further than this many characters
    secret_min_entropy_labelled: float
    secret_min_entropy_unlabelled: float
    allow_substrings: tuple[str, ...]
    key_ids_without_digit_need_partner: bool
    word_like_min_vowels: int
    word_like_max_entropy: float
    sources: tuple[Path, ...] = field(default=())
    token_allow_substrings: tuple[str, ...] = ()  # documentation example tokens' markers (EXAMPLE)
    key_id_boundary: str = "[A-Za-z0-9]"  # a character glued to a key id's prefix makes it none
    token_body: str = "A-Za-z0-9/+"  # a token's characters (a class's content): one before its prefix glues it
    secret_alphabet: str = "A-Za-z0-9/+"  # a secret's characters (a class's content)
    shortest_labelled_value: int = 40  # the fewest characters a labelled secret or token holds

    @property
    def key_id_prefixes(self) -> tuple[str, ...]:
        return tuple(rule.key_id_prefix for rule in self.rules if rule.key_id_prefix)

    def rule_for(self, key_id: str) -> Rule:
        rule = self._rule_by_prefix.get(key_id[:4])  # one dict lookup: called once per key id found
        if rule is not None:
            return rule
        for rule in self.rules:
            if rule.key_id_prefix and key_id.startswith(rule.key_id_prefix):
                return rule
        raise KeyError(key_id)

    @cached_property
    def ascii_anchors(self) -> bool:
        """Every label anchor is ASCII (detection may then lower-case Latin-1 text as bytes)."""
        return all(tail.anchor.isascii() for tail in self.secret_label_tails + self.token_label_tails)

    @cached_property
    def _rule_by_prefix(self) -> dict[str, Rule]:
        """The rules by key-id prefix when every prefix is four letters (AWS's all are; the first rule
        wins, as in the loop); empty otherwise, so that a shorter or longer prefix keeps the loop's order."""
        prefixes = [rule.key_id_prefix for rule in self.rules if rule.key_id_prefix]
        if any(len(prefix) != 4 for prefix in prefixes):
            return {}
        by_prefix: dict[str, Rule] = {}
        for rule in self.rules:
            if rule.key_id_prefix:
                by_prefix.setdefault(rule.key_id_prefix, rule)
        return by_prefix

    @property
    def without_key_id(self) -> Rule | None:
        """The rule for a labelled secret or a session token with no key id near (no key_id_prefix)."""
        return next((rule for rule in self.rules if not rule.key_id_prefix), None)


def _alternation(words: list[str]) -> str:
    # Longest first, so "aws_secret_access_key" wins over "secret".
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _key_id_pattern(prefixes: list[str], boundary: str, body: str) -> str:
    """A key id not inside a longer word. When every prefix starts with one character (AWS's all
    start with "A"), the pattern starts with it and the lookbehind follows: `re` then jumps from one
    "A" to the next instead of trying each position (28x faster over 20 MB of source code)."""
    firsts = {prefix[:1] for prefix in prefixes}
    if len(firsts) == 1 and "" not in firsts:
        first = re.escape(firsts.pop())
        rests = _alternation([prefix[1:] for prefix in prefixes])
        return f"{first}(?<!{boundary}{first})(?:{rests}){body}(?!{boundary})"
    return f"(?<!{boundary})(?:{_alternation(prefixes)}){body}(?!{boundary})"


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
    for key in ("pairing_window", "pairing_lines", "pairing_max_reach", "label_separator"):  # shipped files only
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


def _separator(spec: Any, value_alphabets: tuple[str, ...]) -> str:
    """The label separator, built so that it runs in linear time (rules/aws.yaml, label_separator).

    gap* (operator gap*)? ("}" gap*)? (value_key gap* operator gap*)?  — the gap class shares no
    character with an operator, "}", the value key or any value alphabet, so every character has
    one way to be matched and a failed match backtracks over each character at most once.
    """
    if not isinstance(spec, dict):
        raise TypeError("label_separator must be a mapping of gap, operators and value_key")
    gap_class = re.compile(f"[{spec['gap']}]")
    operators, value_key = [str(op) for op in spec["operators"]], str(spec["value_key"])
    starts = [op[0] for op in operators] + ["}", *value_key]
    starts += [chr(c) for c in range(32, 127) if any(re.fullmatch(f"[{a}]", chr(c)) for a in value_alphabets)]
    shared = sorted({c for c in starts if gap_class.fullmatch(c)})
    if shared:
        raise TypeError(f"label_separator gap shares {''.join(shared)!r} with an operator or a value: not linear")
    gap, ops = f"[{spec['gap']}]*", f"(?:{_alternation(operators)})"
    return f"{gap}(?:{ops}{gap})?(?:\\}}{gap})?(?:{re.escape(value_key)}{gap}{ops}{gap})?"


def _anchors(labels: list[str]) -> tuple[str, ...]:
    """The labels no other label lies inside: every label holds one, so finding them finds all."""
    words = {w.lower() for w in labels}
    return tuple(sorted(w for w in words if not any(o != w and o in w for o in words)))


def _tails(labels: list[str], sep: str, value: str) -> tuple[LabelTail, ...]:
    words = {w.lower() for w in labels}
    tails = []
    for anchor in _anchors(labels):
        heads: dict[str, list[str]] = {}
        for word in words:
            at = word.find(anchor)
            if at >= 0:
                heads.setdefault(word[at + len(anchor):], []).append(word[:at])
        rests = "|".join(re.escape(r) for r in sorted(heads, key=len, reverse=True))
        tails.append(LabelTail(anchor, re.compile(f"(?i:(?P<rest>{rests})){sep}{value}"),
                               {r: tuple(sorted(h, key=len, reverse=True)) for r, h in heads.items()}))
    return tuple(tails)


def _token_body(alphabet: str) -> str:
    """The token alphabet without "=": base64 padding only ends a token, so a run never restarts."""
    return alphabet.replace("=", "")


def compile_ruleset(data: dict[str, Any], sources: tuple[Path, ...] = ()) -> RuleSet:
    rules = tuple(
        Rule(
            id=r["id"],
            description=r.get("description", ""),
            key_id_prefix=r.get("key_id_prefix") or "",
            parts=tuple(PartKind(p) for p in r.get("parts", [])),
            severity=r.get("severity", "error"),
            examples=tuple(r.get("examples", ())),
            negative_examples=tuple(r.get("negative_examples", ())),
        )
        for r in data["rules"]
    )
    key, secret, token = data["key_id"], data["secret"], data["session_token"]
    b = key["boundary"]
    key_id_re = re.compile(_key_id_pattern([r.key_id_prefix for r in rules if r.key_id_prefix], b, key["body"]))
    s_alpha, s_len = secret["alphabet"], int(secret["length"])
    s_value = f"(?<![{s_alpha}])(?P<value>[{s_alpha}]{{{s_len}}})(?![{s_alpha}=])"
    t_body = _token_body(token["alphabet"])
    sep = _separator(data["label_separator"], (s_alpha, t_body))
    # Every pattern is linear: each value starts where a run starts (a lookbehind on its own
    # alphabet), holds one character class and ends with at most a "=" padding run.
    t_min = int(token["min_length_labelled"])
    t_value = f"(?<![{t_body}])(?P<value>[{t_body}]{{{t_min},}}=*)"
    return RuleSet(
        rules=rules,
        key_id_re=key_id_re,
        secret_labelled_re=re.compile(f"(?i:(?P<label>{_alternation(secret['labels'])})){sep}{s_value}"),
        secret_bare_re=re.compile(s_value),
        token_labelled_re=re.compile(
            f"(?i:(?P<label>{_alternation(token['labels'])})){sep}" + t_value
        ),
        token_prefixed_re=re.compile(
            f"(?<![{t_body}])(?P<value>(?:{_alternation(token['prefixes'])})"
            f"[{t_body}]{{{int(token['min_length_prefixed'])},}}=*)"
        ),
        token_run_re=re.compile(f"[{t_body}]*=*"),
        secret_run_char_re=re.compile(f"[{s_alpha}=]"),
        secret_label_tails=_tails(secret["labels"], sep, s_value),
        token_label_tails=_tails(token["labels"], sep, t_value),
        token_prefixes=tuple(token["prefixes"]),
        secret_labels=frozenset(w.lower() for w in secret["labels"]),
        token_labels=frozenset(w.lower() for w in token["labels"]),
        token_value_re=re.compile(f"[{t_body}]{{{t_min},}}=*"),
        generic_labels=frozenset(w.lower() for w in data.get("generic_labels", [])),
        pairing_window=int(data["pairing_window"]),
        pairing_lines=int(data.get("pairing_lines", 0)),
        pairing_max_reach=int(data.get("pairing_max_reach", data["pairing_window"])),
        secret_min_entropy_labelled=float(secret["min_entropy_labelled"]),
        secret_min_entropy_unlabelled=float(secret["min_entropy_unlabelled"]),
        allow_substrings=tuple(data["allowlist"]["value_substrings"]),
        key_ids_without_digit_need_partner=bool(
            data["allowlist"].get("key_ids_without_digit_need_partner", True)
        ),
        word_like_min_vowels=int(data["allowlist"].get("word_like_min_vowels", 6)),
        word_like_max_entropy=float(data["allowlist"].get("word_like_max_entropy", 3.0)),
        sources=sources,
        token_allow_substrings=tuple(data["allowlist"].get("token_substrings", ())),
        key_id_boundary=b,
        token_body=t_body,
        secret_alphabet=s_alpha,
        shortest_labelled_value=min(s_len, t_min),
    )
