"""`stsleak rules check`: run every example and negative example of the shipped rules and the user's.

An example is a template: {{ASIA}}, {{SECRET}}, {{TOKEN}}, … are filled with fake credentials
generated at run time (scanner/testing/fakes.py), so no rules file holds a live-looking value.
A string example must give exactly one finding of its rule with every part present; a mapping
{text, missing, line, encode, within} names the parts that must be reported missing, the line of
the finding, and how the text is encoded before it is scanned (`encode: [utf-16-le, base64]`,
`within: "powershell -EncodedCommand {}"`). Examples are scanned as a file is, decoders included.
A negative example must give no finding at all.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.cli.groups import one_action
from scanner.detection.decoders.expand import ArchiveLimits, Decoders
from scanner.detection.rules import Rule, RuleSet, load_ruleset, rule_files
from scanner.errors import ExitCode
from scanner.model import Chunk, Finding, PartKind, ScanStats, sha256_hex
from scanner.pipeline import findings_in_chunk
from scanner.testing import fakes

EPILOG = """examples:
  stsleak rules check                       the shipped rules
  stsleak rules check --rules-dir my-rules  the shipped rules and yours (YAML files in my-rules/)

exit codes: 0 every example passes, 1 an example fails, 2 a rules file is invalid
"""


@dataclass(frozen=True)
class ExampleFailure:
    rule: str
    field: str  # examples | negative_examples
    index: int
    reason: str

    def __str__(self) -> str:
        return f"{self.rule} {self.field}[{self.index}]: {self.reason}"


def _scan(text: str | bytes, rules: RuleSet) -> list[Finding]:
    """The example as a file's content is scanned: through the decoders (base64, archives, ...)."""
    stats = ScanStats()
    data = text.encode("utf-8") if isinstance(text, str) else text
    decoders = Decoders(rules.key_id_prefixes, ArchiveLimits())
    return decoders.findings(Chunk(data, "example.txt"), lambda c: findings_in_chunk(c, rules, stats), stats)


def _describe(findings: list[Finding]) -> str:
    return ", ".join(f"{f.rule} {f.access_key_id} (missing {f.missing or 'nothing'})" for f in findings) or "none"


def check_example(rule: Rule, example: Any, rules: RuleSet, rng: random.Random) -> str | None:
    """Why a positive example fails, or None when it passes. Reasons never hold a secret."""
    template = example if isinstance(example, str) else example["text"]
    missing = [] if isinstance(example, str) else list(example.get("missing", []))
    text, values = fakes.render_example(template, rng)
    steps = [] if isinstance(example, str) else list(example.get("encode", []))
    found = _scan(fakes.encode_example(text, steps, example.get("within", "{}")) if steps else text, rules)
    mine = [f for f in found if f.rule == rule.id]
    if len(mine) != 1:
        return f"expected one finding of {rule.id}, got: {_describe(found)}"
    (finding,) = mine
    if rule.key_id_prefix and finding.access_key_id != values.get(rule.key_id_prefix):
        return f"found key id {finding.access_key_id}, not the example's {{{{{rule.key_id_prefix}}}}}"
    if finding.missing != missing:
        return f"missing: expected {missing or 'nothing'}, got {finding.missing or 'nothing'}"
    secret, token = fakes.expected_parts(template, values)
    if "secret" not in missing and finding.secret_sha256 != (secret and sha256_hex(secret)):
        return "the secret found is not the example's"
    takes_token = PartKind.SESSION_TOKEN in rule.parts
    if takes_token and "session_token" not in missing and finding.session_token_sha256 != (token and sha256_hex(token)):
        return "the session token found is not the example's"
    if not takes_token and finding.session_token is not None:
        return f"a session token was paired with {rule.id}, whose credentials have none"
    if isinstance(example, dict) and "line" in example and finding.line != example["line"]:
        return f"line: expected {example['line']}, got {finding.line}"
    return None


def check_negative(example: str, rules: RuleSet, rng: random.Random) -> str | None:
    found = _scan(fakes.render_example(example, rng)[0], rules)
    return f"expected no finding, got: {_describe(found)}" if found else None


def check_examples(rules: RuleSet, rng: random.Random | None = None) -> list[ExampleFailure]:
    rng = rng or random.Random()
    failures = []
    for rule in rules.rules:
        for i, example in enumerate(rule.examples):
            if reason := check_example(rule, example, rules, rng):
                failures.append(ExampleFailure(rule.id, "examples", i, reason))
        for i, negative in enumerate(rule.negative_examples):
            if reason := check_negative(negative, rules, rng):
                failures.append(ExampleFailure(rule.id, "negative_examples", i, reason))
    return failures


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    check = one_action(sub, "rules", "check", (
        "check detection rules: run every example and negative example",
        "Work with detection rules (rules/*.yaml and --rules-dir).",
        "run every example and negative example; exit 1 on a failure"), EPILOG)
    check.add_argument("--rules-dir", action="append", default=[], metavar="DIR",
                       help="also check the rules in DIR (YAML files, merged with the shipped rules)")
    return check


def run(args: argparse.Namespace) -> ExitCode:
    dirs = tuple(Path(d) for d in args.rules_dir)
    rules = load_ruleset(dirs)  # a malformed file: StsleakError, exit 2
    failures = check_examples(rules)
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stdout)
    examples = sum(len(r.examples) + len(r.negative_examples) for r in rules.rules)
    files = len(rule_files(dirs))
    verdict = f"{len(failures)} of {examples} failed" if failures else f"all {examples} passed"
    print(f"{len(rules.rules)} rules from {files} file(s), examples: {verdict}")
    return ExitCode.FINDINGS if failures else ExitCode.CLEAN
