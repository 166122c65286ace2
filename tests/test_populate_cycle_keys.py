"""A cycle closed at the end of the pass through composite, text and uuid keys (the bulk
UPDATE of the ``later`` foreign key), on PostgreSQL, MariaDB and SQLite."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from synthgate_builder.populate import create_data
from synthgate_builder.ssg_load import ssg_for
from synthgate_builder.tables import create_tables
from synthgate_shared.config import config_from_data
from synthgate_shared.db import create_engine_for, parse_dsn
from synthgate_shared.orm import orm_from_data

# dept.(site_region, site_code) closes the cycle: it is the nullable edge. Both tables have
# composite primary keys of a text and a uuid column.
CYCLE_ORM: dict[str, Any] = {
    "source": {"dialect": "postgresql"},
    "tables": {
        "site": {
            "columns": [{"name": "region", "type": "varchar(8)", "nullable": False},
                        {"name": "code", "type": "uuid", "nullable": False},
                        {"name": "head_org", "type": "varchar(6)", "nullable": False},
                        {"name": "head_id", "type": "uuid", "nullable": False}],
            "primary_key": ["region", "code"],
            "foreign_keys": [{"columns": ["head_org", "head_id"], "ref_table": "dept",
                              "ref_columns": ["org", "id"]}],
        },
        "dept": {
            "columns": [{"name": "org", "type": "varchar(6)", "nullable": False},
                        {"name": "id", "type": "uuid", "nullable": False},
                        {"name": "site_region", "type": "varchar(8)"},
                        {"name": "site_code", "type": "uuid"}],
            "primary_key": ["org", "id"],
            "foreign_keys": [{"columns": ["site_region", "site_code"], "ref_table": "site",
                              "ref_columns": ["region", "code"]}],
        },
    },
}
ROWS = 30


def _run(url: str, schema: str | None = None, passes: int = 2) -> sa.Engine:
    engine = create_engine_for(parse_dsn(url))
    model = orm_from_data(CYCLE_ORM)
    config = config_from_data({"tables": {n: {"num_rows_per_pass": ROWS}
                                          for n in CYCLE_ORM["tables"]}})
    create_tables(engine, model, schema)
    ssg = ssg_for(config, model, {})
    create_data(engine, model, config, ssg, num_passes=passes, seed=3, schema=schema)
    return engine


def _check(engine: sa.Engine, schema: str | None = None) -> None:
    prefix = f"{schema}." if schema else ""
    with engine.connect() as conn:
        def count(sql: str) -> int:
            return int(conn.execute(sa.text(sql.format(p=prefix))).scalar_one())
        assert count("SELECT count(*) FROM {p}dept") == 2 * ROWS
        # every dept points at a site, one that exists (the key was closed on every row)
        assert count("SELECT count(*) FROM {p}dept WHERE site_region IS NULL "
                     "OR site_code IS NULL") == 0
        assert count("SELECT count(*) FROM {p}dept d JOIN {p}site s "
                     "ON s.region = d.site_region AND s.code = d.site_code") == 2 * ROWS
        assert count("SELECT count(*) FROM {p}site s JOIN {p}dept d "
                     "ON d.org = s.head_org AND d.id = s.head_id") == 2 * ROWS
        # the later key draws from the whole pool: not one site for all
        assert count("SELECT count(DISTINCT site_code) FROM {p}dept") > 1


def test_cycle_through_composite_uuid_keys(any_db_url: str) -> None:
    engine = _run(any_db_url)
    try:
        _check(engine)
    finally:
        engine.dispose()


def test_cycle_in_a_schema(pg_url: str) -> None:
    engine = create_engine_for(parse_dsn(pg_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA cyc")
    engine.dispose()
    engine = _run(pg_url, schema="cyc", passes=1)
    try:
        with engine.connect() as conn:
            closed = conn.exec_driver_sql(
                "SELECT count(*) FROM cyc.dept WHERE site_code IS NOT NULL").scalar_one()
        assert closed == ROWS
    finally:
        engine.dispose()


def test_same_seed_same_cycle(sqlite_url: str, tmp_path: Any) -> None:
    dumps = []
    for url in (sqlite_url, f"sqlite:///{tmp_path / 'again.db'}"):
        engine = _run(url)
        with engine.connect() as conn:
            dumps.append([conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 1, 2").all()
                          for t in CYCLE_ORM["tables"]])
        engine.dispose()
    assert dumps[0] == dumps[1]
