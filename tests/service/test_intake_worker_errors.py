"""What crosses from the intake's worker process to the server (``bot.intake.worker``): the
engine's errors whole, any other fault with the worker's traceback as a note, and one that does
not pickle as a ``RuntimeError`` that says what it was. No database needed."""

from __future__ import annotations

import pickle

import pytest

import engine as e
from bot.intake.worker import _portable


@pytest.mark.parametrize(
    "error",
    [
        e.Conflict("2 orders already stored", [e.Difference("SO-1", "customer", "a", "b")]),
        e.Refused("no room", ["PO-1:1 holds 2"], shortfall=3),
        e.NotFound("no such order"),
        e.InvalidInput("bad date"),
        e.StorageError("database error: server closed the connection"),
        e.ConstraintViolation("database error: duplicate key"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_the_engines_errors_cross_processes_whole(error: Exception) -> None:
    back = pickle.loads(pickle.dumps(_portable(error)))

    assert type(back) is type(error)
    assert str(back) == str(error)
    assert vars(back) == vars(error)  # its notes too (a constraint broken: the traceback)


def test_a_refusal_carries_no_traceback_but_a_fault_of_ours_does() -> None:
    refusal = _portable(e.Refused("no room"))
    violation = _portable(e.ConstraintViolation("database error: duplicate key"))
    try:
        raise KeyError("so_id")
    except KeyError as exc:
        fault = _portable(exc)

    assert not getattr(refusal, "__notes__", None)
    assert violation.__notes__[0].startswith("in the intake's worker process:\n")
    assert type(fault) is KeyError
    assert "in test_a_refusal_carries_no_traceback_but_a_fault_of_ours_does" in fault.__notes__[0]


def test_a_fault_that_does_not_pickle_crosses_as_a_runtime_error_saying_what_it_was() -> None:
    class Local(Exception):  # a class pickle cannot find by name
        pass

    try:
        raise Local("the detail")
    except Local as exc:
        crossed = _portable(exc)

    back = pickle.loads(pickle.dumps(crossed))
    assert type(back) is RuntimeError
    assert str(back) == "Local: the detail"
    assert back.__notes__[0].startswith("in the intake's worker process:\n")
