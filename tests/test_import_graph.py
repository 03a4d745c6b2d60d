"""The static import graph of ``engine``, ``sheets``, ``notify`` and ``bot`` (DESIGN.md section
2): dependencies point down only (``bot -> sheets -> engine``, ``bot -> notify -> engine``), no
module imports itself back through others, and the text both faces share loads neither face's
libraries.

Every ``import`` a module holds counts, wherever it is: at the top, inside a function (imported
late, but imported all the same once it runs) or under ``TYPE_CHECKING``. ``from pkg import
name`` is an import of the module ``pkg.name`` when there is one, else of ``pkg``; importing a
module is not counted as importing its package's ``__init__`` (which runs first, but owes the
module nothing).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "sheets", "notify", "bot")


@dataclass(frozen=True)
class Import:
    """One import statement: the module holding it, its line and what it names."""

    module: str
    line: int
    target: str


@cache
def modules() -> dict[str, Path]:
    """Every module of the packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    known = modules()
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:  # relative: from the module's package, up ``level - 1`` more
        package = module if modules()[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    for alias in node.names:
        name = f"{base}.{alias.name}"
        yield name if name in known else base


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    """Every import ``module`` holds, at any depth of its code."""
    tree = ast.parse(modules()[module].read_text(encoding="utf-8"))
    return tuple(
        Import(module, node.lineno, target)
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for target in _targets(module, node)
    )


def internal(target: str) -> str | None:
    """The module of ours that an import names (``bot.cli.tables`` for ``bot.cli.tables``,
    ``engine`` for ``engine.Outcome``), or None for another library's."""
    known = modules()
    name = target
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def graph() -> dict[str, set[str]]:
    return {
        module: {
            target
            for imp in imports_of(module)
            if (target := internal(imp.target)) is not None and target != module
        }
        for module in modules()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every module caught in a cycle (Tarjan's algorithm finds the groups of them), with the
    shortest path of imports that leads from it back to itself; a loop is told once, from
    the first of its modules by name."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    found: list[list[str]] = []
    seen: set[frozenset[tuple[str, str]]] = set()
    for group in groups:
        for start in sorted(group):
            path = _path_back(start, group, edges)
            steps = frozenset(pairwise(path))
            if steps not in seen:  # the same loop entered elsewhere
                seen.add(steps)
                found.append(path)
    return found


def _path_back(start: str, group: set[str], edges: dict[str, set[str]]) -> list[str]:
    """The shortest path of imports from ``start`` back to it within ``group``."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges[node] & group):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{start} is in a cycle but no path leads back to it")


def reachable(module: str) -> set[str]:
    """``module`` and every module of ours it imports, directly or through others."""
    edges = graph()
    seen = {module}
    todo = [module]
    while todo:
        for nxt in edges[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def offending(imports: Iterable[Import], *prefixes: str) -> list[str]:
    return sorted(
        f"{imp.module} (line {imp.line}) imports {imp.target}"
        for imp in imports
        if any(imp.target == p or imp.target.startswith(f"{p}.") for p in prefixes)
    )


def in_package(package: str) -> list[str]:
    return [m for m in modules() if m == package or m.startswith(f"{package}.")]


# --- the graph's own checks -------------------------------------------------------------------


def test_the_cycle_finder_names_a_cycle_and_the_way_round_it() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"b"}, "e": {"d"}}
    assert cycles(edges) == [["a", "b", "c", "a"], ["d", "b", "c", "d"]]
    assert cycles({"x": {"y"}, "y": set()}) == []


def test_every_import_counts_wherever_it_is_written() -> None:
    server = {imp.target for imp in imports_of("bot.service.server")}
    # At the top, under TYPE_CHECKING and inside functions alike.
    assert {"engine", "bot.service.metrics", "bot.app"} <= server
    assert internal("engine.Outcome") == "engine"
    assert internal("bot.cli.tables") == "bot.cli.tables"
    assert internal("rich.table") is None


# --- the project's layering -------------------------------------------------------------------


def test_no_module_of_engine_sheets_notify_or_bot_imports_itself_back() -> None:
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_engine_imports_nothing_from_the_faces() -> None:
    imports = [imp for m in in_package("engine") for imp in imports_of(m)]
    assert offending(imports, "bot", "sheets", "notify") == []


def test_sheets_imports_nothing_from_bot() -> None:
    imports = [imp for m in in_package("sheets") for imp in imports_of(m)]
    assert offending(imports, "bot", "notify") == []


def test_notify_imports_the_engine_only() -> None:
    """The delivery of events depends on the engine alone, as the spreadsheets do: ``bot``
    (the command line, the service) may import it, never the other way round."""
    imports = [imp for m in in_package("notify") for imp in imports_of(m)]
    assert offending(imports, "bot", "sheets") == []


def test_the_shared_text_loads_neither_rich_nor_slack() -> None:
    """``bot.text`` serves the terminal and Slack alike: neither it nor anything of ours it
    imports may pull in the other face's libraries."""
    imports = [imp for m in reachable("bot.text") for imp in imports_of(m)]
    assert offending(imports, "rich", "slack_sdk", "slack_bolt") == []


def test_the_slack_app_imports_neither_the_command_line_nor_the_service() -> None:
    """The Slack app (``bot``'s own modules, its handlers and views) is what ``serve`` and
    ``digest --post`` run: it must not pull in the terminal tables, the HTTP server or the
    intake it is served beside."""
    slack = [m for m in in_package("bot") if not m.startswith(("bot.cli", "bot.service",
                                                               "bot.intake"))]  # fmt: skip
    imports = [imp for m in slack for imp in imports_of(m)]
    assert offending(imports, "bot.cli", "bot.service", "bot.intake", "rich") == []
