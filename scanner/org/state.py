"""The state file: one SQLite database per organisation scan, so an interrupted run resumes.

Per repository: its URL (credentials removed), the ref tips scanned, status, timings, error and the
findings (hashes, key ids and locations; never a secret or token). Written only by the client.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from scanner.errors import StsleakError

SCHEMA = """
CREATE TABLE IF NOT EXISTS repositories (
    url TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    tips TEXT NOT NULL DEFAULT '{}',
    started REAL, finished REAL, seconds REAL,
    error TEXT,
    findings INTEGER NOT NULL DEFAULT 0,
    live INTEGER NOT NULL DEFAULT 0,
    scans INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS findings (
    url TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    row TEXT NOT NULL,
    sarif TEXT
);
CREATE INDEX IF NOT EXISTS findings_url ON findings(url);
CREATE TABLE IF NOT EXISTS sarif_runs (url TEXT PRIMARY KEY, run TEXT NOT NULL);
"""


class RepoStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    UNCHANGED = "unchanged"  # --since-last, this run: every ref tip as recorded, nothing scanned
    FAILED = "failed"


@dataclass
class RepoRecord:
    url: str
    status: RepoStatus
    tips: dict[str, str] = field(default_factory=dict)
    seconds: float | None = None
    error: str | None = None
    findings: int = 0
    live: int = 0
    scans: int = 0
    finished: float | None = None


class State:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            _create_private(path)
            self.db = sqlite3.connect(path, timeout=30)
            self.db.executescript(SCHEMA)
            _write_ahead(self.db)
        except sqlite3.DatabaseError as exc:
            raise StsleakError(f"cannot use state file {path}: {exc}") from None
        except OSError as exc:
            raise StsleakError(f"cannot use state file {path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        self.db.close()

    def add(self, *urls: str) -> None:
        """Repositories to scan, all in one transaction (pending unless recorded before).

        A run starts here, and `unchanged` is what one run saw: every ref tip identical to the tips
        recorded before it. So an earlier run's `unchanged` becomes `done` (scanned, its findings
        kept) until this run compares the tips again (--since-last); a rerun that does not look
        never reports a repository unchanged whose refs may have moved since."""
        with self.db:
            self.db.executemany("INSERT OR IGNORE INTO repositories(url, status) VALUES (?, ?)",
                                [(url, RepoStatus.PENDING) for url in urls])
            self.db.executemany("UPDATE repositories SET status = ? WHERE url = ? AND status = ?",
                                [(RepoStatus.DONE, url, RepoStatus.UNCHANGED) for url in urls])

    def get(self, url: str) -> RepoRecord | None:
        row = self.db.execute("SELECT url, status, tips, seconds, error, findings, live, scans, finished "
                              "FROM repositories WHERE url = ?", (url,)).fetchone()
        return _record(row) if row else None

    def all(self) -> list[RepoRecord]:
        rows = self.db.execute("SELECT url, status, tips, seconds, error, findings, live, scans, finished "
                               "FROM repositories ORDER BY url").fetchall()
        return [_record(row) for row in rows]

    def record(self, url: str, outcome: dict[str, Any], *, replace_findings: bool) -> None:
        """Store one task's outcome in one transaction: a repository is recorded whole or not at all."""
        status = RepoStatus(outcome["status"])
        findings = outcome.get("findings", [])
        with self.db:
            if replace_findings:
                self.db.execute("DELETE FROM findings WHERE url = ?", (url,))
                self.db.execute("DELETE FROM sarif_runs WHERE url = ?", (url,))
            self.db.executemany("INSERT INTO findings(url, fingerprint, row) VALUES (?, ?, ?)",
                                [(url, f["fingerprint"], json.dumps(f, sort_keys=True)) for f in findings])
            if outcome.get("sarif_run") is not None:
                self.db.execute("INSERT OR REPLACE INTO sarif_runs(url, run) VALUES (?, ?)",
                                (url, json.dumps(outcome["sarif_run"])))
            counts = self.db.execute("SELECT count(*), sum(json_extract(row, '$.verification.status') = 'live') "
                                     "FROM findings WHERE url = ?", (url,)).fetchone()
            tips = outcome.get("tips")
            self.db.execute(
                "UPDATE repositories SET status = ?, tips = coalesce(?, tips), started = ?, finished = ?, "
                "seconds = ?, error = ?, findings = ?, live = ?, scans = scans + ? WHERE url = ?",
                (status, json.dumps(tips) if tips is not None else None, outcome.get("started"), time.time(),
                 outcome.get("seconds"), outcome.get("error"), counts[0], counts[1] or 0,
                 1 if status == RepoStatus.DONE else 0, url))

    def findings(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self.db.execute("SELECT url, row FROM findings ORDER BY url, rowid").fetchall()
        return [(url, json.loads(row)) for url, row in rows]

    def sarif_runs(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self.db.execute("SELECT url, run FROM sarif_runs ORDER BY url").fetchall()
        return [(url, json.loads(run)) for url, run in rows]


def _create_private(path: Path) -> None:
    """A new state file is created 0600 (whatever the umask): it names where credentials are. SQLite
    gives its -wal and -shm files the database file's mode."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))


def _write_ahead(db: sqlite3.Connection) -> None:
    """WAL with synchronous=NORMAL: a commit costs no fsync (one per checkpoint instead: ~15 ms less per
    repository here) and readers (`org status`) never block the writer. A killed client loses no commit;
    a power cut may lose the last few, which a rerun then scans again: never half a repository."""
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.DatabaseError:  # a file system without shared memory: the default journal, fsync per commit
        pass


def _record(row: tuple[Any, ...]) -> RepoRecord:
    url, status, tips, seconds, error, findings, live, scans, finished = row
    return RepoRecord(url, RepoStatus(status), json.loads(tips or "{}"), seconds, error, findings, live, scans,
                      finished)
