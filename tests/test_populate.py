"""create-data / remove-data against real PostgreSQL, MariaDB and SQLite."""

from __future__ import annotations

import copy
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from synthgate_builder.populate import create_data, remove_data
from synthgate_builder.ssg_load import ssg_for
from synthgate_builder.tables import create_tables
from synthgate_shared.config import Config, config_from_data
from synthgate_shared.db import create_engine_for, parse_dsn
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel, orm_from_data

# A small schema with every kind of key: serial keys, a text primary key, a composite
# primary key, a composite foreign key, a self reference, a cycle and a unique constraint.
KEYS_ORM: dict[str, Any] = {
    "source": {"dialect": "postgresql"},
    "tables": {
        "country": {
            "columns": [{"name": "code", "type": "varchar(6)", "nullable": False},
                        {"name": "name", "type": "varchar(40)", "nullable": False}],
            "primary_key": ["code"],
        },
        "person": {
            "columns": [
                {"name": "id", "type": "integer", "nullable": False, "autoincrement": True},
                {"name": "name", "type": "varchar(40)", "nullable": False},
                {"name": "email", "type": "varchar(80)", "nullable": False},
                {"name": "country_code", "type": "varchar(6)", "nullable": False},
                {"name": "manager_id", "type": "integer"},
                {"name": "team_id", "type": "integer"},
            ],
            "primary_key": ["id"],
            "foreign_keys": [
                {"columns": ["country_code"], "ref_table": "country", "ref_columns": ["code"]},
                {"columns": ["manager_id"], "ref_table": "person", "ref_columns": ["id"]},
                {"columns": ["team_id"], "ref_table": "team", "ref_columns": ["id"]},
            ],
            "unique": [{"name": "person_email_key", "columns": ["email"]}],
        },
        "team": {
            "columns": [
                {"name": "id", "type": "integer", "nullable": False, "autoincrement": True},
                {"name": "title", "type": "text", "nullable": False},
                {"name": "captain_id", "type": "integer", "nullable": False},
            ],
            "primary_key": ["id"],
            "foreign_keys": [
                {"columns": ["captain_id"], "ref_table": "person", "ref_columns": ["id"]},
            ],
        },
        "membership": {
            "columns": [{"name": "person_id", "type": "integer", "nullable": False},
                        {"name": "team_id", "type": "integer", "nullable": False},
                        {"name": "since", "type": "date"}],
            "primary_key": ["person_id", "team_id"],
            "foreign_keys": [
                {"columns": ["person_id"], "ref_table": "person", "ref_columns": ["id"]},
                {"columns": ["team_id"], "ref_table": "team", "ref_columns": ["id"]},
            ],
        },
        "orders": {
            "columns": [{"name": "order_no", "type": "integer", "nullable": False},
                        {"name": "line_no", "type": "smallint", "nullable": False},
                        {"name": "amount", "type": "numeric(8,2)"}],
            "primary_key": ["order_no", "line_no"],
        },
        "order_note": {
            "columns": [
                {"name": "id", "type": "bigint", "nullable": False, "autoincrement": True},
                {"name": "order_no", "type": "integer", "nullable": False},
                {"name": "line_no", "type": "smallint", "nullable": False},
                {"name": "note", "type": "text"},
            ],
            "primary_key": ["id"],
            "foreign_keys": [{"columns": ["order_no", "line_no"], "ref_table": "orders",
                              "ref_columns": ["order_no", "line_no"]}],
        },
    },
}

AIRBNB_ORM: dict[str, Any] = {
    "source": {"dialect": "postgresql"},
    "tables": {
        "countries": {
            "columns": [{"name": "country_destination", "type": "varchar(10)", "nullable": False},
                        {"name": "lat_destination", "type": "double"},
                        {"name": "destination_language", "type": "varchar(10)"}],
            "primary_key": ["country_destination"],
        },
        "users": {
            "columns": [
                {"name": "id", "type": "varchar(10)", "nullable": False},
                {"name": "date_account_created", "type": "date"},
                {"name": "date_first_booking", "type": "date"},
                {"name": "gender", "type": "varchar(20)"},
                {"name": "age", "type": "integer"},
                {"name": "first_device_type", "type": "varchar(30)"},
                {"name": "email", "type": "varchar(80)"},
                {"name": "country_destination", "type": "varchar(10)"},
            ],
            "primary_key": ["id"],
            "foreign_keys": [{"columns": ["country_destination"], "ref_table": "countries",
                              "ref_columns": ["country_destination"]}],
        },
        "sessions": {
            "columns": [{"name": "user_id", "type": "varchar(10)"},
                        {"name": "action", "type": "varchar(40)"},
                        {"name": "device_type", "type": "varchar(30)"},
                        {"name": "secs_elapsed", "type": "integer"}],
            "foreign_keys": [{"columns": ["user_id"], "ref_table": "users",
                              "ref_columns": ["id"]}],
        },
    },
}

# The story generator of the SqlSynthGen AirBnB tutorial, verbatim.
SESSIONS_STORY = '''
import random

def sessions_story():
    """Generate users and their sessions."""
    device_types = ["Mac Desktop", "Windows Desktop", "iPhone"]

    # a new user will be sent back to us with our randomly chosen device type
    user: dict = yield (
        "users",  # table name
        {
            "first_device_type": random.choice(device_types)
        }  # see 1. below
    )

    # create between 10 and 19 sessions per user
    sessions_per_user: int = random.randint(10, 20)

    for _ in range(sessions_per_user):
        if random.random() < 0.8:
            # most often, the session is from the user's sign-up device...
            yield (
                "sessions",
                {
                    "user_id": user["id"],  # see 2. below
                    "device_type": user["first_device_type"],
                }
            )
        else:
            # ...but sometimes it is from any device type
            yield (
                "sessions",
                {
                    "user_id": user["id"],
                    "device_type": random.choice(device_types)},
            )
'''


def _engine(url: str) -> sa.Engine:
    return create_engine_for(parse_dsn(url))


def _setup(url: str, orm: dict[str, Any], config: dict[str, Any]
           ) -> tuple[sa.Engine, OrmModel, Config]:
    engine = _engine(url)
    model = orm_from_data(orm)
    create_tables(engine, model)
    return engine, model, config_from_data(config)


def _ssg(config: Config, model: OrmModel, stats: dict[str, Any] | None = None) -> Any:
    return ssg_for(config, model, stats or {})


def _user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> str:
    """Write a user module with a fresh name (modules are cached per process)."""
    name = f"usermod_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def _count(conn: sa.Connection, table: str) -> int:
    return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def _broken_fks(engine: sa.Engine, model: OrmModel) -> dict[str, int]:
    """Rows whose (non-NULL) foreign key has no referenced row, per foreign key."""
    out: dict[str, int] = {}
    q = engine.dialect.identifier_preparer.quote
    with engine.connect() as conn:
        for name, table in model.tables.items():
            for fk in table.foreign_keys:
                on = " AND ".join(f"c.{q(a)} = p.{q(b)}"
                                  for a, b in zip(fk.columns, fk.ref_columns, strict=True))
                not_null = " AND ".join(f"c.{q(a)} IS NOT NULL" for a in fk.columns)
                sql = (f"SELECT count(*) FROM {q(name)} c LEFT JOIN {q(fk.ref_table)} p "
                       f"ON {on} WHERE {not_null} AND p.{q(fk.ref_columns[0])} IS NULL")
                out[f"{name}.{','.join(fk.columns)}"] = int(conn.execute(sa.text(sql)).scalar_one())
    return out


def _duplicates(engine: sa.Engine, table: str, columns: list[str]) -> int:
    q = engine.dialect.identifier_preparer.quote
    cols = ", ".join(q(c) for c in columns)
    sql = (f"SELECT count(*) FROM (SELECT {cols} FROM {q(table)} GROUP BY {cols} "
           "HAVING count(*) > 1) d")
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def _dump(engine: sa.Engine, model: OrmModel) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with engine.connect() as conn:
        for name, table in model.tables.items():
            cols = ", ".join(table.column_names)
            order = ", ".join(table.primary_key or table.column_names)
            rows = conn.execute(sa.text(f"SELECT {cols} FROM {name} ORDER BY {order}")).all()
            out[name] = [tuple(r) for r in rows]
    return out


KEYS_CONFIG = {"tables": {name: {"num_rows_per_pass": 12} for name in KEYS_ORM["tables"]}}


def test_keys_are_valid_with_no_config(any_db_url: str) -> None:
    engine, model, config = _setup(any_db_url, KEYS_ORM, KEYS_CONFIG)
    summary = create_data(engine, model, config, _ssg(config, model), num_passes=3, seed=1)
    assert summary.rows == dict.fromkeys(
        ["country", "person", "team", "membership", "orders", "order_note"], 36)
    assert set(_broken_fks(engine, model).values()) == {0}
    for name, table in model.tables.items():
        assert _duplicates(engine, name, table.primary_key) == 0
    assert _duplicates(engine, "person", ["email"]) == 0
    with engine.connect() as conn:
        # the cycle is closed and the self reference filled after the rows exist
        assert conn.execute(sa.text("SELECT count(*) FROM person WHERE team_id IS NULL")
                            ).scalar_one() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM person WHERE manager_id IS NULL")
                            ).scalar_one() == 0
    deleted = remove_data(engine, model, config)
    assert deleted["person"] == 36
    with engine.connect() as conn:
        assert all(_count(conn, n) == 0 for n in model.tables)


def test_same_seed_same_rows(sqlite_url: str, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    dumps = []
    for url in (sqlite_url, other):
        engine, model, config = _setup(url, KEYS_ORM, KEYS_CONFIG)
        create_data(engine, model, config, _ssg(config, model), num_passes=2, seed=42)
        dumps.append(_dump(engine, model))
    assert dumps[0] == dumps[1]
    assert len(dumps[0]["membership"]) == 24


def test_same_seed_same_rows_postgresql(pg_url_factory: Any) -> None:
    config_data = {"tables": {
        "users": {"num_rows_per_pass": 5, "row_generators": [
            {"name": "generic.person.first_name", "columns_assigned": "gender"}]},
        "countries": {"num_rows_per_pass": 3}, "sessions": {"num_rows_per_pass": 20}}}
    dumps = []
    for _ in range(2):
        engine, model, config = _setup(pg_url_factory(), AIRBNB_ORM, config_data)
        create_data(engine, model, config, _ssg(config, model), num_passes=2, seed=7)
        dumps.append(_dump(engine, model))
    assert dumps[0] == dumps[1]


def test_each_pass_is_one_transaction(any_db_url: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    module = _user_module(tmp_path, monkeypatch, """
        import itertools
        calls = itertools.count()

        def name_or_fail():
            if next(calls) >= 15:
                raise RuntimeError("boom")
            return "a name"
    """)
    config_data = {"row_generators_module": module, "tables": {
        **KEYS_CONFIG["tables"],
        "team": {"num_rows_per_pass": 10, "row_generators": [
            {"name": f"{module}.name_or_fail", "columns_assigned": "title"}]}}}
    engine, model, config = _setup(any_db_url, KEYS_ORM, config_data)
    with pytest.raises(SynthgateError) as info:
        create_data(engine, model, config, _ssg(config, model), num_passes=3)
    message = info.value.one_line()
    assert "team" in message and "RuntimeError: boom" in message
    assert "pass 2 was rolled back" in message
    with engine.connect() as conn:
        assert _count(conn, "person") == 12  # person comes before team: its pass 2 is gone
        assert _count(conn, "team") == 10
        assert _count(conn, "order_note") == 12


def test_airbnb_no_config_and_tutorial_story(any_db_url: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    engine, model, config = _setup(any_db_url, AIRBNB_ORM, {})
    create_data(engine, model, config, _ssg(config, model), num_passes=2)
    with engine.connect() as conn:
        assert [_count(conn, t) for t in ("countries", "users", "sessions")] == [2, 2, 2]

    module = _user_module(tmp_path, monkeypatch, SESSIONS_STORY)
    config = config_from_data({
        "story_generators_module": module,
        "story_generators": [{"name": f"{module}.sessions_story", "num_stories_per_pass": 30}],
        "tables": {"users": {"num_rows_per_pass": 0}, "sessions": {"num_rows_per_pass": 0},
                   "countries": {"num_rows_per_pass": 3}},
    })
    summary = create_data(engine, model, config, _ssg(config, model), num_passes=2, seed=3)
    assert summary.rows["users"] == 60
    assert 600 <= summary.rows["sessions"] <= 1260
    assert set(_broken_fks(engine, model).values()) == {0}
    with engine.connect() as conn:
        per_user = conn.execute(sa.text(
            "SELECT u.id, count(s.user_id) FROM users u LEFT JOIN sessions s "
            "ON s.user_id = u.id WHERE u.first_device_type IN ('Mac Desktop', 'Windows Desktop', "
            "'iPhone') GROUP BY u.id")).all()
        assert len(per_user) == 60
        assert all(10 <= n <= 20 for _id, n in per_user)
        same_device = conn.execute(sa.text(
            "SELECT count(*) FROM sessions s JOIN users u ON s.user_id = u.id "
            "WHERE s.device_type = u.first_device_type")).scalar_one()
        assert same_device > 0.7 * summary.rows["sessions"]


def test_row_generators(any_db_url: str, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    module = _user_module(tmp_path, monkeypatch, """
        import datetime
        from typing import Optional

        def user_dates_provider(generic):
            date_account_created: datetime.date = generic.datetime.date(start=2010, end=2015)

            booking_date: Optional[datetime.date] = None
            if generic.choice([True, False]):
                booking_date = generic.datetime.date(
                    start=date_account_created.year + 1, end=2016
                )

            return date_account_created, booking_date

        def user_age_provider(query_results):
            return int(query_results[0]["avg"])
    """)
    engine, model, config = _setup(any_db_url, AIRBNB_ORM, {
        "row_generators_module": module,
        "tables": {"users": {"num_rows_per_pass": 20, "row_generators": [
            {"name": "generic.person.identifier", "kwargs": {"mask": '"@@##@@@@"'},
             "columns_assigned": "id"},
            {"name": "generic.person.first_name", "columns_assigned": "gender"},
            {"name": "generic.person.email",
             "kwargs": {"domains": ["gmail.com", "ucl.ac.uk"], "unique": True},
             "columns_assigned": "email"},
            {"name": f"{module}.user_dates_provider", "kwargs": {"generic": "generic"},
             "columns_assigned": ["date_account_created", "date_first_booking"]},
            {"name": "user_age_provider", "kwargs": {"query_results": 'SRC_STATS["age_stats"]'},
             "columns_assigned": "age"},
        ]}, "sessions": {"row_generators": [
            {"name": "generic.numeric.integer_number", "kwargs": {"start": 0, "end": 3600},
             "columns_assigned": "secs_elapsed"},
            {"name": "generic.choice", "kwargs": {"items": ["show", "index", "personalize"]},
             "columns_assigned": "action"}]}},
    })
    ssg = _ssg(config, model, {"age_stats": {"query": "q", "results": [{"avg": 36.5}]}})
    create_data(engine, model, config, ssg, num_passes=2)
    with engine.connect() as conn:
        users = conn.execute(sa.text(
            "SELECT id, email, age, date_account_created, date_first_booking FROM users")).all()
        actions = conn.execute(sa.text("SELECT action, secs_elapsed FROM sessions")).all()
    assert len(users) == 40
    for uid, email, age, created, booked in users:
        assert len(uid) == 8 and uid[:2].isalpha() and uid[2:4].isdigit()
        assert email.split("@")[1] in ("gmail.com", "ucl.ac.uk")
        assert age == 36
        assert 2010 <= _year(created) <= 2015
        assert booked is None or _year(booked) > _year(created)
    assert len({u[1] for u in users}) == 40
    assert all(a in ("show", "index", "personalize") and 0 <= s <= 3600 for a, s in actions)


def _year(value: Any) -> int:
    return int(str(value)[:4])


# --- bad input ----------------------------------------------------------------------------

def test_wrong_number_of_values(sqlite_url: str, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    module = _user_module(tmp_path, monkeypatch, """
        def three():
            return 1, 2, 3
    """)
    engine, model, config = _setup(sqlite_url, AIRBNB_ORM, {
        "row_generators_module": module,
        "tables": {"users": {"row_generators": [
            {"name": "three", "columns_assigned": ["date_account_created", "age"]}]}}})
    with pytest.raises(SynthgateError) as info:
        create_data(engine, model, config, _ssg(config, model), num_passes=1)
    message = info.value.one_line()
    assert "users" in message and "three" in message
    assert "date_account_created, age" in message and "3 values" in message
    with engine.connect() as conn:
        assert _count(conn, "countries") == 0  # nothing half-written


@pytest.mark.parametrize(("story", "expected"), [
    ('yield ("userz", {})', "table 'userz'"),
    ('yield ("users", {"nmae": 1})', "column 'nmae'"),
])
def test_bad_story(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   story: str, expected: str) -> None:
    module = _user_module(tmp_path, monkeypatch, f"""
        def story():
            {story}
    """)
    engine, model, config = _setup(sqlite_url, AIRBNB_ORM, {
        "story_generators_module": module,
        "story_generators": [{"name": f"{module}.story"}]})
    with pytest.raises(SynthgateError, match=expected) as info:
        create_data(engine, model, config, _ssg(config, model), num_passes=1)
    assert "story" in info.value.one_line()


def test_create_data_before_create_tables(sqlite_url: str) -> None:
    model = orm_from_data(AIRBNB_ORM)
    config = config_from_data({})
    with pytest.raises(SynthgateError, match="run create-tables first"):
        create_data(_engine(sqlite_url), model, config, _ssg(config, model), num_passes=1)


def test_unreachable_destination() -> None:
    model = orm_from_data(AIRBNB_ORM)
    config = config_from_data({})
    engine = _engine("postgresql://someone:s3cret@127.0.0.1:1/nowhere")
    with pytest.raises(SynthgateError) as info:
        create_data(engine, model, config, _ssg(config, model), num_passes=1)
    message = info.value.one_line()
    assert "cannot connect" in message and "s3cret" not in message and "***" in message


def test_unique_constraint_that_cannot_be_met(any_db_url: str) -> None:
    orm = {"tables": {"flags": {
        "columns": [{"name": "id", "type": "integer", "nullable": False, "autoincrement": True},
                    {"name": "flag", "type": "boolean", "nullable": False}],
        "primary_key": ["id"], "unique": [{"name": "flags_flag_key", "columns": ["flag"]}]}}}
    engine, model, config = _setup(any_db_url, orm, {"tables": {"flags": {
        "num_rows_per_pass": 3}}})
    with pytest.raises(SynthgateError) as info:
        create_data(engine, model, config, _ssg(config, model), num_passes=1)
    message = info.value.one_line()
    assert "flags" in message and "flags_flag_key" in message
    with engine.connect() as conn:
        assert _count(conn, "flags") == 0


def test_unique_constraint_from_row_generator(sqlite_url: str) -> None:
    orm = {"tables": {"flags": {
        "columns": [{"name": "id", "type": "integer", "nullable": False, "autoincrement": True},
                    {"name": "word", "type": "text", "nullable": False}],
        "primary_key": ["id"], "unique": [{"name": "flags_word_key", "columns": ["word"]}]}}}
    engine, model, config = _setup(sqlite_url, orm, {
        "max-unique-constraint-tries": 5,
        "tables": {"flags": {"num_rows_per_pass": 3, "row_generators": [
            {"name": "generic.choice", "kwargs": {"items": ["a", "b"]},
             "columns_assigned": "word"}]}}})
    with pytest.raises(SynthgateError, match=r"flags_word_key.*flags.*5 tries"):
        create_data(engine, model, config, _ssg(config, model), num_passes=1)


def test_ignored_parent(sqlite_url: str) -> None:
    engine, model, config = _setup(sqlite_url, AIRBNB_ORM, {"tables": {
        "countries": {"ignore": True}}})
    create_data(engine, model, config, _ssg(config, model), num_passes=1)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT country_destination FROM users")).all() == [(None,)]
        assert _count(conn, "countries") == 0
    orm = {**KEYS_ORM}
    model = orm_from_data(orm)
    config = config_from_data({"tables": {"country": {"ignore": True}}})
    with pytest.raises(SynthgateError, match=r"person.*country.*ignored"):
        create_data(engine, model, config, None, num_passes=1)


def test_cycle_without_nullable_key_is_a_clear_error(sqlite_url: str) -> None:
    orm = {"tables": {
        "a": {"columns": [{"name": "id", "type": "integer", "nullable": False},
                          {"name": "b_id", "type": "integer", "nullable": False}],
              "primary_key": ["id"],
              "foreign_keys": [{"columns": ["b_id"], "ref_table": "b", "ref_columns": ["id"]}]},
        "b": {"columns": [{"name": "id", "type": "integer", "nullable": False},
                          {"name": "a_id", "type": "integer", "nullable": False}],
              "primary_key": ["id"],
              "foreign_keys": [{"columns": ["a_id"], "ref_table": "a", "ref_columns": ["id"]}]},
    }}
    engine, model, config = _setup(sqlite_url, orm, {})
    with pytest.raises(SynthgateError, match="needs rows of table"):
        create_data(engine, model, config, None, num_passes=1)


def test_vocabulary_tables_are_not_generated(sqlite_url: str) -> None:
    orm = copy.deepcopy(AIRBNB_ORM)
    orm["tables"]["users"]["columns"][7]["nullable"] = False  # users.country_destination
    engine, model, config = _setup(sqlite_url, orm, {"tables": {
        "countries": {"vocabulary_table": True}, "users": {"num_rows_per_pass": 4}}})
    with pytest.raises(SynthgateError, match="run create-vocab first"):
        create_data(engine, model, config, None, num_passes=1)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO countries (country_destination) VALUES ('AU'), ('CA')"))
    create_data(engine, model, config, None, num_passes=1)
    with engine.connect() as conn:
        assert _count(conn, "countries") == 2
        codes = {r[0] for r in conn.execute(sa.text("SELECT country_destination FROM users"))}
    assert codes <= {"AU", "CA"}
    remove_data(engine, model, config)
    with engine.connect() as conn:
        assert _count(conn, "countries") == 2 and _count(conn, "users") == 0


def test_pools_cover_the_whole_parent_table(sqlite_url: str) -> None:
    """Children of later passes reference parents of every pass, not only the first."""
    engine, model, config = _setup(sqlite_url, AIRBNB_ORM, {"tables": {
        "countries": {"num_rows_per_pass": 0}, "users": {"num_rows_per_pass": 10},
        "sessions": {"num_rows_per_pass": 200}}})
    create_data(engine, model, config, None, num_passes=3, seed=5)
    with engine.connect() as conn:
        used = conn.execute(sa.text("SELECT count(DISTINCT user_id) FROM sessions")
                            ).scalar_one()
    assert used > 25  # of 30 users


def test_many_rows_keep_keys(pg_url: str) -> None:
    """Batches larger than one COPY chunk, with database-filled keys read back."""
    config = {"tables": {name: {"num_rows_per_pass": 1500} for name in KEYS_ORM["tables"]}}
    config["tables"]["country"] = {"num_rows_per_pass": 50}
    engine, model, cfg = _setup(pg_url, KEYS_ORM, config)
    summary = create_data(engine, model, cfg, None, num_passes=2, seed=9)
    assert summary.total == 100 + 5 * 3000
    assert set(_broken_fks(engine, model).values()) == {0}



# --- Pagila, end to end --------------------------------------------------------------------

@pytest.mark.slow
def test_pagila_end_to_end(pagila_url: str, pg_url: str) -> None:
    from synthgate_agent.reflect import reflect_schema
    from synthgate_agent.source import open_source

    model = reflect_schema(open_source(pagila_url))
    engine = _engine(pg_url)
    create_tables(engine, model)
    tables: dict[str, Any] = {
        # the tutorial's snippets, verbatim
        "actor": {"row_generators": [
            {"name": "generic.person.first_name", "columns_assigned": "first_name"},
            {"name": "generic.person.last_name", "columns_assigned": "last_name"}]},
        "film": {"row_generators": [
            {"name": "generic.text.text", "columns_assigned": "fulltext"}]},
        "customer": {"row_generators": [
            {"name": "generic.person.email",
             "kwargs": {"domains": ["gmail.com", "ucl.ac.uk"], "unique": True},
             "columns_assigned": "email"}]},
    }
    tables.update({n: {"ignore": True} for n in model.tables if n.startswith("payment_p2022")})
    config = config_from_data({"tables": tables})
    summary = create_data(engine, model, config, _ssg(config, model), num_passes=15, seed=2)
    generated = [n for n in model.tables if not n.startswith("payment_p2022")]
    assert all(summary.rows[n] == 15 for n in generated)
    assert set(_broken_fks(engine, model).values()) == {0}
    with engine.connect() as conn:
        emails = conn.execute(sa.text("SELECT email FROM customer")).scalars().all()
        assert all(e.endswith(("@gmail.com", "@ucl.ac.uk")) for e in emails)
        assert conn.execute(sa.text("SELECT count(*) FROM film WHERE fulltext IS NULL")
                            ).scalar_one() == 0


# --- the PostgreSQL bulk path ----------------------------------------------------------------

def test_copy_columns_match_copy_fields() -> None:
    """A column made at once is the COPY text of each value, escaped only where needed."""
    from synthgate_shared.copytext import copy_text_column, copy_text_field
    from synthgate_shared.types import parse_type

    cases: dict[str, list[Any]] = {
        "integer": [1, None, -7],
        "double": [1.5, float("inf"), None],
        "text": ["plain", None, "tab\there", "back\\slash", "new\nline\r"],
        "varchar(10)": ["a", "b"],
        "timestamptz": [None, None],
        "integer[]": [[1, None], None],
        "text[]": [["a\\b", 'q"'], None],
        "boolean": [True, False, None],
    }
    for type_text, values in cases.items():
        ptype = parse_type(type_text)
        field = copy_text_field(ptype)
        expected = ["\\N" if v is None else field(v) for v in values]
        assert copy_text_column(ptype)(values) == expected, type_text


def test_batches_in_flight_keep_keys(pg_url: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Many batches, each COPY sent while the next is made, keys taken from the sequences
    in several blocks, and a row generator that queries the destination in between."""
    import synthgate_builder.populate.passes as passes
    import synthgate_builder.populate.writers.sequences as sequences

    monkeypatch.setattr(passes, "BATCH_ROWS", 100)
    monkeypatch.setattr(sequences, "RESERVE_ROWS", 250)
    module = _user_module(tmp_path, monkeypatch, """
        import sqlalchemy as sa

        def people(conn):
            return "n" + str(conn.execute(sa.text("SELECT count(*) FROM person")).scalar())
    """)
    tables: dict[str, Any] = {name: {"num_rows_per_pass": 700} for name in KEYS_ORM["tables"]}
    tables["country"] = {"num_rows_per_pass": 30}
    tables["order_note"]["row_generators"] = [
        {"name": "people", "kwargs": {"conn": "dst_db_conn"}, "columns_assigned": "note"}]
    config = {"row_generators_module": module, "tables": tables}
    engine, model, cfg = _setup(pg_url, KEYS_ORM, config)
    summary = create_data(engine, model, cfg, _ssg(cfg, model), num_passes=2, seed=5)
    assert summary.total == 60 + 5 * 1400
    assert set(_broken_fks(engine, model).values()) == {0}
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT id FROM person ORDER BY id")).scalars().all()
        notes = set(conn.execute(sa.text("SELECT note FROM order_note")).scalars())
    assert ids == list(range(1, 1401))  # every key taken was used, none twice
    assert notes == {"n700", "n1400"}  # the rows the query saw were all in
