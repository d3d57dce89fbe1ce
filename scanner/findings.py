"""The scan pipeline: source chunks -> detection -> pairing -> Findings (placed in history)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.account import account_id_from_key_id
from scanner.decoding import to_text, unescape
from scanner.detection import detect
from scanner.model import Chunk, Finding, ScanStats
from scanner.pairing import CredentialSet, pair
from scanner.rules import RuleSet

if TYPE_CHECKING:
    from scanner.provenance import Introduction

ALLOW_MARKERS = ("stsleak:allow", "pragma: allowlist secret")


@dataclass(frozen=True)
class ScanRequest:
    mode: str  # files | history | staged | stdin
    paths: tuple[Path, ...] = (Path("."),)
    since: str | None = None
    tips: tuple[str, ...] = ()  # with since: only commits reachable from these (default: every ref)
    max_size: int = 50 * 1024 * 1024
    exclude: tuple[str, ...] = ()
    use_hyperscan: bool = True


@dataclass
class ScanResult:
    findings: list[Finding]
    stats: ScanStats
    notes: list[str] = field(default_factory=list)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _line_text(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start : end if end >= 0 else len(text)]


def _allowed(text: str, cset: CredentialSet) -> bool:
    parts = [p for p in (cset.key, cset.secret, cset.token) if p is not None]
    return any(marker in _line_text(text, p.start) for p in parts for marker in ALLOW_MARKERS)


def credential_sets(data: bytes, rules: RuleSet) -> tuple[str, list[CredentialSet]] | None:
    """Decoded text and the credential sets in it; None when the data is binary."""
    raw = to_text(data)
    if raw is None:
        return None
    if not any(prefix in raw for prefix in rules.key_id_prefixes):
        return raw, []  # no key id, so nothing to pair: skip unescaping and detection
    text = unescape(raw)
    return text, pair(detect(text, rules), rules)


def _finding(cset: CredentialSet, text: str, chunk: Chunk, rules: RuleSet) -> Finding:
    rule = rules.rule_for(cset.key.value)
    return Finding(
        rule=rule.id,
        access_key_id=cset.key.value,
        secret=cset.secret.value if cset.secret else None,
        session_token=cset.token.value if cset.token else None,
        account_id=account_id_from_key_id(cset.key.value),
        path=chunk.path,
        line=_line_of(text, cset.key.start),
        blob=chunk.blob,
        commit=chunk.commit,
        author=chunk.author,
        date=chunk.date,
        expected_parts=rule.parts,
    )


def findings_in_chunk(chunk: Chunk, rules: RuleSet, stats: ScanStats) -> list[Finding]:
    found = credential_sets(chunk.data, rules)
    if found is None:
        stats.skip("binary")
        return []
    text, sets = found
    findings = [_finding(s, text, chunk, rules) for s in sets if not _allowed(text, s)]
    if findings and chunk.previous is not None:
        before = credential_sets(chunk.previous, rules)
        if before is not None:
            old = {s.values for s in before[1]}
            findings = [f for f in findings if f.credential_key not in old]
    return findings


def _scan_chunks(chunks: Iterable[Chunk], rules: RuleSet, stats: ScanStats) -> Iterator[Finding]:
    for chunk in chunks:
        yield from findings_in_chunk(chunk, rules, stats)


IntroductionLookup = Callable[[set[str]], "dict[str, list[Introduction]]"]


def place_in_history(findings: list[Finding], lookup: IntroductionLookup) -> list[Finding]:
    """One finding per path a blob was introduced at; one per (path, credential set), earliest.

    `lookup` maps blob ids to their introductions (HistoryScan.introductions, which git has been
    computing in the background while detection ran).
    """
    intros = lookup({f.blob for f in findings if f.blob})
    best: dict[tuple[str | None, tuple[str, str | None, str | None]], tuple[int, Finding]] = {}
    for finding in findings:
        placed = intros.get(finding.blob or "", [])
        options = [
            (i.timestamp, replace(finding, path=i.path, commit=i.commit, author=i.author, date=i.date))
            for i in placed
        ] or [(1 << 62, finding)]
        for stamp, candidate in options:
            key = (candidate.path, candidate.credential_key)
            if key not in best or stamp < best[key][0]:
                best[key] = (stamp, candidate)
    return [f for _, f in sorted(best.values(), key=lambda item: (item[0], item[1].path or "", item[1].line))]


def drop_sets_present_at(repo: Path, rev: str, findings: list[Finding], rules: RuleSet) -> list[Finding]:
    """--since REV: a set that was already at that path in REV's tree was not introduced after REV."""
    from scanner.sources.gitcmd import BlobReader

    known: dict[str, set[tuple[str, str | None, str | None]]] = {}
    with BlobReader(repo) as reader:
        for path in {f.path for f in findings if f.path and "\n" not in f.path}:
            data = reader.read(f"{rev}:{path}")
            found = credential_sets(data, rules) if data is not None else None
            known[path] = {s.values for s in found[1]} if found else set()
    return [f for f in findings if not (f.path and f.credential_key in known.get(f.path, set()))]


def _scan_history(request: ScanRequest, rules: RuleSet, stats: ScanStats, notes: list[str]) -> list[Finding]:
    from scanner.prefilter import make_prefilter
    from scanner.sources.gitcmd import is_shallow, require_repo
    from scanner.sources.history import HistoryScan

    repo = require_repo(request.paths[0])
    if is_shallow(repo):
        notes.append(f"{repo} is a shallow clone: history beyond its depth was not scanned")
    prefilter = make_prefilter(rules.key_id_prefixes, request.use_hyperscan)
    history = HistoryScan(repo, request.since, request.max_size, prefilter, stats, request.tips)
    findings = place_in_history(list(_scan_chunks(history, rules, stats)), history.introductions)
    if request.since and findings:
        findings = drop_sets_present_at(repo, request.since, findings, rules)
    if request.since is None and stats.blobs == 0 and not stats.errors:
        notes.append(f"{repo} holds no blobs (empty repository?): nothing to scan")
    return findings


def _chunks(request: ScanRequest, stats: ScanStats) -> Iterable[Chunk]:
    if request.mode == "stdin":
        from scanner.sources.stdin import iter_stdin_chunks

        return iter_stdin_chunks(stats)
    if request.mode == "staged":
        from scanner.sources.staged import iter_staged_chunks

        return iter_staged_chunks(request.paths[0], request.max_size, stats)
    from scanner.sources.files import iter_file_chunks

    return iter_file_chunks(list(request.paths), request.max_size, request.exclude, stats)


def run_scan(request: ScanRequest, rules: RuleSet) -> ScanResult:
    started = time.perf_counter()
    stats = ScanStats()
    notes: list[str] = []
    if request.mode == "history":
        findings = _scan_history(request, rules, stats, notes)
    else:
        findings = list(_scan_chunks(_chunks(request, stats), rules, stats))
    if request.exclude and request.mode in ("history", "staged"):
        from scanner.sources.files import excluded

        findings = [f for f in findings if not (f.path and excluded(f.path, request.exclude))]
    stats.seconds = round(time.perf_counter() - started, 3)
    return ScanResult(findings, stats, notes)
