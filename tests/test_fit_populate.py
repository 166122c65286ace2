"""create-data fits every generated value to its column, on PostgreSQL, MariaDB and SQLite:
Mimesis values are cut or clamped, a user generator's misfit is one line, and a table whose
only column is a serial key is filled."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from synthgate_builder.populate import create_data
from synthgate_builder.ssg_load import ssg_for
from synthgate_builder.tables import create_tables
from synthgate_shared.config import Config, config_from_data
from synthgate_shared.db import create_engine_for, parse_dsn
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel, orm_from_data

FIT_ORM: dict[str, Any] = {
    "source": {"dialect": "postgresql"},
    "enums": {"color": ["red", "green", "blue"]},
    "domains": {"percent": {"type": "integer", "checks": ["VALUE >= 0 AND VALUE <= 100"]}},
    "tables": {
        "place": {
            "columns": [
                {"name": "id", "type": "integer", "nullable": False, "autoincrement": True},
                {"name": "city", "type": "varchar(15)", "nullable": False},
                {"name": "amount", "type": "numeric(5,2)"},
                {"name": "small", "type": "smallint"},
                {"name": "code", "type": "char(2)"},
                {"name": "color", "type": "enum:color"},
                {"name": "score", "type": "integer"},
                {"name": "share", "type": "integer", "domain": "percent"},
                {"name": "age", "type": "integer"},
            ],
            "primary_key": ["id"],
            "checks": [{"name": "place_score_check", "sqltext": "score BETWEEN 0 AND 100"}],
        },
    },
}

MIMESIS_GENERATORS = [
    {"name": "generic.address.city", "columns_assigned": "city"},
    {"name": "generic.numeric.float_number",
     "kwargs": {"start": -99999.0, "end": 99999.0, "precision": 4}, "columns_assigned": "amount"},
    {"name": "generic.numeric.integer_number", "kwargs": {"start": -99999, "end": 99999},
     "columns_assigned": "small"},
    {"name": "generic.person.last_name", "columns_assigned": "code"},
    {"name": "generic.choice", "kwargs": {"items": ["red", "purple", "blue"]},
     "columns_assigned": "color"},
    {"name": "generic.numeric.integer_number", "kwargs": {"start": -50, "end": 150},
     "columns_assigned": "score"},
    {"name": "generic.numeric.integer_number", "kwargs": {"start": -50, "end": 150},
     "columns_assigned": "share"},
]


def _setup(url: str, orm: dict[str, Any], config: dict[str, Any]
           ) -> tuple[sa.Engine, OrmModel, Config]:
    engine = create_engine_for(parse_dsn(url))
    model = orm_from_data(orm)
    create_tables(engine, model)
    return engine, model, config_from_data(config)


def _user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> str:
    """Write a user module with a fresh name (modules are cached per process)."""
    name = f"fitmod_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def _rows(engine: sa.Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql)).all())


def test_mimesis_values_fit_for_every_seed(any_db_url: str) -> None:
    engine, model, config = _setup(any_db_url, FIT_ORM, {"tables": {"place": {
        "num_rows_per_pass": 60, "row_generators": MIMESIS_GENERATORS}}})
    ssg = ssg_for(config, model, {})
    for seed in range(1, 21):
        create_data(engine, model, config, ssg, num_passes=1, seed=seed)
    rows = _rows(engine, "SELECT city, amount, small, code, color, score, share FROM place")
    assert len(rows) == 20 * 60
    cities = [r[0] for r in rows]
    assert max(map(len, cities)) <= 15
    assert any(len(c) == 15 for c in cities)  # long names were cut, not dropped
    assert all(abs(float(r[1])) <= 999.99 for r in rows)
    assert all(-32768 <= r[2] <= 32767 for r in rows)
    assert all(len(r[3].rstrip()) <= 2 for r in rows)
    assert {r[4] for r in rows} <= {"red", "green", "blue"}
    assert all(0 <= r[5] <= 100 and 0 <= r[6] <= 100 for r in rows)
    assert {r[5] for r in rows} >= {0, 100}  # clamped into the check's range


def test_float_for_an_integer_column_is_rounded(any_db_url: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # the SqlSynthGen AirBnB tutorial's user_age_provider returns a float
    module = _user_module(tmp_path, monkeypatch, """
        def user_age_provider(query_results):
            return query_results[0]["mean"] + 0.43
    """)
    engine, model, config = _setup(any_db_url, FIT_ORM, {
        "row_generators_module": module,
        "tables": {"place": {"num_rows_per_pass": 5, "row_generators": [
            {"name": "user_age_provider", "kwargs": {"query_results": 'SRC_STATS["ages"]'},
             "columns_assigned": "age"}]}}})
    ssg = ssg_for(config, model, {"ages": {"results": [{"mean": 26}]}})
    create_data(engine, model, config, ssg, num_passes=1, seed=1)
    assert {r[0] for r in _rows(engine, "SELECT age FROM place")} == {26}


BAD_VALUES = [
    ("city", "'North Plainfield'", "'North Plainfield' (16 characters) for a varchar(15) "
     "column"),
    ("age", "{'a': 1}", "{'a': 1} (a dict) for an integer column"),
    ("age", "'26.43'", "'26.43' for an integer column (not a whole number)"),
    ("score", "120", "120 for an integer column, which holds values from 0 to 100"),
    ("share", "-1", "-1 for an integer (domain percent) column, which holds values from 0"),
    ("small", "40000", "40000 for a smallint column"),
    ("amount", "12345.6", "12345.6 for a numeric(5,2) column"),
    ("color", "'purple'", "'purple' for an enum color column, whose labels are"),
    ("code", "'ABC'", "'ABC' (3 characters) for a char(2) column"),
    ("city", "None", "None for a varchar(15) column that is NOT NULL"),
]


@pytest.mark.parametrize(("column", "value", "expected"), BAD_VALUES)
def test_user_generator_misfit_is_one_line(sqlite_url: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, column: str,
                                           value: str, expected: str) -> None:
    module = _user_module(tmp_path, monkeypatch, f"""
        def bad_value():
            return {value}
    """)
    engine, model, config = _setup(sqlite_url, FIT_ORM, {
        "row_generators_module": module,
        "tables": {"place": {"num_rows_per_pass": 3, "row_generators": [
            {"name": "bad_value", "columns_assigned": column}]}}})
    with pytest.raises(SynthgateError) as info:
        create_data(engine, model, config, ssg_for(config, model, {}),
                    num_passes=1)
    line = info.value.one_line()
    assert "\n" not in line
    assert line.startswith(f"place.{column}: generator {module}.bad_value returned {expected}")
    assert _rows(engine, "SELECT count(*) FROM place") == [(0,)]


@pytest.mark.parametrize("db", ["postgresql", "mariadb"])
def test_user_misfit_on_servers(db: str, pg_url: str, maria_url: str, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    module = _user_module(tmp_path, monkeypatch, """
        def long_city():
            return "North Plainfield"
    """)
    engine, model, config = _setup(pg_url if db == "postgresql" else maria_url, FIT_ORM, {
        "row_generators_module": module,
        "tables": {"place": {"num_rows_per_pass": 3, "row_generators": [
            {"name": "long_city", "columns_assigned": "city"}]}}})
    with pytest.raises(SynthgateError, match=rf"^place\.city: generator {module}\.long_city "
                       r"returned 'North Plainfield' \(16 characters\)"):
        create_data(engine, model, config, ssg_for(config, model, {}),
                    num_passes=1)


def test_story_misfit_names_the_story(sqlite_url: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    module = _user_module(tmp_path, monkeypatch, """
        def story():
            yield "place", {"city": "Oslo", "score": "12"}
            yield "place", {"city": "Oslo", "score": 500}
    """)
    engine, model, config = _setup(sqlite_url, FIT_ORM, {
        "story_generators_module": module,
        "story_generators": [{"name": "story", "num_stories_per_pass": 1}],
        "tables": {"place": {"num_rows_per_pass": 0}}})
    with pytest.raises(SynthgateError, match=rf"^place\.score: story generator {module}\.story "
                       r"yielded 500 for an integer column"):
        create_data(engine, model, config, ssg_for(config, model, {}),
                    num_passes=1)


def test_column_nothing_can_generate(sqlite_url: str) -> None:
    orm = {"source": {"dialect": "postgresql"}, "tables": {"t": {
        "columns": [{"name": "id", "type": "integer", "nullable": False},
                    {"name": "n", "type": "integer", "nullable": False}],
        "primary_key": ["id"], "checks": [{"sqltext": "n > 5 AND n < 3"}]}}}
    engine, model, config = _setup(sqlite_url, orm, {})
    with pytest.raises(SynthgateError) as info:
        create_data(engine, model, config, ssg_for(config, model, {}))
    line = info.value.one_line()
    assert line.startswith("t.n: nothing can generate values of type integer")
    assert "row_generators" in line and "ignore: true" in line


SERIAL_ORM: dict[str, Any] = {
    "source": {"dialect": "sqlite"},
    "tables": {
        "tick": {"columns": [{"name": "id", "type": "integer", "nullable": False,
                              "autoincrement": True}], "primary_key": ["id"]},
        "tock": {"columns": [{"name": "id", "type": "integer", "nullable": False,
                              "autoincrement": True}], "primary_key": ["id"]},
        "child": {"columns": [{"name": "id", "type": "integer", "nullable": False,
                               "autoincrement": True},
                              {"name": "tock_id", "type": "integer", "nullable": False}],
                  "primary_key": ["id"],
                  "foreign_keys": [{"columns": ["tock_id"], "ref_table": "tock",
                                    "ref_columns": ["id"]}]},
    },
}


def test_table_of_only_a_serial_key(any_db_url: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    module = _user_module(tmp_path, monkeypatch, """
        def story():
            tick = yield "tick", {}
            yield "child", {"tock_id": 1 + tick["id"] % 7}
    """)
    engine, model, config = _setup(any_db_url, SERIAL_ORM, {
        "tables": {"tick": {"num_rows_per_pass": 25}, "tock": {"num_rows_per_pass": 7},
                   "child": {"num_rows_per_pass": 40}}})
    summary = create_data(engine, model, config,
                          ssg_for(config, model, {}), num_passes=2)
    assert summary.rows == {"tick": 50, "tock": 14, "child": 80}
    assert _rows(engine, "SELECT count(DISTINCT id), min(id), max(id) FROM tick") == [
        (50, 1, 50)]
    assert _rows(engine, "SELECT count(*) FROM child c JOIN tock t ON c.tock_id = t.id") == [
        (80,)]
    # stories too: a row with no value of its own, its key sent back to the story
    config = config_from_data({
        "story_generators_module": module,
        "story_generators": [{"name": "story", "num_stories_per_pass": 3}],
        "tables": {name: {"num_rows_per_pass": 0} for name in SERIAL_ORM["tables"]}})
    create_data(engine, model, config, ssg_for(config, model, {}))
    assert _rows(engine, "SELECT count(*), max(id) FROM tick") == [(53, 53)]
    assert _rows(engine, "SELECT count(*) FROM child c JOIN tock t ON c.tock_id = t.id") == [
        (83,)]


def test_builtin_values_fit(any_db_url: str) -> None:
    stats = {"place_profile": {"results": [{"n": 100, "score__nonnull": 100,
                                            "score__q": "0:-50,100:150"}]},
             "place_cities": {"results": [{"city": "Saint Paul Park West", "n": 10},
                                          {"city": "Oslo", "n": 10}]}}
    engine, model, config = _setup(any_db_url, FIT_ORM, {
        "src-stats": [{"name": name, "query": "SELECT 1"} for name in stats],
        "tables": {"place": {"num_rows_per_pass": 200, "row_generators": [
            {"name": "synthgate.quantiles", "kwargs": {"stats": 'SRC_STATS["place_profile"]'},
             "columns_assigned": "score"},
            {"name": "synthgate.categorical", "kwargs": {"stats": 'SRC_STATS["place_cities"]'},
             "columns_assigned": "city"}]}}})
    create_data(engine, model, config, ssg_for(config, model, stats),
                seed=1)
    rows = _rows(engine, "SELECT score, city FROM place")
    assert min(r[0] for r in rows) == 0 and max(r[0] for r in rows) == 100
    assert {r[1] for r in rows} == {"Saint Paul Park", "Oslo"}  # cut at the word
