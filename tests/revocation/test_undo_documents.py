"""What undo may write, computed from the document IAM holds now (policy.without_run), and the stamps
that let any later run read "already revoked" from IAM (policy.covering_cutoff); the log's chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from scanner.revocation.audit import AuditLog
from scanner.revocation.chain import check
from scanner.revocation.policy import (
    covering_cutoff,
    leak_mark,
    merge,
    older_sessions_statement,
    session_statement,
    stamp_of,
    without_run,
)

RUN, OTHER = "0123456789ab", "ba9876543210"
ALLOW = {"Effect": "Allow", "Action": "*", "Resource": "*"}
FOREIGN = {"Sid": "KeepMe", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}


def _doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_undo_removes_only_the_runs_statements_and_never_writes_from_the_log() -> None:
    ours = older_sessions_statement("2026-12-01T10:00:00Z", RUN, [leak_mark("ASIAONE")])
    theirs = session_statement("AROAX:s", "2026-12-01T09:00:00Z", OTHER)
    current = _doc(FOREIGN, theirs, ours)
    forged_previous = _doc(ALLOW, FOREIGN)  # an edited log: no deny of the same purpose, an Allow
    document, undone = without_run(current, RUN, forged_previous)
    assert document == _doc(FOREIGN, theirs) and [u.statement for u in undone] == [ours]
    assert without_run(_doc(ours), RUN, None)[0] is None  # nothing left: the policy is deleted


def test_undo_sets_a_replaced_cutoff_back_without_marks_and_never_later() -> None:
    earlier = older_sessions_statement("2026-01-01T00:00:00.123Z", OTHER, [leak_mark("ASIAOLD")])
    ours = merge(_doc(earlier), [older_sessions_statement("2026-12-01T10:00:00Z", RUN, [leak_mark("ASIANEW")])])
    (statement,) = ours["Statement"]
    assert stamp_of(statement).marks == (leak_mark("ASIANEW"), leak_mark("ASIAOLD"))  # type: ignore[union-attr]
    document, (item,) = without_run(ours, RUN, _doc(ALLOW, earlier))
    restored = {"Sid": f"StsleakOlderSessionsRun{OTHER}", **older_sessions_statement("2026-01-01T00:00:00.123Z")}
    assert document == _doc(restored) and item.cutoff_back == "2026-01-01T00:00:00.123Z"
    later = older_sessions_statement("2030-01-01T00:00:00Z")  # a forged later cutoff cannot strengthen the deny
    assert without_run(ours, RUN, _doc(later))[0]["Statement"][0]["Condition"] == statement["Condition"]


def test_already_revoked_needs_our_record_of_the_key_or_a_later_cutoff() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    marked = _doc(older_sessions_statement("2026-12-01T10:00:00Z", RUN, [leak_mark("ASIAONE")]))
    assert covering_cutoff([marked], [leak_mark("ASIAONE")], now) == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert covering_cutoff([marked], [leak_mark("ASIAONE"), leak_mark("ASIATWO")], now) is None
    console = _doc(older_sessions_statement("2026-12-01T10:00:00Z"))  # no record of which keys it covers
    assert covering_cutoff([console], [leak_mark("ASIAONE")], now) is None
    assert covering_cutoff([_doc(older_sessions_statement("2026-12-07T12:00:00Z"))], [leak_mark("X")], now)
    session = _doc(session_statement("AROAX:s", "2026-12-01T10:00:00Z", RUN, [leak_mark("ASIAONE")]))
    assert covering_cutoff([session], [leak_mark("ASIAONE")], now, "AROAX:s")
    assert covering_cutoff([session], [leak_mark("ASIAONE")], now) is None  # not a role-wide deny
    assert covering_cutoff([marked], [], now) is None  # a role named by hand is always cut again


def test_the_chain_catches_an_edit_and_starts_after_older_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text(json.dumps({"event": "intent", "run": "legacy"}) + "\n")
    audit = AuditLog(path, dry_run=False)
    for i in range(3):
        audit.event("plan", n=i)
    found = check(path)
    assert found.intact and found.start == 2 and len(found.records) == 5
    assert "1 earlier line(s) unchained" in found.summary()
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace('"n": 1', '"n": 7')
    path.write_text("\n".join(lines) + "\n")
    broken = check(path)
    assert not broken.intact and broken.broken_at == 5 and "hash chain broken at line 5" in broken.summary()
