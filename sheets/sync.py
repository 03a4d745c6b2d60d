"""Push, pull and sync: the spreadsheet as a mirror of the database and a channel for edits.

The database is the source of truth. The snapshot (``engine.mirror``) holds, per row, the values
the sync last wrote or accounted for; comparing the sheet with it finds people's edits, and
comparing the database with it finds what changed since. A row changed on both sides is a
conflict: the edit is refused (the database's change is never overwritten), the values typed are
kept in the row's Status, and the row shows the database's values again. Nothing a person typed
is dropped: an edit is applied, or refused with its reason (and for a conflict its values) in the
row's Status, or left in place for the next pull.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

import engine as e
from engine import mirror
from sheets import cells, edits
from sheets.backend import Backend, SheetsError, TabChanges, Value
from sheets.layout import (
    DATA_TABS,
    KEY,
    LAYOUT_STAMP,
    STATUS,
    SYNC_LOG,
    TABS,
    Column,
    Kind,
    Tab,
)
from sheets.rows import IDENTITY, desired, key_of
from sheets.view import TabView

Snapshot = dict[str, dict[str, dict[str, Any]]]  # tab -> key -> header -> encoded value
# Kept in the snapshot beside the tabs: the layout the spreadsheet was last set up for.
LAYOUT = "(layout)"
# Kept beside each tab, by key: the Status a run could not write (its write failed after it
# had applied edits), for the next run to write.
UNWRITTEN = "(status) "
# How many of the edits a failed write leaves applied its error names, one by one.
NAMED = 10
# Columns whose cells only carry requests (emptied once applied): they are not part of a
# row's state, so they take no part in telling whether the database changed a row.
COMMANDS = {"Sync dates", "Action", "Allocate to"}


class Conflict(edits.Refusal):
    """An edit to a row the database changed since the last push."""


@dataclass
class Report:
    """What one run did, for the command line and the Sync log."""

    run: str
    target: str
    applied: int = 0
    refused: int = 0
    cells_written: int = 0
    rows_added: int = 0
    rows_deleted: int = 0
    requests: int = 0
    wrote: bool = False
    messages: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        parts = [
            f"{self.applied} edit(s) applied",
            f"{self.refused} refused",
            f"{self.cells_written} cell(s) written",
            f"{self.rows_added} row(s) added",
            f"{self.rows_deleted} deleted",
            f"{self.requests} request(s)",
        ]
        return ", ".join(parts)


@dataclass
class _Run:
    views: dict[str, TabView]
    snapshot: Snapshot
    want: dict[str, dict[str, dict[str, Any]]]
    changes: dict[str, TabChanges]
    statuses: dict[str, dict[int, str]]
    touched: dict[str, dict[str, dict[str, Any] | None]]  # snapshot rows to store
    # What the pull applied, one line per edit, for the error of a write that then fails.
    done: list[str] = field(default_factory=list)
    # The snapshot rows and Statuses as the pull left them, before a push adds its own.
    pulled: dict[str, dict[str, dict[str, Any] | None]] = field(default_factory=dict)
    pulled_statuses: dict[str, dict[int, str]] = field(default_factory=dict)


class Sync:
    def __init__(
        self,
        db: e.Database,
        backend: Backend,
        actor: e.Actor,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        zone: tzinfo = UTC,
    ) -> None:
        self.db = db
        self.backend = backend
        self.actor = actor
        self.clock = clock
        # The team's time zone (PREORDER_TIMEZONE): every time the sheet shows is in it.
        self.zone = zone

    # --- the three commands -------------------------------------------------------------

    def push(self) -> Report:
        """Bring the sheet up to date with the database, writing only what changed."""
        report = Report("push", self.backend.label)
        run = self._begin()
        self._push(run, report)
        return self._finish(run, report)

    def pull(self) -> Report:
        """Apply people's edits through the engine and write each row's Status."""
        report = Report("pull", self.backend.label)
        run = self._begin()
        self._pull(run, report, pushing=False)
        for tab in DATA_TABS:
            self._write_statuses(run, tab)
        return self._finish(run, report)

    def sync(self) -> Report:
        """Pull, then push, on one read of the sheet."""
        report = Report("sync", self.backend.label)
        run = self._begin()
        self._pull(run, report, pushing=True)
        # The push works from the database as the edits left it.
        run.want = desired(e.state(self.db), self.zone)
        self._push(run, report)
        return self._finish(run, report)

    # --- reading --------------------------------------------------------------------------

    def _begin(self) -> _Run:
        grids = self.backend.read(TABS)
        views = {t.name: TabView.of(t, grids.get(t.name, [])) for t in TABS}
        snapshot = mirror.load(self.db, self.backend.mirror)
        touched: dict[str, dict[str, dict[str, Any] | None]] = {t.name: {} for t in DATA_TABS}
        stamp = snapshot.get(LAYOUT, {}).get(LAYOUT)
        if any(v.missing for v in views.values()) or stamp != {"stamp": LAYOUT_STAMP}:
            grids = self.backend.setup(TABS, grids)
            views = {t.name: TabView.of(t, grids.get(t.name, [])) for t in TABS}
            still = {n: v.missing for n, v in views.items() if v.missing}
            if still:
                raise SheetsError(f"{self.backend.label} still lacks columns after setup: {still}")
            touched[LAYOUT] = {LAYOUT: {"stamp": LAYOUT_STAMP}}
        statuses: dict[str, dict[int, str]] = {t.name: {} for t in DATA_TABS}
        for tab in DATA_TABS:
            # Statuses a failed write left unwritten: written now (a newer one for the row, if
            # this run has one, replaces it), and forgotten once this run's write succeeds.
            owed = snapshot.get(UNWRITTEN + tab.name, {})
            for key, kept in owed.items():
                places = views[tab.name].rows.get(key, [])
                if len(places) == 1 and _shown_key(tab, views[tab.name], places[0]) == key:
                    statuses[tab.name][places[0]] = str(kept.get("status", ""))
            if owed:
                touched[UNWRITTEN + tab.name] = dict.fromkeys(owed)
        return _Run(
            views=views,
            snapshot=snapshot,
            want=desired(e.state(self.db), self.zone),
            changes={t.name: TabChanges() for t in TABS},
            statuses=statuses,
            touched=touched,
        )

    # --- pull -----------------------------------------------------------------------------

    def _pull(self, run: _Run, report: Report, *, pushing: bool) -> None:
        """``pushing``: a push follows in the same run (and rewrites conflicting rows)."""
        stamp = cells.instant_text(self.clock().astimezone(self.zone))
        for tab in DATA_TABS:
            view = run.views[tab.name]
            for r in self._keyless_requests(tab, view):
                report.refused += 1
                text = "refused: this row has no Key, so it is not one the sync wrote; make the "
                text += "change on the row of that order line or PO line"
                run.statuses[tab.name][r] = text
                report.messages.append(f"{tab.name} row {r + 1}: {text}")
            for key, places in view.rows.items():
                for r in places:
                    found = self._edits_of(run, tab, view, key, r)
                    if found is None:
                        continue
                    wanted, broken = found
                    earlier = self._already_applied(run, tab, key, wanted)
                    if earlier and len(earlier) == len(wanted) and not broken:
                        # Applied by a run that stopped before it could say so (a crash, a
                        # lost answer): account for it now, apply nothing again.
                        self._account(run, tab, key, wanted)
                        report.applied += len(wanted)
                        typed = ", ".join(f"{h} {cells.shown(v)}" for h, v in wanted.items())
                        run.statuses[tab.name][r] = (
                            f"applied by an earlier run that stopped before it could say so: "
                            f"{typed}"
                        )
                        run.done.append(
                            f"{tab.name} row {r + 1} ({key}): {typed} (applied by an earlier run)"
                        )
                        continue
                    try:
                        self._check_row(run, tab, view, key, r, places, broken, ours=bool(earlier))
                        done = self._apply(run, tab, key, r, wanted)
                    except Conflict as exc:
                        # The database wins; the person's values are kept in Status, and the
                        # row's cells show the database's again once a push writes them:
                        # typed again, they are judged against what the person then sees.
                        typed = ", ".join(f"{h} {cells.shown(v)}" for h, v in wanted.items())
                        if pushing:
                            then = (
                                "The row shows the database's values again: type yours again "
                                "to apply them"
                            )
                        else:
                            then = (
                                "The cells keep what was typed until the next push puts the "
                                "database's values back; type yours again after it to apply them"
                            )
                        text = f"refused: {exc}; not applied: {typed}. {then}"
                        report.refused += 1
                        run.statuses[tab.name][r] = text
                        report.messages.append(f"{tab.name} row {r + 1} ({key}): {text}")
                        # Accounted for as typed; the sync's own columns as the sheet shows
                        # them until a push rewrites the row (a later edit is judged against
                        # them, and they are not mistaken for a person's).
                        row = dict(self._base(run, tab, key))
                        row.update(
                            (h, cells.encode(tab.column(h).kind, v)) for h, v in wanted.items()
                        )
                        run.touched[tab.name][key] = row
                        continue
                    except (edits.Refusal, e.EngineError) as exc:
                        report.refused += 1
                        text = f"refused: {exc}"
                        run.statuses[tab.name][r] = text
                        report.messages.append(f"{tab.name} row {r + 1} ({key}): {text}")
                        continue
                    if done:
                        report.applied += len(done)
                        run.statuses[tab.name][r] = f"applied {stamp}: " + "; ".join(done)
            if not pushing:
                self._restore_typed_over(run, tab, view, report)
        run.pulled = {name: dict(rows) for name, rows in run.touched.items()}
        run.pulled_statuses = {name: dict(texts) for name, texts in run.statuses.items()}

    def _restore_typed_over(self, run: _Run, tab: Tab, view: TabView, report: Report) -> None:
        """A pull alone puts back what a person typed in the sync's own columns (a push puts
        the database's values there anyway), and says so in the row's Status."""
        for key, places in view.rows.items():
            r = places[0]
            before = run.snapshot.get(tab.name, {}).get(key)
            now = run.want[tab.name].get(key)
            if before is None or now is None or len(places) > 1:
                continue
            if _shown_key(tab, view, r) != key:
                continue
            found: list[tuple[Column, Value, Value]] = []
            for column in _own(tab):
                h = column.header
                raw = view.cell(r, h)
                if h not in before or cells.same_as_stored(column.kind, raw, before[h]):
                    continue
                if cells.same(column.kind, raw, now[h]):
                    continue  # the database's value already
                again = cells.stored_to_sheet(column.kind, before[h])
                run.changes[tab.name].cells.append((r, view.columns[h], again))
                report.cells_written += 1
                found.append((column, raw, again))
            if found:
                self._say_typed_over(run, tab, key, r, found, report)

    def _say_typed_over(
        self,
        run: _Run,
        tab: Tab,
        key: str,
        r: int,
        found: list[tuple[Column, Value, Value]],
        report: Report,
    ) -> None:
        text = "refused: " + ". ".join(
            f"{column.header} is not editable (the sync writes it): "
            f"{_as_typed(column.kind, raw)} was typed there and is not applied; it shows "
            f"{cells.written(again)} again"
            for column, raw, again in found
        )
        statuses = run.statuses[tab.name]
        statuses[r] = f"{statuses[r]}; {text}" if statuses.get(r) else text
        report.refused += 1
        report.messages.append(f"{tab.name} row {r + 1} ({key}): {text}")

    def _keyless_requests(self, tab: Tab, view: TabView) -> list[int]:
        """Rows a person added (no key) with something typed in an editable column: they ask
        for a change the sync cannot place, and must hear so rather than be ignored."""
        keyed = {r for places in view.rows.values() for r in places}
        found = []
        for r in range(1, len(view.grid)):
            if r in keyed:
                continue
            for column in tab.editable:
                raw = view.cell(r, column.header)
                if raw is not None and raw is not False and str(raw).strip():
                    found.append(r)
                    break
        return found

    def _edits_of(
        self, run: _Run, tab: Tab, view: TabView, key: str, r: int
    ) -> tuple[dict[str, Any], dict[str, str]] | None:
        """The editable cells of row ``r`` that differ from what the sync last accounted for:
        parsed values, and the cells that do not parse (with why)."""
        base = self._base(run, tab, key)
        wanted: dict[str, Any] = {}
        broken: dict[str, str] = {}
        for column in tab.editable:
            raw = view.cell(r, column.header)
            before = cells.decode(column.kind, base.get(column.header))
            try:
                value = cells.parse(column.kind, raw)
            except cells.CellError as exc:
                broken[column.header] = f"{column.header}: {exc}"
                continue
            if value != (bool(before) if column.kind is Kind.BOOL else before):
                wanted[column.header] = value
        if not wanted and not broken:
            return None
        return wanted, broken

    def _base(self, run: _Run, tab: Tab, key: str) -> dict[str, Any]:
        """The row as the sync last wrote or accounted for it; for a row it has no record of
        (its snapshot was never stored), the database's row as it is now."""
        known = run.snapshot.get(tab.name, {}).get(key)
        if known is not None:
            return known
        row = run.want[tab.name].get(key)
        return _encode_row(tab, row) if row is not None else {}

    def _check_row(
        self,
        run: _Run,
        tab: Tab,
        view: TabView,
        key: str,
        r: int,
        places: list[int],
        broken: dict[str, str],
        *,
        ours: bool = False,
    ) -> None:
        if len(places) > 1:
            others = ", ".join(str(p + 1) for p in places if p != r)
            raise edits.Refusal(f"duplicated key {key}: row {others} has it too; delete the copy")
        shown_key = _shown_key(tab, view, r)
        if shown_key != key:
            raise edits.Refusal(
                f"tampered key: the hidden Key says {key} but the row shows "
                f"{shown_key or 'no line'}; restore the row or delete it"
            )
        row = run.want[tab.name].get(key)
        if row is None:
            if key in run.snapshot.get(tab.name, {}):
                raise edits.Refusal(f"{key} no longer exists in the database; delete this row")
            raise edits.Refusal(f"unknown key {key}: this row was not written by the sync")
        if broken:
            raise edits.Refusal("; ".join(broken.values()))
        stored = run.snapshot.get(tab.name, {}).get(key)
        # ``ours``: part of this row's edits went in before a crash, so the database's change
        # since the push is the sync's own, not a conflict.
        if stored is not None and not ours:
            now = _encode_row(tab, row)
            moved = [
                f"{h} {cells.shown(stored.get(h))} → {cells.shown(now.get(h))}"
                for h in tab.headers
                if h not in (KEY, STATUS) and h not in COMMANDS and stored.get(h) != now.get(h)
            ]
            if moved:
                raise Conflict(
                    "conflict: this row changed in the database since the last push ("
                    + ", ".join(moved)
                    + ")"
                )

    def _already_applied(self, run: _Run, tab: Tab, key: str, wanted: dict[str, Any]) -> set[str]:
        """The row's edits whose idempotency keys have committed."""
        base = self._base(run, tab, key)
        keys = {
            edits.Edit(tab.name, key, h, v).idempotency_key(self.backend.mirror, base): h
            for h, v in wanted.items()
        }
        return {keys[k] for k in e.applied_keys(self.db, keys)}

    def _account(self, run: _Run, tab: Tab, key: str, wanted: dict[str, Any]) -> None:
        base = dict(self._base(run, tab, key))
        for header, value in wanted.items():
            base[header] = cells.encode(tab.column(header).kind, value)
        run.touched[tab.name][key] = base

    def _apply(self, run: _Run, tab: Tab, key: str, r: int, wanted: dict[str, Any]) -> list[str]:
        """Apply a row's edits in order; returns what was done. A refusal of a later edit
        leaves the earlier ones applied and their cells accounted for."""
        row = run.want[tab.name][key]
        base = dict(self._base(run, tab, key))
        done: list[str] = []
        try:
            for header in edits.COLUMN_ORDER:
                if header not in wanted:
                    continue
                edit = edits.Edit(tab.name, key, header, wanted[header], _line_of(row))
                planned = edits.plan(edit, self.actor, self.db)
                if planned is not None:
                    apply, said = planned
                    outcome = apply(edit.idempotency_key(self.backend.mirror, base))
                    # The operation's id is what 'preorder undo' takes.
                    done.append(
                        f"{said}{_consequences(outcome)} [operation {outcome.operation_id}]"
                    )
                    run.done.append(f"{tab.name} row {r + 1} ({key}): {done[-1]}")
                base[header] = cells.encode(tab.column(header).kind, wanted[header])
                run.touched[tab.name][key] = dict(base)
        except (edits.Refusal, e.EngineError) as exc:
            if done:
                raise edits.Refusal("; ".join(done) + f" applied, then refused: {exc}") from exc
            raise
        return done

    # --- push -----------------------------------------------------------------------------

    def _push(self, run: _Run, report: Report) -> None:
        for tab in DATA_TABS:
            self._push_tab(run, tab, report)

    def _push_tab(self, run: _Run, tab: Tab, report: Report) -> None:
        view = run.views[tab.name]
        changes = run.changes[tab.name]
        statuses = run.statuses[tab.name]
        stored = {**run.snapshot.get(tab.name, {}), **_only_rows(run.touched[tab.name])}
        touched = run.touched[tab.name]
        below = _next_rows(run.want[tab.name], view)
        for key, row in run.want[tab.name].items():
            places = view.rows.get(key)
            if not places:
                values = {h: cells.to_sheet(tab.column(h).kind, v) for h, v in row.items()}
                # In the tab's order (FIFO on Unallocated): above the row that follows it, if
                # that row is on the sheet; people who sorted otherwise find it by its neighbour.
                anchor = below[key]
                if anchor is None:
                    changes.append.append(view.row_values(values))
                else:
                    changes.insert.append((anchor, view.row_values(values)))
                touched[key] = _encode_row(tab, row)
                report.rows_added += 1
                continue
            r = places[0]
            before = stored.get(key)
            after: dict[str, Any] = {}
            # A row showing another line than its key's (sorted without the hidden Key, say) is
            # rewritten whole: what was typed on it was meant for the line it showed, and must
            # not stay on the line it will show.
            shown = _shown_key(tab, view, r)
            dropped: list[str] = []
            typed_over: list[tuple[Column, Value, Value]] = []
            for column in tab.columns:
                h = column.header
                if h == STATUS:
                    continue
                raw = view.cell(r, h)
                value = row[h]
                if cells.same(column.kind, raw, value):
                    after[h] = cells.encode(column.kind, value)
                    continue
                if column.editable and shown != key:
                    dropped.append(f"{h} {_as_typed(column.kind, raw)}")
                elif column.editable and before is not None and h in before:
                    last = cells.decode(column.kind, before[h])
                    if not cells.same(column.kind, raw, last):
                        # A person's edit not applied yet: left for the next pull, which will
                        # judge it against what the sync last wrote.
                        after[h] = before[h]
                        continue
                elif (
                    h != KEY
                    and shown == key
                    and len(places) == 1
                    and before is not None
                    and h in before
                    and not cells.same_as_stored(column.kind, raw, before[h])
                ):
                    # Typed by a person in the sync's own column: written over, and said.
                    typed_over.append((column, raw, cells.to_sheet(column.kind, value)))
                changes.cells.append((r, view.columns[h], cells.to_sheet(column.kind, value)))
                after[h] = cells.encode(column.kind, value)
                report.cells_written += 1
            if after != before:
                touched[key] = after
            if typed_over:
                self._say_typed_over(run, tab, key, r, typed_over, report)
            if shown != key and (dropped or statuses.get(r, "").startswith("refused")):
                text = (
                    f"refused: this row showed {shown or 'no line'} but its hidden Key is {key} "
                    f"(sorted or pasted without the Key column?); it shows {key} again"
                )
                if dropped:
                    text += (
                        f", and what it held is not applied: {', '.join(dropped)}. Type it "
                        "again on the row of the line you meant"
                    )
                if not statuses.get(r, "").startswith("refused"):
                    report.refused += 1
                    report.messages.append(f"{tab.name} row {r + 1} ({key}): {text}")
                statuses[r] = text
            for extra in places[1:]:
                statuses.setdefault(extra, f"duplicate of row {r + 1}: delete this row")
        for key, places in view.rows.items():
            if key in run.want[tab.name]:
                continue
            kept = False
            for r in places:
                refused = statuses.get(r, "").startswith("refused")
                if refused or self._holds_edit(tab, view, r, stored.get(key) or {}):
                    # Gone from the database, but a person's words are on it: kept, with why,
                    # for the person to read and delete.
                    statuses.setdefault(r, f"{key} is no longer in the database; delete this row")
                    kept = True
                    continue
                changes.delete.append(r)
                report.rows_deleted += 1
            if key in stored and not kept:
                touched[key] = None
        self._write_statuses(run, tab)

    def _holds_edit(self, tab: Tab, view: TabView, r: int, base: dict[str, Any]) -> bool:
        """Whether row ``r`` holds a person's edit the sync has not accounted for."""
        for column in tab.editable:
            raw = view.cell(r, column.header)
            if not cells.same(column.kind, raw, cells.decode(column.kind, base.get(column.header))):
                return True
        return False

    # --- writing --------------------------------------------------------------------------

    def _finish(self, run: _Run, report: Report) -> Report:
        changed = any(run.changes[t.name] for t in DATA_TABS)
        if changed or report.applied or report.refused:
            log = run.views[SYNC_LOG.name]
            # The write carrying this row is counted in it: one values request, plus one
            # structural request when rows are deleted or the grid must grow.
            report.requests = self.backend.requests + self.backend.writes_for(run.changes)
            row: dict[str, Value] = {
                "When": cells.instant_text(self.clock().astimezone(self.zone)),
                "Who": self.actor.name,
                "Run": report.run,
                "Edits applied": report.applied,
                "Edits refused": report.refused,
                "Requests": report.requests,
                "Note": f"{report.cells_written} cells written, {report.rows_added} rows added, "
                f"{report.rows_deleted} deleted",
            }
            run.changes[SYNC_LOG.name].append.append(log.row_values(row))
            try:
                self.backend.write({n: c for n, c in run.changes.items() if c})
            except SheetsError as exc:
                if not run.done:
                    raise
                self._remember_pulled(run)
                raise SheetsError(f"{exc}. {_applied(run.done)}") from exc
            report.wrote = True
        elif self.backend.layout_drift:
            # Nothing to write but the layout a spreadsheet app's save dropped: put it back.
            self.backend.write({})
            report.wrote = True
        self._remember(run)
        report.requests = self.backend.requests
        return report

    def _write_statuses(self, run: _Run, tab: Tab) -> None:
        view = run.views[tab.name]
        status_at = view.columns[STATUS]
        deleted = set(run.changes[tab.name].delete)
        for r, text in run.statuses[tab.name].items():
            if r not in deleted and _text(view.cell(r, STATUS)) != text:
                run.changes[tab.name].cells.append((r, status_at, text))

    def _remember_pulled(self, run: _Run) -> None:
        """After a write that failed once edits were applied: keep what the pull accounted for
        (the database has those edits, and the cells still say what was typed) and the Statuses
        it could not write, for the next run; not what a push would have written."""
        changed = {
            name: rows
            for name, rows in run.pulled.items()
            if rows and not name.startswith(UNWRITTEN)
        }
        for tab in DATA_TABS:
            accounted = run.pulled.get(tab.name, {})
            texts = run.pulled_statuses.get(tab.name, {})
            owed: dict[str, dict[str, Any] | None] = {
                key: {"status": texts[places[0]]}
                for key, places in run.views[tab.name].rows.items()
                if key in accounted and places[0] in texts
            }
            if owed:
                changed[UNWRITTEN + tab.name] = owed
        if changed:
            mirror.save(self.db, self.backend.mirror, changed)

    def _remember(self, run: _Run) -> None:
        changed = {name: rows for name, rows in run.touched.items() if rows}
        if changed:
            mirror.save(self.db, self.backend.mirror, changed)


def _applied(done: list[str]) -> str:
    """What a run applied before its write failed, for its error."""
    named = "; ".join(done[:NAMED])
    if len(done) > NAMED:
        named += f"; and {len(done) - NAMED} more"
    count = "1 edit" if len(done) == 1 else f"{len(done)} edits"
    return (
        f"The database has the {count} this run applied (a rerun applies none of them again, "
        f"and writes their Status): {named}"
    )


def _consequences(outcome: e.Outcome) -> str:
    """What else the operation did, in a few words (a rule may release or allocate more)."""
    if outcome.replayed:
        return " (already applied)"
    parts = []
    if outcome.allocated_count:
        parts.append(f"{outcome.allocated_count} order line(s) allocated")
    released = len([p for p in outcome.released])
    if released:
        parts.append(f"{released} order line(s) released")
    if outcome.moved and len(outcome.moved) > 1:
        parts.append(f"{len(outcome.moved)} moved")
    if outcome.promises:
        parts.append(f"{len(outcome.promises)} promised date(s) changed")
    return f" ({', '.join(parts)})" if parts else ""


def _line_of(row: dict[str, Any]) -> edits.Line:
    """The lines a row of the database's names (see ``rows.desired``)."""
    return edits.Line(
        row.get("PO"), row.get("Line"), row.get("Order"), row.get("Order line"), row.get("Parts")
    )


def _next_rows(want: dict[str, Any], view: TabView) -> dict[str, int | None]:
    """For each wanted key, the row (as read) of the first key after it, in the tab's order,
    that is on the sheet: where a new row goes above. None: no such row, it goes at the end."""
    found: dict[str, int | None] = {}
    following: int | None = None
    for key in reversed(list(want)):
        found[key] = following
        places = view.rows.get(key)
        if places:
            following = places[0]
    return found


def _shown_key(tab: Tab, view: TabView, r: int) -> str:
    """The key row ``r``'s visible cells make ("" when they are empty)."""
    first, second = (_text(view.cell(r, h)) for h in IDENTITY[tab.name])
    return key_of(first, second) if first or second else ""


def _as_typed(kind: Kind, raw: Value) -> str:
    """A cell as a person reads it (a date, not its serial number), for a Status."""
    try:
        return cells.shown(cells.parse(kind, raw))
    except cells.CellError:
        return cells.shown(raw)


def _own(tab: Tab) -> tuple[Column, ...]:
    """The columns only the sync writes, but the Key (a changed Key is another row) and
    Status."""
    return tuple(c for c in tab.columns if not c.editable and c.header not in (KEY, STATUS))


def _encode_row(tab: Tab, row: dict[str, Any]) -> dict[str, Any]:
    return {h: cells.encode(tab.column(h).kind, v) for h, v in row.items()}


def _only_rows(rows: dict[str, dict[str, Any] | None]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in rows.items() if v is not None}


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
