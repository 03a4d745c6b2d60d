"""One list of ``PREORDER_*`` variables: each is declared once, as a field of a settings class
with its default and meaning; the README's configuration table says the same, row for row; and
no code names a variable that no class declares. Every setting is read by ``engine.config``,
whose one message names each bad variable."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

from engine.config import SettingsError, Variable, environment_value, load, variables
from engine.settings import EngineSettings, Settings
from tests.fixtures.databases import SuiteSettings

ROOT = Path(__file__).parents[1]
PACKAGES = ("engine", "sheets", "bot", "notify")
ROW = re.compile(r"\| `(?P<name>PREORDER_[A-Z0-9_]+)` \|(?P<default>[^|]*)\| (?P<meaning>.*) \|")


def settings_classes() -> list[type[Settings]]:
    """Every settings class of the code (each module imported, so none is missed), and the
    test suite's own."""
    for name in PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if ".migrations." not in module.name:  # Alembic's scripts run only under Alembic
                importlib.import_module(module.name)
    found: list[type[Settings]] = []
    pending: list[type[Settings]] = [Settings]
    while pending:
        for sub in pending.pop().__subclasses__():
            found.append(sub)
            pending.append(sub)
    assert SuiteSettings in found
    return found


def declared() -> list[Variable]:
    return [v for cls in settings_classes() for v in variables(cls)]


def readme_table() -> dict[str, tuple[str, str]]:
    """The README's configuration table: variable -> (default, meaning)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        if not line.startswith("| `PREORDER_"):
            continue
        row = ROW.fullmatch(line)
        assert row, f"a configuration row the test cannot read: {line}"
        assert row["name"] not in rows, f"{row['name']} is in the table twice"
        rows[row["name"]] = (row["default"].strip().strip("`"), row["meaning"].strip())
    return rows


def test_every_variable_is_declared_once_with_its_meaning() -> None:
    found = declared()
    names = [v.name for v in found]
    assert len(names) == len(set(names)), "a variable declared by two settings classes"
    for v in found:
        assert v.meaning, f"{v.name} has no description"
        # Those a .env may not set say so, and only those.
        assert ("environment only" in v.meaning) == v.environment_only, v.name


def test_the_readme_table_gives_every_variable_its_declared_default_and_meaning() -> None:
    expected = {v.name: (v.default, v.meaning) for v in declared()}
    table = readme_table()
    rows = "\n".join(
        f"| `{name}` | {f'`{default}`' if default else ''} | {meaning} |"
        for name, (default, meaning) in expected.items()
    )
    assert set(table) - set(expected) == set(), "variables in the README that no class declares"
    assert set(expected) - set(table) == set(), f"variables missing from the README:\n{rows}"
    for name, row in expected.items():
        assert table[name] == row, f"{name}: README {table[name]}, declared {row}"


def test_the_code_names_no_variable_that_no_class_declares() -> None:
    """Every ``PREORDER_*`` name in the code and its messages is a declared variable (or, as
    ``PREORDER_SLACK_*`` or ``PREORDER_SLACK_``, the beginning of some)."""
    names = {v.name for v in declared()}
    stray: set[str] = set()
    for folder in (*PACKAGES, "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for found in re.finditer(r"\bPREORDER_[A-Z0-9_]*[A-Z0-9](_\*?)?", text):
                name = found[0]
                if name.endswith(("_", "_*")):
                    if not any(n.startswith(name.rstrip("*")) for n in names):
                        stray.add(f"{path.relative_to(ROOT)}: {name}")
                elif name not in names:
                    stray.add(f"{path.relative_to(ROOT)}: {name}")
    assert stray == set()


def test_only_the_loader_reads_the_environment() -> None:
    """No module of the app reads ``os.environ`` but ``engine/config.py``, and none builds a
    settings class itself (``EngineSettings()``): settings are read with ``load``, at the entry
    points."""
    found: list[str] = []
    for folder in PACKAGES:
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            name = str(path.relative_to(ROOT))
            if re.search(r"\bos\.(environ|getenv)\b", text) and name != "engine/config.py":
                found.append(f"{name}: os.environ")
            found.extend(f"{name}: {m[0]}" for m in re.finditer(r"\b[A-Z]\w*Settings\(\)", text))
    assert found == []


def test_bad_settings_are_one_message_naming_every_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bot.service.settings import ServiceSettings

    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("PREORDER_SWEEP_MINUTES", "-1")
    monkeypatch.setenv("PREORDER_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError) as raised:
        load(ServiceSettings)
    assert str(raised.value) == (
        "bad settings: PREORDER_SWEEP_MINUTES: Input should be greater than or equal to 0; "
        "PREORDER_LOG_FORMAT: Input should be 'plain' or 'json'"
    )


@pytest.mark.parametrize(
    ("environ", "dotenv", "expected"),
    [
        ({}, None, None),
        ({"PREORDER_DATABASE_URL": "sqlite:///env.db"}, None, "sqlite:///env.db"),
        ({"preorder_database_url": "sqlite:///lower.db"}, None, "sqlite:///lower.db"),
        ({}, "PREORDER_DATABASE_URL=sqlite:///file.db\n", "sqlite:///file.db"),
        ({}, "export PREORDER_DATABASE_URL='sqlite:///quoted.db' # note\n", "sqlite:///quoted.db"),
        ({"PREORDER_DATABASE_URL": "sqlite:///env.db"}, "PREORDER_DATABASE_URL=x\n", "sqlite:///env.db"),
        ({"PREORDER_DATABASE_URL": ""}, None, ""),
        ({}, "PREORDER_SHEET_ID=1\n", None),
    ],
)  # fmt: skip
def test_the_command_lines_quick_read_of_the_database_url_is_the_loaders(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    environ: dict[str, str],
    dotenv: str | None,
    expected: str | None,
) -> None:
    """Every command reads the database URL without pydantic (``environment_value``): it must
    read what ``load(EngineSettings)`` reads, wherever the variable is set."""
    monkeypatch.chdir(tmp_path)
    for name in ("PREORDER_DATABASE_URL", "preorder_database_url"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    assert environment_value("database_url") == expected
    loaded = load(EngineSettings).database_url
    assert loaded == (EngineSettings.model_fields["database_url"].default if expected is None
                      else expected)  # fmt: skip
