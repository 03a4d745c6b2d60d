"""Alembic environment: the connection comes from the caller's ``Database``."""

from __future__ import annotations

from alembic import context

from engine.models import metadata

config = context.config
database = config.attributes.get("database")
if database is None:  # plain `alembic` command line: fall back to the configured URL
    from engine.db import Database

    database = Database(config.get_main_option("sqlalchemy.url") or None)

with database.engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=database.dialect == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
