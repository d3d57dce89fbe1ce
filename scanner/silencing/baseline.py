"""Baselines: findings a team has reviewed, recorded by hashes or by where they were.

`--baseline FILE` reads, told apart by content (never by name):
- stsleak's own baseline (`--write-baseline`) or JSON report: each finding's fingerprint, the
  SHA-256 of its credential set;
- detect-secrets' `.secrets.baseline`: `hashed_secret`, the SHA-1 of a value (for its AWS
  detector, of the key id), matched against a finding's key id, secret and token;
- another scanner's findings, each one a place: a gitleaks JSON report (`--report-format json`,
  what its `--baseline-path` reads), `.gitleaksignore` fingerprints (`commit:file:rule-id:line`
  or `file:rule-id:line`) and trufflehog's `--json` output (one result a line).

A place hides a finding only when it is truly that finding: the entry is of a rule that finds AWS
key ids (gitleaks `aws-access-token`, trufflehog's `AWS` and `AWSSessionKey` detectors) and the
finding has a key id; the same file (as the entry wrote it, or taken relative to the baseline's
folder) and the finding's line (its key id's); the commit, when the entry names one, is the
finding's (a finding of no commit, from a files or staged scan, is matched by such an entry only
through the value's hash); and the key id, when the entry records it, has the same hash (a partly
redacted one, gitleaks `--redact=N`, the same beginning). Entries of other rules or detectors hide
nothing. Of what is read only hashes are kept (and a redacted value's visible beginning), and
nothing of it is ever printed: a file that is none of these fails with one line naming the
formats, not its content (it may be a `.env` given by mistake).

A baseline stsleak writes holds fingerprints and key ids, never secrets.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.errors import StsleakError
from scanner.model import Finding, sha256_hex

ACCEPTED = ("accepted: an stsleak baseline or JSON report, a detect-secrets .secrets.baseline, "
            "a gitleaks JSON report or .gitleaksignore, trufflehog --json output")
_MAX_BYTES = 256 << 20
# The rules of other scanners that find AWS key ids (trufflehog's Raw is the key id).
_GITLEAKS_RULES = frozenset({"aws-access-token"})
_TRUFFLEHOG_DETECTORS = frozenset({"AWS", "AWSSessionKey"})
_REDACTED = "REDACTED"  # gitleaks --redact; --redact=N keeps a beginning and appends "..."


def _sha1(value: str) -> str:
    return hashlib.sha1(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Place:
    """An entry of another scanner's: a key id it found at a file's line, and what it kept of it."""

    commit: str | None
    value_sha256: str | None = None  # None: the entry does not record the value (redacted, a fingerprint)
    value_start: str | None = None  # what a partly redacted value shows

    def is_of(self, finding: Finding) -> bool:
        value = finding.access_key_id
        if not value:
            return False
        if self.commit is not None:
            if finding.commit is not None and finding.commit.lower() != self.commit:
                return False
            if finding.commit is None and self.value_sha256 is None:
                return False  # only the value can tell it is the same outside history
        if self.value_sha256 is not None:
            return sha256_hex(value) == self.value_sha256
        return self.value_start is None or value.startswith(self.value_start)


def _path_keys(path: str, base: Path) -> set[str]:
    """A path as written (normalised) and resolved against `base`: the spellings of one file."""
    return {os.path.normpath(path), os.path.normpath(os.path.join(base, path))}


@dataclass
class Baseline:
    fingerprints: set[str] = field(default_factory=set)  # stsleak
    sha1s: set[str] = field(default_factory=set)  # detect-secrets
    places: dict[tuple[str, int], list[_Place]] = field(default_factory=dict)  # gitleaks, trufflehog
    folder: Path = Path()  # the baseline file's, that an entry's relative path may be relative to
    cwd: Path = Path()  # that a finding's relative path is relative to

    def add_place(self, path: str, line: int, place: _Place) -> None:
        for key in _path_keys(path, self.folder):
            self.places.setdefault((key, line), []).append(place)

    def holds(self, finding: Finding) -> bool:
        if finding.fingerprint in self.fingerprints:
            return True
        if self.sha1s and any(v and _sha1(v) in self.sha1s
                              for v in (finding.access_key_id, finding.secret, finding.session_token)):
            return True
        if not self.places or not finding.path:
            return False
        return any(place.is_of(finding) for key in _path_keys(finding.path, self.cwd)
                   for place in self.places.get((key, finding.line), ()))


def _not_a_baseline(path: Path, why: str = "") -> StsleakError:
    return StsleakError(f"baseline {path} is not in a format stsleak reads{f' ({why})' if why else ''}; {ACCEPTED}")


def _read(path: Path) -> str:
    """The file's text: a regular file or a pipe (`--baseline <(…)`), never a device, at most 256 MiB."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO without writer: no hang
    except FileNotFoundError:
        raise StsleakError(f"baseline not found: {path}") from None
    except OSError as exc:
        raise StsleakError(f"cannot read baseline {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(fd).st_mode
        if stat.S_ISFIFO(mode):
            os.set_blocking(fd, True)
        elif not stat.S_ISREG(mode):
            raise StsleakError(f"cannot read baseline {path}: not a regular file")
        try:
            data = file.read(_MAX_BYTES + 1)
        except OSError as exc:
            raise StsleakError(f"cannot read baseline {path}: {exc.strerror}") from None
    if len(data) > _MAX_BYTES:
        raise StsleakError(f"baseline {path} is larger than {_MAX_BYTES >> 20} MiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_a_baseline(path, "not UTF-8 text") from None


def load_baseline(path: Path) -> Baseline:
    text = _read(path)
    baseline = Baseline(folder=path.parent, cwd=Path.cwd())
    head = text.lstrip()
    if not head.startswith(("{", "[")):
        _gitleaksignore(text, baseline, path)
        return baseline
    try:
        document = json.loads(text)
    except RecursionError:
        raise _not_a_baseline(path, "nested too deeply") from None
    except ValueError:
        if not head.startswith("{"):
            raise _not_a_baseline(path, "not valid JSON") from None
        _trufflehog(_json_lines(text, path), baseline, path)  # one JSON object a line
        return baseline
    if isinstance(document, list):
        _gitleaks_report(document, baseline, path)
    elif isinstance(document, dict) and "SourceMetadata" in document:
        _trufflehog([document], baseline, path)
    elif isinstance(document, dict) and isinstance(document.get("findings"), list):
        rows = document["findings"]
        if not all(isinstance(row, dict) and isinstance(row.get("fingerprint"), str) for row in rows):
            raise _not_a_baseline(path, "a finding without a fingerprint")
        baseline.fingerprints = {row["fingerprint"] for row in rows}
    elif isinstance(document, dict) and isinstance(document.get("results"), dict):
        baseline.sha1s = {str(e["hashed_secret"]) for entries in document["results"].values()
                          if isinstance(entries, list) for e in entries if isinstance(e, dict) and "hashed_secret" in e}
    else:
        raise _not_a_baseline(path)
    return baseline


def _recorded(value: Any) -> tuple[str | None, str | None]:
    """(hash, visible beginning) of a value as gitleaks reports it: whole, "REDACTED", or "AKIA...". """
    if not isinstance(value, str) or value in ("", _REDACTED):
        return None, None
    if value.endswith("..."):
        return None, value[:-3] or None
    return sha256_hex(value), None


def _gitleaks_report(rows: list[Any], baseline: Baseline, path: Path) -> None:
    for row in rows:
        if not (isinstance(row, dict) and isinstance(row.get("RuleID"), str) and isinstance(row.get("File"), str)
                and type(row.get("StartLine")) is int):
            raise _not_a_baseline(path, "a list, but not of gitleaks findings (RuleID, File, StartLine)")
        if row["RuleID"] not in _GITLEAKS_RULES or not row["File"]:
            continue  # another rule's finding hides no AWS credential
        commit = row.get("Commit")
        value_sha256, value_start = _recorded(row.get("Secret"))
        baseline.add_place(row["File"], row["StartLine"], _Place(
            commit.lower() if isinstance(commit, str) and commit else None, value_sha256, value_start))


def _is_commit(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdefABCDEF" for c in text)


def _gitleaksignore(text: str, baseline: Baseline, path: Path) -> None:
    """`commit:file:rule-id:line` or `file:rule-id:line` a line; blank lines and `#` comments skipped."""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(":", 2)
        if len(parts) != 3 or not parts[0] or not parts[1] or any(c.isspace() for c in parts[1]) \
                or not (parts[2].isascii() and parts[2].isdigit()):
            raise _not_a_baseline(path, f"line {number} is not a gitleaks fingerprint")
        where, rule, start_line = parts
        first, colon, rest = where.partition(":")
        commit = first.lower() if colon and rest and _is_commit(first) else None
        if rule in _GITLEAKS_RULES:
            baseline.add_place(rest if commit else where, int(start_line), _Place(commit))


def _json_lines(text: str, path: Path) -> list[Any]:
    documents = []
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.strip():
            try:
                documents.append(json.loads(raw))
            except (ValueError, RecursionError):
                raise _not_a_baseline(path, f"line {number} is not JSON") from None
    return documents


def _trufflehog(results: list[Any], baseline: Baseline, path: Path) -> None:
    """trufflehog --json: a result a line (its log lines, if stderr went along, skipped)."""
    for result in results:
        if isinstance(result, dict) and "SourceMetadata" not in result and {"level", "msg"} <= result.keys():
            continue  # a log line
        metadata = result.get("SourceMetadata") if isinstance(result, dict) else None
        data = metadata.get("Data") if isinstance(metadata, dict) else None
        if not isinstance(data, dict) or not isinstance(result.get("DetectorName"), str):
            raise _not_a_baseline(path, "JSON lines, but not trufflehog results")
        raw = result.get("Raw")
        if result["DetectorName"] not in _TRUFFLEHOG_DETECTORS or not isinstance(raw, str) or not raw:
            continue  # another detector's result hides no AWS credential
        for where in data.values():  # one source: {"Git": {"file", "line", "commit"}} or {"Filesystem": …}
            if not isinstance(where, dict):
                continue
            file, line, commit = where.get("file"), where.get("line"), where.get("commit")
            if isinstance(file, str) and file and type(line) is int:
                baseline.add_place(file, line, _Place(
                    commit.lower() if isinstance(commit, str) and commit else None, sha256_hex(raw)))


def write_baseline(findings: list[Finding], path: Path) -> None:
    entries = sorted(
        ({"fingerprint": f.fingerprint, "rule": f.rule, "access_key_id": f.access_key_id, "path": f.path,
          "line": f.line, "commit": f.commit} for f in findings),
        key=lambda e: (e["path"] or "", e["line"], e["fingerprint"]),
    )
    document = {"version": 1, "tool": "stsleak", "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "findings": entries}
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise StsleakError(f"cannot write baseline {path}: {exc.strerror}") from exc
