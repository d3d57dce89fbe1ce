"""The scan pipeline: a source's chunks -> detection -> pairing -> silencing -> Findings (placed in history).

This is the one place the stages before verification are wired together; silencing (allow markers,
excludes) is applied here and nowhere else.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.detection.account import account_id_from_key_id
from scanner.detection.candidates import KeyIdsOnly
from scanner.detection.decoders.archives import limit_notes
from scanner.detection.decoders.expand import ArchiveLimits, Decoders
from scanner.detection.gate import plain_gate
from scanner.detection.lines import Lines
from scanner.detection.rules import Rule, RuleSet
from scanner.model import Candidate, Chunk, Finding, PartKind, ScanMode, ScanResult, ScanStats, Suppression
from scanner.pairing import CredentialSet, credential_parts, credential_sets, pair_across_files
from scanner.silencing.counting import count_allowlisted, drop_excluded, path_excluded, split_baselined
from scanner.silencing.markers import ALLOW_MARKERS, MarkedLines
from scanner.silencing.own_artifacts import without_own_echoes
from scanner.sources import NO_PROGRESS, Progress

if TYPE_CHECKING:
    from scanner.model import CredentialKey
    from scanner.sources.git.provenance import Introduction
    from scanner.sources.git.run import BlobReader


@dataclass(frozen=True)
class ScanRequest:
    mode: ScanMode
    paths: tuple[Path, ...] = (Path("."),)
    since: str | tuple[str, ...] | None = None  # a tuple: after all of these (an earlier scan's ref tips)
    tips: tuple[str, ...] = ()  # with since: only commits reachable from these (default: every ref)
    max_size: int = 50 * 1024 * 1024
    exclude: tuple[str, ...] = ()
    use_hyperscan: bool = True
    # Silencing (applied here, every cause counted in stats.suppressed): the config file's globs
    # apart from --exclude's; allow comments off with --no-suppress; --baseline FILE.
    config_exclude: tuple[str, ...] = ()
    allow_comments: bool = True
    baseline: Path | None = None
    max_size_from_config: bool = False
    no_ignore: bool = False  # files: a work tree's ignored files too
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)  # max_member: from max_size


class LineIndex(Lines):
    """1-based line numbers of positions in one text (bisect over newline offsets found in one pass)."""

    def __init__(self, text: str) -> None:
        super().__init__(text, first=1)


def _finding(cset: CredentialSet, lines: LineIndex, chunk: Chunk, rules: RuleSet) -> Finding:
    key = cset.key
    if key is not None:  # a key id's set: the common case; at the key id's line, wherever its parts stand
        finding = _key_finding(rules.rule_for(key.value), key.value, cset.secret.value if cset.secret else None,
                               cset.token.value if cset.token else None, lines.line_of(key.start), chunk)
        finding.alternatives = cset.alternatives  # other secrets/tokens that competed (verify tries them)
        return finding
    without = rules.without_key_id
    if without is None:  # a rules set without the secret-only rule: such sets are not reported
        raise LookupError("no rule for a secret without a key id")
    return Finding(
        rule=without.id, access_key_id="", secret=cset.secret.value if cset.secret else None,
        session_token=cset.token.value if cset.token else None, account_id=None, path=chunk.path,
        line=lines.line_of(cset.start), blob=chunk.blob,
        expected_parts=tuple(k for k, p in _parts_of(cset) if p),
        parts_at={str(k): f"{chunk.path or ''}:{lines.line_of(p.start)}" for k, p in _parts_of(cset) if p}
        if cset.secret and cset.token else None,
    )


def _parts_of(cset: CredentialSet) -> tuple[tuple[PartKind, Candidate | None], ...]:
    return ((PartKind.SECRET, cset.secret), (PartKind.SESSION_TOKEN, cset.token))


def _positions(cset: CredentialSet) -> list[int]:
    return [p.start for p in (cset.key, cset.secret, cset.token) if p is not None]


def _key_finding(rule: Rule, key_id: str, secret: str | None, token: str | None, line: int, chunk: Chunk) -> Finding:
    """The finding of a key id's set. Positional, in Finding's field order (rule, access_key_id, secret,
    session_token, account_id, path, line, blob, commit, author, date, expected_parts): a third of the
    keywords' cost, once per 21 bytes on a text of key ids."""
    return Finding(rule.id, key_id, secret, token, account_id_from_key_id(key_id), chunk.path, line, chunk.blob,
                   None, None, None, rule.parts)  # commit, author, date: placed later (provenance)


def _key_id_findings(first: KeyIdsOnly, lines: LineIndex, chunk: Chunk, rules: RuleSet) -> list[Finding]:
    """A finding per key id of a text that holds key ids alone (each id at its first place): the
    path a CloudTrail export or key-id spam takes, without a set per key id. The same findings
    _finding makes of such sets (tests/test_key_id_texts.py compares the two)."""
    rule_for, line_of = rules.rule_for, lines.line_of
    return [_key_finding(rule_for(value), value, None, None, line_of(start), chunk) for value, start in first.items()]


def _allowed_key_ids(first: KeyIdsOnly, text: str, lines: LineIndex, stats: ScanStats) -> KeyIdsOnly:
    """The key ids not on a line with an allow marker (those are counted as silenced)."""
    marked = MarkedLines(text, lines)
    kept = {value: start for value, start in first.items() if not marked.allow([start])}
    stats.suppress(Suppression.ALLOW_COMMENT, len(first) - len(kept))
    return kept


def findings_in_chunk(chunk: Chunk, rules: RuleSet, stats: ScanStats, allow_comments: bool = True) -> list[Finding]:
    found = credential_parts(chunk.data, rules, posixpath.basename(chunk.path) if chunk.path else None)
    if found is None:
        stats.skip("binary")
        return []
    text, sets = found
    count_allowlisted(text, rules, stats)
    lines = LineIndex(text)
    if isinstance(sets, dict):  # key ids and nothing else
        if allow_comments and sets and any(marker in text for marker in ALLOW_MARKERS):
            sets = _allowed_key_ids(sets, text, lines, stats)
        findings = _key_id_findings(sets, lines, chunk, rules)
        return drop_sets_already_in(chunk.previous, findings, rules) if findings and chunk.previous is not None \
            else findings
    sets = [s for s in sets if s.key or rules.without_key_id]
    if allow_comments and sets and any(marker in text for marker in ALLOW_MARKERS):
        marked = MarkedLines(text, lines)
        kept = [s for s in sets if not marked.allow(_positions(s))]
        stats.suppress(Suppression.ALLOW_COMMENT, len(sets) - len(kept))
        sets = kept
    findings = [_finding(s, lines, chunk, rules) for s in sets]
    if findings and chunk.previous is not None:
        findings = drop_sets_already_in(chunk.previous, findings, rules)
    return findings


def drop_sets_already_in(previous: bytes, findings: list[Finding], rules: RuleSet) -> list[Finding]:
    """A set the replaced content already held was not introduced by this change."""
    before = credential_sets(previous, rules)
    if before is None:
        return findings
    old = {s.credential_key for s in before[1]}
    return [f for f in findings if f.credential_key not in old]


def _scan_chunks(chunks: Iterable[Chunk], rules: RuleSet, stats: ScanStats, allow_comments: bool = True,
                 limits: ArchiveLimits | None = None, many: bool = False) -> Iterator[Finding]:
    """`many`: a history or a directory, whose texts the decoders' databases are compiled for while
    they are listed (a pre-commit run of a few files never loads Hyperscan for nothing)."""
    # archives, base64, escapes; a text no reading can yield from is not unescaped or searched (gate.py)
    decoders = Decoders(rules.key_id_prefixes, limits or ArchiveLimits(), plain_gate(rules))
    if many:
        decoders.prepare()

    def found(chunk: Chunk) -> list[Finding]:
        findings = findings_in_chunk(chunk, rules, stats, allow_comments)
        # a baseline or report stsleak wrote records key ids: those echoes are counted, not reported
        return without_own_echoes(chunk.data, findings, stats) if allow_comments and findings else findings

    for chunk in chunks:
        yield from decoders.findings(chunk, found, stats)


IntroductionLookup = Callable[[set[str]], "dict[str, list[Introduction]]"]


def place_in_history(findings: list[Finding], lookup: IntroductionLookup) -> list[Finding]:
    """One finding per path a blob was introduced at; one per (path, credential set), earliest.

    `lookup` maps blob ids to their introductions (HistoryScan.introductions, which git has been
    computing in the background while detection ran).
    """
    intros = lookup({f.blob for f in findings if f.blob})
    best: dict[tuple[str | None, CredentialKey], tuple[int, Finding]] = {}
    for finding in findings:
        placed = intros.get(finding.blob or "", [])
        options = [
            # An archive member's path is "!member": the blob's path goes in front of it.
            # So does parts_at's (a blob's chunk has no path of its own: ":line", "!member:line").
            (i.timestamp, replace(finding, path=i.path + (finding.path or ""), commit=i.commit, author=i.author,
                                  date=i.date, parts_at=_placed_parts(finding.parts_at, i.path)))
            for i in placed
        ] or [(1 << 62, finding)]
        for stamp, candidate in options:
            key = (candidate.path, candidate.credential_key)
            # Equal times (a rebase gives many commits one second): the smaller commit id, then line,
            # wins, so the order detection saw the blobs in (which the stream's timing sets) never matters.
            if key not in best or _order(stamp, candidate) < _order(*best[key]):
                best[key] = (stamp, candidate)
    return [f for _, f in sorted(best.values(), key=lambda item: (item[0], item[1].path or "", item[1].line,
                                                                  _order(*item)))]


def _order(stamp: int, finding: Finding) -> tuple[int, str, int, str, str, str]:
    return (stamp, finding.commit or "", finding.line, finding.access_key_id or "", finding.secret or "",
            finding.session_token or "")


def _placed_parts(parts_at: dict[str, str] | None, path: str) -> dict[str, str] | None:
    return {part: path + where for part, where in parts_at.items()} if parts_at else parts_at


def _placement(lookup: IntroductionLookup, stats: ScanStats, repo: Path) -> IntroductionLookup:
    """Findings win over errors: when git cannot say where blobs came from (a corrupt commit), the
    findings stay, with commit unknown, and a warning says why."""
    from scanner.errors import StsleakError

    def placed(blobs: set[str]) -> dict[str, list[Introduction]]:
        try:
            return lookup(blobs)
        except StsleakError as exc:
            stats.errors.append(f"{repo}: where the findings were committed is unknown ({exc})")
            return {}

    return placed


def drop_sets_present_at(repo: Path, since: str | tuple[str, ...], findings: list[Finding],
                         rules: RuleSet) -> list[Finding]:
    """--since REV: a set that was already at that path in REV's tree (in any REV's) was not introduced
    after it. One git process reads every REV's file (an organisation rerun passes hundreds of REVs)."""
    from scanner.sources.git.run import BlobReader

    with BlobReader(repo) as reader:
        for rev in (since,) if isinstance(since, str) else since:
            findings = _drop_sets_present_at(reader, rev, findings, rules)
    return findings


def _drop_sets_present_at(reader: BlobReader, rev: str, findings: list[Finding], rules: RuleSet) -> list[Finding]:
    from scanner.sources.git.messages import is_message

    kept: list[Finding] = []
    by_path: dict[str, list[Finding]] = {}
    for f in findings:
        if f.path and "\n" not in f.path and not is_message(f):  # a message after REV is new
            by_path.setdefault(f.path, []).append(f)
        else:
            kept.append(f)
    for path, at_path in by_path.items():
        data = reader.read(f"{rev}:{path}")
        kept += at_path if data is None else drop_sets_already_in(data, at_path, rules)
    return kept


def _scan_history(request: ScanRequest, rules: RuleSet, stats: ScanStats, notes: list[str],
                  progress: Progress = NO_PROGRESS) -> list[Finding]:
    from scanner.detection.prefilter import label_literals, make_prefilter
    from scanner.sources.git.history import HistoryScan
    from scanner.sources.git.run import is_shallow, require_repo

    repo = require_repo(request.paths[0])
    if is_shallow(repo):
        notes.append(f"{repo} is a shallow clone: history beyond its depth was not scanned")
    # Besides key ids, what a finding without a key id stands on (a label naming an AWS secret or
    # token, an STS token's opening): such a blob is a finding of its own, or a key id's partner
    # from a sibling file (pair_across_files), as in a tree scan.
    labels = label_literals(rules.secret_labels | rules.token_labels, rules.generic_labels)
    prefilter = make_prefilter(rules.key_id_prefixes, request.use_hyperscan, rules.token_prefixes, tuple(labels))
    limits = replace(request.archive_limits, max_member=request.max_size)
    # `with`: the history walk's verdict (missing objects) is collected after placement, which reads the walk.
    with HistoryScan(repo, request.since, request.max_size, prefilter, stats, request.tips, progress) as history:
        found = list(_scan_chunks(history, rules, stats, request.allow_comments, limits, many=True))
        findings = pair_across_files(place_in_history(found, _placement(history.introductions, stats, repo)))
    if request.since and findings:
        findings = drop_sets_present_at(repo, request.since, findings, rules)
    if request.since is None and stats.blobs == 0 and not stats.errors:
        notes.append(f"{repo} holds no blobs (empty repository?): nothing to scan")
    return findings


def _chunks(request: ScanRequest, stats: ScanStats, notes: list[str]) -> Iterable[Chunk]:
    if request.mode == ScanMode.STDIN:
        from scanner.sources.stdin import iter_stdin_chunks

        return iter_stdin_chunks(stats, request.max_size, notes)
    if request.mode == ScanMode.STAGED:
        from scanner.sources.staged import iter_staged_chunks

        return iter_staged_chunks(request.paths[0], request.max_size, stats)
    from scanner.sources.files import iter_file_chunks

    flags, config = request.exclude, request.config_exclude
    is_excluded = (lambda path: path_excluded(path, flags, config, stats)) if flags or config else None
    return iter_file_chunks(list(request.paths), request.max_size, stats, is_excluded, request.no_ignore)


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
        limits = replace(request.archive_limits, max_member=request.max_size)
        chunks = _chunks(request, stats, notes)
        if progress is not NO_PROGRESS and request.mode == ScanMode.FILES:
            chunks = _counted(chunks, stats, progress)
        many = request.mode == ScanMode.FILES and any(path.is_dir() for path in request.paths)
        findings = pair_across_files(list(_scan_chunks(chunks, rules, stats, request.allow_comments, limits, many)))
    if request.mode in (ScanMode.HISTORY, ScanMode.STAGED):
        findings = drop_excluded(findings, request.exclude, request.config_exclude, stats)
    if request.max_size_from_config:
        stats.suppress(Suppression.CONFIG_MAX_FILE_SIZE, stats.skipped.get("too-large", 0))
    hidden: list[Finding] = []
    if request.baseline is not None:
        findings, hidden = split_baselined(findings, request.baseline, stats)
    notes += stats.notes
    notes += limit_notes(stats.skipped)
    stats.seconds = round(time.perf_counter() - started, 3)
    return ScanResult(findings, stats, notes, request.mode, baselined=hidden)
