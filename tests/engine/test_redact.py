"""Database passwords are hidden in every message that could show them (engine/redact.py)."""

from __future__ import annotations

import pytest

import engine as e
from engine.redact import redact, shown_url


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("mysql://u:s3cret@h/x", "mysql://u:***@h/x"),
        ("at 'postgresql://u:s3cret@h:port/x': no", "at 'postgresql://u:***@h:port/x': no"),
        ("postgresql://u:s3c@ret@h/x", "postgresql://u:***@h/x"),  # an @ not percent-encoded
        ("x://:s3cret@h/db", "x://:***@h/db"),
        ("postgresql://h:5432/db and me@example.com", "postgresql://h:5432/db and me@example.com"),
        ("sqlite:///var/lib/preorder.db", "sqlite:///var/lib/preorder.db"),
    ],
)
def test_the_password_of_every_url_in_a_message_is_hidden(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_a_known_password_is_hidden_wherever_it_appears() -> None:
    said = redact("authentication failed for s3cr/t (s3cr%2Ft)", "s3cr/t")
    assert said == "authentication failed for *** (***)"


@pytest.mark.parametrize(
    "url",
    ["postgresql://u:s3cret@h:port/x", "u:s3cret@h/x", "postgresql+psycopg://u:s3cret@h/x"],
)
def test_a_database_url_is_shown_without_its_password_even_when_unreadable(url: str) -> None:
    assert "s3cret" not in shown_url(url) and "***" in shown_url(url)


def test_an_unsupported_database_is_refused_without_showing_its_password() -> None:
    with pytest.raises(e.StorageError) as refused:
        e.Database("mysql://u:s3cret@db.example/x")
    assert str(refused.value) == (
        "unsupported database 'mysql://u:***@db.example/x': use sqlite or postgresql"
    )
