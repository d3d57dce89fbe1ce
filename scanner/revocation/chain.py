"""The audit log's hash chain: every record carries the SHA-256 of the line before it (`prev`).

A chain begins with a `chain-start` record: at the top of a new file, or after lines written by
an older stsleak (which carry no `prev`). Lines before the chain are "unchained": kept, shown, but
never evidence for `revoke --undo`. Once a chain has begun, every later line must be a record whose
`prev` is the hash of the line before it; an edited, inserted, removed or unchained line after
that point breaks the chain, and `revoke --verify-log` and `revoke --undo` refuse it with one line.

The chain makes edits evident; it is not a signature (anyone who can write the file can write a
new consistent chain). That is why nothing decisive rests on the file alone: "already revoked" is
read from IAM, and undo only removes what IAM shows the run added (undo.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREV = "prev"
START = "chain-start"
_TAIL_CHUNK = 65_536


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def _record(line: bytes | None) -> dict[str, Any] | None:
    try:
        found = json.loads(line) if line else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def is_chained(line: bytes | None) -> bool:
    record = _record(line)
    return record is not None and PREV in record


def last_line(path: Path) -> bytes | None:
    """The file's last line (without its newline), None for an empty or missing file."""
    try:
        with path.open("rb") as handle:
            end = handle.seek(0, 2)
            data = b""
            position = end
            while position > 0:
                step = min(_TAIL_CHUNK, position)
                position -= step
                handle.seek(position)
                data = handle.read(step) + data
                if data.rstrip(b"\n").count(b"\n") >= 1:
                    break
    except OSError:
        return None
    text = data.rstrip(b"\n")
    return text.rsplit(b"\n", 1)[-1] if text else None


@dataclass
class ChainCheck:
    """What `check` found: where the chain starts, where (and why) it breaks, and every record."""

    path: Path
    lines: int = 0
    start: int | None = None  # 1-based line of the (first) chain-start
    broken_at: int | None = None
    reason: str | None = None
    records: list[tuple[int, dict[str, Any], bool]] = field(default_factory=list)  # (line, record, chained)

    @property
    def intact(self) -> bool:
        return self.broken_at is None

    def summary(self) -> str:
        """One line saying what the file is worth as evidence."""
        if self.broken_at == 0:
            return f"audit log {self.path}: {self.reason}"
        if self.broken_at is not None:
            return f"audit log {self.path}: hash chain broken at line {self.broken_at}: {self.reason}"
        if self.start is None:
            return (f"audit log {self.path}: {self.lines} line(s), none chained (written by an older stsleak or "
                    f"empty): not evidence")
        unchained = self.start - 1
        return (f"audit log {self.path}: hash chain intact, {self.lines - unchained} record(s) from line "
                f"{self.start}" + (f"; {unchained} earlier line(s) unchained, not evidence" if unchained else ""))


def check(path: Path) -> ChainCheck:
    """Walk the whole file once and check every link of the chain."""
    found = ChainCheck(path)
    previous: bytes | None = None
    previous_chained = False
    try:
        handle = path.open("rb")
    except OSError as exc:
        found.broken_at, found.reason = 0, f"cannot read it ({exc.strerror or exc})"
        return found
    with handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip(b"\n")
            found.lines = number
            record = _record(line)
            chained = record is not None and PREV in record
            if found.broken_at is None:
                reason = _link_problem(record, chained, previous, previous_chained)
                if reason:
                    found.broken_at, found.reason = number, reason
                elif chained and record is not None and record.get("event") == START and found.start is None:
                    found.start = number
            if record is not None:
                found.records.append((number, record, chained and found.broken_at is None))
            previous, previous_chained = line, chained
    return found


def _link_problem(record: dict[str, Any] | None, chained: bool, previous: bytes | None,
                  previous_chained: bool) -> str | None:
    if not chained:
        return ("not a chained record after chained ones (edited, inserted, or appended by an older stsleak)"
                if previous_chained else None)
    assert record is not None
    expected = line_hash(previous) if previous is not None else None
    if record.get("event") == START:
        if previous_chained:
            return "a new chain starts in the middle of a chain (lines were removed or replaced)"
        return None if record.get(PREV) == expected else "the chain-start record does not name the line before it"
    if not previous_chained:
        return "a chained record without a chain-start before it (lines were removed or replaced)"
    if record.get(PREV) != expected:
        return "it does not carry the hash of the line before it (that line or this one was edited, or lines removed)"
    return None
