"""pytest fixtures for the SMTP server, registered for every test in ``tests/conftest.py``
(``pytest_plugins``): a fresh server and its mailbox per test, plain SMTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.standins.smtp.server import Mailbox, SmtpServer


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, SmtpServer]]:
    box = Mailbox()
    server = SmtpServer(box)
    server.start()
    yield box, server
    server.stop()
