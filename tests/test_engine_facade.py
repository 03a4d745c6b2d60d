"""The database is the engine's alone (DESIGN.md section 2): no module outside ``engine/``
imports SQLAlchemy, a database driver, Alembic or the engine's schema, nor holds SQL text. The
faces call engine functions and read their results; a database failure reaches them as the
engine's ``StorageError``.

Every top-level package of the project but ``engine`` is walked (``bot``, ``sheets``, ``notify``
and any package added beside them), every module and every import in it, wherever it is (at the top,
inside a function, under ``TYPE_CHECKING``). The tests and the benchmarks are left out: they
set databases up and look inside them, as tests of an engine must.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_FACES = {"engine", "tests", "bench"}
# Libraries that talk to the database, and the engine's own schema (SQLAlchemy tables).
FORBIDDEN = ("sqlalchemy", "psycopg", "psycopg2", "sqlite3", "alembic", "engine.models")
# SQL as code writes it: a statement's keywords in capitals, or a short statement in any case.
SQL = (
    re.compile(
        r"\bSELECT\b[^;]*?\bFROM\b|\bSELECT\s+(\d|\*|COUNT\()|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b"
        r"|\bDELETE\s+FROM\b|\b(CREATE|DROP|ALTER|TRUNCATE)\s+(TABLE|INDEX|SCHEMA|SEQUENCE)\b"
        r"|\bPRAGMA\s+\w|\bSET\s+TRANSACTION\b|\bBEGIN\s+IMMEDIATE\b|\bpg_\w+\(",
        re.DOTALL,
    ),
    re.compile(
        r"\bselect\s+(\d|\*|count\()|\binsert\s+into\s+\w+\s*\(|\bupdate\s+\w+\s+set\s+\w+\s*="
        r"|\bdelete\s+from\s+\w+\s+where\b|\bselect\s+[\w.,\s*]+?\s+from\s+\w+\s+where\b",
        re.IGNORECASE,
    ),
)


def face_modules(root: Path = ROOT) -> Iterator[Path]:
    """Every module of every top-level package of ``root`` but the engine (and the tests and
    benchmarks)."""
    for package in sorted(p.parent for p in root.glob("*/__init__.py")):
        if package.name not in NOT_FACES:
            yield from sorted(package.rglob("*.py"))


def database_use(path: Path, root: Path = ROOT) -> list[str]:
    """Where the module at ``path`` reaches the database itself: each forbidden import and
    each piece of SQL text, with its line."""
    where = path.relative_to(root)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(pattern.search(node.value) for pattern in SQL):
                found.append((node.lineno, f"SQL text {node.value[:60]!r}"))
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        bad = next(
            (n for n in names if any(n == f or n.startswith(f"{f}.") for f in FORBIDDEN)), None
        )
        if bad is not None:
            found.append((node.lineno, f"imports {bad}"))
    return [f"{where}:{line}: {what}" for line, what in sorted(found)]


def test_the_faces_are_found_bot_sheets_and_notify_among_them() -> None:
    packages = {p.relative_to(ROOT).parts[0] for p in face_modules()}
    assert {"bot", "sheets", "notify"} <= packages
    assert not packages & NOT_FACES


def test_no_module_outside_the_engine_imports_a_database_library_or_holds_sql() -> None:
    found = [line for path in face_modules() for line in database_use(path)]
    assert found == [], "\n".join(found)


def test_the_check_sees_every_kind_of_database_use(tmp_path: Path) -> None:
    """The walk itself: a late import, an import under TYPE_CHECKING, a driver, the engine's
    tables and SQL in a string, each is named with its line; prose about selects is not."""
    package = tmp_path / "face"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "late.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from sqlalchemy.engine import Connection\n"
        "def f():\n"
        "    import psycopg\n"
        "    from engine.models import po_lines\n"
        "    from engine import models\n"
        '    return "SELECT sku FROM po_lines", "select 1"\n'
        'HELP = "Choose from the select; delete from the sheet what you do not want."\n'
    )
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "__init__.py").write_text("import sqlalchemy\n")

    modules = list(face_modules(tmp_path))
    found = [line for path in modules for line in database_use(path, tmp_path)]

    assert [p.name for p in modules] == ["__init__.py", "late.py"]
    assert found == [
        "face/late.py:3: imports sqlalchemy.engine",
        "face/late.py:5: imports psycopg",
        "face/late.py:6: imports engine.models",
        "face/late.py:7: imports engine.models",
        "face/late.py:8: SQL text 'SELECT sku FROM po_lines'",
        "face/late.py:8: SQL text 'select 1'",
    ]
