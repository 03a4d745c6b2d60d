"""Database failures reach the engine's callers as ``StorageError`` (never SQLAlchemy's or a
driver's exception), one line without the database's password, its cause the driver's error:
an unusable URL, an unreachable server, a database without the schema, a broken constraint
(``ConstraintViolation``). None of them is a refusal (``EngineError``): no rule said no.
``db.ping()`` is the health check.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

import engine as e
from tests.fixtures.databases import PG_URL
from tests.helpers import po

UNREACHABLE = "postgresql+psycopg://me:s3cret@127.0.0.1:1/none"


def test_ping_answers_on_a_reachable_database(db: e.Database) -> None:
    db.ping()  # raises StorageError when the database does not answer


def test_ping_of_an_unreachable_database_says_so_without_the_password() -> None:
    db = e.Database(UNREACHABLE)

    with pytest.raises(e.StorageError) as failed:
        db.ping()

    assert str(failed.value).startswith("cannot connect to the database: ")
    assert "s3cret" not in str(failed.value)
    assert isinstance(failed.value.__cause__, DBAPIError)
    assert not isinstance(failed.value, e.EngineError)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://me:s3cret@db.example:port/x", "bad database URL 'postgresql://me:***@"),
        ("postgresql+nodriver://me:s3cret@db.example/x", "bad database URL "),
        ("postgresql+psycopg2://me:s3cret@db.example/x", "no driver for database URL "),
        ("me:s3cret@db.example/x", "bad database URL 'me:***@db.example/x'"),
        ("mysql://me:s3cret@db.example/x", "unsupported database 'mysql://me:***@"),
    ],
)
def test_an_unusable_url_is_a_storage_error_without_the_password(url: str, says: str) -> None:
    with pytest.raises(e.StorageError) as refused:
        e.Database(url)

    assert str(refused.value).startswith(says)
    assert "s3cret" not in str(refused.value)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def bare(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[e.Database]:
    """A database without our schema: a new SQLite file, or an empty PostgreSQL schema."""
    if request.param == "sqlite":
        db = e.Database(f"sqlite:///{tmp_path / 'bare.db'}")
        yield db
        db.dispose()
        return
    request.getfixturevalue("pg_url")  # skips, or fails, as the other PostgreSQL tests do
    schema = f"preorder_bare_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    db = e.Database(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")
    yield db
    db.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_reads_and_operations_on_a_database_without_the_schema_are_storage_errors(
    bare: e.Database, actor: e.Actor
) -> None:
    for attempt in (
        lambda: e.review(bare, "PO-1", 1),
        lambda: e.unallocated(bare),
        lambda: e.apply_records(bare, actor, [po("PO-1", (1, "A", 1, "2027-01-10"))]),
        lambda: e.auto_allocate(bare, actor),
    ):
        with pytest.raises(e.StorageError) as failed:
            attempt()
        assert str(failed.value).startswith("database error: "), failed.value
        # SQLite: "no such table: ..."; PostgreSQL: 'relation "..." does not exist'.
        assert "no such table" in str(failed.value) or "does not exist" in str(failed.value)
        assert isinstance(failed.value.__cause__, DBAPIError)
    assert not bare.has_schema()


def test_a_broken_constraint_is_a_constraint_violation(db: e.Database) -> None:
    def add_product() -> None:
        with db.write() as conn:
            conn.execute(text("INSERT INTO products (sku) VALUES ('A')"))

    add_product()
    with pytest.raises(e.ConstraintViolation) as failed:
        add_product()

    assert isinstance(failed.value, e.StorageError)
    assert isinstance(failed.value.__cause__, IntegrityError)
