"""No input can make a scan slow or its result depend on how it was read (issue 9, section 3).

Property-based: hypothesis builds adversarial texts (long runs of whitespace, quotes and
backslashes after labels, label spam, key-id spam, base64 runs, split-value joints, a mix) and
checks that a scan never fails and finds the same sets whether the text is scanned whole, read
through the stdin source in pieces of any size, or padded. No timing is asserted here: the
figures are in bench/adversarial.py.
"""

from __future__ import annotations

import copy
import io
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.detection.rules import compile_ruleset, default_rules_dir
from scanner.errors import StsleakError
from scanner.model import Chunk, Finding, ScanStats
from scanner.pipeline import findings_in_chunk
from scanner.sources import stdin
from scanner.testing import fakes
from tests.support.core import ruleset, scan_text

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B64 = fakes._B64

key_ids = st.builds(lambda p, body: p + body, st.sampled_from(["ASIA", "AKIA", "ABIA"]),
                    st.text(_B32, min_size=16, max_size=16))
secrets = st.randoms(use_true_random=False).map(lambda r: fakes.secret(r))
tokens = st.randoms(use_true_random=False).map(lambda r: fakes.session_token("IQoJ", r.randrange(80, 600), r))
labels = st.sampled_from(["aws_secret_access_key", "SecretAccessKey", "secret", "token", "aws_session_token",
                          "SessionToken", "value", "AccessKeyId", "x-amz-security-token"])
runs = st.builds(lambda ch, n: ch * n, st.sampled_from([" ", "\t", "\n", '"', "'", "\\", "=", ":", "+", "/", "A"]),
                 st.integers(1, 400))
base64_runs = st.text(_B64, min_size=30, max_size=600)
glue = st.sampled_from([" = ", ": ", '": "', "=>", ",", "\n", '" +\n "', "'\n '", "\\\n", "%2F", "\\u002F", " "])
pieces = st.one_of(key_ids, secrets, tokens, labels, runs, base64_runs, glue)
texts = st.lists(pieces, min_size=1, max_size=40).map("".join)

_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _sets(findings: list[Finding], shift: int = 0) -> list[tuple[Any, ...]]:
    return sorted((f.rule, f.access_key_id, f.secret, f.session_token, f.line - shift) for f in findings)


class _Trickle(io.RawIOBase):
    """A stream that hands out a few bytes per read, like a slow pipe."""

    def __init__(self, data: bytes, rng: random.Random) -> None:
        self._data, self._at, self._rng = data, 0, rng

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = min(size if size >= 0 else len(self._data), self._rng.randrange(1, 9))
        piece = self._data[self._at:self._at + n]
        self._at += len(piece)
        return piece


def _via_stdin(data: bytes, seed: int, max_size: int = 1 << 20) -> list[Finding]:
    stats = ScanStats()
    chunks = list(stdin.iter_stdin_chunks(stats, max_size, [], _Trickle(data, random.Random(seed))))  # type: ignore[arg-type]
    return [f for chunk in chunks for f in findings_in_chunk(chunk, ruleset(), stats)]


@_SETTINGS
@given(texts, st.integers(0, 1000))
def test_adversarial_text_scans_the_same_whole_streamed_and_padded(text: str, seed: int) -> None:
    data = text.encode("utf-8")
    whole = findings_in_chunk(Chunk(data=data, path="t"), ruleset(), ScanStats())
    assert _sets(_via_stdin(data, seed)) == _sets(whole)
    assert _sets(scan_text("\n\n\n" + text, "t"), shift=3) == _sets(whole)
    assert _sets(scan_text(text + "\n" + " " * 50 + "\n", "t")) == _sets(whole)


@_SETTINGS
@given(st.lists(st.one_of(key_ids, labels, runs, glue), min_size=1, max_size=60).map("".join))
def test_label_and_key_id_spam_never_fails(text: str) -> None:
    for finding in scan_text(text * 3):
        assert finding.line >= 1


@pytest.mark.parametrize("run", [" " * 20_000, "\t \n" * 7_000, "\"'" * 10_000, "\\" * 20_000, "=" * 20_000])
def test_runs_after_a_label_finish(run: str, rng: random.Random) -> None:
    """The shapes that backtracked cubically before (33 s for 2,400 spaces) scan in one pass."""
    key = fakes.key_id("ASIA", rng)
    for label in ("secret", "aws_secret_access_key", "token", "SessionToken"):
        findings = scan_text(f"{key}\n{label}{run}x\n")
        assert [f.access_key_id for f in findings] == [key]


def test_key_id_per_line_file_is_found_whole(rng: random.Random) -> None:
    keys = [fakes.key_id("ASIA", rng) for _ in range(10_000)]
    findings = scan_text("\n".join(keys) + "\n")
    assert [f.access_key_id for f in findings] == keys
    assert [f.line for f in findings] == list(range(1, len(keys) + 1))


def test_key_ids_on_one_long_line_get_line_one(rng: random.Random) -> None:
    keys = [fakes.key_id("ASIA", rng) for _ in range(5_000)]
    findings = scan_text(" ".join(keys))
    assert len(findings) == len(keys) and {f.line for f in findings} == {1}


def test_stdin_larger_than_max_size_is_skipped_with_a_note() -> None:
    stats, notes = ScanStats(), []
    chunks = list(stdin.iter_stdin_chunks(stats, 1000, notes, io.BytesIO(b"x" * 5000)))
    assert chunks == [] and stats.skipped == {"too-large": 1}
    assert "max-file-size" in notes[0]


def test_stdin_read_stops_at_the_limit() -> None:
    """An endless stream (/dev/zero) is not read past the limit."""
    class Endless(io.RawIOBase):
        read_total = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            Endless.read_total += size
            return b"\0" * size

    assert stdin.read_bounded(Endless(), 3 * stdin.PIECE) is None  # type: ignore[arg-type]
    assert Endless.read_total == 3 * stdin.PIECE + 1


def test_a_separator_that_could_backtrack_is_refused() -> None:
    import yaml

    data = yaml.safe_load((default_rules_dir() / "aws.yaml").read_text(encoding="utf-8"))
    bad = copy.deepcopy(data)
    bad["label_separator"]["gap"] = "\\s=\"'"  # "=" is also an operator: two ways to match it
    with pytest.raises(TypeError, match="not linear"):
        compile_ruleset(bad)
    for value in ("[\\s\"']*\\s*", None):
        broken = copy.deepcopy(data)
        broken["label_separator"] = value
        with pytest.raises((TypeError, StsleakError)):
            compile_ruleset(broken)
