"""The scan pipeline: a source's chunks -> detection -> pairing -> silencing -> Findings (placed in history).

This is the one place the stages before verification are wired together; silencing (allow markers,
excludes) is applied here and nowhere else.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.detection.account import account_id_from_key_id
from scanner.detection.rules import RuleSet
from scanner.model import Chunk, Finding, ScanMode, ScanResult, ScanStats
from scanner.pairing import CredentialSet, credential_sets
from scanner.silencing.excludes import excluded
from scanner.silencing.markers import allowed_by_marker
from scanner.sources import NO_PROGRESS, Progress

if TYPE_CHECKING:
    from scanner.sources.git.provenance import Introduction


@dataclass(frozen=True)
class ScanRequest:
    mode: ScanMode
    paths: tuple[Path, ...] = (Path("."),)
    since: str | None = None
    tips: tuple[str, ...] = ()  # with since: only commits reachable from these (default: every ref)
    max_size: int = 50 * 1024 * 1024
    exclude: tuple[str, ...] = ()
    use_hyperscan: bool = True


class LineIndex:
    """Line numbers of positions in one text, from one pass over it (bisect over newline offsets)."""

    def __init__(self, text: str) -> None:
        self._newlines: list[int] = []
        self._text = text
        self._done = 0

    def line_of(self, pos: int) -> int:
        if pos > self._done:  # index lazily, up to the furthest position asked for
            find, newlines = self._text.find, self._newlines
            at = find("\n", self._done)
            while 0 <= at < pos:
                newlines.append(at)
                at = find("\n", at + 1)
            self._done = pos  # every newline before pos is recorded
        return bisect_left(self._newlines, pos) + 1


def _finding(cset: CredentialSet, lines: LineIndex, chunk: Chunk, rules: RuleSet) -> Finding:
    rule = rules.rule_for(cset.key.value)
    return Finding(
        rule=rule.id,
        access_key_id=cset.key.value,
        secret=cset.secret.value if cset.secret else None,
        session_token=cset.token.value if cset.token else None,
        account_id=account_id_from_key_id(cset.key.value),
        path=chunk.path,
        line=lines.line_of(cset.key.start),
        blob=chunk.blob,
        commit=chunk.commit,
        author=chunk.author,
        date=chunk.date,
        expected_parts=rule.parts,
    )


def _positions(cset: CredentialSet) -> list[int]:
    return [p.start for p in (cset.key, cset.secret, cset.token) if p is not None]


def findings_in_chunk(chunk: Chunk, rules: RuleSet, stats: ScanStats) -> list[Finding]:
    found = credential_sets(chunk.data, rules)
    if found is None:
        stats.skip("binary")
        return []
    text, sets = found
    lines = LineIndex(text)
    findings = [_finding(s, lines, chunk, rules) for s in sets if not allowed_by_marker(text, _positions(s))]
    if findings and chunk.previous is not None:
        findings = drop_sets_already_in(chunk.previous, findings, rules)
    return findings


def drop_sets_already_in(previous: bytes, findings: list[Finding], rules: RuleSet) -> list[Finding]:
    """A set the replaced content already held was not introduced by this change."""
    before = credential_sets(previous, rules)
    if before is None:
        return findings
    old = {s.values for s in before[1]}
    return [f for f in findings if f.credential_key not in old]


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
    from scanner.sources.git.run import BlobReader

    kept: list[Finding] = []
    with BlobReader(repo) as reader:
        by_path: dict[str, list[Finding]] = {}
        for f in findings:
            if f.path and "\n" not in f.path:
                by_path.setdefault(f.path, []).append(f)
            else:
                kept.append(f)
        for path, at_path in by_path.items():
            data = reader.read(f"{rev}:{path}")
            kept += at_path if data is None else drop_sets_already_in(data, at_path, rules)
    return kept


def _scan_history(request: ScanRequest, rules: RuleSet, stats: ScanStats, notes: list[str],
                  progress: Progress = NO_PROGRESS) -> list[Finding]:
    from scanner.detection.prefilter import make_prefilter
    from scanner.sources.git.history import HistoryScan
    from scanner.sources.git.run import is_shallow, require_repo

    repo = require_repo(request.paths[0])
    if is_shallow(repo):
        notes.append(f"{repo} is a shallow clone: history beyond its depth was not scanned")
    prefilter = make_prefilter(rules.key_id_prefixes, request.use_hyperscan)
    history = HistoryScan(repo, request.since, request.max_size, prefilter, stats, request.tips, progress)
    findings = place_in_history(list(_scan_chunks(history, rules, stats)), history.introductions)
    if request.since and findings:
        findings = drop_sets_present_at(repo, request.since, findings, rules)
    if request.since is None and stats.blobs == 0 and not stats.errors:
        notes.append(f"{repo} holds no blobs (empty repository?): nothing to scan")
    return findings


def _chunks(request: ScanRequest, stats: ScanStats) -> Iterable[Chunk]:
    if request.mode == ScanMode.STDIN:
        from scanner.sources.stdin import iter_stdin_chunks

        return iter_stdin_chunks(stats)
    if request.mode == ScanMode.STAGED:
        from scanner.sources.staged import iter_staged_chunks

        return iter_staged_chunks(request.paths[0], request.max_size, stats)
    from scanner.sources.files import iter_file_chunks

    is_excluded = (lambda path: excluded(path, request.exclude)) if request.exclude else None
    return iter_file_chunks(list(request.paths), request.max_size, stats, is_excluded)


def _counted(chunks: Iterable[Chunk], stats: ScanStats, progress: Progress) -> Iterator[Chunk]:
    progress.stage("scanning files")
    for chunk in chunks:
        progress.update(stats.files, stats.bytes)
        yield chunk


def run_scan(request: ScanRequest, rules: RuleSet, progress: Progress = NO_PROGRESS) -> ScanResult:
    """`progress` hears how far a history scan or a file walk has got (scanner/cli/progress.py)."""
    started = time.perf_counter()
    stats = ScanStats()
    notes: list[str] = []
    if request.mode == ScanMode.HISTORY:
        findings = _scan_history(request, rules, stats, notes, progress)
    else:
        chunks = _chunks(request, stats)
        if progress is not NO_PROGRESS and request.mode == ScanMode.FILES:
            chunks = _counted(chunks, stats, progress)
        findings = list(_scan_chunks(chunks, rules, stats))
    if request.exclude and request.mode in (ScanMode.HISTORY, ScanMode.STAGED):
        findings = [f for f in findings if not (f.path and excluded(f.path, request.exclude))]
    stats.seconds = round(time.perf_counter() - started, 3)
    return ScanResult(findings, stats, notes)
