"""Mimesis generators given ``unique: true`` are reproducible under ``--seed``: ssg.py calls
them without ``unique`` (Mimesis would use uuid4) through ``UniqueDraws``, which draws again
while a value repeats one already made."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import _new_name, _pg_create, _pg_drop
from synthgate_builder.populate import create_data
from synthgate_builder.ssg_load import ssg_for
from synthgate_builder.ssg_render import render_ssg
from synthgate_builder.ssg_runtime import UniqueDraws
from synthgate_builder.tables import create_tables
from synthgate_shared.config import config_from_data
from synthgate_shared.db import create_engine_for, parse_dsn
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import orm_from_data
from synthgate_shared.yamlio import dump_yaml

ORM: dict[str, Any] = {"tables": {"users": {
    "columns": [{"name": "id", "type": "integer", "nullable": False, "autoincrement": True},
                {"name": "email", "type": "varchar(80)", "nullable": False},
                {"name": "login", "type": "varchar(80)"},
                {"name": "tag", "type": "varchar(10)"}],
    "primary_key": ["id"], "unique": [{"name": "users_email_key", "columns": ["email"]}]}}}
GENERATORS = [
    # the tutorial's snippet, verbatim
    {"name": "generic.person.email",
     "kwargs": {"domains": ["gmail.com", "ucl.ac.uk"], "unique": True},
     "columns_assigned": "email"},
    {"name": "generic.person.email", "args": [["example.org"], True],  # unique by position
     "columns_assigned": "login"},
    # choice's unique means distinct items within one value: seeded already, left as it is
    {"name": "generic.choice", "kwargs": {"items": "abcdef", "length": 3, "unique": True},
     "columns_assigned": "tag"},
]


def test_rendered_calls_go_through_unique_draws() -> None:
    config = config_from_data({"tables": {"users": {"row_generators": GENERATORS}}})
    text = render_ssg(config, orm_from_data(ORM), {})
    assert ("unique_users_email = UniqueDraws(generic.person.email, "
            "'table users, column(s) email')") in text
    assert "UNIQUE_DRAWS = [unique_users_email, unique_users_login]" in text
    assert "row['email'] = unique_users_email(domains=['gmail.com', 'ucl.ac.uk'])" in text
    assert "row['login'] = unique_users_login(['example.org'])" in text
    assert "row['tag'] = generic.choice(items='abcdef', length=3, unique=True)" in text
    plain = config_from_data({"tables": {"users": {"row_generators": [
        {"name": "generic.person.email", "columns_assigned": "email"}]}}})
    text = render_ssg(plain, orm_from_data(ORM), {})
    assert "row['email'] = generic.person.email()" in text and "UNIQUE_DRAWS = []" in text


def _run(url: str, seed: int) -> list[tuple[Any, ...]]:
    engine = create_engine_for(parse_dsn(url))
    model = orm_from_data(ORM)
    create_tables(engine, model)
    config = config_from_data({"tables": {"users": {"num_rows_per_pass": 200,
                                                    "row_generators": GENERATORS}}})
    create_data(engine, model, config, ssg_for(config, model, {}),
                num_passes=2, seed=seed)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT * FROM users ORDER BY id"))]


def test_same_seed_same_unique_values(any_db_url: str, tmp_path: Path) -> None:
    first = _run(any_db_url, 5)
    again = _run(f"sqlite:///{tmp_path / 'again.db'}", 5)
    other = _run(f"sqlite:///{tmp_path / 'other.db'}", 6)
    assert first == again
    emails = [r[1] for r in first]
    assert len(set(emails)) == len(emails) == 400
    assert len({r[2] for r in first}) == 400
    assert all(e.endswith(("@gmail.com", "@ucl.ac.uk")) for e in emails)
    assert {r[1] for r in other}.isdisjoint(emails)


def test_unique_draws_stop_with_a_clear_error() -> None:
    values = iter(["a", "b", "a", "b", "a", "b", "c"])

    def word() -> str:
        return next(values)

    draws = UniqueDraws(word, "table t, column(s) c", max_tries=3)
    assert [draws(), draws()] == ["a", "b"]
    with pytest.raises(SynthgateError) as info:
        draws()
    assert info.value.one_line() == (
        "table t, column(s) c: test_unique_draws_stop_with_a_clear_error.<locals>.word with "
        "unique: true repeated a value 3 times in a row (after 2 distinct values). give it "
        "more values to draw from (e.g. more domains), lower num_rows_per_pass, or raise "
        "max-unique-constraint-tries.")
    draws.restart(5)  # a new run: the values of the last one do not count
    assert draws() == "b"


def test_pagila_tutorial_config_same_seed_same_tables(pagila_url: str, tmp_path: Path,
                                                      request: pytest.FixtureRequest) -> None:
    """Two create-data runs in separate processes (different string hashing) with the same
    --seed give the same tables, customer.email (unique: true) included."""
    from synthgate_agent.reflect import reflect_schema
    from synthgate_agent.source import open_source
    from synthgate_shared.orm import dump_orm

    model = reflect_schema(open_source(pagila_url))
    (tmp_path / "orm.yaml").write_text(dump_orm(model))
    tables: dict[str, Any] = {
        "actor": {"row_generators": [
            {"name": "generic.person.first_name", "columns_assigned": "first_name"},
            {"name": "generic.person.last_name", "columns_assigned": "last_name"}]},
        "customer": {"row_generators": [
            {"name": "generic.person.email",
             "kwargs": {"domains": ["gmail.com", "ucl.ac.uk"], "unique": True},
             "columns_assigned": "email"}]},
    }
    ignored = [n for n in model.tables if n.startswith("payment_p2022")]
    tables.update({n: {"ignore": True} for n in ignored})
    (tmp_path / "config.yaml").write_text(dump_yaml({"tables": tables}))
    (tmp_path / "src-stats.yaml").write_text(dump_yaml({}))
    files = ["--config-file", str(tmp_path / "config.yaml"), "--orm-file",
             str(tmp_path / "orm.yaml"), "--stats-file", str(tmp_path / "src-stats.yaml")]
    builder = str(Path(sys.executable).with_name("synthgate-builder"))

    def run(hash_seed: str, *args: str) -> None:
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([builder, *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr

    run("0", "create-generators", *files)
    dumps = []
    for hash_seed in ("1", "2"):
        name = _new_name("sgtest")
        dst = _pg_create(name)
        request.addfinalizer(lambda name=name: _pg_drop(name))
        run(hash_seed, "create-tables", "--dsn", dst, *files[2:4])
        run(hash_seed, "create-data", "--dsn", dst, "--seed", "3", "--num-passes", "4", *files)
        engine = create_engine_for(parse_dsn(dst))
        with engine.connect() as conn:
            dumps.append({t: sorted(repr([bytes(v) if isinstance(v, memoryview) else v
                                          for v in row])
                                    for row in conn.execute(sa.text(f"SELECT * FROM {t}")))
                          for t in sorted(model.tables) if t not in ignored})
            emails = conn.execute(sa.text("SELECT email FROM customer")).scalars().all()
        engine.dispose()
        assert len(emails) == len(set(emails)) == 4
    assert dumps[0] == dumps[1]
