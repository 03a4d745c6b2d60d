"""What ``preorder`` prints on stdout: rich output for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import Any

import click
from rich.console import Console


def console() -> Console:
    """Rich output to the current stdout (click's test runner swaps it per invocation).
    Markup is off: customer and supplier names are data, and a name like ``[/x]`` must print
    as written rather than be read as a style tag (or crash the renderer). So are emoji codes
    (``:smile:``), which also spares every command loading rich's table of them."""
    return Console(file=sys.stdout, highlight=False, markup=False, emoji=False)


def echo_json(data: Any) -> None:
    """JSON on stdout; dates and instants as ISO 8601, as in the engine's own ``to_dict``."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_iso))


def _iso(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
