"""SqlSynthGen/datafaker configs and tutorial steps that synthgate runs as written (issue 15)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from synthgate_shared.config import config_from_data
from test_cli import AGENT, BUILDER, run


def _generator(**extra: object) -> dict[str, object]:
    return {"name": "generic.person.first_name", "columns_assigned": "name", **extra}


def test_sqlsynthgen_null_args_and_kwargs_are_empty() -> None:
    config = config_from_data({"tables": {"person": {"row_generators": [
        _generator(args=None, kwargs=None)]}},
        "story_generators": [{"name": "stories.one", "args": None, "kwargs": None}]})
    gen = config.tables["person"].row_generators[0]
    assert (gen.args, gen.kwargs) == ([], {})
    story = config.story_generators[0]
    assert (story.args, story.kwargs) == ([], {})


@pytest.mark.parametrize("unions", [{}, {"all_people": ["person", "staff"]}, []])
def test_sqlsynthgen_unions_are_accepted_with_a_warning(unions: object) -> None:
    config = config_from_data({"unions": unions})
    assert len(config.ignored_keys()) == 1
    assert "unions" in config.ignored_keys()[0] and "ignores" in config.ignored_keys()[0]
    assert config_from_data({}).ignored_keys() == []


@pytest.fixture
def tables_only(tmp_path: Path) -> Path:
    """A folder with a SQLite source of one table and its orm.yaml, and no config.yaml."""
    source = tmp_path / "src.db"
    with sqlite3.connect(source) as con:
        con.executescript(
            "CREATE TABLE person (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL);"
            + "".join(f"INSERT INTO person (name) VALUES ('p{i % 9}');" for i in range(30)))
    made = run(AGENT, "make-tables", cwd=tmp_path, env={"SRC_DSN": f"sqlite:///{source}"})
    assert made.returncode == 0, made.stderr
    return tmp_path


@pytest.mark.parametrize("command", ["create-generators", "validate-config"])
def test_no_config_yaml_runs_as_an_empty_one(tables_only: Path, command: str) -> None:
    result = run(BUILDER, command, cwd=tables_only)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "note: config.yaml not found; running with an empty config (defaults for every table)"]


def test_make_generators_is_a_hidden_alias_of_create_generators(tables_only: Path) -> None:
    result = run(BUILDER, "make-generators", cwd=tables_only)
    assert result.returncode == 0, result.stderr
    assert "wrote ssg.py: 1 table generators" in result.stdout
    assert (tables_only / "ssg.py").is_file()
    assert "make-generators" not in run(BUILDER, "--help", cwd=tables_only).stdout


def test_unions_warning_is_printed_by_both_commands(tables_only: Path) -> None:
    (tables_only / "config.yaml").write_text("unions: {}\n")
    for command in ("validate-config", "create-generators"):
        result = run(BUILDER, command, cwd=tables_only)
        assert result.returncode == 0, result.stderr
        assert "warning: config.yaml: unions is a SqlSynthGen key that synthgate ignores" \
            in result.stderr


_MODULE = "def pick_name():\n    return 'Ann'\n"
_USES_MODULE = ("row_generators_module: my_generators\n"
                "tables:\n  person:\n    row_generators:\n"
                "    - {name: my_generators.pick_name, columns_assigned: name}\n")


def test_validate_config_imports_the_module_from_the_working_directory(
        tables_only: Path) -> None:
    (tables_only / "my_generators.py").write_text(_MODULE)
    (tables_only / "config.yaml").write_text(_USES_MODULE)
    result = run(BUILDER, "validate-config", cwd=tables_only)
    assert result.returncode == 0, result.stderr
    assert "config is valid: 1 tables, 1 row generators" in result.stdout


def test_validate_config_imports_the_module_next_to_the_config(tables_only: Path) -> None:
    elsewhere = tables_only / "conf"
    elsewhere.mkdir()
    (elsewhere / "my_generators.py").write_text(_MODULE)
    (elsewhere / "config.yaml").write_text(_USES_MODULE)
    result = run(BUILDER, "validate-config", "--config-file", "conf/config.yaml",
                 cwd=tables_only)
    assert result.returncode == 0, result.stderr
