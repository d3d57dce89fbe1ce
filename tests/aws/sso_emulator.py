"""An HTTP emulator in front of moto for what moto's sso-admin lacks: asynchronous provisioning, races.

Every request is forwarded to moto unchanged (headers included, so signatures still check), except:
- ProvisionPermissionSet: forwarded, then its status is replaced by the first scripted answer;
- DescribePermissionSetProvisioningStatus (missing in moto): answered with the next scripted status
  (FAILED carries the reason "emulated failure");
- PutInlinePolicyToPermissionSet: forwarded; after the first one `after_first_put` runs (a concurrent
  writer replacing the document before it is read back).
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET = "SWBExternalService."


class SsoAdminEmulator:
    def __init__(self, moto_url: str, answers: list[str] | None = None,
                 after_first_put: Callable[[], None] | None = None) -> None:
        self.moto = urllib.parse.urlsplit(moto_url)
        self.answers = list(answers or ["SUCCEEDED"])
        self.after_first_put = after_first_put
        self.described = 0
        self.puts = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> SsoAdminEmulator:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self) -> str:
        with self._lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def _status(self, status: dict[str, Any]) -> dict[str, Any]:
        answer = self._next()
        status = {**status, "Status": answer}
        if answer == "FAILED":
            status["FailureReason"] = "emulated failure"
        return {"PermissionSetProvisioningStatus": status}

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list, bytes]:
        connection = http.client.HTTPConnection(self.moto.hostname, self.moto.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _reply(self, status: int, headers: list, body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                if target == TARGET + "DescribePermissionSetProvisioningStatus":
                    request = json.loads(body or b"{}")
                    with emulator._lock:
                        emulator.described += 1
                    answer = emulator._status({"RequestId": request.get("ProvisionPermissionSetRequestId")})
                    self._reply(200, [("Content-Type", "application/x-amz-json-1.1")], json.dumps(answer).encode())
                    return
                status, headers, payload = emulator._forward(self.command, self.path, dict(self.headers), body)
                if target == TARGET + "PutInlinePolicyToPermissionSet" and status == 200:
                    with emulator._lock:
                        emulator.puts += 1
                        first = emulator.puts == 1
                    if first and emulator.after_first_put:
                        emulator.after_first_put()
                if target == TARGET + "ProvisionPermissionSet" and status == 200:
                    payload = json.dumps(emulator._status(json.loads(payload)["PermissionSetProvisioningStatus"]))\
                        .encode()
                self._reply(status, headers, payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        return Handler
