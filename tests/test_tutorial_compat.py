"""SqlSynthGen/datafaker configs and tutorial steps that synthgate runs as written (issue 15)."""

from __future__ import annotations

import sqlite3
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from synthgate_builder.populate import create_data
from synthgate_builder.ssg_load import ssg_for
from synthgate_builder.ssg_render import config_warnings, render_ssg
from synthgate_builder.ssg_runtime import StatsRow
from synthgate_builder.tables import create_tables
from synthgate_shared.config import config_from_data
from synthgate_shared.db import create_engine_for, parse_dsn
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
    made = run(AGENT, "make-tables", cwd=tmp_path, env={"SRC_DSN": pagila_url,
                                                     "SYNTHGATE_ALLOW_PRIVILEGED_ROLE": "1"})
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


PEOPLE_ORM: dict[str, object] = {"tables": {"users": {"columns": [
    {"name": "id", "type": "integer", "nullable": False, "autoincrement": True},
    {"name": "age", "type": "integer"},
    {"name": "first", "type": "varchar(20)"},
    {"name": "last", "type": "varchar(20)"}], "primary_key": ["id"]}}}
AGE_STATS = {"ages": {"results": [{"n": 26, "sd": 4}]}}


def _make_users(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module_text: str,
                generators: list[dict[str, object]]) -> tuple[sa.Engine, str]:
    """Fill users with the generators of a fresh user module; the engine and module name."""
    module = f"tutmod_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(module_text))
    monkeypatch.syspath_prepend(str(tmp_path))
    engine = create_engine_for(parse_dsn(url))
    model = orm_from_data(PEOPLE_ORM)
    create_tables(engine, model)
    config = config_from_data({"row_generators_module": module, "tables": {"users": {
        "num_rows_per_pass": 3, "row_generators": generators}}})
    ssg = ssg_for(config, model, AGE_STATS)
    create_data(engine, model, config, ssg, num_passes=1, seed=1)
    return engine, module


def test_src_stats_rows_index_by_position_and_by_name(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, _ = _make_users(sqlite_url, tmp_path, monkeypatch, """
        def user_age_provider(query_results):
            row = query_results[0]
            assert row[0] == row["n"] and row[-1] == row[1] == row["sd"]
            return row[0] + row["sd"]
    """, [{"name": "user_age_provider", "kwargs": {"query_results": 'SRC_STATS["ages"]'},
           "columns_assigned": "age"}])
    with engine.connect() as conn:
        assert set(conn.execute(sa.text("SELECT age FROM users")).scalars()) == {30}


def test_a_stats_row_index_out_of_range_names_the_columns() -> None:
    row = StatsRow({"n": 1, "sd": 2})
    with pytest.raises(IndexError, match=r"row index 2 is out of range: the row has 2 "
                       r"column\(s\) \(n, sd\)"):
        row[2]
    assert row == {"n": 1, "sd": 2} and dict(row) == {"n": 1, "sd": 2}


@pytest.mark.parametrize(("column", "expected"), [
    ("age", "users.age: generator {m}.user_age_provider failed: KeyError: 'mean'"),
    ("first, last", "users.first, users.last: generator {m}.names failed: "
                    "ZeroDivisionError: division by zero"),
])
def test_a_row_generator_that_raises_is_named_in_one_line(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, column: str,
        expected: str) -> None:
    fails = column.replace(", ", "")
    with pytest.raises(SynthgateError) as info:
        _make_users(sqlite_url, tmp_path, monkeypatch, f"""
            def user_age_provider(query_results):
                return query_results[0]["mean"] if {fails == "age"} else 30

            def names():
                return ("Ann", "Lee") if {fails == "age"} else 1 / 0
        """, [{"name": "user_age_provider", "kwargs": {"query_results": 'SRC_STATS["ages"]'},
               "columns_assigned": "age"},
              {"name": "names", "columns_assigned": ["first", "last"]}])
    module = next(p.stem for p in tmp_path.glob("tutmod_*.py"))
    assert info.value.one_line() == expected.format(m=module)


@pytest.mark.postgres
def test_remove_vocab_with_data_ends_the_loop_of_messages(tmp_path: Path, pg_url: str) -> None:
    source = tmp_path / "src.db"
    with sqlite3.connect(source) as con:
        con.executescript(
            "CREATE TABLE country (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL);"
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(20),"
            " country_id INTEGER NOT NULL REFERENCES country (id));"
            "CREATE TABLE note (id INTEGER PRIMARY KEY, body VARCHAR(20));"
            "INSERT INTO country (name) VALUES ('Erewhon'), ('Utopia');")
    (tmp_path / "config.yaml").write_text(
        "tables:\n  country: {vocabulary_table: true}\n  users: {num_rows_per_pass: 4}\n"
        "  note: {num_rows_per_pass: 3}\n")
    for command in ("make-tables", "make-vocab"):
        made = run(AGENT, command, cwd=tmp_path, env={"SRC_DSN": f"sqlite:///{source}"})
        assert made.returncode == 0, made.stderr

    def builder(*args: str) -> subprocess.CompletedProcess[str]:
        return run(BUILDER, *args, cwd=tmp_path, env={"DST_DSN": pg_url})

    for step in ("create-generators", "create-tables", "create-vocab", "create-data"):
        done = builder(step)
        assert done.returncode == 0, done.stderr
    refused = builder("remove-vocab", "--yes")
    assert refused.returncode == 1
    assert "run remove-vocab --with-data" in refused.stderr
    again = builder("create-vocab")
    assert again.returncode == 1
    assert "remove-vocab --with-data" in again.stderr
    assert "create-vocab" not in refused.stderr  # the two messages do not send back and forth
    removed = builder("remove-vocab", "--with-data", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.splitlines() == [
        "deleted 4 rows from 1 tables referring to the vocabulary", "removed country: 2 rows"]
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        counts = [conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                  for t in ("country", "users", "note")]
    engine.dispose()
    assert counts == [0, 0, 3]  # the rows that do not refer to the vocabulary stay
    assert builder("create-vocab").returncode == 0


def test_create_data_names_the_generator_that_raised(tables_only: Path) -> None:
    (tables_only / "my_generators.py").write_text("def pick_name():\n    return {}[0]\n")
    (tables_only / "config.yaml").write_text(_USES_MODULE)
    env = {"DST_DSN": f"sqlite:///{tables_only / 'dst.db'}"}
    for step in ("create-generators", "create-tables"):
        done = run(BUILDER, step, cwd=tables_only, env=env)
        assert done.returncode == 0, done.stderr
    failed = run(BUILDER, "create-data", cwd=tables_only, env=env)
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == (
        "synthgate-builder: error: person.name: generator my_generators.pick_name failed: "
        "KeyError: 0")
