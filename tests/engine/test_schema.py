"""The schema: the migration creates what the models say, reruns harmlessly, and the database's
own constraints refuse states that break the invariants, whatever code writes them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    UniqueConstraint,
    create_engine,
    inspect,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateIndex, DropIndex

import engine as e
from engine.migrate import head_revision
from engine.models import metadata
from tests.fixtures.databases import PG_URL
from tests.helpers import allocation_map, po, so
from tests.history import dump
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
HEAD = head_revision()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[e.Database]:
    """A database with no tables at all: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        database = e.Database(f"sqlite:///{tmp_path / 'new.db'}")
        yield database
        database.dispose()
        return
    request.getfixturevalue("pg_url")  # skips (or fails) when PostgreSQL is unreachable
    schema = f"preorder_empty_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    database = e.Database(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")
    yield database
    database.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_upgrade_creates_the_schema_from_nothing_and_a_rerun_changes_nothing(
    empty_db: e.Database,
) -> None:
    db = empty_db
    assert HEAD is not None
    assert db.has_schema() is False

    assert e.upgrade(db) == (None, HEAD)
    assert db.schema_is_current() is True
    tables = set(inspect(db.engine).get_table_names())
    assert tables == {t.name for t in metadata.sorted_tables} | {"alembic_version"}

    assert e.upgrade(db) == (HEAD, HEAD)
    assert set(inspect(db.engine).get_table_names()) == tables


def test_downgrade_to_nothing_and_upgrade_again_round_trips(empty_db: e.Database) -> None:
    from alembic import command

    from engine.migrate import alembic_config

    e.upgrade(empty_db)
    command.downgrade(alembic_config(empty_db), "base")
    assert set(inspect(empty_db.engine).get_table_names()) <= {"alembic_version"}
    assert e.upgrade(empty_db) == (None, HEAD)
    assert empty_db.schema_is_current() is True


def test_upgrade_of_a_current_database_keeps_its_data(db: e.Database, load: Load) -> None:
    load(po("PO-1", (1, "A", 5, "2027-01-10")), so("SO-1", 1, (1, "A", 2)))
    before = dump(db)

    assert e.upgrade(db) == (HEAD, HEAD)

    assert dump(db) == before
    check_invariants(db)


def test_migration_matches_the_models(db: e.Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_migration_creates_every_named_check_unique_and_foreign_key_constraint(
    db: e.Database,
) -> None:
    # compare_metadata does not look at CHECK constraints or FK options: compare them by name.
    inspector = inspect(db.engine)
    for table in metadata.sorted_tables:

        def named(kind: type) -> set[str]:
            return {str(c.name) for c in table.constraints if isinstance(c, kind)}  # noqa: B023

        checks = {c["name"] for c in inspector.get_check_constraints(table.name)}
        uniques = {c["name"] for c in inspector.get_unique_constraints(table.name)}
        foreign = {c["name"] for c in inspector.get_foreign_keys(table.name)}
        assert (checks, uniques, foreign) == (
            named(CheckConstraint),
            named(UniqueConstraint),
            named(ForeignKeyConstraint),
        ), table.name
    agrees = [
        fk
        for fk in inspector.get_foreign_keys("allocations")
        if fk["name"] == "fk_allocations_so_line_agrees"
    ]
    assert agrees[0]["options"] == {"deferrable": True, "initially": "DEFERRED"}


def test_the_models_partial_indexes_are_the_migrations(empty_db: e.Database) -> None:
    """The models give a partial index's condition in ``info`` (see ``engine.models._partial``):
    created from the models, each is the very index the migration makes, condition included."""
    db = empty_db
    e.upgrade(db)
    partial = [i for t in metadata.sorted_tables for i in t.indexes if "where" in i.info]
    names = sorted(str(i.name) for i in partial)
    assert names == [
        "ix_audit_events_po_line",
        "ix_outbox_deliveries_dead",
        "ix_outbox_deliveries_due",
        "ix_outbox_deliveries_waiting",
        "ix_outbox_events_new",
        "ix_so_lines_allocated",
        "ix_so_lines_queue",
        "ix_so_lines_ready",
        "ix_so_lines_split_queue",
    ]
    listed = ", ".join(f"'{name}'" for name in names)

    def definitions() -> list[str]:
        if db.is_postgres:
            query = (
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                f"AND indexname IN ({listed}) ORDER BY indexname"
            )
        else:
            query = (
                f"SELECT sql FROM sqlite_master WHERE type = 'index' AND name IN ({listed}) "
                "ORDER BY name"
            )
        with db.engine.connect() as conn:
            return [str(row[0]) for row in conn.exec_driver_sql(query)]

    migrated = definitions()
    assert all(" WHERE " in d for d in migrated) and len(migrated) == len(names)
    with db.engine.begin() as conn:
        for index in partial:
            conn.execute(DropIndex(index))
            conn.execute(CreateIndex(index))
    assert definitions() == migrated


@pytest.fixture
def held(db: e.Database, load: Load) -> e.Database:
    """PO-1:1 (A, 5 units) holds SO-1 (2) and SO-2 (1); PO-1:2 (SKU B) holds nothing."""
    load(
        po("PO-1", (1, "A", 5, "2027-01-10"), (2, "B", 5, "2027-01-10")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 1)),
    )
    assert allocation_map(db) == {("SO-1", 1): ("PO-1", 1), ("SO-2", 1): ("PO-1", 1)}
    return db


PO_A = "(SELECT id FROM po_lines WHERE po_number = 'PO-1' AND line = 1)"
PO_B = "(SELECT id FROM po_lines WHERE po_number = 'PO-1' AND line = 2)"


def so_id(order: str) -> str:
    return f"(SELECT id FROM so_lines WHERE order_number = '{order}' AND line = 1)"


def new_allocation(order: str, po_line: str, sku: str, quantity: int) -> str:
    return (
        "INSERT INTO allocations (so_line_id, po_line_id, sku, quantity, operation_id, actor,"
        f" source, created_at) VALUES ({so_id(order)}, {po_line}, '{sku}', {quantity}, 'raw',"
        " 'raw', 'cli', '2026-11-02 09:00:00')"
    )


@dataclass(frozen=True)
class Violation:
    """Raw statements that break an invariant, and the constraint that must refuse them: its
    name as PostgreSQL reports it, and SQLite's message (which names only CHECK constraints)."""

    statements: list[str]
    constraint: str
    sqlite: str = ""


def check(name: str) -> tuple[str, str]:
    return name, f"CHECK constraint failed: {name}"


FK = "FOREIGN KEY constraint failed"

VIOLATIONS: dict[str, Violation] = {
    "over-allocation": Violation(
        [f"UPDATE po_lines SET allocated = allocated + 3 WHERE id = {PO_A}"],
        *check("ck_po_lines_atp_not_negative"),
    ),
    "store-hold-over-free-units": Violation(
        [f"UPDATE po_lines SET store_hold = 3 WHERE id = {PO_A}"],
        *check("ck_po_lines_atp_not_negative"),
    ),
    "negative-allocated": Violation(
        # Two checks refuse it; each database names the first it tries.
        [f"UPDATE po_lines SET allocated = -1 WHERE id = {PO_B}"],
        "ck_po_lines_allocated_lines",
        # SQLite names either (the order it tries them in changed with 0004's table rebuild):
        # the common prefix of ck_po_lines_allocated_lines and ck_po_lines_allocated_not_negative.
        "CHECK constraint failed: ck_po_lines_allocated",
    ),
    "more-lines-than-units": Violation(
        [f"UPDATE po_lines SET allocated_lines = 4 WHERE id = {PO_A}"],
        *check("ck_po_lines_allocated_lines"),
    ),
    "more-out-of-sync-than-lines": Violation(
        [f"UPDATE po_lines SET out_of_sync = 3 WHERE id = {PO_A}"],
        *check("ck_po_lines_out_of_sync"),
    ),
    "second-allocation-row": Violation(
        [new_allocation("SO-1", PO_A, "A", 2)],
        "uq_allocations_so_line_id",
        "UNIQUE constraint failed: allocations.so_line_id",
    ),
    "allocation-to-po-line-of-another-sku": Violation(
        # Everything a careless writer would update, consistently, except that PO-1:2 is SKU B.
        [
            f"UPDATE po_lines SET allocated = allocated - 2, allocated_lines = 1 WHERE id = {PO_A}",
            f"UPDATE po_lines SET allocated = allocated + 2, allocated_lines = 1 WHERE id = {PO_B}",
            f"UPDATE allocations SET po_line_id = {PO_B} WHERE so_line_id = {so_id('SO-1')}",
            f"UPDATE so_lines SET po_line_id = {PO_B} WHERE id = {so_id('SO-1')}",
        ],
        "fk_allocations_po_line_same_sku",
        FK,
    ),
    "allocation-claiming-the-other-sku": Violation(
        # The row claims SKU B to match PO-1:2, but SO-2 is SKU A: refused at commit.
        [
            f"DELETE FROM allocations WHERE so_line_id = {so_id('SO-2')}",
            f"UPDATE po_lines SET allocated = allocated - 1 WHERE id = {PO_A}",
            f"UPDATE so_lines SET po_line_id = {PO_B} WHERE id = {so_id('SO-2')}",
            new_allocation("SO-2", PO_B, "B", 1),
            f"UPDATE po_lines SET allocated = 1 WHERE id = {PO_B}",
        ],
        "fk_allocations_so_line_agrees",
        FK,
    ),
    "partial-allocation": Violation(
        [
            f"UPDATE allocations SET quantity = 1 WHERE so_line_id = {so_id('SO-1')}",
            f"UPDATE po_lines SET allocated = allocated - 1 WHERE id = {PO_A}",
        ],
        "fk_allocations_so_line_agrees",
        FK,
    ),
    "parked-and-allocated": Violation(
        ["UPDATE so_lines SET parked = :yes WHERE order_number = 'SO-1'"],
        *check("ck_so_lines_parked_unallocated"),
    ),
    "cancelled-and-allocated": Violation(
        ["UPDATE so_lines SET status = 'cancelled' WHERE order_number = 'SO-1'"],
        *check("ck_so_lines_allocated_only_open"),
    ),
    "allocated-without-a-promise": Violation(
        ["UPDATE so_lines SET promised_date = NULL WHERE order_number = 'SO-1'"],
        *check("ck_so_lines_allocated_promised"),
    ),
}


@pytest.mark.parametrize("violation", list(VIOLATIONS.values()), ids=list(VIOLATIONS))
def test_database_constraints_refuse_a_direct_write_that_breaks_an_invariant(
    held: e.Database, violation: Violation
) -> None:
    db = held
    before = dump(db)

    with pytest.raises(IntegrityError) as refused, db.engine.begin() as conn:
        for sql in violation.statements:
            conn.execute(text(sql), {"yes": True} if ":yes" in sql else {})

    expected = violation.constraint if db.is_postgres else violation.sqlite
    assert expected in str(refused.value.orig)
    assert dump(db) == before
    check_invariants(db)


def test_the_same_writes_done_correctly_are_accepted(held: e.Database) -> None:
    """The refusals above are the constraints at work, not malformed SQL: taking SO-2's
    allocation away and writing it again, consistently and by the same statements, is accepted."""
    db = held
    with db.engine.begin() as conn:
        for sql in (
            f"DELETE FROM allocations WHERE so_line_id = {so_id('SO-2')}",
            new_allocation("SO-2", PO_A, "A", 1),
        ):
            conn.execute(text(sql))

    assert allocation_map(db) == {("SO-1", 1): ("PO-1", 1), ("SO-2", 1): ("PO-1", 1)}


def test_the_revision_the_cli_checks_is_the_newest_migration() -> None:
    from engine.db import SCHEMA_REVISION

    assert head_revision() == SCHEMA_REVISION


def test_keys_use_the_c_collation_on_postgresql(pg_db: e.Database) -> None:
    with pg_db.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name IN "
            "('po_number', 'order_number', 'sku')"
        ).all()
    assert rows and {r[2] for r in rows} == {"C"}, rows


def test_the_queue_tallies_migration_counts_an_existing_queue(empty_db: e.Database) -> None:
    """Migration 0007 fills the queue's tallies from the lines a database already holds."""
    e.upgrade(empty_db, "0006")
    actor = e.Actor("tester", e.Source.CLI)
    e.apply_records(
        empty_db,
        actor,
        [po("PO-1", (1, "A", 3, "2027-01-10"))],
        [so(f"SO-{n}", 40 * n, (1, "A", 1 + n % 2), (2, "B", 2)) for n in range(8)],
    )
    e.remove(empty_db, actor, "PO-1", 1, [e.LineRef("SO-0", 1)])  # parked: not in the queue
    e.upgrade(empty_db)
    check_invariants(empty_db)  # the tallies equal a recount of the queue
    last = next(ln for ln in e.order(empty_db, "SO-7").lines if ln.line == 1)
    assert last.ahead == (5, 7)  # SO-2..SO-6 of A (1+2+1+2+1 units); SO-0 parked
