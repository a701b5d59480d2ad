"""A fake GitHub REST API on loopback, for the comments the platform posts on pull requests.

It answers `POST /repos/<owner>/<name>/issues/<n>/comments` with 201, or with
the scripted failures queued in `script` first (status, headers, JSON body;
or a delay in seconds longer than the client's timeout). Stopped, it is a
GitHub that is down: connections are refused. It listens on a port fixed for
the whole test session (`PORT`), so the real Celery worker started once per
session can be pointed at it before any test starts it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = _free_port()
URL = f"http://127.0.0.1:{PORT}"
TOKEN = "test-token"


@dataclass
class Reply:
    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    body: dict = field(default_factory=lambda: {"id": 1})
    delay: float = 0.0


class FakeGitHub:
    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.posted: list[dict] = []  # comments GitHub accepted
        self.attempts = 0  # every POST, accepted or not
        self.script: list[Reply] = []
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail_with(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def start(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.attempts += 1
                    reply = fake.script.pop(0) if fake.script else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status == 201:
                    with fake._lock:
                        fake.posted.append({"path": self.path, "body": body, "auth": self.headers["Authorization"]})
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
