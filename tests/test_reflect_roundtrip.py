"""Schema path: source schema -> orm.yaml -> destination tables -> the same orm.yaml.

Every test uses real PostgreSQL, MariaDB or SQLite databases (fixtures in conftest.py).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from synthgate_agent.reflect import reflect_schema
from synthgate_agent.source import open_source
from synthgate_builder.tables import create_tables, remove_tables
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import (
    Column,
    ForeignKey,
    OrmModel,
    SourceFingerprint,
    Table,
    dump_orm,
    load_orm_text,
    orm_to_data,
)
from synthgate_shared.sqla import cycle_edges, orm_to_metadata, table_order

BIN = Path(sys.executable).parent

PG_SCHEMA = """
CREATE SCHEMA shopdb;
SET search_path TO shopdb;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN year AS integer CONSTRAINT year_check CHECK (VALUE >= 1901 AND VALUE <= 2155);
CREATE DOMAIN short_code AS varchar(8) NOT NULL DEFAULT 'x' CHECK (length(VALUE) > 0);
CREATE TABLE kinds (
  id serial PRIMARY KEY, small smallint, big bigint, flag boolean DEFAULT true,
  r real, d double precision, price numeric(10,2) CONSTRAINT price_pos CHECK (price >= 0),
  n numeric, code char(3), name varchar(40) NOT NULL, body text, born date, at_time time,
  at_timetz time with time zone, ts timestamp, tstz timestamptz DEFAULT now(), span interval,
  uid uuid, doc json, docb jsonb, raw bytea, words tsvector, tags text[], grid integer[][],
  moods mood[], feeling mood DEFAULT 'ok', yr year, sc short_code, weird point,
  CONSTRAINT kinds_name_key UNIQUE (name)
);
CREATE UNIQUE INDEX kinds_code_big_idx ON kinds (code, big);
CREATE INDEX kinds_body_idx ON kinds (body);
CREATE TABLE ident (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text);
CREATE TABLE region (country char(2), code varchar(10), name text, PRIMARY KEY (country, code));
CREATE TABLE shop (
  id integer PRIMARY KEY, country char(2) NOT NULL, region_code varchar(10) NOT NULL,
  parent_id integer REFERENCES shop (id) ON DELETE SET NULL, manager_id integer,
  FOREIGN KEY (country, region_code) REFERENCES region (country, code)
    ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE TABLE employee (
  id integer PRIMARY KEY,
  shop_id integer NOT NULL REFERENCES shop (id) DEFERRABLE INITIALLY DEFERRED
);
ALTER TABLE shop ADD CONSTRAINT shop_manager_fk FOREIGN KEY (manager_id) REFERENCES employee (id);
CREATE TABLE measurement (
  id bigserial, taken timestamptz NOT NULL, shop_id integer REFERENCES shop (id),
  value numeric(8,3), PRIMARY KEY (id, taken)
) PARTITION BY RANGE (taken);
CREATE TABLE measurement_2023 PARTITION OF measurement
  FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE measurement_2024 PARTITION OF measurement
  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE VIEW shop_names AS SELECT id, country FROM shop;
"""

MARIA_SCHEMA = """
CREATE TABLE kinds (
  id int AUTO_INCREMENT PRIMARY KEY, tiny tinyint, small smallint, med mediumint, big bigint,
  flag tinyint(1) DEFAULT 1, r float, d double, price decimal(10,2) CHECK (price >= 0),
  code char(3), name varchar(40) NOT NULL, body text, born date, at_time time, ts datetime,
  stamp timestamp NULL, doc json, raw blob, vb varbinary(16),
  status enum('new', 'done') DEFAULT 'new', yr year,
  UNIQUE KEY kinds_name_key (name), UNIQUE KEY kinds_code_big (code, big)
);
CREATE TABLE region (country char(2), code varchar(10), name text, PRIMARY KEY (country, code));
CREATE TABLE shop (
  id int PRIMARY KEY, country char(2) NOT NULL, region_code varchar(10) NOT NULL,
  parent_id int, manager_id int,
  CONSTRAINT shop_region_fk FOREIGN KEY (country, region_code) REFERENCES region (country, code)
    ON DELETE CASCADE,
  CONSTRAINT shop_parent_fk FOREIGN KEY (parent_id) REFERENCES shop (id) ON DELETE SET NULL
);
CREATE TABLE employee (
  id int PRIMARY KEY, shop_id int NOT NULL,
  CONSTRAINT employee_shop_fk FOREIGN KEY (shop_id) REFERENCES shop (id)
);
ALTER TABLE shop ADD CONSTRAINT shop_manager_fk FOREIGN KEY (manager_id) REFERENCES employee (id);
CREATE VIEW shop_names AS SELECT id FROM shop;
"""

SQLITE_SCHEMA = """
CREATE TABLE kinds (
  id INTEGER PRIMARY KEY, small SMALLINT, big BIGINT, flag BOOLEAN DEFAULT 1, r REAL,
  d DOUBLE, price NUMERIC(10, 2) CONSTRAINT price_pos CHECK (price >= 0), code CHAR(3),
  name VARCHAR(40) NOT NULL, body TEXT, born DATE, at_time TIME, ts DATETIME, doc JSON,
  raw BLOB, made DATETIME DEFAULT CURRENT_TIMESTAMP, low TEXT DEFAULT (lower('X')),
  CONSTRAINT kinds_name_key UNIQUE (name)
);
CREATE UNIQUE INDEX kinds_code_big ON kinds (code, big);
CREATE TABLE region (country CHAR(2), code VARCHAR(10), name TEXT, PRIMARY KEY (country, code));
CREATE TABLE shop (
  id INTEGER NOT NULL, country CHAR(2) NOT NULL, region_code VARCHAR(10) NOT NULL,
  parent_id INTEGER, manager_id INTEGER, PRIMARY KEY (id),
  CONSTRAINT shop_region_fk FOREIGN KEY (country, region_code) REFERENCES region (country, code)
    ON DELETE CASCADE,
  CONSTRAINT shop_parent_fk FOREIGN KEY (parent_id) REFERENCES shop (id) ON DELETE SET NULL,
  CONSTRAINT shop_manager_fk FOREIGN KEY (manager_id) REFERENCES employee (id)
);
CREATE TABLE employee (
  id INTEGER PRIMARY KEY, shop_id INTEGER NOT NULL,
  CONSTRAINT employee_shop_fk FOREIGN KEY (shop_id) REFERENCES shop (id)
);
CREATE VIEW shop_names AS SELECT id FROM shop;
"""


def _run_sql(url: str, script: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in script.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    engine.dispose()


def _reflect(url: str, schema: str | None = None) -> OrmModel:
    source = open_source(url, schema)
    try:
        return reflect_schema(source)
    finally:
        source.engine.dispose()


def _shape(model: OrmModel) -> dict[str, Any]:
    data = orm_to_data(model)
    data.pop("source")
    for table in data["tables"].values():  # the destination makes a plain table of them
        table.pop("partitions", None)
    return data


def _round_trip(src_url: str, dst_url: str, src_schema: str | None = None,
                dst_schema: str | None = None) -> tuple[OrmModel, OrmModel]:
    """Reflect, write orm.yaml text, create it in the destination, reflect it again."""
    model = _reflect(src_url, src_schema)
    text = dump_orm(model)
    engine = sa.create_engine(dst_url)
    created = create_tables(engine, load_orm_text(text), dst_schema)
    engine.dispose()
    assert sorted(created) == sorted(model.tables)
    again = _reflect(dst_url, dst_schema)
    assert _shape(again) == _shape(model)
    return model, again


# --- round trips ------------------------------------------------------------------------------

@pytest.mark.postgres
def test_postgresql_every_type_round_trips(pg_url_factory: Callable[[], str]) -> None:
    src, dst = pg_url_factory(), pg_url_factory()
    _run_sql(src, PG_SCHEMA)
    _run_sql(dst, "CREATE SCHEMA other")
    with pytest.warns(UserWarning, match="weird"):
        model, _ = _round_trip(src, dst, "shopdb", "other")

    assert sorted(model.tables) == ["employee", "ident", "kinds", "measurement", "region", "shop"]
    kinds = model.table("kinds")
    types = {c.name: c.type for c in kinds.columns}
    assert types == {
        "id": "integer", "small": "smallint", "big": "bigint", "flag": "boolean", "r": "real",
        "d": "double", "price": "numeric(10,2)", "n": "numeric", "code": "char(3)",
        "name": "varchar(40)", "body": "text", "born": "date", "at_time": "time",
        "at_timetz": "timetz", "ts": "timestamp", "tstz": "timestamptz", "span": "interval",
        "uid": "uuid", "doc": "json", "docb": "jsonb", "raw": "bytea", "words": "tsvector",
        "tags": "text[]", "grid": "integer[][]", "moods": "enum:mood[]", "feeling": "enum:mood",
        "yr": "integer", "sc": "varchar(8)", "weird": "text",
    }
    assert kinds.column("id").autoincrement and kinds.column("id").default is None
    assert kinds.column("feeling").default == "'ok'::mood"  # no source schema left in it
    assert kinds.column("yr").domain == "year" and kinds.column("sc").domain == "short_code"
    assert model.enums == {"mood": ["sad", "ok", "happy"]}
    assert model.domains["year"].checks == ["VALUE >= 1901 AND VALUE <= 2155"]
    assert model.domains["short_code"].nullable is False
    assert model.domains["short_code"].default is not None
    assert {u.name: u.columns for u in kinds.unique} == {
        "kinds_name_key": ["name"], "kinds_code_big_idx": ["code", "big"]}
    assert [c.name for c in kinds.checks] == ["price_pos"]
    assert model.table("ident").column("id").autoincrement
    assert model.table("region").primary_key == ["country", "code"]
    shop = {fk.name: fk for fk in model.table("shop").foreign_keys}
    assert shop["shop_country_region_code_fkey"].ref_columns == ["country", "code"]
    assert shop["shop_country_region_code_fkey"].on_delete == "CASCADE"
    assert shop["shop_parent_id_fkey"].ref_table == "shop"
    assert shop["shop_parent_id_fkey"].on_delete == "SET NULL"
    employee_fk = model.table("employee").foreign_keys[0]
    assert employee_fk.deferrable and employee_fk.initially_deferred
    assert model.table("measurement").primary_key == ["id", "taken"]
    assert model.source.table_count == 6 and model.source.schema == "shopdb"
    # the shop <-> employee cycle is closed by exactly one foreign key
    assert [(t, fk.ref_table) for t, fk in cycle_edges(model)] in (
        [("shop", "employee")], [("employee", "shop")])


@pytest.mark.mariadb
def test_mariadb_round_trips(maria_url_factory: Callable[[], str]) -> None:
    src, dst = maria_url_factory(), maria_url_factory()
    _run_sql(src, MARIA_SCHEMA)
    model, _ = _round_trip(src, dst)
    assert model.source.dialect == "mariadb"
    assert sorted(model.tables) == ["employee", "kinds", "region", "shop"]
    types = {c.name: c.type for c in model.table("kinds").columns}
    assert types["flag"] == "boolean" and types["doc"] == "json" and types["raw"] == "bytea"
    assert types["status"] == "enum:kinds_status" and types["tiny"] == "smallint"
    assert model.enums == {"kinds_status": ["new", "done"]}
    assert model.table("kinds").column("id").autoincrement
    assert {u.name for u in model.table("kinds").unique} == {"kinds_name_key", "kinds_code_big"}
    assert [c.sqltext for c in model.table("kinds").checks] == ["`price` >= 0"]
    assert len(model.table("shop").foreign_keys) == 3


def test_sqlite_round_trips(tmp_path: Path) -> None:
    src, dst = tmp_path / "src.db", tmp_path / "dst.db"
    with sqlite3.connect(src) as conn:
        conn.executescript(SQLITE_SCHEMA)
    model, _ = _round_trip(f"sqlite:///{src}", f"sqlite:///{dst}")
    assert sorted(model.tables) == ["employee", "kinds", "region", "shop"]
    kinds = model.table("kinds")
    assert kinds.column("id").autoincrement
    assert {u.name for u in kinds.unique} == {"kinds_name_key", "kinds_code_big"}
    assert [c.name for c in kinds.checks] == ["price_pos"]
    assert {fk.name for fk in model.table("shop").foreign_keys} == {
        "shop_region_fk", "shop_parent_fk", "shop_manager_fk"}


@pytest.mark.postgres
@pytest.mark.slow
def test_pagila_round_trips(pagila_url: str, pg_url: str) -> None:
    model, _ = _round_trip(pagila_url, pg_url)
    assert len(model.tables) == 15
    assert "payment" in model.tables and not any(t.startswith("payment_p") for t in model.tables)
    assert "actor_info" not in model.tables and "rental_by_category" not in model.tables
    # the partitions' foreign keys belong to payment now
    assert {fk.ref_table for fk in model.table("payment").foreign_keys} == {
        "customer", "rental", "staff"}
    film = {c.name: c for c in model.table("film").columns}
    assert film["rating"].type == "enum:mpaa_rating" and film["release_year"].domain == "year"
    assert film["special_features"].type == "text[]" and film["fulltext"].type == "tsvector"
    assert table_order(model).index("language") < table_order(model).index("film")


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.slow
def test_pagila_creates_on_every_destination(pagila_url: str, maria_url: str,
                                             tmp_path: Path) -> None:
    model = load_orm_text(dump_orm(_reflect(pagila_url)))
    for url in (maria_url, f"sqlite:///{tmp_path / 'pagila.db'}"):
        engine = sa.create_engine(url)
        assert len(create_tables(engine, model)) == 15
        again = _reflect(url)
        assert sorted(again.tables) == sorted(model.tables)
        assert len(again.table("payment").foreign_keys) == 3
        assert remove_tables(engine, model)[-1] == table_order(model)[0]
        assert sa.inspect(engine).get_table_names() == []
        engine.dispose()


# --- errors and secrets -----------------------------------------------------------------------

@pytest.mark.postgres
def test_orm_yaml_never_holds_the_password(pg_url: str) -> None:
    _run_sql(pg_url, "CREATE TABLE t (id integer PRIMARY KEY)")
    with_password = pg_url.replace("postgres@", "postgres:Sw0rdf1sh@")
    text = dump_orm(_reflect(with_password))
    assert "Sw0rdf1sh" not in text and "127.0.0.1" not in text and "sgtest" not in text
    assert "dialect: postgresql" in text and "table_count: 1" in text


@pytest.mark.postgres
def test_unknown_and_empty_schema_are_clear_errors(pg_url: str) -> None:
    _run_sql(pg_url, "CREATE SCHEMA empty_one")
    with pytest.raises(SynthgateError, match="schema 'nope' does not exist"):
        _reflect(pg_url, "nope")
    with pytest.raises(SynthgateError, match="schema 'empty_one' has no tables"):
        _reflect(pg_url, "empty_one")


def test_empty_sqlite_database_is_a_clear_error(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "empty.db").close()
    with pytest.raises(SynthgateError, match="schema 'main' has no tables"):
        _reflect(f"sqlite:///{tmp_path / 'empty.db'}")


# --- foreign-key order ------------------------------------------------------------------------

def _fk_model(edges: list[tuple[str, str, bool]]) -> OrmModel:
    """Tables a..e; each edge (table, ref_table, nullable) is a foreign key column."""
    tables = {n: Table(n, [Column("id", "integer", nullable=False)], ["id"])
              for n in ("a", "b", "c", "d", "e")}
    for table, ref, nullable in edges:
        column = f"{ref}_id"
        tables[table].columns.append(Column(column, "integer", nullable=nullable))
        tables[table].foreign_keys.append(ForeignKey([column], ref, ["id"], f"{table}_{ref}_fk"))
    return OrmModel(SourceFingerprint("postgresql"), tables)


def test_table_order_breaks_a_cycle_at_its_nullable_key() -> None:
    # a -> b -> c -> a is a cycle; only c.a_id is nullable; d hangs off a; e refers to itself
    model = _fk_model([("a", "b", False), ("b", "c", False), ("c", "a", True),
                       ("d", "a", False), ("e", "e", True)])
    order = table_order(model)
    assert order == ["c", "b", "a", "d", "e"]
    assert [(t, fk.ref_table) for t, fk in cycle_edges(model)] == [("c", "a")]
    assert table_order(model) == order  # deterministic


def test_table_order_keeps_model_order_without_dependencies() -> None:
    model = _fk_model([("a", "e", False)])
    assert table_order(model) == ["b", "c", "d", "e", "a"]
    assert cycle_edges(model) == []


def test_cycle_keys_are_added_after_the_tables() -> None:
    model = _fk_model([("a", "b", True), ("b", "a", True)])
    metadata = orm_to_metadata(model, "postgresql")
    alter = {fk.name for t in metadata.tables.values() for fk in t.foreign_key_constraints
             if fk.use_alter}
    assert alter == {f"{t}_{fk.ref_table}_fk" for t, fk in cycle_edges(model)}
    assert len(alter) == 1


# --- builder tables ---------------------------------------------------------------------------

@pytest.mark.postgres
def test_create_refuses_existing_tables_and_remove_drops_only_orm_tables(
        pg_url_factory: Callable[[], str]) -> None:
    src, dst = pg_url_factory(), pg_url_factory()
    _run_sql(src, PG_SCHEMA)
    with pytest.warns(UserWarning):
        model = _reflect(src, "shopdb")
    _run_sql(dst, "CREATE TABLE keep_me (id integer)")
    engine = sa.create_engine(dst)
    create_tables(engine, model)
    with pytest.raises(SynthgateError, match=r"already exist: .*kinds.*remove-tables"):
        create_tables(engine, model)
    dropped = remove_tables(engine, model)
    assert sorted(dropped) == sorted(model.tables)
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == ["keep_me"]
        types = conn.exec_driver_sql(
            "SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE nspname = 'public' AND typtype IN ('e', 'd')").scalars().all()
    assert types == []
    assert remove_tables(engine, model) == []
    engine.dispose()


def test_create_tables_on_unreachable_server_is_one_clear_line() -> None:
    engine = sa.create_engine("postgresql+psycopg2://u:pw@127.0.0.1:1/x")
    model = _fk_model([])
    with pytest.raises(SynthgateError) as err:
        create_tables(engine, model)
    assert "***" in str(err.value) and ":pw@" not in str(err.value)


# --- command line -----------------------------------------------------------------------------

def _cli(prog: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SRC_DSN", "DST_DSN")}
    return subprocess.run([str(BIN / prog), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)


def test_make_tables_cli(tmp_path: Path) -> None:
    src = tmp_path / "src.db"
    with sqlite3.connect(src) as conn:
        conn.executescript(SQLITE_SCHEMA)
    work = tmp_path / "work"
    work.mkdir()
    ok = _cli("synthgate-agent", "make-tables", "--dsn", f"sqlite:///{src}", cwd=work)
    assert ok.returncode == 0, ok.stderr
    assert "4 tables" in ok.stdout
    first = (work / "orm.yaml").read_text()
    assert load_orm_text(first).tables.keys() == {"employee", "kinds", "region", "shop"}

    again = _cli("synthgate-agent", "make-tables", "--dsn", f"sqlite:///{src}", cwd=work)
    assert again.returncode == 1 and "--force" in again.stderr
    assert (work / "orm.yaml").read_text() == first
    forced = _cli("synthgate-agent", "make-tables", "--dsn", f"sqlite:///{src}", "--force",
                  cwd=work)
    assert forced.returncode == 0, forced.stderr

    bad = _cli("synthgate-agent", "make-tables", "--dsn", "postgresql://u:pw@127.0.0.1:1/x",
               "--orm-file", "other.yaml", cwd=work)
    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "***" in lines[0] and ":pw@" not in lines[0]
    assert sorted(p.name for p in work.iterdir()) == ["orm.yaml"]


def test_builder_table_commands(tmp_path: Path) -> None:
    src = tmp_path / "src.db"
    with sqlite3.connect(src) as conn:
        conn.executescript(SQLITE_SCHEMA)
    (tmp_path / "orm.yaml").write_text(dump_orm(_reflect(f"sqlite:///{src}")))
    dst = f"sqlite:///{tmp_path / 'dst.db'}"
    made = _cli("synthgate-builder", "create-tables", "--dsn", dst, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "created 4 tables" in made.stdout
    twice = _cli("synthgate-builder", "create-tables", "--dsn", dst, cwd=tmp_path)
    assert twice.returncode == 1 and "remove-tables" in twice.stderr
    asked = _cli("synthgate-builder", "remove-tables", "--dsn", dst, cwd=tmp_path)
    assert asked.returncode != 0
    removed = _cli("synthgate-builder", "remove-tables", "--dsn", dst, "--yes", cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert "removed 4 tables" in removed.stdout
