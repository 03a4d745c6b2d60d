"""The base of every settings class, and the engine's own settings (``engine.config`` reads
them all).

A settings class declares each of its variables once, as a field with its default and its
meaning (``description``, as the README's configuration table gives it; a test holds the two
together). ``ENVIRONMENT_ONLY`` names the fields a ``.env`` may not set (see
``engine.settings_guard``).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from engine.config import ENV_FILE, PREFIX
from engine.db import DEFAULT_EVENTS, DEFAULT_SPLIT_LINES, DEFAULT_URL
from engine.settings_guard import sources_without


class Settings(BaseSettings):
    """``PREORDER_<FIELD>`` from the environment, else from ``.env``, else the default; other
    variables are ignored."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=ENV_FILE, extra="ignore")

    ENVIRONMENT_ONLY: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return sources_without(
            cls.ENVIRONMENT_ONLY, init_settings, env_settings, dotenv_settings, file_secret_settings
        )


class EngineSettings(Settings):
    """The database. The command line reads this one variable through
    ``engine.config.environment_value`` (see there why); ``Database`` says which URLs work."""

    database_url: str = Field(
        DEFAULT_URL,
        description="the database; `postgresql+psycopg://user@host/db` in production. "
        "`--db URL` overrides it per command",
    )


class EventSettings(Settings):
    """Whether operations write events to the outbox (DESIGN.md section 5); read by each entry
    point that opens a database to change it, and given to ``Database(events=...)``."""

    events: bool = Field(
        DEFAULT_EVENTS,
        description="`0`: operations write no events (nothing for webhooks or emails, ever)",
    )


class AllocationSettings(Settings):
    """How lines are allocated: whether a line no single PO line can hold may be split across
    several (rule 10); read by each entry point that opens a database to change it, and given
    to ``Database(split_lines=...)``."""

    split_lines: bool = Field(
        DEFAULT_SPLIT_LINES,
        description="`1`: a line no single PO line can hold takes units from several of its "
        "SKU's PO lines, earliest first (rule 10); an order's `allow_split` asks it per order",
    )
