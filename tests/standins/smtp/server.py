"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it is sent: plain, with STARTTLS
(required, with a login) or SMTPS, over a self-signed certificate made here for 127.0.0.1.
Clients trust it through ``SSL_CERT_FILE``, which OpenSSL's default verify paths (what
``ssl.create_default_context`` loads) read."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "shop", "p@ss word"


class Mailbox:
    """The server's handler: keeps each message (``parse=False``: only its recipients, as a
    benchmark needs); ``refuse`` maps a recipient to the reply its RCPT gets (``550 ...`` for
    good, ``451 ...`` for now)."""

    def __init__(self, *, parse: bool = True) -> None:
        self.parse = parse
        self.messages: list[EmailMessage] = []
        self.recipients: list[str] = []
        self.refuse: dict[str, str] = {}
        self.logins: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        reply = self.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.recipients.extend(envelope.rcpt_tos)
        if not self.parse:
            return "250 Message accepted for delivery"
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    if ok:
        server.event_handler.logins.append(USER)
    return AuthResult(success=ok)


class SmtpServer(Controller):
    """aiosmtpd's controller on 127.0.0.1 at a free port (it wants a fixed one to connect to
    once it starts: the port the system gave is read back first)."""

    def __init__(self, mailbox: Mailbox, **options: Any) -> None:
        super().__init__(mailbox, hostname="127.0.0.1", port=0, **options)
        self.mailbox = mailbox

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SilentServer:
    """A mail server that hangs: it takes connections on 127.0.0.1 and never says a word
    (no greeting), as one stuck behind a full disk or a dead backend does. ``connections``
    counts those it took."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.connections = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._socket.close()
        for held in self._held:
            held.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                held, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            self._held.append(held)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by its own key: (cert, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
