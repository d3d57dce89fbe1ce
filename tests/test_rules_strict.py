"""Rule files are strict, extra rule files only add, and `stsleak rules check` runs every example."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.detection.rule_schema import check_allow_entry
from scanner.detection.rules import load_ruleset
from scanner.errors import StsleakError
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)


def _rules_dir(tmp_path: Path, text: str, name: str = "extra.yaml") -> Path:
    directory = tmp_path / "rules"
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")
    return directory


@pytest.mark.parametrize(("text", "named"), [
    ("rulez: []\n", "unknown key rulez"),
    ("secret:\n  lables: [vault]\n", "unknown key secret.lables"),
    ("allowlist:\n  value_substring: [MYCOMPANYPLACEHOLDER]\n", "unknown key allowlist.value_substring"),
    ("rules:\n  - id: x\n    key_id_prefix: AXYZ\n    exampels: []\n", "rule x: unknown key exampels"),
    ("rules:\n  - id: x\n    key_id_prefix: AXYZ\n    examples: [{txt: a}]\n", "rule x: examples[0] must be"),
    ("rules:\n  - id: x\n    key_id_prefix: AXYZ\n    examples: [{text: a, mising: []}]\n", "unknown key mising"),
    ("rules:\n  - id: x\n    key_id_prefix: AXYZ\n    parts: [password]\n", "rule x: parts must list"),
    ("secret: [a]\n", "secret must be a mapping"),
    ("secret:\n  labels: vault\n", "secret.labels must be a list"),
])
def test_unknown_or_malformed_key_is_one_line_naming_file_and_key(tmp_path: Path, text: str, named: str) -> None:
    directory = _rules_dir(tmp_path, text)
    for command in (("scan", "--rules-dir", str(directory), str(tmp_path)),
                    ("rules", "check", "--rules-dir", str(directory))):
        run = stsleak(*command, cwd=tmp_path)
        assert run.code == 2, run.stderr
        (line,) = run.stderr.splitlines()
        assert line.startswith("stsleak: error: rules file ") and str(directory / "extra.yaml") in line
        assert named in line


@pytest.mark.parametrize("text", [
    "key_id:\n  body: '[A-Z]{1}'\n",
    "key_id:\n  boundary: 'x'\n",
    "label_separator: 'NEVER'\n",
    "pairing_window: 1\n",
    "secret:\n  min_entropy_labelled: 9\n",
    "secret:\n  length: 41\n",
    "session_token:\n  min_length_labelled: 100000\n",
    "allowlist:\n  word_like_min_vowels: 0\n",
    "allowlist:\n  key_ids_without_digit_need_partner: false\n",
])
def test_extra_file_cannot_replace_the_grammar_the_separators_or_the_windows(tmp_path: Path, text: str) -> None:
    with pytest.raises(StsleakError, match="cannot be changed by an extra rules file"):
        load_ruleset((_rules_dir(tmp_path, text),))


@pytest.mark.parametrize("entry", ["A", "ASIA", "1234567", "e"])
def test_short_allowlist_entry_is_refused(tmp_path: Path, entry: str) -> None:
    directory = _rules_dir(tmp_path, f"allowlist:\n  value_substrings: [{entry!r}]\n")
    run = stsleak("scan", "--rules-dir", str(directory), str(tmp_path), cwd=tmp_path)
    assert run.code == 2 and "shorter than 8 characters" in run.stderr and len(run.stderr.splitlines()) == 1


def test_allowlist_entry_matching_random_values_is_refused(tmp_path: Path) -> None:
    # With the length floor lowered, the generated-values test is what refuses these.
    for entry in ("A", "2", "Q"):
        with pytest.raises(StsleakError, match=r"matches \d+ of 800 random key ids and secrets"):
            check_allow_entry(tmp_path / "x.yaml", entry, min_length=1)
    check_allow_entry(tmp_path / "x.yaml", "MYCOMPANYPLACEHOLDER")  # long and specific: fine


def test_extra_file_may_add_labels_prefixes_allowlist_entries_and_rules(tmp_path: Path) -> None:
    directory = _rules_dir(tmp_path, """
version: 1
secret:
  labels: [vault_blob]
session_token:
  labels: [vault_token]
  prefixes: [IQoJb3JpZ2lv]
allowlist:
  value_substrings: [MYCOMPANYPLACEHOLDER]
rules:
  - id: corp-test-key
    key_id_prefix: AXYZ
    parts: [secret]
    examples:
      - "corp_key = {{AXYZ}}\\nvault_blob = {{SECRET}}\\n"
    negative_examples:
      - "corp_key = AXYZMYCOMPANYPLACEHOLDER"
""")
    rules = load_ruleset((directory,))
    assert "corp-test-key" in [r.id for r in rules.rules] and "MYCOMPANYPLACEHOLDER" in rules.allow_substrings
    run = stsleak("rules", "check", "--rules-dir", str(directory), cwd=tmp_path)
    assert run.code == 0, run.stdout + run.stderr
    shipped = len(load_ruleset().rules)
    assert f"{shipped + 1} rules from 2 file(s)" in run.stdout and "passed" in run.stdout


def test_rules_check_passes_on_the_shipped_rules(tmp_path: Path) -> None:
    run = stsleak("rules", "check", cwd=tmp_path)
    assert run.code == 0 and "FAIL" not in run.stdout and "all " in run.stdout, run.stdout + run.stderr


def test_rules_check_fails_on_a_failing_example_and_names_it(tmp_path: Path) -> None:
    directory = _rules_dir(tmp_path, """
rules:
  - id: corp-broken
    key_id_prefix: AXYZ
    parts: [secret]
    examples:
      - "corp_key = {{AXYZ}} and no secret at all"
    negative_examples:
      - "aws_access_key_id = {{ASIA}}"
""")
    run = stsleak("rules", "check", "--rules-dir", str(directory), cwd=tmp_path)
    assert run.code == 1, run.stdout + run.stderr
    fails = [line for line in run.stdout.splitlines() if line.startswith("FAIL ")]
    assert len(fails) == 2
    assert fails[0].startswith("FAIL corp-broken examples[0]: missing: expected nothing, got ['secret']")
    assert fails[1].startswith("FAIL corp-broken negative_examples[0]: expected no finding, got: aws-temporary")
    assert "2 of " in run.stdout


def test_rules_help_has_examples(tmp_path: Path) -> None:
    run = stsleak("rules", "check", "--help", cwd=tmp_path)
    assert run.code == 0 and "stsleak rules check --rules-dir" in run.stdout


def test_extra_rule_needs_a_key_id_prefix(tmp_path: Path) -> None:
    with pytest.raises(StsleakError, match="rule x: key_id_prefix must be a non-empty string"):
        load_ruleset((_rules_dir(tmp_path, "rules:\n  - id: x\n    parts: [secret]\n"),))
