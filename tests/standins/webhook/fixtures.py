"""pytest fixtures for the webhook receiver, registered for every test in ``tests/conftest.py``
(``pytest_plugins``): a fresh receiver per test, accepting every event until told otherwise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.standins.webhook.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started
