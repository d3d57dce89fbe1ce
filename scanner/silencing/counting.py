"""Counting what silencing hides, so that no suppression goes unseen (`stats.suppressed`).

Every cause is counted where it is applied (scanner/pipeline.py); this module holds the counts
that need a look at the text: key ids the rules' allowlist rejects.
"""

from __future__ import annotations

from pathlib import Path

from scanner.detection.filters import is_documented_example_or_placeholder, may_hold_allowlisted_key_id
from scanner.detection.rules import RuleSet
from scanner.model import Finding, ScanStats, Suppression
from scanner.silencing.excludes import excluded


def count_allowlisted(text: str, rules: RuleSet, stats: ScanStats) -> None:
    """Key ids in the text that the allowlist (`allowlist.value_substrings`) rejects."""
    allow = rules.allow_substrings
    if not any(prefix in text for prefix in rules.key_id_prefixes) or not may_hold_allowlisted_key_id(text, allow):
        return
    stats.suppress(Suppression.ALLOWLIST, sum(
        1 for m in rules.key_id_re.finditer(text) if is_documented_example_or_placeholder(m.group(), allow)))


def path_excluded(path: str, flag_globs: tuple[str, ...], config_globs: tuple[str, ...], stats: ScanStats) -> bool:
    """True (and counted, by whose glob it was) when an --exclude or a config exclude matches."""
    if flag_globs and excluded(path, flag_globs):
        stats.suppress(Suppression.EXCLUDE)
        return True
    if config_globs and excluded(path, config_globs):
        stats.suppress(Suppression.CONFIG_EXCLUDE)
        return True
    return False


def drop_excluded(findings: list[Finding], flag_globs: tuple[str, ...], config_globs: tuple[str, ...],
                  stats: ScanStats) -> list[Finding]:
    """History and staged findings at an excluded path (each one counted)."""
    if not flag_globs and not config_globs:
        return findings
    return [f for f in findings if not (f.path and path_excluded(f.path, flag_globs, config_globs, stats))]


def split_baselined(findings: list[Finding], baseline: Path, stats: ScanStats) -> tuple[list[Finding], list[Finding]]:
    """(new findings, findings the baseline file records); the latter counted."""
    from scanner.silencing.baseline import load_baseline

    recorded = load_baseline(baseline)
    held = [recorded.holds(f) for f in findings]
    new = [f for f, h in zip(findings, held, strict=True) if not h]
    hidden = [f for f, h in zip(findings, held, strict=True) if h]
    stats.suppress(Suppression.BASELINE, len(hidden))
    return new, hidden
