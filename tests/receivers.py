"""Local receivers for the notification tests: an SMTP server (aiosmtpd's Controller) and an
HTTP robot receiver (http.server in a thread) that records what it got and answers as told."""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        with self.lock:
            self.messages.append(message)
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int


class Receiver:
    """Answers each POST with the next status of `statuses` (the last one repeats); with
    `hold` set, a request waits until `release` (a receiver that does not answer)."""

    def __init__(self, statuses: list[int] | None = None, hold: bool = False) -> None:
        self.statuses = list(statuses or [200])
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.hold = hold
        self.released = threading.Event()
        self.waiting = threading.Event()  # a held request has arrived
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if receiver.hold:
                    receiver.waiting.set()
                    receiver.released.wait(30)
                with receiver.lock:
                    index = len(receiver.received)
                    status = receiver.statuses[min(index, len(receiver.statuses) - 1)]
                    receiver.received.append(
                        Received(self.path, dict(self.headers.items()), body, status)
                    )
                answer = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "/robot/send?access_token=abc") -> str:
        return f"http://{self.host}{path}"

    def ids(self, status: int | None = 200) -> list[str]:
        with self.lock:
            return [
                r.headers["X-Notification-Id"]
                for r in self.received
                if status is None or r.status == status
            ]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
