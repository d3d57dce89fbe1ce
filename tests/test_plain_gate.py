"""The plain reading's gate (scanner/detection/gate.py) changes no finding.

`Decoders(..., plain_gate(rules))` skips a text's plain reading (unescape, split values rebuilt,
detection) when its bytes say it cannot yield a finding. Property-based: hypothesis builds texts
from labels in any case, anchors, escapes of label and prefix characters (every spelling
unescape() reads, nested up to its three rounds), key ids (documented examples too), secrets,
tokens, separators, printf formats and noise, and checks that a scan finds the same sets and
counts the same silenced ones with the gate as without it, in both of the gate's modes: before
the decoders' Hyperscan database is built (the gate's groups and escapes found in Python) and
after (found by Hyperscan). The one case the gate may lose on purpose (a prefix or a label cut in
two by a string concatenation, gate.py's docstring) is recognised and only held to "no more".
"""

from __future__ import annotations

import base64
import os
import random
import string
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.detection.decoders.escapes import unescape
from scanner.detection.decoders.expand import ArchiveLimits, Decoders
from scanner.detection.decoders.literals import UNSEARCHED, LiteralGroups
from scanner.detection.decoders.strings import readable
from scanner.detection.decoding import to_text
from scanner.detection.gate import PlainGate, plain_gate
from scanner.detection.joins import join_split_values
from scanner.detection.rules import RuleSet, load_ruleset
from scanner.model import Chunk, Finding, ScanStats
from scanner.pipeline import findings_in_chunk
from scanner.silencing.own_artifacts import without_own_echoes
from scanner.testing import fakes
from tests.support.core import ruleset

RULES = ruleset()
Seen = tuple[list[tuple[str, str | None, int, str, str | None, str | None]], dict[str, int], dict[str, int]]


# --- scanning as the pipeline does (_scan_chunks), with and without the gate ------------------------

def _scan(decoders: Decoders, data: bytes, path: str | None, rules: RuleSet = RULES) -> Seen:
    """The findings (a stable projection) and what the scan counted as silenced and skipped."""
    stats = ScanStats()

    def found(chunk: Chunk) -> list[Finding]:
        findings = findings_in_chunk(chunk, rules, stats)
        return without_own_echoes(chunk.data, findings, stats) if findings else findings

    findings = decoders.findings(Chunk(data=data, path=path), found, stats)
    return (sorted((f.rule, f.path, f.line, f.access_key_id, f.secret, f.session_token) for f in findings),
            dict(stats.suppressed), dict(stats.skipped))


@contextmanager
def _python_mode() -> Iterator[None]:
    """Hyperscan out of sight: LiteralGroups.present() reports UNSEARCHED (a fresh Decoders, one small
    text) and the gate's _Escapes searches with a regex. Nothing imports Hyperscan meanwhile."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delitem(sys.modules, "hyperscan", raising=False)
        yield


def _gate(rules: RuleSet = RULES) -> PlainGate:
    gate = plain_gate(rules)
    assert gate is not None
    return gate


def _ungated(data: bytes, path: str | None, rules: RuleSet = RULES) -> Seen:
    return _scan(Decoders(rules.key_id_prefixes, ArchiveLimits()), data, path, rules)


def _gated_python(gate: PlainGate, data: bytes, path: str | None, rules: RuleSet = RULES) -> tuple[Seen, bool]:
    """The gated scan and the gate's answer, both in Python mode. `gate`: one only ever used here."""
    with _python_mode():
        decoders = Decoders(rules.key_id_prefixes, ArchiveLimits(), gate)
        said = gate.may_yield(Chunk(data=data, path=path), None)
        seen = _scan(decoders, data, path, rules)
        assert decoders._literals._db.get() is None and gate.escapes._db.get() is None  # Python mode indeed
    return seen, said


class _Hyperscan:
    """A gated Decoders in Hyperscan mode (its database is built once: reused for every text), and
    the gate's answer from the groups Hyperscan reports."""

    def __init__(self, rules: RuleSet = RULES) -> None:
        pytest.importorskip("hyperscan")
        self.rules = rules
        self.gate = _gate(rules)
        self.decoders = Decoders(rules.key_id_prefixes, ArchiveLimits(), self.gate)
        self._groups = LiteralGroups({}, self.gate.expressions)
        assert UNSEARCHED not in self._groups.present(b"")  # Hyperscan is loaded: the database is built

    def scan(self, data: bytes, path: str | None) -> tuple[Seen, bool]:
        said = self.gate.may_yield(Chunk(data=data, path=path), self._groups.present(data))
        return _scan(self.decoders, data, path, self.rules), said


_HYPERSCAN: dict[int, _Hyperscan] = {}  # by id(rules): one database per rule set


def _hyperscan_for(rules: RuleSet = RULES) -> _Hyperscan:
    if id(rules) not in _HYPERSCAN:
        _HYPERSCAN[id(rules)] = _Hyperscan(rules)
    return _HYPERSCAN[id(rules)]


@pytest.fixture(scope="module")
def hyperscan_mode() -> _Hyperscan:
    return _hyperscan_for()


# --- the documented loss: a prefix or a label cut in two by a concatenation ---------------------------

_WORDS = sorted({w.lower() for w in RULES.secret_labels | RULES.token_labels} - RULES.generic_labels)
_PREFIXES = tuple(RULES.key_id_prefixes) + tuple(RULES.token_prefixes)


def _holds(text: str, prefix_or_label: str) -> bool:
    return prefix_or_label in text if prefix_or_label in _PREFIXES else prefix_or_label in text.lower()


def _cut_by_a_joint(data: bytes, path: str | None) -> bool:
    """Whether rebuilding split values makes a prefix or a label the unescaped text did not hold (the
    one case gate.py's docstring lets the gate lose)."""
    text = to_text(readable(Chunk(data=data, path=path), ScanStats()).data)
    if text is None:
        return False
    plain = unescape(text)
    joined = join_split_values(plain)
    return any(_holds(joined, word) and not _holds(plain, word) for word in (*_PREFIXES, *_WORDS))


def _assert_same(gated: Seen, ungated: Seen, data: bytes, path: str | None) -> None:
    if gated == ungated:
        return
    assert _cut_by_a_joint(data, path), f"the gate changed the scan of {data!r} at {path!r}"
    assert set(gated[0]) <= set(ungated[0]), "the gate added a finding"


# --- fragments --------------------------------------------------------------------------------------

def _escapes(char: str) -> list[str]:
    """Every spelling unescape() turns into `char`, once or nested (it undoes three rounds)."""
    code = ord(char)
    if code > 0xFF:  # only the spellings that hold a code this long
        return [f"\\u{code:04x}", f"\\u{{{code:X}}}", f"\\U{code:08x}", f"&#x{code:x};", f"&#{code};",
                f"\\\\u{code:04X}", f"&amp;#{code};"]
    forms = []
    for h in (f"{code:02x}", f"{code:02X}"):
        forms += [f"\\x{h}", f"\\u00{h}", f"\\u{{{h}}}", f"\\u{{0000{h}}}", f"\\U000000{h}", f"%{h}",
                  f"&#x{h};", f"&#X0{h};", f"\\\\x{h}", f"\\\\\\\\u00{h}", f"%25{h}", f"%5Cx{h}",
                  f"&amp;#x{h};", f"\\\\u{{{h}}}",
                  # an escape finished by the next round: its last digit itself escaped
                  f"%{h[0]}%{ord(h[1]):02x}", f"\\x{h[0]}&#{ord(h[1])};", f"&#x{h[0]}%{ord(h[1]):02X};"]
    forms += [f"\\{code:03o}", f"\\\\{code:03o}", f"&#{code};", f"&#00{code};", f"&amp;#{code};"]
    if char == "_":
        forms += ["&lowbar;", "&amp;lowbar;"]
    return forms


# Also the non-ASCII letters detection reads as ASCII ones: U+212A KELVIN SIGN is a `k` to str.lower(),
# U+0130, U+0131 an `i` and U+017F LONG S an `s` to a caseless regex (used once U+0130 is in the text).
_FOLDS = {"k": "\u212a", "i": "\u0130\u0131", "s": "\u017f"}
_LABEL_CHARS = sorted({c for word in (*_WORDS, *RULES.generic_labels) for c in word} | set(string.ascii_letters)
                      | set("".join(_FOLDS.values())))
_ESCAPED = st.sampled_from(_LABEL_CHARS).flatmap(lambda c: st.sampled_from(_escapes(c)))


def _escaped_at(word: str, positions: list[int], spell: Callable[[str], str]) -> str:
    return "".join(spell(c) if i in positions else c for i, c in enumerate(word))


@st.composite
def _labels(draw: st.DrawFn) -> str:
    """A label (AWS's or generic) in some case, maybe with characters escaped (the first, the last, any)."""
    word = draw(st.sampled_from(sorted({w.lower() for w in RULES.secret_labels | RULES.token_labels})))
    case = draw(st.sampled_from([str.lower, str.upper, str.title, str.swapcase, lambda w: w[:1].upper() + w[1:]]))
    word = case(word)
    positions = draw(st.one_of(st.just([]), st.just([0]), st.just([len(word) - 1]),
                               st.lists(st.integers(0, len(word) - 1), max_size=3)))
    picks = {i: draw(st.sampled_from([*_escapes(word[i]), *(form for fold in _FOLDS.get(word[i].lower(), "")
                                                            for form in _escapes(fold))])) for i in positions}
    return "".join(picks.get(i, c) for i, c in enumerate(word))


_RANDOM = st.integers(0, 1 << 30).map(random.Random)  # a seed: fast to draw and to shrink


def _unknown_issuer_token(rng: random.Random) -> str:
    """Token-shaped, with an STS-like header naming another issuer: no known prefix, yet a token
    after a label that names AWS (filters.lacks_token_header)."""
    raw = bytes([0x17, 0x0A, 0x06]) + b"zz/aws" + bytes(rng.getrandbits(8) for _ in range(rng.randrange(90, 200)))
    return base64.b64encode(raw).decode()


def _key_id(prefix: str, rng: random.Random) -> str:
    return fakes.key_id(prefix, rng)


_KEY_IDS = st.one_of(
    st.builds(_key_id, st.sampled_from(["ASIA", "AKIA", "ABIA", "ACCA", "AROA"]), _RANDOM),
    st.sampled_from(["AKIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPLE", "ASIAPACIFICREGIONALX"]),  # allowlisted, word-like
    st.builds(lambda k, e: e + k[1:], st.builds(_key_id, st.sampled_from(["ASIA", "AKIA"]), _RANDOM),
              st.sampled_from(_escapes("A"))),  # an escaped first letter
    st.builds(lambda k, e: k[:2] + e + k[3:], st.builds(_key_id, st.just("ASIA"), _RANDOM),
              st.sampled_from(_escapes("I"))),  # an escaped third letter
)
_SECRETS = st.one_of(
    _RANDOM.map(fakes.secret),
    st.builds(lambda s, e: s.replace("/", e), _RANDOM.map(fakes.secret), st.sampled_from(["\\/", "\\u002F", "%2F"])),
    st.just("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),  # AWS's documented example: allowlisted
)
_TOKENS = st.one_of(
    st.builds(lambda r, p: fakes.session_token(p, r.randrange(120, 400), r), _RANDOM,
              st.sampled_from(sorted(fakes.TOKEN_PREFIXES))),
    st.builds(lambda r, p: fakes.session_token(p, 300, r)[4:], _RANDOM, st.just("FQoG")),  # no header
    _RANDOM.map(_unknown_issuer_token),
    st.builds(lambda t, e: e + t[1:], st.builds(lambda r: fakes.session_token("FQoG", 200, r), _RANDOM),
              st.sampled_from(_escapes("F"))),  # an escaped first letter
)
_ANCHORS = st.sampled_from(["secret", "token", "Secret", "TOKEN", "Token", "tokens", "secrets", "secretary"])
_SEPARATORS = st.sampled_from([" = ", ": ", "=", '"', "'", '": "', "\n", "\r\n", " ", "\t", ", ", "{", "}",
                               "[default]\n", "=>", "(", "\\n", "\\t", '\\"', "value: ", "\n- name: "])
_JOINTS = st.sampled_from(['" + "', "' +\n '", '"\n "', "\\\n", "\\\n  "])
_PRINTF = st.sampled_from(['"%4d "', "%s", "%-5s", "%%", "%d\\n", "%02x", "%1$s", "100%", "%.3f", '"%*d"',
                           "%zu", "%ld", "%5.2f%%"])
_GLUE = st.sampled_from(["\\", "%", "&", "#", ";", "&#", "\\\\", "%25", "&amp;", "{", "}", "x", "u",
                         # escapes that end in a letter or digit and make a blank or a slash (a key id's
                         # prefix glued to them in the bytes stands apart once they are unescaped)
                         "%2F", "\\x2F", "\\u002F", "\\U0000002F", "\\057", "%252F", "\\x20", "%20"])
_NOISE = st.text(string.ascii_letters + string.digits + " _-.:=/+,()[]<>!?@$*\n\té", max_size=14)
_MARKERS = st.sampled_from(["  # stsleak:allow", "  // pragma: allowlist secret"])
_FRAGMENTS = st.one_of(_labels(), _ANCHORS, _ESCAPED, _KEY_IDS, _SECRETS, _TOKENS, _SEPARATORS, _JOINTS, _PRINTF,
                       _GLUE, _NOISE, _MARKERS)
_PATHS = st.sampled_from(["t.txt", "src/main.c", "aws_secret_access_key", "AWS_SESSION_TOKEN", "secret", "token",
                          "secrets/aws_secret_key", None])


def _encode(text: str, how: str) -> bytes:
    if how == "utf-16":
        return text.encode("utf-16")  # with its BOM
    if how == "utf-16-le":
        return text.encode("utf-16-le")
    data = text.encode("latin-1", "replace")
    return b"\x7fELF\x02\x01\x00\x00" + data.replace(b"\n", b"\x00") if how == "binary" else data


@st.composite
def _texts(draw: st.DrawFn) -> tuple[bytes, str | None]:
    text = "".join(draw(st.lists(_FRAGMENTS, min_size=1, max_size=14)))
    how = draw(st.sampled_from(["latin-1"] * 12 + ["utf-16", "utf-16-le", "binary"]))
    return _encode(text, how), draw(_PATHS)


# GATE_EXAMPLES=3000 for a longer search (the red-team pass ran 3,000 per mode and seed)
_SETTINGS = settings(max_examples=int(os.environ.get("GATE_EXAMPLES", "200")), deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


# --- the properties ---------------------------------------------------------------------------------

@_SETTINGS
@given(_texts())
def test_python_mode_changes_no_finding(case: tuple[bytes, str | None]) -> None:
    data, path = case
    with _python_mode():
        ungated = _ungated(data, path)
    gated, _ = _gated_python(_gate(RULES), data, path)
    _assert_same(gated, ungated, data, path)


@_SETTINGS
@given(case=_texts())
def test_hyperscan_mode_changes_no_finding_and_agrees(hyperscan_mode: _Hyperscan,
                                                      case: tuple[bytes, str | None]) -> None:
    data, path = case
    gated, said = hyperscan_mode.scan(data, path)
    with _python_mode():  # (a fresh Decoders would build its Hyperscan database for one text)
        ungated = _ungated(data, path)
    _assert_same(gated, ungated, data, path)
    _, said_in_python = _gated_python(_gate(RULES), data, path)
    assert said == said_in_python, f"the gate's two modes disagree on {data!r}"


def test_the_fragments_unescape_to_their_character() -> None:
    for char in _LABEL_CHARS:
        for form in _escapes(char):
            assert unescape(form) == char, form


# --- examples -----------------------------------------------------------------------------------------

def _both_modes(data: bytes, path: str | None, rules: RuleSet = RULES) -> tuple[Seen, list[bool]]:
    """The scan without the gate; each gated scan must match it. Returns it and the gate's answers."""
    with _python_mode():
        ungated = _ungated(data, path, rules)
    gated, said = _gated_python(_gate(rules), data, path, rules)
    assert gated == ungated
    answers = [said]
    if _hyperscan_installed():
        gated, said = _hyperscan_for(rules).scan(data, path)
        assert gated == ungated
        answers.append(said)
    return ungated, answers


def _hyperscan_installed() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("spell", [lambda c: f"\\x{ord(c):02x}", lambda c: f"\\u{ord(c):04X}",
                                   lambda c: f"\\u{{{ord(c):x}}}", lambda c: f"\\U{ord(c):08x}",
                                   lambda c: f"\\{ord(c):03o}", lambda c: f"%{ord(c):02X}",
                                   lambda c: f"&#x{ord(c):x};", lambda c: f"&#{ord(c)};",
                                   lambda c: f"\\\\x{ord(c):02x}", lambda c: f"%25{ord(c):02x}",
                                   lambda c: f"&amp;#{ord(c)};"],
                         ids=["x", "u", "u-braces", "U", "octal", "percent", "hex-ref", "dec-ref", "doubled",
                              "percent-twice", "amp-twice"])
@pytest.mark.parametrize(("label", "where"), [("aws_secret_access_key", [3, 10, 17]), ("secret_key", [0]),
                                              ("secretkey", [8]), ("aws_secret", [9]),
                                              ("AWS_SECRET_ACCESS_KEY", [0, 20])],
                         ids=["underscores", "first", "last", "anchor-last", "upper"])
def test_an_escaped_label_is_read(creds: fakes.FakeCredentials, spell: Callable[[str], str], label: str,
                                  where: list[int]) -> None:
    """No whole label in the bytes (the anchor `token` elsewhere, or the label's own `secret` cut by
    an escape): the escape beside a label character lets the text through, and it is found."""
    text = f"# token\n{_escaped_at(label, where, spell)} = {creds.secret_access_key}\n"
    found, answers = _both_modes(text.encode(), "config.txt")
    assert [(f[0], f[4]) for f in found[0]] == [("aws-secret-without-key-id", creds.secret_access_key)]
    assert all(answers)


def test_a_percent_escaped_label_beside_a_token_word(creds: fakes.FakeCredentials) -> None:
    text = f"token refresh every 5 minutes\n%61ws_secret_access_key={creds.secret_access_key}\n"
    found, answers = _both_modes(text.encode(), "app.env")
    assert [f[4] for f in found[0]] == [creds.secret_access_key] and all(answers)


def test_a_token_word_with_printf_formats_is_skipped() -> None:
    """`token` and `"%4d "` (an escape-like `%4d` between a quote and a blank): nothing an escape could
    make a label or prefix of, so the plain reading is skipped — and would have found nothing."""
    text = ('printf("token %4d ", n);\nprintf("%-5s|%d\\n", name, count);\n'
            'fprintf(stderr, "bad token: %s (%02x)\\n", tok, c);\n')
    found, answers = _both_modes(text.encode(), "src/lexer.c")
    assert found == ([], {}, {})
    assert answers and not any(answers)


def test_a_file_named_for_a_label_is_read(creds: fakes.FakeCredentials) -> None:
    """A Docker secret: the file's name is the label, the content only the value (no anchor at all)."""
    found, answers = _both_modes(f"{creds.secret_access_key}\n".encode(), "run/secrets/aws_secret_access_key")
    assert [(f[0], f[4]) for f in found[0]] == [("aws-secret-without-key-id", creds.secret_access_key)]
    assert all(answers)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_utf16_or_utf32_text_is_read(creds: fakes.FakeCredentials, encoding: str) -> None:
    """Its bytes are not its characters (no ASCII label among them): always read."""
    text = f"aws_secret_access_key = {creds.secret_access_key}\r\n"
    found, answers = _both_modes(text.encode(encoding), "creds.txt")
    assert [f[4] for f in found[0]] == [creds.secret_access_key] and all(answers)


def test_a_label_in_a_binary_is_read(creds: fakes.FakeCredentials) -> None:
    data = b"\x7fELF\x02\x01\x00\x00AWS_SECRET_ACCESS_KEY=" + creds.secret_access_key.encode() + b"\x00HOME=/root\x00"
    found, answers = _both_modes(data, "core.dump")
    assert [f[4] for f in found[0]] == [creds.secret_access_key] and all(answers)


def test_an_sts_token_after_the_generic_label(creds: fakes.FakeCredentials) -> None:
    assert creds.session_token
    found, _ = _both_modes(f"token: {creds.session_token}\n".encode(), "notes.md")
    assert [(f[0], f[5]) for f in found[0]] == [("aws-secret-without-key-id", creds.session_token)]


def test_a_secret_after_the_generic_label_alone_is_nothing(creds: fakes.FakeCredentials) -> None:
    found, _ = _both_modes(f"secret: {creds.secret_access_key}\ntoken: none\n".encode(), "notes.md")
    assert found[0] == []


@pytest.mark.parametrize("key_id", ["AKIAIOSFODNN7EXAMPLE", "\\x41KIAIOSFODNN7EXAMPLE", "%41KIAIOSFODNN7EXAMPLE"])
def test_allowlisted_key_ids_are_counted_alike(key_id: str) -> None:
    """The documented example key id (escaped or not) beside `token`: silenced and counted the same."""
    text = f"token = none\naws_access_key_id = {key_id}\n"
    found, _ = _both_modes(text.encode(), "README.md")
    assert found[0] == []


def test_an_escaped_key_id_beside_a_token_word(creds: fakes.FakeCredentials) -> None:
    text = f'token\nkey = "\\u0041{creds.access_key_id[1:]}"\n'
    found, answers = _both_modes(text.encode(), "x.json")
    assert [f[3] for f in found[0]] == [creds.access_key_id] and all(answers)


def test_custom_labels_and_anchors(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    """An extra rules file's label that holds no shipped anchor is an anchor of its own; one that
    holds one is a label the gate looks for; escaped, either is read."""
    (tmp_path / "extra.yaml").write_text("version: 1\nsecret:\n  labels: [vault_sak, secret_blob_value]\n")
    rules = load_ruleset((tmp_path,))
    for text in (f"VAULT_SAK={creds.secret_access_key}\n", f"token\n\\x76ault_sak={creds.secret_access_key}\n",
                 f"token\nsecret\\x5fblob_value: {creds.secret_access_key}\n",
                 f"token\nsecret_blob_valu&#101;: {creds.secret_access_key}\n"):
        found, answers = _both_modes(text.encode(), "x.cfg", rules)
        assert [f[4] for f in found[0]] == [creds.secret_access_key], text
        assert all(answers), text


# --- the known limit (gate.py's docstring) -----------------------------------------------------------

def test_known_limit_a_prefix_cut_by_a_concatenation_is_not_read(rng: random.Random) -> None:
    """gate.py's docstring: a key-id prefix cut in two by a string concatenation (`"AS" + "IA…"`) in a
    text that holds no whole prefix or label and no escape beside one is no longer read: the gate
    says no, where the anchor `token` alone used to let the text through. (Split after its prefix,
    `"ASIAJ4JX" + "GQ3…"`, a value is rebuilt as before.) This pins the limit down, not a wish."""
    key_id = fakes.key_id("ASIA", rng)
    text = f'# token\nKEY = "{key_id[:2]}" + "{key_id[2:]}"\n'.encode()
    gate = _gate(RULES)
    with _python_mode():
        assert not gate.may_yield(Chunk(data=text, path="cut.js"), None)
        ungated = _ungated(text, "cut.js")
    assert [f[3] for f in ungated[0]] == [key_id]  # read without the gate: the joint rebuilt the prefix
    gated, _ = _gated_python(_gate(RULES), text, "cut.js")
    assert gated[0] == []
    assert _cut_by_a_joint(text, "cut.js")  # the property tests hold this case to "no more" only
    whole = f'# token\nKEY = "{key_id[:8]}" + "{key_id[8:]}"\n'.encode()
    assert [f[3] for f in _gated_python(_gate(RULES), whole, "cut.js")[0][0]] == [key_id]


# --- found by the red-team pass: letters detection folds, custom labels, the replaced content --------

@pytest.mark.parametrize("label", ["secret\\u212aey", "secret_\\u{212a}ey", "aws-secret-access-\\U0000212Aey",
                                   "SECRET_&#x212A;EY", "secretaccess&#8490;ey"])
def test_an_escaped_kelvin_sign_is_read(creds: fakes.FakeCredentials, label: str) -> None:
    """U+212A lower-cases to `k`: once unescaped it makes a label that names AWS."""
    found, answers = _both_modes(f"{label} = {creds.secret_access_key}\n".encode(), "cfg.txt")
    assert [(f[0], f[4]) for f in found[0]] == [("aws-secret-without-key-id", creds.secret_access_key)]
    assert all(answers)


@pytest.mark.parametrize("text", ["# token\n&#304; &#383;ecret_key = {s}\n", "token \\u0130\n\\u017fecretkey: {s}\n"])
def test_an_escaped_long_s_is_read(creds: fakes.FakeCredentials, text: str) -> None:
    """U+0130 makes detection search case-insensitively, where U+017F matches `s`."""
    found, answers = _both_modes(text.format(s=creds.secret_access_key).encode(), "cfg.txt")
    assert [f[4] for f in found[0]] == [creds.secret_access_key] and all(answers)


@pytest.mark.parametrize(("label", "text"), [
    ("secret access key", '{{"secret\\taccess\\tkey": "{s}"}}\n'),
    ("secret access key", '{{"secret\\naccess key": "{s}"}}\n'),
    ("aws:secret", "aws&colon;secret = {s}\n"),
    ("creds/secret", '{{"creds\\/secret": "{s}"}}\n'),
])
def test_custom_labels_with_what_other_escapes_make(tmp_path: Path, creds: fakes.FakeCredentials, label: str,
                                                   text: str) -> None:
    """A label holding a blank, a colon or a slash: `\\t`, `\\n`, `&colon;`, `\\/` make them."""
    (tmp_path / "extra.yaml").write_text(f"version: 1\nsecret:\n  labels: [{label!r}]\n")
    rules = load_ruleset((tmp_path,))
    found, answers = _both_modes(text.format(s=creds.secret_access_key).encode(), "x.json", rules)
    assert [f[4] for f in found[0]] == [creds.secret_access_key] and all(answers)


def test_custom_labels_outside_ascii_turn_the_gate_off(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    """Detection reads Latin-1 and lower-cases it whole; the gate's search is ASCII: no gate at all."""
    (tmp_path / "extra.yaml").write_text("version: 1\nsecret:\n  labels: ['clé_secret']\n", encoding="utf-8")
    rules = load_ruleset((tmp_path,))
    assert plain_gate(rules) is None
    for text in (f"clé_secret = {creds.secret_access_key}\n", f"CLÉ_SECRET = {creds.secret_access_key}\n"):
        with _python_mode():
            decoders = Decoders(rules.key_id_prefixes, ArchiveLimits(), plain_gate(rules))
            found = _scan(decoders, text.encode("latin-1"), "x.cfg", rules)
        assert [f[4] for f in found[0]] == [creds.secret_access_key], text


def test_the_replaced_content_of_a_staged_file_is_read_whole(rng: random.Random,
                                                             creds: fakes.FakeCredentials) -> None:
    """A set the replaced content held only where the gate does not look (a prefix cut by a
    concatenation) is not new when a staged change writes it base64-encoded: what a change replaces
    is read whole (Decoders.findings reads it without the gate; findings_in_chunk compares a view's
    sets with it too)."""
    key_id = fakes.key_id("ASIA", rng)
    old = f'# token\nKEY = "{key_id[:2]}" + "{key_id[2:]}"\nSECRET = "{creds.secret_access_key}"\n'.encode()
    inner = f"aws_access_key_id = {key_id}\naws_secret_access_key = {creds.secret_access_key}\n"
    new = f"config: {base64.b64encode(inner.encode()).decode()}\n".encode()
    stats = ScanStats()

    def found(chunk: Chunk) -> list[Finding]:
        return findings_in_chunk(chunk, RULES, stats)

    with _python_mode():
        assert Decoders(RULES.key_id_prefixes, ArchiveLimits()).findings(Chunk(data=new, path="c.yaml"), found, stats)
        decoders = Decoders(RULES.key_id_prefixes, ArchiveLimits(), _gate(RULES))
        assert decoders.findings(Chunk(data=new, path="c.yaml", previous=old), found, stats) == []


# --- prefixes glued to what stands before them ------------------------------------------------------

def test_a_glued_prefix_in_compressed_bytes_is_not_read(rng: random.Random) -> None:
    """psf/requests' Illustrator file: `ABIA` inside a base64 JPEG, and `%4b`, `%7D` between bytes
    that spell nothing: no key id can start there, so its 2 MB are not unescaped and searched."""
    body = fakes.key_id("ABIA", rng)[4:]
    data = (b"\x89\xba" * 40 + b"kZJRgABAgEASABIAAD/7QAsUGhvdG9zaG9wIABIA" + body.encode() + b"zz\x98%4b\x8d\r%7D525"
            + bytes(rng.getrandbits(8) | 1 for _ in range(200)))
    found, answers = _both_modes(data, "logo.ai")
    assert found[0] == [] and answers and not any(answers)


@pytest.mark.parametrize("before", ["%2F", "\\x2F", "\\u002F", "\\U0000002F", "\\057", "%252F", " ", "=", ""])
def test_a_prefix_after_an_escape_or_a_separator_is_read(creds: fakes.FakeCredentials, before: str) -> None:
    found, answers = _both_modes(f"{before}{creds.access_key_id}\n".encode(), "x.txt")
    assert [f[3] for f in found[0]] == [creds.access_key_id] and all(answers)


def test_a_glued_prefix_and_an_escaped_token_opening_elsewhere(rng: random.Random) -> None:
    """The text holds `ASIA` glued into a run (so it was read whole before the gate) and an STS token
    whose first letter is escaped: the escape beside the token's characters lets it through."""
    token = fakes.session_token("FwoG", 200, rng)
    text = f"blob=ZZASIA{fakes.key_id('ASIA', rng)[4:]}Q\nx = \\x46{token[1:]}\n"
    found, answers = _both_modes(text.encode(), "x.txt")
    assert [f[5] for f in found[0]] == [token] and all(answers)


def test_a_glued_prefix_and_an_escaped_key_id_elsewhere(rng: random.Random, creds: fakes.FakeCredentials) -> None:
    """With a plain prefix in the text the escaped key-id view is not built (the plain reading
    unescapes): so a glued one still has the text read."""
    text = f"blob=ZZASIA{fakes.key_id('ASIA', rng)[4:]}Q\nkey = \\x41{creds.access_key_id[1:]}\n"
    found, _ = _both_modes(text.encode(), "x.txt")
    assert creds.access_key_id in [f[3] for f in found[0]]


# --- found by the second red-team pass: a `+` that becomes a space, an escape inside an escape --------

def test_a_plus_before_a_token_opening_in_a_url_encoded_query(rng: random.Random) -> None:
    """unescape() makes a `+` in a URL-encoded query value a space: a token opening glued to it stands."""
    token = fakes.session_token("FQoG", 200, rng).replace("/", "%2F").replace("+", "%2B")
    found, answers = _both_modes(f"https://example.com/cb?state=abc+{token}%20\n".encode(), "x.txt")
    assert len(found[0]) == 1 and all(answers)


@pytest.mark.parametrize("spelled", ["%4%31", "\\\\%7841", "\\%7841", "\\x4\\x31", "\\u%30041", "&#x%341;", "%4&#49;",
                                     "\\x4&#x31;", "\\\\x%341"])
def test_an_escape_that_finishes_another(rng: random.Random, spelled: str) -> None:
    """`%4%31` is `%41` after one round and `A` after the next: the `1` finishes an escape begun before it."""
    key_id = fakes.key_id("ASIA", rng)
    assert unescape(spelled) == "A"
    found, answers = _both_modes(f"token {spelled}{key_id[1:]}\n".encode(), "x.txt")
    assert [f[3] for f in found[0]] == [key_id] and all(answers)


def test_an_escape_inside_an_escape_before_a_glued_prefix(rng: random.Random) -> None:
    """`\\U&#x30;000002F` is `/` after two rounds: the prefix after it stands, though its opener is far."""
    key_id = fakes.key_id("ASIA", rng)
    found, answers = _both_modes(f"\\U&#x30;000002F{key_id}\n".encode(), "x.txt")
    assert [f[3] for f in found[0]] == [key_id] and all(answers)


def test_an_escape_inside_an_escape_in_a_label(creds: fakes.FakeCredentials) -> None:
    found, answers = _both_modes(f"token\nsecretaccess%6%62ey={creds.secret_access_key}\n".encode(), "x.txt")
    assert [f[4] for f in found[0]] == [creds.secret_access_key] and all(answers)


def test_a_custom_blank_label_spelled_with_plus_in_a_query(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    (tmp_path / "extra.yaml").write_text("version: 1\nsecret:\n  labels: ['secret access key']\n")
    rules = load_ruleset((tmp_path,))
    secret = creds.secret_access_key.replace("/", "%2F").replace("+", "%2B")
    found, answers = _both_modes(f"?q=secret+access+key%3A{secret}\n".encode(), "x.txt", rules)
    assert [f[4] for f in found[0]] == [creds.secret_access_key] and all(answers)


# --- a label with no value after it ------------------------------------------------------------------

def test_a_label_without_a_value_long_enough_is_not_read() -> None:
    """A Flask setting: `SECRET_KEY = 'dev'` and `os.urandom(24)` hold no run a value could be."""
    text = "app.config['SECRET_KEY'] = 'dev'\napp.secret_key = os.urandom(24)\nSECRET_KEY = \"change me\"\n"
    found, answers = _both_modes(text.encode(), "app.py")
    assert found[0] == [] and answers and not any(answers)


@pytest.mark.parametrize("spelled", ["{s}", '"{a}" +\n    "{b}"', "'{a}'\n'{b}'", "{a}\\\n{b}", "{e}"])
def test_a_label_with_a_value_split_or_escaped_is_read(creds: fakes.FakeCredentials, spelled: str) -> None:
    """The value may be written in pieces (joints) or with escapes: a run through them counts."""
    secret = creds.secret_access_key
    value = spelled.format(s=secret, a=secret[:17], b=secret[17:], e=secret.replace("/", "\\/").replace("+", "%2B"))
    found, answers = _both_modes(f"SECRET_KEY = {value}\n".encode(), "settings.py")
    assert [f[4] for f in found[0]] == [secret] and all(answers)


# --- found by the final review: escaped quotes in joints, long zero padding, hostile shapes -----------

@pytest.mark.parametrize("joint", ['\\" + \\"', "&quot; + &quot;", '\\\\\\" + \\\\\\"', '\\"\n    \\"'])
def test_a_value_split_with_escaped_quotes_is_read(creds: fakes.FakeCredentials, joint: str) -> None:
    """A notebook's or an HTML page's code: the quotes of the joint are escapes until unescaped."""
    secret = creds.secret_access_key
    text = f'{{"source": ["aws_secret_access_key = \\"{secret[:20]}{joint}{secret[20:]}\\"\\n"]}}\n'
    found, answers = _both_modes(text.encode(), "notebook.ipynb")
    assert [f[4] for f in found[0]] == [secret] and all(answers)


@pytest.mark.parametrize("spelled", ["&#x0000000000%341;", "&#0000000%365;", "\\\\u{0000000000%341}"])
def test_an_escape_finishing_a_long_one(rng: random.Random, spelled: str) -> None:
    key_id = fakes.key_id("ASIA", rng)
    assert unescape(spelled) == "A"
    found, answers = _both_modes(f"token {spelled}{key_id[1:]}\n".encode(), "x.txt")
    assert [f[3] for f in found[0]] == [key_id] and all(answers)


def test_a_custom_blank_label_with_a_short_hex_newline(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    (tmp_path / "extra.yaml").write_text("version: 1\nsecret:\n  labels: ['secret access key']\n")
    rules = load_ruleset((tmp_path,))
    found, answers = _both_modes(f"secret&#xA;access key = {creds.secret_access_key}\n".encode(), "x.txt", rules)
    assert [f[4] for f in found[0]] == [creds.secret_access_key] and all(answers)


@pytest.mark.parametrize("data", [b"SECRET_KEY = " + b'"' * 39 + b"xxxxx\n", b'SECRET_KEY a"' + b" " * 20_000 + b"\n",
                                  b"token " + b"\\" * 40_000 + b"\n", b"token\n" + b"x%4b " * 20_000])
def test_hostile_shapes_cost_their_length(data: bytes) -> None:
    """Runs of quotes, blanks, backslashes and of escapes that spell nothing: the gate's patterns take
    each whole (no backtracking in `re`), and past 256 escapes a text is read anyway. (Their time is
    measured in bench/adversarial.py, not here.)"""
    found, _ = _both_modes(data, "x.txt")
    assert found[0] == []
