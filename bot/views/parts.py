"""How the modals word a split line (rule 10): the part on the PO line shown, where the rest
of the line is, and that removing or moving it acts on the whole line."""

from __future__ import annotations

from bot.text import plural
from bot.views.blocks import escape
from engine import LinePart, POLineHeader, ReviewLine, parts_text


def elsewhere(r: ReviewLine, head: POLineHeader) -> tuple[LinePart, ...]:
    """The line's parts on other PO lines than ``head``."""
    return tuple(p for p in r.parts if (p.po, p.po_line) != (head.po, head.line))


def units(r: ReviewLine, head: POLineHeader) -> str:
    """``2 units``, or a split line's part here: ``5 of 15 units (split: also 10 on PO-1:1)``."""
    if not r.split:
        return plural(r.quantity, "unit")
    rest = elsewhere(r, head)
    also = f": also {parts_text(rest)}" if rest else ""
    return f"{r.quantity} of {plural(r.line_quantity or r.quantity, 'unit')} (split{also})"


def removal_note(chosen: list[ReviewLine], head: POLineHeader, *, hold_for_store: bool) -> str:
    """What removing split lines from ``head`` does to their other parts ("" for none)."""
    split = [r for r in chosen if r.split]
    if not split:
        return ""
    named = "; ".join(
        f"`{escape(r.order)}:{r.line}` ({escape(parts_text(r.parts))})" for r in split
    )
    held = (
        f" Only their units on {escape(head.po)}:{head.line} go to the store hold; the units of "
        "their other parts return to ATP on those PO lines."
        if hold_for_store
        else ""
    )
    return (
        f":scissors: *{plural(len(split), 'split line')} removed whole:* {named}. Every part is "
        f"released, from every PO line it is on.{held}"
    )


def move_note(rows: list[ReviewLine]) -> str:
    """How a move treats the split lines offered ("" for none)."""
    split = [r for r in rows if r.split]
    if not split:
        return ""
    return (
        f":scissors: {plural(len(split), 'split line')} on this page: a split line moves "
        "whole, all its units onto the target (its parts on other PO lines too), so the "
        "target's ATP must hold its whole quantity or nothing moves."
    )


__all__ = ["elsewhere", "move_note", "removal_note", "units"]
