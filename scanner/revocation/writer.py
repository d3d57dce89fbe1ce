"""Every mutating call of a revocation or undo: intent record, the call, result record.

No mutating call without an intent record in the audit log (an unrecorded change cannot be
undone); a result record that cannot be written is reported for the target, and the run goes on.
`Writer` is what the surfaces' appliers (IAM in apply.py, Identity Center in
identity_center_apply.py) share.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scanner.model import RevocationStatus
from scanner.revocation.calls import AuditedCalls, CallFailed, explain, request_id
from scanner.revocation.lockout import OperatorIdentity
from scanner.revocation.model import Change, Plan, qualified

Status = RevocationStatus


@dataclass
class ReadBack:
    """How long to wait for IAM to show a change (eventual consistency), and how."""

    seconds: float = 30.0
    first_delay: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


class Writer:
    """Makes a plan's mutating calls with one operator, writing intent and result records around each."""

    def __init__(self, calls: AuditedCalls, identity: OperatorIdentity, read_back: ReadBack | None = None) -> None:
        self.calls = calls
        self.identity = identity
        self.read_back = read_back or ReadBack()

    def _audit_errors(self, plan: Plan, before: int) -> None:
        plan.audit_errors += self.calls.audit.errors[before:]

    def call(self, plan: Plan, change: Change) -> dict[str, Any] | None:
        """Intent record, the call, result record. None (and the plan failed) when not done."""
        audit = self.calls.audit
        change_id = uuid.uuid4().hex[:12]
        name = qualified(change.operation)
        service, _, operation = name.partition(":")
        before = len(audit.errors)
        written = audit.intent(change_id, operation=name, params=change.params,
                               resource=change.resource, previous=change.previous, target=plan.label,
                               operator_arn=self.identity.arn, operator_account=self.identity.account,
                               fingerprints=plan.target.fingerprints, key_ids=plan.target.key_ids)
        if not written:
            self._audit_errors(plan, before)
            plan.status = Status.FAILED
            plan.message = f"not applied: the intent record could not be written ({audit.errors[-1]})"
            return None
        try:
            response = self.calls(service, operation, **change.params)
        except CallFailed as exc:
            audit.result(change_id, name, ok=False, error_code=exc.failure.code,
                         message=exc.failure.message, request_id=exc.request_id)
            self._audit_errors(plan, before)
            plan.status = Status.REFUSED if exc.failure.code == "UnmodifiableEntity" else Status.FAILED
            plan.message = explain(exc.failure, change.operation, plan.label, self.identity.account)
            return None
        keep = {k: v for k, v in response.items() if k in ("Policy", "PolicyVersion")}
        audit.result(change_id, name, ok=True, response=keep, request_id=request_id(response))
        self._audit_errors(plan, before)
        return response
