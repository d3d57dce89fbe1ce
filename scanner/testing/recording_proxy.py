"""A recording reverse proxy in front of moto: every real request/response becomes a CloudTrail event.

Clients (the setup, the attacker with the leaked keys, stsleak itself) send their AWS calls here
(`AWS_ENDPOINT_URL`); the proxy forwards each one unchanged to moto (the Host header too, so SigV4
still matches), relays moto's answer, and records what CloudTrail would: eventName (X-Amz-Target,
the query `Action`, or the S3 REST verb), eventSource, awsRegion (SigV4 scope), userIdentity with
the signing access key id (type/arn learned from what moto answered: GetCallerIdentity, AssumeRole,
CreateAccessKey, …), requestParameters, responseElements (minted credentials' key ids; secret keys
are never recorded and session tokens are redacted), sourceIPAddress, userAgent, errorCode.
CloudTrail `LookupEvents` sent here is answered by the emulator directly (the other CloudTrail calls go
to moto). Only management events are stored, as in CloudTrail's event history (S3 object reads and
writes are data events). Parameters are shaped as CloudTrail shapes them (scanner/testing/operations.py).
What moto lacks is emulated here (`Extension`s: GuardDuty findings, a few IAM calls).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from scanner.testing.cloudtrail import TARGET_PREFIX, CloudTrailEmulator, credential_scope, now_iso, region_of
from scanner.testing.guardduty import GuardDutyEmulator
from scanner.testing.iam_extras import IamExtras
from scanner.testing.loopback import HOP_BY_HOP, LoopbackServer, forward
from scanner.testing.operations import (
    Call,
    event_name,
    lower_first,
    rest_call,
    s3_extra,
    unflatten,
    xml_to_dict,
)

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
SECRET_WORDS = ("password", "secret", "token", "privatekey", "zipfile")
# never in responseElements: session tokens, passwords, MFA seeds and QR codes, private keys, grant tokens
HIDDEN_ANSWERS = ("sessiontoken", "password", "base32stringseed", "qrcodepng", "keymaterial", "credentialsecret",
                  "granttoken")
MINTING = frozenset({"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetSessionToken",
                     "GetFederationToken", "CreateAccessKey"})
S3_DATA = frozenset({"GetObject", "PutObject", "HeadObject", "DeleteObject", "ListObjects", "ListObjectsV2",
                     "CopyObject", "HeadBucket"})
S3_BUCKET_SUBRESOURCES = {"policy": "BucketPolicy", "acl": "BucketAcl", "versioning": "BucketVersioning",
                          "tagging": "BucketTagging", "encryption": "BucketEncryption", "location": "BucketLocation",
                          "publicAccessBlock": "BucketPublicAccessBlock", "policyStatus": "BucketPolicyStatus"}
DEFAULT_ACCOUNT = "123456789012"  # moto's default account


def _hide(key: str, value: Any) -> Any:
    lowered = key.lower()
    if any(word in lowered for word in SECRET_WORDS) and not lowered.endswith(("id", "arn", "name")):
        return HIDDEN
    if isinstance(value, dict):
        return {k: _hide(k, v) for k, v in value.items()}
    return value


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def scrub_elements(value: Any) -> Any:
    """CloudTrail never records secret keys; the emulator also hides session tokens and passwords."""
    if isinstance(value, dict):
        return {k: (HIDDEN if any(word in k.lower() for word in HIDDEN_ANSWERS) else scrub_elements(v))
                for k, v in value.items() if k.lower() != "secretaccesskey"}
    if isinstance(value, list):
        return [scrub_elements(v) for v in value]
    return value


def s3_event_name(method: str, path: str, query: dict[str, list[str]]) -> tuple[str, dict[str, Any]]:
    parts = urllib.parse.unquote(path).lstrip("/").split("/", 1)
    bucket, key = parts[0], (parts[1] if len(parts) > 1 else "")
    if not bucket:
        return "ListBuckets", {}
    params: dict[str, Any] = {"bucketName": bucket}
    if key:
        params["key"] = key
        return {"GET": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject", "HEAD": "HeadObject",
                "POST": "PostObject"}.get(method, method), params
    for sub, suffix in S3_BUCKET_SUBRESOURCES.items():
        if sub in query:
            return {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}.get(method, method) + suffix, params
    if method == "GET":
        return ("ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"), params
    return {"PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket"}.get(method, method), params


_REQUEST_ID = re.compile(rb"<RequestId>([^<]{1,128})</RequestId>")


def request_id_of(headers: list[tuple[str, str]], body: bytes) -> str:
    """The request id the response carried (header, or the XML body's ResponseMetadata), as CloudTrail's
    `requestID` is: the same id the caller's SDK sees in ResponseMetadata.RequestId."""
    for name, value in headers:
        if name.lower() in ("x-amzn-requestid", "x-amz-request-id") and value:
            return value
    found = _REQUEST_ID.search(body[:65536])
    return found.group(1).decode("utf-8", "replace") if found else str(uuid.uuid4())


class EventRecorder:
    """Turns (request, response) pairs into CloudTrail records; learns who each access key is."""

    def __init__(self, emulator: CloudTrailEmulator) -> None:
        self.emulator = emulator
        self.identities: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def identity(self, key: str) -> dict[str, Any]:
        with self._lock:
            known = self.identities.get(key)
        if known:
            return {**known, "accessKeyId": key}
        kind = "IAMUser" if key.startswith("AKIA") else "Unknown"
        return {"type": kind, "accessKeyId": key, "accountId": DEFAULT_ACCOUNT}

    def learn(self, key: str, identity: dict[str, Any]) -> None:
        with self._lock:
            self.identities[key] = identity

    def describe(self, request: dict[str, Any]) -> Call | None:
        """Who signed the request, where, which operation and which parameters (None: unsigned)."""
        scope = credential_scope(request["headers"].get("authorization", ""))
        if len(scope) < 4:
            query = urllib.parse.parse_qs(request["query"])
            scope = query.get("X-Amz-Credential", [""])[0].split("/")[:4]
        if len(scope) < 4:
            return None  # unsigned: not an AWS API call
        key, _, region, service = scope
        operation, params = self._name_and_params(request, service)
        return Call(key, region, service, event_name(service, operation), params, operation)

    def record(self, request: dict[str, Any], status: int, body: bytes,
               response_headers: list[tuple[str, str]] | None = None,
               call: Call | None = None) -> dict[str, Any] | None:
        call = call or self.describe(request)
        if call is None:
            return None
        key, region, service, name, params = call.access_key_id, call.region, call.service, call.name, call.params
        caller = self.identity(key)
        event: dict[str, Any] = {
            "eventVersion": "1.09", "userIdentity": caller, "eventTime": now_iso(),
            "eventSource": f"{service}.amazonaws.com", "eventName": name, "awsRegion": region,
            "sourceIPAddress": request["client_ip"], "userAgent": request["headers"].get("user-agent", ""),
            "requestParameters": {k: _hide(k, v) for k, v in params.items()} or None, "responseElements": None,
            "requestID": request_id_of(response_headers or [], body), "eventID": str(uuid.uuid4()),
            "eventType": "AwsApiCall",
            "readOnly": call.operation.startswith(("Get", "List", "Describe", "Head")) and name not in MINTING,
            "managementEvent": not (service == "s3" and name in S3_DATA),
            "recipientAccountId": caller.get("accountId", DEFAULT_ACCOUNT),
        }
        if status >= 300:
            event["errorCode"], event["errorMessage"] = _error_of(body)
        else:
            response = _response_of(body, call.operation)
            if name in MINTING or not event["readOnly"]:
                event["responseElements"] = scrub_elements(response) or None
            self._learn_from(name, caller, params, response)
        if event["managementEvent"]:
            self.emulator.store.add(event)
        return event

    @staticmethod
    def _name_and_params(request: dict[str, Any], service: str) -> tuple[str, dict[str, Any]]:
        headers, body = request["headers"], request["body"]
        target = headers.get("x-amz-target")
        if target:
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                data = {}
            params = {lower_first(k): v for k, v in data.items()} if isinstance(data, dict) else {}
            return target.rsplit(".", 1)[-1], params
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace")) if body and b"=" in body[:200] else {}
        form = form or urllib.parse.parse_qs(request["query"])
        if "Action" in form:
            flat = {k: v[0] for k, v in form.items() if k not in ("Action", "Version")}
            return form["Action"][0], unflatten(flat, ec2=service == "ec2")
        if service == "s3":
            name, params = s3_event_name(request["method"], request["path"],
                                         urllib.parse.parse_qs(request["query"], keep_blank_values=True))
            return name, params | s3_extra(name, headers, body)
        rest = rest_call(service, request["method"], request["path"], request["query"], body)
        return rest if rest else (f"{request['method']} {request['path']}", {})

    def _learn_from(self, name: str, caller: dict[str, Any], params: dict[str, Any], response: Any) -> None:
        if not isinstance(response, dict):
            return
        account = caller.get("accountId", DEFAULT_ACCOUNT)
        if name == "GetCallerIdentity" and caller["accessKeyId"] not in self.identities:
            arn = response.get("arn", "")
            kind = "AssumedRole" if ":assumed-role/" in arn else "IAMUser" if ":user/" in arn else "Unknown"
            self.learn(caller["accessKeyId"], {"type": kind, "arn": arn, "principalId": response.get("userId"),
                                               "accountId": response.get("account", account)})
        credentials = response.get("credentials") or {}
        minted = credentials.get("accessKeyId") if isinstance(credentials, dict) else None
        if name.startswith("AssumeRole") and minted:
            role_arn = params.get("roleArn", "")
            assumed = response.get("assumedRoleUser") or {}
            self.learn(minted, {
                "type": "AssumedRole", "arn": assumed.get("arn"), "principalId": assumed.get("assumedRoleId"),
                "accountId": role_arn.split(":")[4] if role_arn.count(":") >= 5 else account,
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn,
                                                     "userName": role_arn.rsplit("/", 1)[-1]}}})
        elif name == "GetSessionToken" and minted:
            self.learn(minted, {k: v for k, v in caller.items() if k != "accessKeyId"})
        elif name == "GetFederationToken" and minted:
            federated = response.get("federatedUser") or {}
            self.learn(minted, {"type": "FederatedUser", "arn": federated.get("arn"), "accountId": account,
                                "sessionContext": {"sessionIssuer": {k: caller.get(k) for k in ("type", "arn")}}})
        elif name == "CreateAccessKey":
            access_key = response.get("accessKey") or {}
            user = access_key.get("userName") or params.get("userName")
            if access_key.get("accessKeyId") and user:
                self.learn(access_key["accessKeyId"], {"type": "IAMUser", "userName": user, "accountId": account,
                                                       "arn": f"arn:aws:iam::{account}:user/{user}"})


def _error_of(body: bytes) -> tuple[str, str]:
    try:
        data = json.loads(body)
        code = str(data.get("__type") or data.get("Code") or "Error").rsplit("#", 1)[-1]
        return code, str(data.get("message") or data.get("Message") or "")
    except ValueError:
        pass
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return "Error", body[:200].decode("utf-8", "replace")
    found = {_tag(e): (e.text or "") for e in root.iter() if _tag(e) in ("Code", "Message")}
    return found.get("Code", "Error"), found.get("Message", "")


def _response_of(body: bytes, name: str) -> Any:
    if not body:
        return None
    try:
        data = json.loads(body)
        return {lower_first(k): v for k, v in data.items()} if isinstance(data, dict) else None
    except ValueError:
        pass
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    result = next((e for e in root if _tag(e) == f"{name}Result"), None)
    if result is None and _tag(root) == f"{name}Response":  # EC2: the answer's fields sit under the root
        result = root
    return xml_to_dict(result) if result is not None else None


class Extension(Protocol):
    """An emulated piece of AWS that moto lacks, in the proxy: it may replace moto's answer to a call
    (`answer`), sees every recorded event (`observe`, e.g. GuardDuty turning events into findings),
    and forgets its state when moto is reset (`POST /moto-api/reset`)."""

    def answer(self, call: Call, status: int, headers: list[tuple[str, str]],
               body: bytes) -> tuple[int, list[tuple[str, str]], bytes] | None: ...

    def observe(self, event: dict[str, Any]) -> None: ...

    def reset(self) -> None: ...


class RecordingProxy:
    """Serve on a free loopback port; forward to `upstream` (moto), record into `emulator`.

    `guardduty` (findings) and `iam_extras` (service-specific credentials, user permissions boundaries,
    AWS-managed quarantine policies) answer what moto lacks; moto still decides whether the caller is
    allowed (its answer is kept when it denies)."""

    def __init__(self, upstream: str, emulator: CloudTrailEmulator) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.emulator = emulator
        self.recorder = EventRecorder(emulator)
        self.guardduty = GuardDutyEmulator()
        self.iam_extras = IamExtras()
        self.extensions: list[Extension] = [self.guardduty, self.iam_extras]
        self._server: LoopbackServer | None = None
        self.url = ""

    def forward(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, Any, bytes]:
        return forward(self.upstream, method, path, headers, body)

    def handle(self, method: str, path_and_query: str, headers: list[tuple[str, str]], body: bytes,
               client_ip: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """One request: CloudTrail LookupEvents to the emulator; the rest to moto (or an extension), recorded."""
        lowered = {k.lower(): v for k, v in headers}
        target = lowered.get("x-amz-target", "")
        if target == TARGET_PREFIX + "LookupEvents":
            status, payload = self.emulator.handle(target, body, region_of(lowered.get("authorization", ""))
                                                   or "us-east-1")
            raw = isinstance(payload, bytes)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            return status, [("Content-Type", "text/html" if raw else "application/x-amz-json-1.1")], data
        status, answer_headers, data = self.forward(method, path_and_query, headers, body)
        path, _, query = path_and_query.partition("?")
        if path.startswith("/moto-api"):
            if path.rstrip("/") == "/moto-api/reset" and status < 300:
                for extension in self.extensions:
                    extension.reset()
            return status, answer_headers, data
        request = {"method": method, "path": path, "query": query, "body": body, "headers": lowered,
                   "client_ip": client_ip}
        call = self.recorder.describe(request)
        if call is not None:
            for extension in self.extensions:
                replaced = extension.answer(call, status, answer_headers, data)
                if replaced is not None:
                    status, answer_headers, data = replaced
                    break
        event = self.recorder.record(request, status, data, answer_headers, call)
        if event is not None:
            for extension in self.extensions:
                extension.observe(event)
        return status, answer_headers, data

    def start(self) -> str:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                forwarded = self.headers.get("X-Forwarded-For", "").split(",")[0].strip()
                status, headers, data = proxy.handle(self.command, self.path, list(self.headers.items()), body,
                                                     forwarded or self.client_address[0])
                self._send(status, headers, data)

            def _send(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    lowered = name.lower()
                    relay = lowered not in HOP_BY_HOP and lowered not in ("server", "date")
                    if relay or (lowered == "content-length" and self.command == "HEAD"):
                        self.send_header(name, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any

            def log_message(self, *_: Any) -> None:
                pass

        self._server = LoopbackServer(Handler, "recording-proxy")
        self.url = self._server.url
        if self.emulator.upstream is None:  # CloudTrail calls other than LookupEvents sent to the emulator
            self.emulator.upstream = self.url
        return self.url

    def stop(self) -> None:
        if self._server:
            self._server.stop()
