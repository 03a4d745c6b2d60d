"""``preorder sheets push | pull | sync``: the Google Sheets mirror (or a local .xlsx workbook)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.context import CliContext, pass_cli
from bot.cli.errors import fail
from bot.cli.output import console, echo_json
from engine import Actor, EngineError, Source

if TYPE_CHECKING:
    from sheets.backend import Backend
    from sheets.sync import Report

XLSX = click.option(
    "--xlsx",
    "workbook",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Use this local .xlsx workbook instead of Google Sheets (created by the first push).",
)
JSON = click.option("--json", "as_json", is_flag=True, help="Print the run's report as JSON.")


@click.group()
def sheets() -> None:
    """Mirror PO lines, allocations and the unallocated queue to a spreadsheet, and apply the
    edits people make there.

    Editable: a PO line's Arrival date, Store hold and Sync dates (tick to sync promised
    dates); an allocation's Action (remove, hold for store, move to PO:LINE); an
    unallocated line's Allocate to (PO:LINE). Every edit is validated and applied through the
    same rules as everywhere else; each row's Status says "applied" or why it was refused.

    \b
    Google Sheets needs PREORDER_SHEET_ID and PREORDER_GOOGLE_CREDENTIALS (a service-account
    key file; share the sheet with its client_email as an editor). With --xlsx FILE no Google
    account is needed: push, edit FILE in Excel or LibreOffice, pull.

    \b
    Example:
      preorder sheets sync
      preorder sheets push --xlsx allocations.xlsx
    """


def _run(cli: CliContext, workbook: Path | None, as_json: bool, which: str) -> None:
    from bot.service.jobs import SHEET_SYNC
    from engine.locks import job_lock
    from sheets.backend import SheetsError
    from sheets.sync import Sync

    if which == "pull" and workbook is not None and not workbook.exists():
        # A pull only reads people's edits: a mistyped name must not pass for an empty
        # workbook, made on the spot, with nothing to apply.
        fail(f"{workbook} does not exist: 'preorder sheets push --xlsx {workbook}' creates it")
    db = cli.database()
    backend = _backend(workbook)
    runner = Sync(db, backend, Actor(cli.actor_name, Source.SHEET), zone=cli.zone())
    # The same lock as the scheduled sheet sync: two runs at once would each read the sheet
    # before the other wrote it.
    with job_lock(db, SHEET_SYNC) as held:
        if not held:
            fail("another sheet sync is running (the scheduler's?); try again in a moment")
        try:
            report: Report = getattr(runner, which)()
        except SheetsError as exc:
            fail(str(exc))
        except EngineError as exc:
            fail(str(exc))
    if as_json:
        echo_json(
            {
                "run": report.run,
                "target": report.target,
                "applied": report.applied,
                "refused": report.refused,
                "cells_written": report.cells_written,
                "rows_added": report.rows_added,
                "rows_deleted": report.rows_deleted,
                "requests": report.requests,
                "refusals": report.messages,
            }
        )
        return
    out = console()
    out.print(f"{report.run} {report.target}: {report.summary}")
    for message in report.messages:
        out.print(f"  {message}", highlight=False)


def _backend(workbook: Path | None) -> Backend:
    from sheets.backend import SheetsError

    try:
        if workbook is not None:
            from sheets.workbook import Workbook

            if workbook.suffix.lower() != ".xlsx":
                fail(f"{workbook} is not an .xlsx file")
            return Workbook(workbook)
        from engine.config import SettingsError, load
        from sheets.google import GoogleSheet
        from sheets.settings import SheetsSettings

        try:
            settings = load(SheetsSettings)
        except SettingsError as exc:
            fail(str(exc))
        problems = settings.problems()
        if problems:
            fail("Google Sheets is not configured: " + "; ".join(problems))
        return GoogleSheet.from_settings(settings)
    except SheetsError as exc:
        fail(str(exc))


@sheets.command()
@XLSX
@JSON
@pass_cli
def push(cli: CliContext, workbook: Path | None, as_json: bool) -> None:
    """Bring the spreadsheet up to date with the database: write only what changed since the
    last push, add new rows, delete rows that are gone (a row still holding an unapplied edit is
    kept, with why). An unchanged database writes nothing. Edits people made are left for
    'pull'.

    \b
    Example:
      preorder sheets push
    """
    _run(cli, workbook, as_json, "push")


@sheets.command()
@XLSX
@JSON
@pass_cli
def pull(cli: CliContext, workbook: Path | None, as_json: bool) -> None:
    """Read the spreadsheet once, apply the edits people made since the last push (each
    through the engine, source 'sheet'), and write each edited row's Status: applied, or the
    reason it was refused. A row changed in the database since the last push is refused as a
    conflict, never overwritten.

    \b
    Example:
      preorder sheets pull --xlsx allocations.xlsx
    """
    _run(cli, workbook, as_json, "pull")


@sheets.command()
@XLSX
@JSON
@pass_cli
def sync(cli: CliContext, workbook: Path | None, as_json: bool) -> None:
    """Pull, then push, on one read of the spreadsheet. Safe to run again after a crash at any
    point: an edit already applied is recognised and not applied twice.

    \b
    Example:
      preorder sheets sync
    """
    _run(cli, workbook, as_json, "sync")


COMMANDS = [sheets]
