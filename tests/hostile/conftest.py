"""Hostile repositories, built for real: config keys naming marker scripts, an HTTP listener."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest


class Listener:
    """An HTTP server on 127.0.0.1 that records every request it receives (it must get none)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        seen = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(f"GET {self.path}")
                self.send_response(404)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *_: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/repo.git"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def marker_script(directory: Path, name: str, marker: Path) -> Path:
    """An executable that records `name` in the marker file: it must never run."""
    script = directory / f"run-{name.replace('.', '-').replace('/', '-')}"
    script.write_text(f"#!/bin/sh\necho {name} >> '{marker}'\ncat >/dev/null 2>&1\nexit 0\n", encoding="utf-8")
    script.chmod(0o755)
    return script
