"""Real local receivers for notifications: an HTTP server for webhooks and an SMTP server for email."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import ipaddress
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


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
    """Answers each POST with ``respond(n)`` (n counts from 1): a status code, or None to hang (until
    ``release`` is set, or for ``hang_seconds``); and ``body``.

    With ``keep_alive`` it speaks HTTP/1.1 and keeps the connection open between requests; with
    ``drop_idle`` as well it closes each connection after answering without saying so, as a server
    does that times out idle connections.
    """

    respond: Callable[[int], int | None] = lambda n: 204
    keep_alive: bool = False
    drop_idle: bool = False
    body: bytes = b""
    hang_seconds: float = 30
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
                    receiver.release.wait(receiver.hang_seconds)
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
    """A real SMTP server (aiosmtpd) on a free local port that keeps every message it is sent, and the
    recipients each was accepted for; it refuses the addresses in ``refuse`` (550), accepting the others.
    """

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        self.raw: list[bytes] = []
        self.recipients: list[list[str]] = []
        self.refuse: set[str] = set()
        receiver = self

        class Handler:
            async def handle_RCPT(
                self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
            ) -> str:
                if address in receiver.refuse:
                    return "550 5.1.1 No such mailbox"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                receiver.raw.append(envelope.content)
                receiver.messages.append(message_from_bytes(envelope.content))
                receiver.recipients.append(list(envelope.rcpt_tos))
                return "250 OK"

        # Bound here, to a port the kernel picks as it binds: a port found free and bound later could be
        # taken meanwhile, by the other test process say.
        listener = socket.create_server(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]

        class BoundController(Controller):
            def _create_server(self) -> Any:
                return self.loop.create_server(self._factory_invoker, sock=listener)

        # aiosmtpd gives its thread 5 s to start and answer, which a busy machine can take.
        self.controller = BoundController(Handler(), hostname="127.0.0.1", port=self.port, ready_timeout=30)

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class BlackHole:
    """A TCP server that accepts every connection and never answers, as a Redis stopped with
    ``kill -STOP`` or behind a network black hole does; with ``hang_up``, it closes each at once."""

    def __init__(self, *, hang_up: bool = False) -> None:
        self._hang_up = hang_up
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
            if self._hang_up:
                connection.close()
            else:
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


class SlowSmtpServer:
    """A real SMTP server on a free local port (a thread with a socket) that waits ``delay`` seconds
    before each reply, the greeting included, and keeps each message it accepts.

    With ``tls`` "starttls" it offers STARTTLS; with "smtps" it speaks TLS from the start. Its
    certificate, for 127.0.0.1, is made for it and trusted by ``client_context``.
    """

    def __init__(self, delay: float, tls: str = "") -> None:
        self.delay = delay
        self.tls = tls
        self.accepted: list[bytes] = []
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._peer: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        if tls:
            self._server_context, self.client_context = self_signed_tls()

    def start(self) -> SlowSmtpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._peer is not None:
            with contextlib.suppress(OSError):
                self._peer.shutdown(socket.SHUT_RDWR)  # wakes the thread if it is reading
        self._thread.join()
        self._listener.close()

    def _serve(self) -> None:
        self._listener.settimeout(0.1)  # to see a stop while nobody connects
        while self._peer is None and not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                self._peer, _address = self._listener.accept()
        if self._peer is None:
            return
        self._peer.settimeout(None)
        try:
            self._converse()
        except (OSError, ValueError):  # the client gave up, or the test ended
            pass
        finally:
            self._peer.close()

    def _secure(self) -> None:
        self._peer = self._server_context.wrap_socket(self._peer, server_side=True)

    def _converse(self) -> None:
        if self.tls == "smtps":
            self._secure()
        lines = self._peer.makefile("rb")
        self._reply(b"220 slow.test ESMTP")
        while line := lines.readline():
            command = line.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                self._reply(b"250-slow.test\r\n250 STARTTLS" if self.tls == "starttls" else b"250 slow.test")
            elif command == b"STARTTLS":
                self._reply(b"220 go ahead")
                self._secure()
                lines = self._peer.makefile("rb")
            elif command == b"DATA":
                self._reply(b"354 end with a dot")
                message = b""
                while (line := lines.readline()) != b".\r\n":
                    if not line:
                        return
                    message += line
                self._reply(b"250 accepted")
                self.accepted.append(message)
            elif command == b"QUIT":
                self._reply(b"221 bye")
                return
            else:
                self._reply(b"250 OK")

    def _reply(self, reply: bytes) -> None:
        if self._stop.wait(self.delay):
            raise ValueError("stopped")
        assert self._peer is not None
        self._peer.sendall(reply + b"\r\n")


def self_signed_tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server's TLS context with a new certificate for 127.0.0.1, and a client's that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    with tempfile.TemporaryDirectory() as directory:
        certificate_file, key_file = Path(directory, "cert.pem"), Path(directory, "key.pem")
        certificate_file.write_bytes(pem)
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(certificate_file, key_file)
    client = ssl.create_default_context(cadata=pem.decode())
    return server, client


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
