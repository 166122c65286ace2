"""create-data keeps a foreign key that is also a unique key (one-to-one): its parents are
drawn without replacement, in a cycle closed at the end of the pass as well as in a plain
foreign key, and a NOT NULL one that runs out of parents stops with a clear error."""

from __future__ import annotations

import copy
import textwrap
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from synthgate_builder.populate import create_data
from synthgate_builder.populate.cycles import update_order
from synthgate_builder.ssg_load import ssg_for
from synthgate_builder.tables import create_tables
from synthgate_shared.config import config_from_data
from synthgate_shared.db import create_engine_for, parse_dsn
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel, orm_from_data

_ID = {"type": "integer", "nullable": False, "autoincrement": True}

# person.passport_id closes the cycle (person comes first: its key into passport is
# nullable), so it is filled after the passports exist; mentor_id is a unique self reference;
# profile.person_id is a plain (drawn) one-to-one key.
ORM: dict[str, Any] = {"tables": {
    "person": {"columns": [{"name": "id", **_ID}, {"name": "name", "type": "varchar(20)"},
                           {"name": "passport_id", "type": "integer"},
                           {"name": "mentor_id", "type": "integer"}],
               "primary_key": ["id"],
               "unique": [{"name": "person_passport_key", "columns": ["passport_id"]},
                          {"name": "person_mentor_key", "columns": ["mentor_id"]}],
               "foreign_keys": [
                   {"columns": ["passport_id"], "ref_table": "passport", "ref_columns": ["id"]},
                   {"columns": ["mentor_id"], "ref_table": "person", "ref_columns": ["id"]}]},
    "passport": {"columns": [{"name": "id", **_ID}, {"name": "number", "type": "varchar(12)"},
                             {"name": "person_id", "type": "integer", "nullable": False}],
                 "primary_key": ["id"],
                 "foreign_keys": [{"columns": ["person_id"], "ref_table": "person",
                                   "ref_columns": ["id"]}]},
    "profile": {"columns": [{"name": "person_id", "type": "integer", "nullable": False},
                            {"name": "bio", "type": "text"}],
                "primary_key": ["person_id"],
                "foreign_keys": [{"columns": ["person_id"], "ref_table": "person",
                                  "ref_columns": ["id"]}]},
}}
ONE_TO_ONE = {"person": ["passport_id", "mentor_id"], "profile": ["person_id"]}


def _not_null_orm() -> dict[str, Any]:
    """Both keys of the cycle NOT NULL and deferrable (PostgreSQL and SQLite only): the
    passport key of person holds stand-ins until the cycle is closed."""
    orm = copy.deepcopy(ORM)
    person = orm["tables"]["person"]
    person["columns"][2]["nullable"] = False
    person["foreign_keys"][0].update(deferrable=True, initially_deferred=True)
    orm["tables"]["passport"]["foreign_keys"][0].update(deferrable=True,
                                                        initially_deferred=True)
    return orm


def _setup(url: str, orm: dict[str, Any], rows: dict[str, int]
           ) -> tuple[sa.Engine, OrmModel, Any]:
    engine = create_engine_for(parse_dsn(url))
    model = orm_from_data(orm)
    create_tables(engine, model)
    config = config_from_data({"tables": {t: {"num_rows_per_pass": n} for t, n in rows.items()}})
    return engine, model, config


def _scalar(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def _check(engine: sa.Engine) -> None:
    """Every key points at a row and no one-to-one key holds a parent twice."""
    for table, columns in ONE_TO_ONE.items():
        for column in columns:
            assert _scalar(engine, f"SELECT count(*) FROM (SELECT {column} FROM {table} WHERE "
                                   f"{column} IS NOT NULL GROUP BY {column} "
                                   "HAVING count(*) > 1) d") == 0
    for child, column, parent in [("person", "passport_id", "passport"),
                                  ("person", "mentor_id", "person"),
                                  ("passport", "person_id", "person"),
                                  ("profile", "person_id", "person")]:
        assert _scalar(engine, f"SELECT count(*) FROM {child} c LEFT JOIN {parent} p ON "
                               f"c.{column} = p.id WHERE c.{column} IS NOT NULL AND "
                               "p.id IS NULL") == 0


def test_one_to_one_keys_over_passes(any_db_url: str) -> None:
    """As many parents as children: every key is filled, each parent once, over passes."""
    engine, model, config = _setup(any_db_url, ORM, {"person": 30, "passport": 30,
                                                     "profile": 30})
    summary = create_data(engine, model, config, None, num_passes=3, seed=4)
    assert summary.rows == {"person": 90, "passport": 90, "profile": 90}
    assert summary.notes == []
    _check(engine)
    assert _scalar(engine, "SELECT count(*) FROM person WHERE passport_id IS NULL "
                           "OR mentor_id IS NULL") == 0


def test_too_few_parents_leave_nullable_keys_null(any_db_url: str) -> None:
    engine, model, config = _setup(any_db_url, ORM, {"person": 12, "passport": 8,
                                                     "profile": 0})
    summary = create_data(engine, model, config, None, num_passes=2, seed=5)
    _check(engine)
    assert _scalar(engine, "SELECT count(*) FROM person WHERE passport_id IS NULL") == 8
    assert _scalar(engine, "SELECT count(DISTINCT passport_id) FROM person") == 16
    assert [n for n in summary.notes if n.startswith("person.passport_id")] == [
        "person.passport_id: foreign key (passport_id) of table person is unique: 12 row(s) "
        "need a row of passport each, and only 8 row(s) of passport are not taken; the other "
        "rows were left NULL"]


def test_too_few_parents_for_a_plain_one_to_one_key(any_db_url: str) -> None:
    engine, model, config = _setup(any_db_url, ORM, {"person": 5, "passport": 5,
                                                     "profile": 3})
    create_data(engine, model, config, None, num_passes=2, seed=6)
    config = config_from_data({"tables": {"person": {"num_rows_per_pass": 1},
                                          "passport": {"num_rows_per_pass": 1},
                                          "profile": {"num_rows_per_pass": 9}}})
    with pytest.raises(SynthgateError) as info:
        create_data(engine, model, config, None, num_passes=1, seed=6)
    message = info.value.one_line()
    assert "\n" not in message
    assert ("profile.person_id: foreign key (person_id) of table profile is unique: 9 row(s) "
            "need a row of person each, and only 5 row(s) of person are not taken") in message
    assert "raise num_rows_per_pass of person" in message
    assert _scalar(engine, "SELECT count(*) FROM person") == 10  # the pass was rolled back
    _check(engine)


@pytest.fixture(params=["postgresql", "sqlite"])
def deferring_url(request: pytest.FixtureRequest, pg_url_factory: Any, tmp_path: Path) -> str:
    """The databases whose foreign keys can be deferred (MariaDB's cannot)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'deferring.db'}"
    return str(pg_url_factory())


def test_not_null_one_to_one_cycle(deferring_url: str) -> None:
    """Stand-ins first (distinct, as the unique key is checked at once), then each row takes
    a passport that no row holds, in an order where no row takes one another still holds."""
    engine, model, config = _setup(deferring_url, _not_null_orm(),
                                   {"person": 40, "passport": 40, "profile": 0})
    create_data(engine, model, config, None, num_passes=3, seed=7)
    _check(engine)
    assert _scalar(engine, "SELECT count(DISTINCT passport_id) FROM person") == 120

    config = config_from_data({"tables": {"person": {"num_rows_per_pass": 6},
                                          "passport": {"num_rows_per_pass": 5}}})
    with pytest.raises(SynthgateError) as info:
        create_data(engine, model, config, None, num_passes=2, seed=7)
    message = info.value.one_line()
    assert "person.passport_id" in message and "6 row(s) need a row of passport" in message
    assert "only 5 row(s) of passport are not taken" in message
    assert _scalar(engine, "SELECT count(*) FROM person") == 120
    _check(engine)


def test_same_seed_same_one_to_one_keys(tmp_path: Path) -> None:
    dumps = []
    for name in ("a", "b"):
        engine, model, config = _setup(f"sqlite:///{tmp_path / name}.db", _not_null_orm(),
                                       {"person": 20, "passport": 25, "profile": 15})
        create_data(engine, model, config, None, num_passes=2, seed=11)
        with engine.connect() as conn:
            dumps.append([conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1")).all()
                          for t in ("person", "passport", "profile")])
    assert dumps[0] == dumps[1]


def test_update_order_never_takes_a_held_key() -> None:
    held: list[tuple[Any, ...] | None] = [(1,), (2,), (3,), None, (5,)]
    # 0 -> 2 -> 3 -> 1 -> 0 is a ring: those rows keep their keys; 4 waits for 0 (now 1)
    assert update_order(held, [(2,), (3,), (1,), (4,), (6,)]) == [3, 4]
    assert update_order(held, [(2,), (9,), (1,), None, (5,)]) == [1, 0, 2]
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(1, 12))
        keys = rng.permutation(2 * n)[:2 * n].tolist()
        now: list[tuple[Any, ...] | None] = [(k,) for k in keys[:n]]
        for i in rng.choice(n, size=n // 3, replace=False).tolist():
            now[i] = None
        targets = [(k,) for k in rng.permutation(keys)[:n].tolist()]
        table = list(now)
        for i in update_order(now, targets):
            assert targets[i] not in table  # the unique key holds after every row
            table[i] = targets[i]
        assert sorted(table) == sorted(targets)  # rings keep their keys: the same set


def test_keys_given_by_a_story_are_not_drawn_again(any_db_url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"story_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent("""
        def couple():
            person = yield ("person", {})
            passport = yield ("passport", {"person_id": person["id"]})
            yield ("person", {"passport_id": passport["id"]})
            yield ("profile", {"person_id": person["id"]})
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    engine = create_engine_for(parse_dsn(any_db_url))
    model = orm_from_data(ORM)
    create_tables(engine, model)
    config = config_from_data({
        "story_generators_module": name,
        "story_generators": [{"name": f"{name}.couple", "num_stories_per_pass": 4}],
        "tables": {"person": {"num_rows_per_pass": 6}, "passport": {"num_rows_per_pass": 6},
                   "profile": {"num_rows_per_pass": 6}}})
    ssg = ssg_for(config, model, {})
    summary = create_data(engine, model, config, ssg, num_passes=2, seed=8)
    assert summary.rows == {"person": 28, "passport": 20, "profile": 20}
    _check(engine)
    # 10 passports a pass: 4 given by the stories, the other 6 drawn for 10 persons
    assert _scalar(engine, "SELECT count(*) FROM person WHERE passport_id IS NULL") == 8
