"""DuckDB as a source (read only) and as a destination, on real DuckDB files."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from conftest import ROOT
from synthgate_agent.reflect import reflect_schema
from synthgate_agent.source import open_source, read_only
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import load_orm

AGENT = ROOT / ".venv" / "bin" / "synthgate-agent"
BUILDER = ROOT / ".venv" / "bin" / "synthgate-builder"

SCHEMA = """
CREATE SEQUENCE shop_id_seq;
CREATE TABLE shop (
    id INTEGER DEFAULT nextval('shop_id_seq') PRIMARY KEY,
    name VARCHAR NOT NULL UNIQUE,
    kind VARCHAR,
    opened DATE
);
CREATE TABLE item (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shop(id),
    price DECIMAL(10,2) CHECK (price >= 0),
    sold_at TIMESTAMP,
    ok BOOLEAN,
    note VARCHAR,
    weight DOUBLE,
    tags VARCHAR[]
);
INSERT INTO shop (name, kind, opened)
    SELECT 'shop ' || range, CASE WHEN range % 2 = 0 THEN 'big' ELSE 'small' END,
           DATE '2020-01-01' + range::INTEGER FROM range(20);
INSERT INTO item SELECT range, 1 + range % 20, (range % 97) * 1.25,
    TIMESTAMP '2021-01-01' + range * INTERVAL 1 HOUR, range % 3 = 0, 'note ' || range,
    range / 7.0, ['a', 'b'] FROM range(2000);
"""


def run(program: Path, *args: str, cwd: Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """Run a CLI with no .env and no inherited DSNs."""
    base = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "SYNTHGATE_ALLOW_PRIVILEGED_ROLE": "1"}
    return subprocess.run([str(program), *args], capture_output=True, text=True, cwd=cwd,
                          env={**base, **(env or {})}, stdin=subprocess.DEVNULL, check=False)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def duck_source(tmp_path: Path) -> Path:
    path = tmp_path / "src.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(SCHEMA)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reflect_duckdb_keys_types_and_constraints(duck_source: Path) -> None:
    model = reflect_schema(open_source(f"duckdb:///{duck_source}"))
    assert model.source.dialect == "duckdb"
    assert model.source.server_version and model.source.server_version[0].isdigit()
    shop, item = model.table("shop"), model.table("item")
    assert shop.primary_key == ["id"] and shop.column("id").autoincrement
    assert [u.columns for u in shop.unique] == [["name"]]
    assert [(f.columns, f.ref_table, f.ref_columns) for f in item.foreign_keys] == [
        (["shop_id"], "shop", ["id"])]
    types = {c.name: c.type for c in item.columns}
    assert types == {"id": "integer", "shop_id": "integer", "price": "numeric(10,2)",
                     "sold_at": "timestamp", "ok": "boolean", "note": "varchar",
                     "weight": "double", "tags": "varchar[]"}
    assert not item.column("shop_id").nullable
    assert len(item.checks) == 1 and "price" in item.checks[0].sqltext


def test_duckdb_source_is_read_only(duck_source: Path) -> None:
    source = open_source(f"duckdb:///{duck_source}")
    with read_only(source) as conn, pytest.raises(sa.exc.DBAPIError, match="read-only"):
        conn.exec_driver_sql("DELETE FROM item")
    with pytest.raises(SynthgateError, match="in-memory DuckDB"):
        open_source("duckdb:///:memory:")
    with pytest.raises(SynthgateError, match="does not exist"):
        open_source(f"duckdb:///{duck_source.parent / 'missing.duckdb'}")


def test_duckdb_source_has_a_statement_timeout(duck_source: Path) -> None:
    source = open_source(f"duckdb:///{duck_source}", timeout_s=0.5)
    with read_only(source) as conn, pytest.raises(sa.exc.DBAPIError, match="INTERRUPT"):
        conn.exec_driver_sql("SELECT count(*) FROM range(100000000000)")
    with read_only(source) as conn:  # the next statement runs as usual
        assert conn.exec_driver_sql("SELECT count(*) FROM item").scalar() == 2000


def test_locked_duckdb_file_is_one_line(duck_source: Path, tmp_path: Path) -> None:
    holder = duckdb.connect(str(duck_source))  # a writer in this process holds the lock
    try:
        result = run(AGENT, "make-tables", "--dsn", f"duckdb:///{duck_source}", cwd=tmp_path)
    finally:
        holder.close()
    assert result.returncode == 1
    assert "lock" in result.stderr and "another process" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "orm.yaml").exists()


def test_agent_and_builder_flow_duckdb_to_duckdb(duck_source: Path, tmp_path: Path) -> None:
    before = _digest(duck_source)
    src = {"SRC_DSN": f"duckdb:///{duck_source}"}
    ok(run(AGENT, "make-tables", cwd=tmp_path, env=src))
    ok(run(AGENT, "generate-config", "--vocabulary", "shop", cwd=tmp_path, env=src))
    config = (tmp_path / "config.yaml").read_text()
    assert "auto__item__profile" in config and "quantile_cont" in config.lower()
    ok(run(AGENT, "make-stats", cwd=tmp_path, env=src))
    stats = (tmp_path / "src-stats.yaml").read_text()
    assert "price__q:" in stats and "n: 2000" in stats
    ok(run(AGENT, "make-vocab", cwd=tmp_path, env=src))
    assert (tmp_path / "vocab" / "shop.yaml").exists()
    assert _digest(duck_source) == before  # the source was never written

    dst_path = tmp_path / "dst.duckdb"
    dst = {"DST_DSN": f"duckdb:///{dst_path}"}
    ok(run(BUILDER, "create-generators", cwd=tmp_path, env=dst))
    ok(run(BUILDER, "create-tables", cwd=tmp_path, env=dst))
    ok(run(BUILDER, "create-vocab", cwd=tmp_path, env=dst))
    ok(run(BUILDER, "create-data", "--num-passes", "2", "--seed", "1", cwd=tmp_path, env=dst))
    out = ok(run(BUILDER, "create-data", "--scale", "1", "--seed", "2", cwd=tmp_path, env=dst))
    assert "item: 2000 rows" in out
    with duckdb.connect(str(dst_path), read_only=True) as conn:
        count, distinct = conn.execute("SELECT count(*), count(DISTINCT id) FROM item").fetchone()
        assert count == distinct > 2000
        orphans = conn.execute("SELECT count(*) FROM item LEFT JOIN shop ON shop.id = "
                               "item.shop_id WHERE shop.id IS NULL").fetchone()
        assert orphans == (0,)
        assert conn.execute("SELECT count(*), count(DISTINCT name) FROM shop").fetchone() \
            == (20, 20)
        # the loaded vocabulary advanced the key's sequence: a default key does not collide
        conn.close()
    with duckdb.connect(str(dst_path)) as conn:
        conn.execute("INSERT INTO shop (name) VALUES ('new shop')")
        assert conn.execute("SELECT max(id) FROM shop").fetchone() == (21,)


def test_pagila_into_duckdb_keeps_keys(pagila_url: str, tmp_path: Path) -> None:
    src = {"SRC_DSN": pagila_url}
    ok(run(AGENT, "make-tables", cwd=tmp_path, env=src))
    ok(run(AGENT, "generate-config", "--vocabulary", "language", "--vocabulary", "country",
           "--vocabulary", "city", cwd=tmp_path, env=src))
    ok(run(AGENT, "make-stats", cwd=tmp_path, env=src))
    ok(run(AGENT, "make-vocab", cwd=tmp_path, env=src))
    dst_path = tmp_path / "dst.duckdb"
    dst = {"DST_DSN": f"duckdb:///{dst_path}"}
    ok(run(BUILDER, "create-generators", cwd=tmp_path, env=dst))
    ok(run(BUILDER, "create-tables", cwd=tmp_path, env=dst))
    ok(run(BUILDER, "create-vocab", cwd=tmp_path, env=dst))
    ok(run(BUILDER, "create-data", "--scale", "1", "--seed", "1", cwd=tmp_path, env=dst))
    model = load_orm(tmp_path / "orm.yaml")
    with duckdb.connect(str(dst_path), read_only=True) as conn:
        for table in model.tables.values():
            rows = conn.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()
            assert rows is not None and rows[0] > 0, table.name
            keys = [table.primary_key, *[u.columns for u in table.unique]]
            for key in keys:
                cols = ", ".join(f'"{c}"' for c in key)
                dupes = conn.execute(
                    f'SELECT count(*) FROM (SELECT {cols} FROM "{table.name}" '
                    f"WHERE ({cols}) IS NOT NULL GROUP BY {cols} HAVING count(*) > 1)"
                ).fetchone()
                assert dupes == (0,), (table.name, key)
            for fk in table.foreign_keys:
                on = " AND ".join(f'c."{a}" = p."{b}"' for a, b in
                                  zip(fk.columns, fk.ref_columns, strict=True))
                set_ = " AND ".join(f'c."{a}" IS NOT NULL' for a in fk.columns)
                orphans = conn.execute(
                    f'SELECT count(*) FROM "{table.name}" c LEFT JOIN "{fk.ref_table}" p '
                    f'ON {on} WHERE {set_} AND p."{fk.ref_columns[0]}" IS NULL').fetchone()
                assert orphans == (0,), (table.name, fk.columns)


@pytest.fixture
def duck_built(duck_source: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A DuckDB destination filled from the DuckDB source (config, orm, vocab in tmp_path)."""
    src = {"SRC_DSN": f"duckdb:///{duck_source}"}
    for args in (["make-tables"], ["generate-config", "--vocabulary", "shop"], ["make-stats"],
                 ["make-vocab"]):
        ok(run(AGENT, *args, cwd=tmp_path, env=src))
    dst_path = tmp_path / "dst.duckdb"
    dst = {"DST_DSN": f"duckdb:///{dst_path}"}
    for args in (["create-generators"], ["create-tables"], ["create-vocab"],
                 ["create-data", "--scale", "1", "--seed", "3"]):
        ok(run(BUILDER, *args, cwd=tmp_path, env=dst))
    return dst_path, dst


def test_dump_data_parquet_round_trips(duck_built: tuple[Path, dict[str, str]],
                                       tmp_path: Path) -> None:
    dst_path, dst = duck_built
    out = ok(run(BUILDER, "dump-data", "--format", "parquet", "--out", "pq", cwd=tmp_path,
                 env=dst))
    assert "wrote 2 tables" in out
    assert sorted(p.name for p in (tmp_path / "pq").iterdir()) == ["item.parquet",
                                                                    "shop.parquet"]
    item = pq.read_table(tmp_path / "pq" / "item.parquet")
    types = {f.name: f.type for f in item.schema}
    assert types["price"] == pa.decimal128(10, 2) and types["tags"] == pa.list_(pa.string())
    assert types["sold_at"] == pa.timestamp("us") and types["id"] == pa.int32()
    with duckdb.connect(str(dst_path), read_only=True) as conn:
        for name in ("shop", "item"):
            expected = conn.execute(f"SELECT * FROM {name} ORDER BY id").fetchall()
            back = pq.read_table(tmp_path / "pq" / f"{name}.parquet").to_pylist()
            got = [tuple(row.values()) for row in sorted(back, key=lambda r: r["id"])]
            if name == "item":  # the destination keeps arrays as JSON text
                expected = [(*r[:-1], json.loads(r[-1]) if r[-1] else r[-1]) for r in expected]
            assert got == expected, name


def test_dump_data_csv_refuses_a_full_folder(duck_built: tuple[Path, dict[str, str]],
                                             tmp_path: Path) -> None:
    _, dst = duck_built
    ok(run(BUILDER, "dump-data", "--format", "csv", "--out", "csv", cwd=tmp_path, env=dst))
    frame = pd.read_csv(tmp_path / "csv" / "item.csv")
    assert len(frame) == 2000 and list(frame.columns)[:3] == ["id", "shop_id", "price"]
    again = run(BUILDER, "dump-data", "--format", "csv", "--out", "csv", cwd=tmp_path, env=dst)
    assert again.returncode == 1 and "--force" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    (tmp_path / "csv" / "stale.csv").write_text("x\n")
    ok(run(BUILDER, "dump-data", "--format", "csv", "--out", "csv", "--force", cwd=tmp_path,
           env=dst))
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == ["item.csv", "shop.csv"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".csv.")]


def test_dump_data_from_postgresql_keeps_pagila_types(pagila_url: str, tmp_path: Path) -> None:
    ok(run(AGENT, "make-tables", "--dsn", pagila_url, cwd=tmp_path))
    ok(run(AGENT, "generate-config", "--plain", "--dsn", pagila_url, cwd=tmp_path))
    ok(run(BUILDER, "dump-data", "--dsn", pagila_url, "--format", "parquet", "--out", "pq",
           cwd=tmp_path))
    film = pq.read_table(tmp_path / "pq" / "film.parquet")
    assert film.schema.field("special_features").type == pa.list_(pa.string())
    assert film.schema.field("last_update").type == pa.timestamp("us", tz="UTC")
    assert film.schema.field("rental_rate").type == pa.decimal128(4, 2)
    engine = sa.create_engine(pagila_url)
    with engine.connect() as conn:
        expected = [tuple(r) for r in conn.execute(sa.text(
            "SELECT film_id, title, rental_rate FROM film ORDER BY film_id"))]
    engine.dispose()
    got = sorted(tuple(r.values()) for r in
                 film.select(["film_id", "title", "rental_rate"]).to_pylist())
    assert got == expected


def test_remove_data_vocab_and_tables_on_duckdb(duck_built: tuple[Path, dict[str, str]],
                                                tmp_path: Path) -> None:
    dst_path, dst = duck_built
    assert "deleted 2000 rows" in ok(run(BUILDER, "remove-data", "--yes", cwd=tmp_path,
                                         env=dst))
    assert "removed shop: 20 rows" in ok(run(BUILDER, "remove-vocab", "--yes", cwd=tmp_path,
                                             env=dst))
    ok(run(BUILDER, "remove-tables", "--yes", cwd=tmp_path, env=dst))
    with duckdb.connect(str(dst_path), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM duckdb_sequences()").fetchone() == (0,)


def test_create_data_straight_to_parquet_files(duck_source: Path, tmp_path: Path) -> None:
    src = {"SRC_DSN": f"duckdb:///{duck_source}"}
    for args in (["make-tables"], ["generate-config", "--vocabulary", "shop"], ["make-stats"],
                 ["make-vocab"]):
        ok(run(AGENT, *args, cwd=tmp_path, env=src))
    ok(run(BUILDER, "create-generators", cwd=tmp_path))
    out = ok(run(BUILDER, "create-data", "--dst-dir", "synthetic", "--scale", "1", "--seed",
                 "1", cwd=tmp_path))
    assert "into 2 files in synthetic" in out
    shop = pq.read_table(tmp_path / "synthetic" / "shop.parquet").to_pylist()
    item = pq.read_table(tmp_path / "synthetic" / "item.parquet").to_pylist()
    assert len(shop) == 20 and len(item) == 2000
    assert len({r["id"] for r in item}) == 2000
    assert {r["shop_id"] for r in item} <= {r["id"] for r in shop}
    again = run(BUILDER, "create-data", "--dst-dir", "synthetic", cwd=tmp_path)
    assert again.returncode == 1 and "not empty" in again.stderr
