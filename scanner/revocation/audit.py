"""The revocation audit log: one JSON object per line, every IAM call made and its result.

Default file: `<user state dir>/stsleak/audit.jsonl` (platformdirs), or `--audit-log FILE`.
Before each mutating call an `intent` record (operator, target, call, the previous state, the
findings' fingerprints and key ids) is written and fsynced; after it a `result` record. A write
that fails does not stop the run: it is kept in `errors` and reported for the target it concerns.
Nothing secret is ever passed in, and every free-text message is scrubbed again before writing.
Each record carries the hash of the line before it (chain.py); every call record AWS's request id;
each run starts with a `run` record (tool version, host, the operator's verified ARN).
`stsleak revoke --undo RUN` reads a run's records back only while the chain holds (see undo.py).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner import __version__
from scanner.errors import StsleakError
from scanner.redact import scrub
from scanner.revocation.chain import PREV, START, ChainCheck, is_chained, last_line, line_hash
from scanner.revocation.chain import check as check_chain


def _lock_file(fd: int) -> None:
    """An exclusive lock until the file is closed (POSIX); elsewhere only this process's lock holds."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def default_audit_path() -> Path:
    from platformdirs import user_state_dir

    return Path(user_state_dir("stsleak")) / "audit.jsonl"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    """Appends records for one run (one run id); safe to use from several threads.

    `dry_run` is what the records say: True while planning, False from the moment the plan is
    applied (an interactive "y" included).
    """

    def __init__(self, path: Path | None, dry_run: bool, secrets: list[str] | None = None) -> None:
        self.path = path or default_audit_path()
        self.run_id = uuid.uuid4().hex[:12]
        self.dry_run = dry_run
        self.started = datetime.now(UTC)
        self.errors: list[str] = []
        self._secrets = [s for s in (secrets or []) if s]
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))  # created private
        except OSError as exc:
            raise StsleakError(f"cannot write audit log {self.path}: {exc.strerror}") from None

    def _line(self, record: dict[str, Any], previous: bytes | None) -> str:
        record = {"time": utc_now(), "run": self.run_id, "dry_run": self.dry_run, **record,
                  PREV: line_hash(previous) if previous is not None else None}
        return scrub(json.dumps(record, default=str, ensure_ascii=False), self._secrets)

    def _chained(self, record: dict[str, Any]) -> str:
        """The record's line with the hash of the file's last line; after unchained lines (or at the top
        of the file) a chain-start record first. Called with the file locked."""
        last = last_line(self.path)
        text = ""
        if not is_chained(last):
            start = self._line({"event": START, "version": __version__, "host": socket.gethostname()}, last)
            text, last = start + "\n", start.encode()
        return text + self._line(record, last) + "\n"

    def _write(self, record: dict[str, Any]) -> bool:
        with self._lock:
            try:
                with self.path.open("a", encoding="utf-8") as out:
                    _lock_file(out.fileno())  # other processes append to the same chain
                    out.write(self._chained(record))
                    out.flush()
                    os.fsync(out.fileno())
            except OSError as exc:
                self.errors.append(f"cannot write audit log {self.path}: {exc.strerror or exc}")
                return False
        return True

    def call(self, operation: str, params: dict[str, Any], *, ok: bool, error_code: str | None = None,
             message: str | None = None, request_id: str | None = None) -> bool:
        """One AWS API call (operation like `iam:GetRole`), its outcome and AWS's request id."""
        return self._write({"event": "call", "operation": operation, "params": params,
                            "result": "ok" if ok else "error", "error_code": error_code, "message": message,
                            "request_id": request_id})

    def intent(self, change_id: str, **fields: Any) -> bool:
        """Before a mutating call: what is about to change, and what it was before."""
        return self._write({"event": "intent", "change": change_id, **fields})

    def result(self, change_id: str, operation: str, *, ok: bool, error_code: str | None = None,
               message: str | None = None, response: dict[str, Any] | None = None,
               request_id: str | None = None) -> bool:
        return self._write({"event": "result", "change": change_id, "operation": operation,
                            "result": "ok" if ok else "error", "error_code": error_code, "message": message,
                            "response": response or {}, "request_id": request_id})

    def event(self, event: str, **fields: Any) -> bool:
        """A decision that is not a call: a plan, a refusal, a final status."""
        return self._write({"event": event, **fields})

    def check(self) -> ChainCheck:
        """The hash chain of the whole file (`revoke --verify-log`)."""
        return check_chain(self.path)

    def evidence(self, run_id: str) -> list[dict[str, Any]]:
        """Run `run_id`'s records, only if the chain holds and they are in it (what undo may act on)."""
        checked = self.check()
        if not checked.intact:
            raise StsleakError(f"{checked.summary()}; undo refused (stsleak revoke --verify-log --audit-log "
                               f"{self.path})")
        records = [(record, chained) for _, record, chained in checked.records if record.get("run") == run_id]
        if records and not all(chained for _, chained in records):
            raise StsleakError(f"run {run_id} in {self.path} was recorded before the hash chain (by an older stsleak, "
                               f"or its lines were edited): not evidence, undo refused; undo it by hand from "
                               f"its intent records")
        return [record for record, _ in records]
