"""Alembic environment: the connection comes from the caller's ``Database``."""

from __future__ import annotations

from alembic import context

from engine.models import metadata

config = context.config
database = config.attributes.get("database")
if database is None:  # plain `alembic` command line: its sqlalchemy.url, else the settings'
    from engine.config import load
    from engine.db import Database
    from engine.settings import EngineSettings

    database = Database(
        config.get_main_option("sqlalchemy.url") or load(EngineSettings).database_url
    )

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
