"""Real local receivers for notifications: an HTTP server for webhooks and an SMTP server for email."""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ReceivedWebhook:
    headers: dict[str, str]
    body: bytes
    # The sender's (host, port): the same for requests that came over one connection.
    peer: tuple[str, int] = ("", 0)

    @property
    def event_id(self) -> str:
        return self.headers.get("X-Harbour-Event-Id", "")

    def signature_verifies(self, secret: str) -> bool:
        expected = hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers["X-Harbour-Signature"], f"sha256={expected}")


@dataclass
class WebhookReceiver:
    """Answers each POST with ``respond(n)`` (n counts from 1): a status code, or None to hang; and
    ``body``.

    With ``keep_alive`` it speaks HTTP/1.1 and keeps the connection open between requests; with
    ``drop_idle`` as well it closes each connection after answering without saying so, as a server
    does that times out idle connections.
    """

    respond: Callable[[int], int | None] = lambda n: 204
    keep_alive: bool = False
    drop_idle: bool = False
    body: bytes = b""
    received: list[ReceivedWebhook] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks/harbour"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            @property  # type: ignore[override]
            def protocol_version(self) -> str:  # read per request: a test may switch it on
                return "HTTP/1.1" if receiver.keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                peer = tuple(self.client_address[:2])
                with receiver._lock:
                    receiver.received.append(ReceivedWebhook(dict(self.headers.items()), body, peer))
                    count = len(receiver.received)
                status = receiver.respond(count)
                if status is None:
                    receiver.release.wait(30)
                    return
                self.send_response(status)
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)
                if receiver.drop_idle:
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on a free local port that keeps every message it is sent."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        self.raw: list[bytes] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                receiver.raw.append(envelope.content)
                receiver.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class BlackHole:
    """A TCP server that accepts every connection and never answers, as a Redis stopped with
    ``kill -STOP`` or behind a network black hole does."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self._peers: list[tuple[str, int]] = []
        self._probes: list[tuple[str, int]] = []
        self._accepted: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.getsockname()[:2]
        return f"redis://{host}:{port}/0"

    def start(self) -> BlackHole:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, peer = self._server.accept()
            except TimeoutError:
                continue
            self._accepted.append(connection)
            self._peers.append(peer[:2])

    def connections(self) -> int:
        """How many connections others have opened so far.

        A probe of its own is accepted after every connection opened before it, so none is missed.
        """
        with socket.create_connection(self._server.getsockname()[:2]) as probe:
            mine = probe.getsockname()[:2]
            self._probes.append(mine)
            wait_for(lambda: mine in self._peers)
        return len(self._peers) - len(self._probes)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        self._server.close()
        for connection in self._accepted:
            connection.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.1) -> Any:
    """Poll until ``predicate()`` is truthy and return it; fail with a clear message at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Gave up waiting for {getattr(predicate, '__name__', predicate)}")
        time.sleep(interval)
