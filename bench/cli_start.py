"""Start-up time of the ``preorder`` command line: ``preorder --help``, ``preorder unallocated``
and ``preorder review PO LINE`` on a small SQLite database, against the interpreter's own start
(``python -c pass``) measured in the same run.

Each command is a fresh process, as a person runs it; the commands take turns (one of each,
then the next round), so that a busy moment of the machine falls on all of them alike. The
figure is the median wall-clock time of ``--runs`` rounds (default 10), and its ratio to the
interpreter's in the same run; with ``--repeat K`` the summary gives the medians of the K runs.
Every run must exit 0 and print what it was asked for (the review its PO line, the queue its
order), else the benchmark stops.

    python bench/cli_start.py [--runs N] [--repeat K]

It imports nothing of the project (the commands run in their own processes), so it measures
whichever checkout ``preorder`` runs: ``PYTHONPATH=/path/to/other/checkout`` measures that one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Targets, as multiples of the interpreter's start.
HELP_TARGET = 8
READ_TARGET = 15

DATA = {
    "purchase_orders": [
        {
            "po": "PO-1",
            "supplier": "Acme",
            "lines": [
                {"line": 1, "sku": "MUG-BLUE", "quantity": 20, "arrival_date": "2030-01-10"},
                {"line": 2, "sku": "MUG-RED", "quantity": 5, "arrival_date": "2030-02-10"},
            ],
        }
    ],
    "sales_orders": [
        {
            "order": f"SO-{n}",
            "customer": f"Customer {n}",
            "placed_at": f"2026-01-{n:02d}T09:00:00Z",
            "lines": [{"line": 1, "sku": "MUG-BLUE" if n % 2 else "MUG-RED", "quantity": 2}],
        }
        for n in range(1, 21)
    ],
}


@dataclass(frozen=True)
class Case:
    name: str
    argv: list[str]
    expect: str  # a text the output must hold
    target: float | None  # the most this may take, in interpreter starts


def preorder_script() -> str:
    """The ``preorder`` console script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("preorder")
    found = str(beside) if beside.exists() else shutil.which("preorder")
    if not found:
        raise SystemExit("no 'preorder' command: pip install -e . first")
    return found


def seed(folder: Path, preorder: str) -> str:
    """A small SQLite database made by the command line itself: 2 PO lines, 20 orders."""
    url = f"sqlite:///{folder / 'start.db'}"
    data = folder / "orders.json"
    data.write_text(json.dumps(DATA))
    for argv in (["init"], ["import", str(data)]):
        subprocess.run([preorder, "--db", url, *argv], check=True, capture_output=True)
    return url


def timed(case: Case, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(case.argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or case.expect not in done.stdout:
        raise SystemExit(
            f"{case.name} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return seconds


def measure(cases: list[Case], rounds: int, env: dict[str, str]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {case.name: [] for case in cases}
    for case in cases:  # once each, untimed: the file cache and .pyc files are warm
        timed(case, env)
    for _ in range(rounds):
        for case in cases:
            times[case.name].append(timed(case, env))
    return times


def say(message: str) -> None:
    print(message, flush=True)


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="rounds per repeat (default: 10)")
    parser.add_argument("--repeat", type=int, default=1, help="repeats (default: 1)")
    args = parser.parse_args()
    preorder = preorder_script()
    # The commands see no PREORDER_* setting of the caller's, nor a .env: the --db given only.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREORDER_")}
    say(f"python {platform.python_version()}, {os.cpu_count()} CPUs")
    summary: list[str] = []
    with tempfile.TemporaryDirectory(prefix="preorder-start-") as scratch:
        folder = Path(scratch)
        url = seed(folder, preorder)
        cases = [
            Case("python -c pass", [sys.executable, "-c", "pass"], "", None),
            Case("preorder --help", [preorder, "--help"], "unallocated", HELP_TARGET),
            Case(
                "preorder unallocated",
                [preorder, "--db", url, "unallocated"],
                "SO-20",
                READ_TARGET,
            ),
            Case(
                "preorder review PO-1 1",
                [preorder, "--db", url, "review", "PO-1", "1"],
                "SO-1",
                READ_TARGET,
            ),
        ]
        medians: dict[str, list[float]] = {case.name: [] for case in cases}
        ratios: dict[str, list[float]] = {case.name: [] for case in cases}
        os.chdir(folder)  # no .env of the caller's folder is read
        for repeat in range(1, args.repeat + 1):
            times = measure(cases, args.runs, env)
            base = statistics.median(times[cases[0].name])
            say(f"\nrun {repeat} ({args.runs} rounds)")
            for case in cases:
                median = statistics.median(times[case.name])
                medians[case.name].append(median)
                ratios[case.name].append(median / base)
                each = ", ".join(f"{t * 1000:.0f}" for t in times[case.name])
                say(
                    f"  {case.name:<24} median {median * 1000:6.0f} ms  "
                    f"{median / base:5.1f}x  (runs: {each} ms)"
                )
        for case in cases:
            # Each run's ratio is to the interpreter's start in that same run: the machine's
            # load moves both together.
            ratio = statistics.median(ratios[case.name])
            median = statistics.median(medians[case.name])
            line = f"{case.name:<24} {median * 1000:6.0f} ms  {ratio:5.1f}x"
            if case.target is not None:
                line += f"  target <= {case.target}x: {verdict(ratio <= case.target)}"
            summary.append(line)
    say(f"\nsummary (medians of the {args.repeat} runs' medians and ratios)")
    for line in summary:
        say(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
