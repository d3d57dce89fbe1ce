"""Every rule's examples and negative examples, read from rules/*.yaml, plus account-id decoding."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.cli.rules import check_example, check_negative
from scanner.detection.account import account_id_from_key_id
from scanner.detection.rules import Rule, default_rules_dir
from scanner.testing import fakes
from tests.support.core import ruleset, scan_text


def _rule_docs() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in sorted(default_rules_dir().glob("*.yaml")):
        rules += yaml.safe_load(Path(path).read_text(encoding="utf-8")).get("rules", [])
    return rules


def _cases(field: str) -> list[Any]:
    cases = []
    for rule in ruleset().rules:
        for i, example in enumerate(getattr(rule, field)):
            cases.append(pytest.param(rule, example, id=f"{rule.id}-{i}"))
    return cases


@pytest.mark.parametrize(("rule", "example"), _cases("examples"))
def test_rule_example_is_found(rule: Rule, example: Any, rng: random.Random) -> None:
    """The same check `stsleak rules check` runs: one finding of the rule, each part whole."""
    assert check_example(rule, example, ruleset(), rng) is None


@pytest.mark.parametrize(("rule", "example"), _cases("negative_examples"))
def test_rule_negative_example_is_not_found(rule: Rule, example: str, rng: random.Random) -> None:
    assert check_negative(example, ruleset(), rng) is None


def test_every_rule_has_examples_and_negatives() -> None:
    for rule in _rule_docs():
        assert rule.get("examples"), rule["id"]
        assert rule.get("negative_examples"), rule["id"]


def test_every_placeholder_in_examples_is_filled(rng: random.Random) -> None:
    for rule in ruleset().rules:
        for example in (*rule.examples, *rule.negative_examples):
            text, _ = fakes.render_example(example if isinstance(example, str) else example["text"], rng)
            assert "{{" not in text, text


def test_the_checker_catches_a_wrong_example(rng: random.Random) -> None:
    rule = ruleset().rule_for("ASIA")
    assert check_example(rule, "nothing here", ruleset(), rng) is not None
    assert "missing" in str(check_example(rule, {"text": "key {{ASIA}}", "missing": []}, ruleset(), rng))
    assert "line" in str(check_example(rule, {"text": "\n{{ASIA}}", "missing": ["secret", "session_token"],
                                               "line": 1}, ruleset(), rng))
    assert check_negative("key {{ASIA}}", ruleset(), rng) is not None


@pytest.mark.parametrize("account", [0, 1, 123456789012, 999999999999, 40000000000])
def test_account_id_round_trip(account: int, rng: random.Random) -> None:
    for prefix in ("ASIA", "AKIA"):
        key = fakes.key_id(prefix, rng, account=account)
        assert account_id_from_key_id(key) == f"{account:012d}"


def test_account_id_known_vector() -> None:
    # Published example (Aidan Steele, "Using AWS access key ids to find account ids"); joined at
    # run time so the self-scan does not see a key id in this file (it rebuilds "A" + "B").
    assert account_id_from_key_id("".join(("ASIA", "Y34FZKBOKMUTVV7A"))) == "609629065308"
    # Hand-built: 6 bytes = 1 bit (masked away) + account 123456789012 + 7 low bits, base32.
    assert account_id_from_key_id("ASIA" + "RZPUZDIK" + "A" * 8) == "123456789012"


@pytest.mark.parametrize("fifth", ["I", "J"])
def test_account_id_unknown_for_old_ids(fifth: str, rng: random.Random) -> None:
    key = fakes.key_id("AKIA", rng)
    assert account_id_from_key_id(key[:4] + fifth + key[5:]) is None


def test_account_id_beyond_twelve_digits_is_unknown() -> None:
    # 40 bits hold numbers up to 1,099,511,627,775; no account id has 13 digits.
    assert account_id_from_key_id("ASIA" + "7777777777777777") is None


def test_account_id_reported_in_findings(rng: random.Random) -> None:
    key = fakes.key_id("ASIA", rng, account=123456789012)
    (finding,) = scan_text(f"aws_access_key_id = {key}\n")
    assert finding.account_id == "123456789012"


def test_label_added_in_yaml_is_used_without_code_change(tmp_path: Path, rng: random.Random) -> None:
    from scanner.detection.rules import load_ruleset
    from scanner.model import Chunk, ScanStats
    from scanner.pipeline import findings_in_chunk

    (tmp_path / "extra.yaml").write_text("secret:\n  labels: [vault_blob]\nrules: []\n")
    key, secret = fakes.key_id("AKIA", rng), "".join("Q" if c.isdigit() else c for c in fakes.secret(rng))
    text = f"id {key}\nvault_blob {secret}\n".encode()
    shipped = findings_in_chunk(Chunk(text, "x"), ruleset(), ScanStats())
    extended = findings_in_chunk(Chunk(text, "x"), load_ruleset((tmp_path,)), ScanStats())
    assert [f.secret for f in shipped] == [None]  # unlabelled and no digit: not a secret
    assert [f.secret for f in extended] == [secret]
