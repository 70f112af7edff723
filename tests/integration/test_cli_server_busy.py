"""heketi-cli against a server that answers ``429 Server busy`` for 20 s, then works.

The server is a real HTTP server in this process; heketi-cli runs as its own process, so its
stdout and stderr are the real streams. The waits are shortened to 1-3 s with
BRICKYARD_CLI_RETRY_WAIT to keep the test short; the default schedule (10-30 s, 240 s in all)
is checked in tests/unit/client/test_client_retry.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest

from brickyard.client import qsh

BUSY_FOR = 20.0
KEY = "My Secret"
VOLUME = "0123456789abcdef0123456789abcdef"
NOTICE = re.compile(r"^server busy \(429\), retrying in \d+(\.\d)? s \(attempt \d+, \d+ s left\)$")


class BusyHeketi(ThreadingHTTPServer):
    """DELETE /volumes/<id> is refused with 429 until ``busy_until``; then 202 and a queue
    that answers 204. Every request must carry a token for its own method and path."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.busy_until = 0.0
        self.refused = 0
        self.log: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: BusyHeketi

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _authorized(self) -> bool:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        claims = jwt.decode(token, KEY, algorithms=["HS256"])
        return scheme == "bearer" and claims["qsh"] == qsh(self.command, self.path)

    def _answer(self, status: int, headers: dict[str, str] | None = None, body: str = "") -> None:
        self.server.log.append(f"{self.command} {self.path} {status}")
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def do_DELETE(self) -> None:
        assert self._authorized() and self.path == f"/volumes/{VOLUME}"
        if time.monotonic() < self.server.busy_until:
            self.server.refused += 1
            self._answer(429, body="Server busy. Retry operation later.\n")
        else:
            self._answer(202, {"Location": "/queue/q1"})

    def do_GET(self) -> None:
        assert self._authorized() and self.path == "/queue/q1"
        self._answer(204)


@pytest.fixture
def busy_server() -> Iterator[BusyHeketi]:
    server = BusyHeketi()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def test_cli_outlasts_a_server_busy_for_20_seconds(busy_server: BusyHeketi) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    env.update(
        HEKETI_CLI_SERVER=f"http://127.0.0.1:{busy_server.server_port}",
        HEKETI_CLI_USER="admin",
        HEKETI_CLI_KEY=KEY,
        BRICKYARD_CLI_RETRY_WAIT="1-3",
    )
    started = time.monotonic()
    busy_server.busy_until = started + BUSY_FOR
    done = subprocess.run(
        [sys.executable, "-m", "brickyard.cli.heketi_cli", "volume", "delete", VOLUME],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - started
    assert (done.returncode, done.stdout) == (0, f"Volume {VOLUME} deleted\n"), done.stderr
    assert took >= BUSY_FOR
    lines = done.stderr.splitlines()
    assert len(lines) == busy_server.refused >= BUSY_FOR / 3, done.stderr
    assert all(NOTICE.match(line) for line in lines), done.stderr
    assert busy_server.log[-2:] == [f"DELETE /volumes/{VOLUME} 202", "GET /queue/q1 204"]
