"""The revocation audit log: one JSON object per line, every IAM call made and its result.

Default file: `<user state dir>/stsleak/audit.jsonl` (platformdirs), or `--audit-log FILE`.
Nothing secret is ever passed in (calls carry key ids, role names and policy documents), and every
free-text message is scrubbed again before it is written.
"""

from __future__ import annotations

import json
import threading
import uuid
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


class AuditLog:
    """Appends records for one run (one run id); safe to use from several threads."""

    def __init__(self, path: Path | None, dry_run: bool, secrets: list[str] | None = None) -> None:
        self.path = path or default_audit_path()
        self.run_id = uuid.uuid4().hex[:12]
        self.dry_run = dry_run
        self._secrets = [s for s in (secrets or []) if s]
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise StsleakError(f"cannot write audit log {self.path}: {exc.strerror}") from None

    def _write(self, record: dict[str, Any]) -> None:
        record = {"time": utc_now(), "run": self.run_id, "dry_run": self.dry_run, **record}
        line = scrub(json.dumps(record, default=str, sort_keys=False), self._secrets)
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")

    def call(self, operation: str, params: dict[str, Any], *, ok: bool, error_code: str | None = None,
             message: str | None = None) -> None:
        """One AWS API call (operation like `iam:PutRolePolicy`) and its outcome."""
        self._write({"event": "call", "operation": operation, "params": params,
                     "result": "ok" if ok else "error", "error_code": error_code, "message": message})

    def event(self, event: str, **fields: Any) -> None:
        """A decision that is not a call: a plan, a refusal, a final status."""
        self._write({"event": event, **fields})
