"""The revocation audit log: one JSON object per line, every IAM call made and its result.

Default file: `<user state dir>/stsleak/audit.jsonl` (platformdirs), or `--audit-log FILE`.
Before each mutating call an `intent` record (operator, target, call, the previous state, the
findings' fingerprints and key ids) is written and fsynced; after it a `result` record. A write
that fails does not stop the run: it is kept in `errors` and reported for the target it concerns.
Nothing secret is ever passed in, and every free-text message is scrubbed again before writing.
`stsleak revoke --undo RUN` reads a run's intent records back (see undo.py).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.errors import StsleakError
from scanner.redact import scrub


def default_audit_path() -> Path:
    from platformdirs import user_state_dir

    return Path(user_state_dir("stsleak")) / "audit.jsonl"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


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

    def _write(self, record: dict[str, Any]) -> bool:
        record = {"time": utc_now(), "run": self.run_id, "dry_run": self.dry_run, **record}
        line = scrub(json.dumps(record, default=str, ensure_ascii=False), self._secrets)
        with self._lock:
            try:
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(line + "\n")
                    out.flush()
                    os.fsync(out.fileno())
            except OSError as exc:
                self.errors.append(f"cannot write audit log {self.path}: {exc.strerror or exc}")
                return False
        return True

    def call(self, operation: str, params: dict[str, Any], *, ok: bool, error_code: str | None = None,
             message: str | None = None) -> bool:
        """One AWS API call (operation like `iam:GetRole`) and its outcome."""
        return self._write({"event": "call", "operation": operation, "params": params,
                            "result": "ok" if ok else "error", "error_code": error_code, "message": message})

    def intent(self, change_id: str, **fields: Any) -> bool:
        """Before a mutating call: what is about to change, and what it was before."""
        return self._write({"event": "intent", "change": change_id, **fields})

    def result(self, change_id: str, operation: str, *, ok: bool, error_code: str | None = None,
               message: str | None = None, response: dict[str, Any] | None = None) -> bool:
        return self._write({"event": "result", "change": change_id, "operation": operation,
                            "result": "ok" if ok else "error", "error_code": error_code, "message": message,
                            "response": response or {}})

    def event(self, event: str, **fields: Any) -> bool:
        """A decision that is not a call: a plan, a refusal, a final status."""
        return self._write({"event": event, **fields})

    def history(self) -> Iterator[dict[str, Any]]:
        """Every readable record in the file (all runs); broken lines are skipped."""
        try:
            with self.path.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(record, dict):
                        yield record
        except OSError:
            return

    def first_seen(self, fingerprints: list[str]) -> datetime | None:
        """The earliest time any of these credential sets was recorded as live evidence (any run)."""
        wanted = set(fingerprints)
        times = [parse_time(r.get("seen") or r.get("time")) for r in self.history()
                 if r.get("event") == "evidence" and r.get("fingerprint") in wanted]
        return min((t for t in times if t), default=None)

    def run_records(self, run_id: str) -> list[dict[str, Any]]:
        return [r for r in self.history() if r.get("run") == run_id]
