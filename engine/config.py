"""How every settings class is read: one loader, one error message, one naming rule.

A setting is the field of a settings class (``engine.settings.Settings`` and its subclasses:
the engine's, the Slack app's, the service's, the spreadsheet's), read from the variable
``PREORDER_<FIELD>`` in the process environment or in a ``.env`` file in the working directory
(the environment wins). Only entry points read them (the command line, ``serve``, the
benchmarks, the demo), each with ``load(SettingsClass)``, which checks every value and turns
whatever is wrong into one ``SettingsError`` naming each variable and what is wrong with it.

This module lives in the engine, the bottom of the dependency graph, so that ``engine``,
``sheets`` and ``bot`` all read their settings the same way without a face importing another.
It imports pydantic only when a class is loaded: a command that needs no settings class (every
read command needs the database URL alone, read by ``environment_value``) starts without it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from pydantic import ValidationError
    from pydantic_settings import BaseSettings

PREFIX = "PREORDER_"
ENV_FILE = ".env"

S = TypeVar("S", bound="BaseSettings")


class SettingsError(Exception):
    """The configuration cannot be used; ``str()`` is one line naming every variable to set or
    fix."""


def variable(field: str) -> str:
    """The environment variable of a settings field: ``slack_timeout`` is
    ``PREORDER_SLACK_TIMEOUT``."""
    return PREFIX + field.upper()


def load(cls: type[S], **overrides: Any) -> S:
    """``cls`` read from the environment and ``.env`` (``overrides`` win), every value checked,
    or ``SettingsError`` naming each bad variable."""
    from pydantic import ValidationError

    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """A settings class's ``ValidationError`` as one line: ``bad settings: PREORDER_PORT: Input
    should be a valid integer; PREORDER_TIMEZONE: unknown time zone 'Mars/Olympus' ...``."""
    return bad_settings(
        [
            (
                "_".join(str(part) for part in err["loc"]),
                str(err["msg"]).removeprefix("Value error, "),
            )
            for err in exc.errors()
        ]
    )


def bad_settings(problems: Sequence[tuple[str, str]]) -> str:
    """The one message for bad settings, from (field, what is wrong) pairs."""
    return "bad settings: " + "; ".join(f"{variable(field)}: {what}" for field, what in problems)


def environment_value(field: str) -> str | None:
    """The value of one setting as ``load`` reads it (the environment, its name in any case,
    over ``.env``), unchecked; None where neither sets it. For the database URL, which every
    command reads before anything else: pydantic would add a third to a read command's start
    (a test holds this reading to ``load``'s)."""
    name = variable(field).lower()
    for key, value in os.environ.items():
        if key.lower() == name:
            return value
    if Path(ENV_FILE).is_file():
        from dotenv import dotenv_values

        for key, found in dotenv_values(ENV_FILE).items():
            if key.lower() == name:
                return found
    return None


def time_zone(value: str) -> ZoneInfo:
    """``PREORDER_TIMEZONE``'s value as a zone (the team's: of every schedule and of every time
    shown to a person), or ValueError saying what is wrong: the one reading of it, for the
    service's settings and for the command line, which reads it without pydantic."""
    name = value.strip()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (e.g. UTC, America/New_York)") from None


@dataclass(frozen=True)
class Variable:
    """One ``PREORDER_*`` variable as its settings class declares it."""

    name: str
    default: str  # as the README writes it: "" for none, 1/0 for a flag, 15 for 15.0
    meaning: str
    environment_only: bool


def variables(cls: type[BaseSettings]) -> list[Variable]:
    """Every variable ``cls`` reads, with its default and meaning (each field's
    ``description``), for the README's table and its test."""
    only = getattr(cls, "ENVIRONMENT_ONLY", ())
    return [
        Variable(
            variable(name),
            _shown(field.get_default(call_default_factory=True)),
            field.description or "",
            name in only,
        )
        for name, field in cls.model_fields.items()
    ]


def _shown(value: Any) -> str:
    if isinstance(value, timedelta):  # as ISO 8601 (P3D), which the variable takes too
        from pydantic import TypeAdapter

        return str(TypeAdapter(timedelta).dump_python(value, mode="json"))
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)
