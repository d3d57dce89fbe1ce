"""Operator API calls, each written to the audit log with its result; IAM failures as one line."""

from __future__ import annotations

from typing import Any

from scanner.aws_session import AwsFailure, Operator, failure_from
from scanner.revocation.audit import AuditLog
from scanner.revocation.model import qualified
from scanner.revocation.policy import ROLE_POLICY_NAME
from scanner.revocation.targets import IDENTITY_CENTER_ADVICE, SERVICE_LINKED_ADVICE


class CallFailed(Exception):
    def __init__(self, failure: AwsFailure, request_id: str | None = None) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.request_id = request_id


class AuditedCalls:
    """Operator API calls, each written to the audit log with its result."""

    def __init__(self, operator: Operator, audit: AuditLog) -> None:
        self.operator = operator
        self.audit = audit

    def __call__(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        from botocore import xform_name

        name = f"{service}:{operation}"
        try:
            response = getattr(self.operator.client(service), xform_name(operation))(**params)
        except Exception as exc:
            failure = failure_from(exc)
            failed_id = request_id(getattr(exc, "response", None))
            self.audit.call(name, params, ok=False, error_code=failure.code, message=failure.message,
                            request_id=failed_id)
            raise CallFailed(failure, failed_id) from None
        self.audit.call(name, params, ok=True, request_id=request_id(response))
        return response

    def paged(self, service: str, operation: str, key: str, **params: Any) -> list[Any]:
        """Every item of a paginated list call (Marker/IsTruncated), each page audited."""
        items: list[Any] = []
        while True:
            page = self(service, operation, **params)
            items += page.get(key, [])
            if not page.get("IsTruncated") or not page.get("Marker"):
                return items
            params = {**params, "Marker": page["Marker"]}


def request_id(response: Any) -> str | None:
    """The id AWS gave the request (ResponseMetadata.RequestId; CloudTrail's `requestID`), if any."""
    if not isinstance(response, dict):
        return None
    found = (response.get("ResponseMetadata") or {}).get("RequestId")
    return found if isinstance(found, str) else None


def explain(failure: AwsFailure, operation: str, subject: str, operator_account: str | None) -> str:
    """One actionable line per IAM failure."""
    if failure.code == "NoSuchEntity":
        return f"{subject} does not exist in the operator's account {operator_account}"
    if failure.is_access_denied:
        return f"the operator may not call {qualified(operation)} on {subject} ({failure.message})"
    if failure.code == "UnmodifiableEntity":
        return f"{subject} cannot be modified: {SERVICE_LINKED_ADVICE}; or, for AWSReservedSSO_ roles, " \
               f"{IDENTITY_CENTER_ADVICE}"
    if failure.code == "LimitExceeded":
        return (f"{subject}: IAM's size or count limit was hit ({failure.message}); remove an inline policy "
                f"or use --scope role ({ROLE_POLICY_NAME} replaces per-session statements)")
    if failure.is_network:
        return f"cannot reach IAM for {subject}: {failure.message}"
    return f"{qualified(operation)} on {subject} failed: {failure.message}"
