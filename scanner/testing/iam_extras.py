"""IAM calls moto 5.2 lacks, answered in the recording proxy over IAM's query/XML protocol.

- Service-specific credentials (CodeCommit, Keyspaces, Bedrock API keys): Create, List, Update, Reset,
  Delete. Ids start `ACCA` (a context-specific credential), passwords are random, made at run time.
- Permissions boundaries of IAM users: Put and Delete; `GetUser` answers carry the boundary.
- AWS-managed policies moto does not ship (`AWSCompromisedKeyQuarantineV2`/`V3`, which AWS attaches to
  a user whose key it found exposed): Attach/Detach on users; `ListAttachedUserPolicies` lists them.

moto sees each call first and decides whether the caller may make it: a denial (401/403) is passed
on unchanged; otherwise this module answers. Users are not checked for existence here.
"""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from scanner.testing.operations import Call

NS = "https://iam.amazonaws.com/doc/2010-05-08/"
DEFAULT_ACCOUNT = "123456789012"
QUARANTINE = frozenset({"arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine",
                        "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2",
                        "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"})
CREDENTIAL_OPS = frozenset({"CreateServiceSpecificCredential", "ListServiceSpecificCredentials",
                            "UpdateServiceSpecificCredential", "ResetServiceSpecificCredential",
                            "DeleteServiceSpecificCredential"})
BOUNDARY_OPS = frozenset({"PutUserPermissionsBoundary", "DeleteUserPermissionsBoundary"})
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
Answer = tuple[int, list[tuple[str, str]], bytes]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml(operation: str, result: str = "") -> Answer:
    inner = f"<{operation}Result>{result}</{operation}Result>" if result else ""
    body = (f'<{operation}Response xmlns="{NS}">{inner}<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>'
            f"</ResponseMetadata></{operation}Response>")
    return 200, [("Content-Type", "text/xml")], body.encode()


def _error(status: int, code: str, message: str) -> Answer:
    body = (f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}'
            f"</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return status, [("Content-Type", "text/xml")], body.encode()


def _fields(values: dict[str, Any]) -> str:
    return "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in values.items() if v is not None)


def _between(body: bytes, tag: str) -> str | None:
    text = body.decode("utf-8", "replace")
    start, end = text.find(f"<{tag}>"), text.find(f"</{tag}>")
    return text[start + len(tag) + 2:end] if 0 <= start < end else None


class IamExtras:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.credentials: dict[str, list[dict[str, str]]] = {}  # user -> service-specific credentials
        self.boundaries: dict[str, str] = {}  # user -> permissions boundary ARN
        self.attached: dict[str, list[str]] = {}  # user -> AWS-managed policies moto lacks
        self._random = random.SystemRandom()

    def reset(self) -> None:
        with self._lock:
            self.credentials.clear()
            self.boundaries.clear()
            self.attached.clear()

    def observe(self, event: dict[str, Any]) -> None:
        pass

    def answer(self, call: Call, status: int, headers: list[tuple[str, str]], body: bytes) -> Answer | None:
        if call.service != "iam" or status in (401, 403):
            return None
        params, operation = call.params, call.operation
        with self._lock:
            if operation in CREDENTIAL_OPS:
                return self._credential(operation, params)
            if operation in BOUNDARY_OPS:
                user = str(params.get("userName") or "")
                if operation == "PutUserPermissionsBoundary":
                    self.boundaries[user] = str(params.get("permissionsBoundary") or "")
                elif self.boundaries.pop(user, None) is None:
                    return _error(404, "NoSuchEntity", f"The user {user} has no permissions boundary.")
                return _xml(operation)
            if operation == "GetUser" and status == 200:
                return self._with_boundary(headers, body)
            return self._quarantine(operation, params, status, headers, body)

    # --- service-specific credentials ---------------------------------------------------------------
    def _credential(self, operation: str, params: dict[str, Any]) -> Answer:
        user = str(params.get("userName") or "")
        mine = self.credentials.setdefault(user, [])
        if operation == "CreateServiceSpecificCredential":
            credential = {"CreateDate": _now(), "ServiceName": str(params.get("serviceName") or ""),
                          "ServiceUserName": f"{user}-at-{DEFAULT_ACCOUNT}",
                          "ServiceSpecificCredentialId": "ACCA" + "".join(self._random.choice(BASE32)
                                                                           for _ in range(17)),
                          "UserName": user, "Status": "Active"}
            mine.append(credential)
            password = "".join(self._random.choice(BASE32 + "abcdefghijklmnopqrstuvwxyz+/") for _ in range(44))
            return _xml(operation, f"<ServiceSpecificCredential>{_fields(credential | {'ServicePassword': password})}"
                                   "</ServiceSpecificCredential>")
        if operation == "ListServiceSpecificCredentials":
            service = params.get("serviceName")
            members = "".join(f"<member>{_fields(c)}</member>" for c in mine
                              if not service or c["ServiceName"] == service)
            return _xml(operation, f"<ServiceSpecificCredentials>{members}</ServiceSpecificCredentials>"
                                   "<IsTruncated>false</IsTruncated>")
        wanted = str(params.get("serviceSpecificCredentialId") or "")
        found = next((c for c in mine if c["ServiceSpecificCredentialId"] == wanted), None)
        if found is None:
            return _error(404, "NoSuchEntity", f"No such credential {wanted} for user {user}.")
        if operation == "DeleteServiceSpecificCredential":
            mine.remove(found)
        elif operation == "UpdateServiceSpecificCredential":
            found["Status"] = str(params.get("status") or found["Status"])
        else:  # Reset: a new password
            password = "".join(self._random.choice(BASE32) for _ in range(44))
            return _xml(operation, f"<ServiceSpecificCredential>{_fields(found | {'ServicePassword': password})}"
                                   "</ServiceSpecificCredential>")
        return _xml(operation)

    # --- user permissions boundaries, AWS-managed quarantine policies ---------------------------------
    def _with_boundary(self, headers: list[tuple[str, str]], body: bytes) -> Answer | None:
        user = _between(body, "UserName")
        boundary = self.boundaries.get(user or "")
        if not boundary:
            return None
        block = (f"<PermissionsBoundary><PermissionsBoundaryType>PermissionsBoundaryPolicy</PermissionsBoundaryType>"
                 f"<PermissionsBoundaryArn>{escape(boundary)}</PermissionsBoundaryArn></PermissionsBoundary>")
        return 200, headers, body.replace(b"</User>", block.encode() + b"</User>", 1)

    def _quarantine(self, operation: str, params: dict[str, Any], status: int, headers: list[tuple[str, str]],
                    body: bytes) -> Answer | None:
        user, arn = str(params.get("userName") or ""), str(params.get("policyArn") or "")
        attached = self.attached.setdefault(user, [])
        if operation == "AttachUserPolicy" and arn in QUARANTINE and status == 404:
            if arn not in attached:
                attached.append(arn)
            return _xml(operation)
        if operation == "DetachUserPolicy" and arn in attached:
            attached.remove(arn)
            return _xml(operation)
        if operation == "ListAttachedUserPolicies" and status == 200 and attached:
            members = "".join(f"<member>{_fields({'PolicyName': a.rsplit('/', 1)[-1], 'PolicyArn': a})}</member>"
                              for a in attached)
            text = body.replace(b"<AttachedPolicies/>", b"<AttachedPolicies></AttachedPolicies>")
            return 200, headers, text.replace(b"</AttachedPolicies>", members.encode() + b"</AttachedPolicies>", 1)
        return None
