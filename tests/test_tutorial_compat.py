"""SqlSynthGen/datafaker configs and tutorial steps that synthgate runs as written (issue 15)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from synthgate_builder.generators import config_warnings, render_ssg
from synthgate_shared.config import config_from_data
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel, load_orm, orm_from_data, orm_to_data
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


def _payment_orm(partitions: list[str]) -> OrmModel:
    table: dict[str, object] = {"columns": [{"name": "payment_id", "type": "integer"}]}
    if partitions:
        table["partitions"] = partitions
    return orm_from_data({"tables": {"payment": table}})


def test_entry_of_a_recorded_partition_is_a_warning_saying_where_it_went() -> None:
    model = _payment_orm(["payment_p2022_01", "payment_p2022_02"])
    assert orm_from_data(orm_to_data(model)).tables["payment"].partitions == [
        "payment_p2022_01", "payment_p2022_02"]
    config = config_from_data({"tables": {
        "payment_p2022_01": {"ignore": True},
        "payment_p2022_02": {"row_generators": [
            {"name": "generic.numeric.integer_number", "columns_assigned": "payment_id"}]}}})
    warnings = config_warnings(config, model)
    assert warnings == [
        f"config.yaml: tables.payment_p2022_0{i}: payment_p2022_0{i} is a partition that "
        "orm.yaml folded into table payment; its rows are made as rows of payment, so this "
        "entry is ignored (configure payment instead)" for i in (1, 2)]
    assert "def payment(dst_db_conn)" in render_ssg(config, model, {})


def test_ignore_of_a_table_orm_yaml_lacks_is_a_warning_naming_the_likely_parent() -> None:
    model = _payment_orm([])  # an orm.yaml written before partitions were recorded
    config = config_from_data({"tables": {"payment_p2022_01": {"ignore": True},
                                          "staff": {"ignore": True}}})
    assert config_warnings(config, model) == [
        "config.yaml: tables.payment_p2022_01: orm.yaml has no table payment_p2022_01 (a "
        "partition of payment? make-tables folds partitions into their parent, whose rows "
        "this entry does not change); the entry has nothing to act on and is ignored",
        "config.yaml: tables.staff: orm.yaml has no table staff; the entry has nothing to "
        "act on and is ignored"]
    render_ssg(config, model, {})


def test_settings_for_a_table_orm_yaml_lacks_stay_an_error() -> None:
    config = config_from_data({"tables": {"paymnt": {"num_rows_per_pass": 3}}})
    with pytest.raises(SynthgateError, match="did you mean 'payment'"):
        config_warnings(config, _payment_orm([]))


def test_pagila_orm_records_the_payment_partitions(pagila_url: str, tmp_path: Path) -> None:
    made = run(AGENT, "make-tables", cwd=tmp_path, env={"SRC_DSN": pagila_url})
    assert made.returncode == 0, made.stderr
    model = load_orm(tmp_path / "orm.yaml")
    assert "payment_p2022_01" in model.tables["payment"].partitions
    assert "payment_p2022_01" not in model.tables
    (tmp_path / "config.yaml").write_text(
        "tables:\n  payment_p2022_01:\n    ignore: true\n  payment_p2022_02:\n    ignore: true\n")
    for command in ("validate-config", "create-generators"):
        result = run(BUILDER, command, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert ("warning: config.yaml: tables.payment_p2022_02: payment_p2022_02 is a "
                "partition that orm.yaml folded into table payment") in result.stderr
