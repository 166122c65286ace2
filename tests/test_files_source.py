"""A folder of CSV or Parquet files (written by pandas and pyarrow) as the agent's source."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from synthgate_shared.config import load_config
from synthgate_shared.orm import load_orm
from test_duckdb import AGENT, BUILDER, ok, run

# keys of Pagila whose names do not say what they point at (and that are always NULL)
UNNAMED_KEYS = {("film", "original_language_id")}


@pytest.fixture(scope="module")
def pagila_dirs(pagila_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Pagila's tables exported with pandas: Parquet (through pyarrow) and CSV."""
    root = tmp_path_factory.mktemp("pagila-files")
    engine = sa.create_engine(pagila_url)
    names = sa.inspect(engine).get_table_names()
    folders = {"pq": root / "pq", "csv": root / "csv"}
    for folder in folders.values():
        folder.mkdir()
    with engine.connect() as conn:
        for name in names:
            if name.startswith("payment_p"):  # partitions: their parent holds the rows
                continue
            frame = pd.read_sql(sa.text(f'SELECT * FROM "{name}"'), conn)
            frame.to_csv(folders["csv"] / f"{name}.csv", index=False)
            for column in frame.columns:  # in Parquet an all-NULL column keeps a type
                if frame[column].isna().all():
                    frame[column] = frame[column].astype("string")
            frame.to_parquet(folders["pq"] / f"{name}.parquet")
    engine.dispose()
    return folders


def _keys(path: Path) -> tuple[dict[str, list[str]], set[tuple[str, str, str]]]:
    model = load_orm(path)
    pks = {n: t.primary_key for n, t in model.tables.items()}
    fks = {(n, fk.columns[0], fk.ref_table) for n, t in model.tables.items()
           for fk in t.foreign_keys}
    return pks, fks


def test_pagila_parquet_gives_the_tables_of_postgresql(pagila_url: str,
                                                       pagila_dirs: dict[str, Path],
                                                       tmp_path: Path) -> None:
    pg, files = tmp_path / "pg", tmp_path / "files"
    pg.mkdir()
    files.mkdir()
    ok(run(AGENT, "make-tables", "--dsn", pagila_url, cwd=pg))
    ok(run(AGENT, "generate-config", "--dsn", pagila_url, cwd=pg))
    result = run(AGENT, "make-tables", "--parquet-dir", str(pagila_dirs["pq"]), cwd=files)
    ok(result)
    assert "warning: guessed primary key film.film_id" in result.stderr
    text = (files / "orm.yaml").read_text()
    assert text.startswith("# warning: keys below were guessed")
    assert "# warning: guessed foreign key rental.inventory_id -> inventory.inventory_id" in text
    ok(run(AGENT, "generate-config", "--parquet-dir", str(pagila_dirs["pq"]), cwd=files))

    pg_model, files_model = load_orm(pg / "orm.yaml"), load_orm(files / "orm.yaml")
    assert list(files_model.tables) == list(pg_model.tables)
    for name, table in pg_model.tables.items():
        assert files_model.table(name).column_names == table.column_names, name
    pg_pks, pg_fks = _keys(pg / "orm.yaml")
    files_pks, files_fks = _keys(files / "orm.yaml")
    # PostgreSQL's partitioned payment has the partition column in its key
    assert {n: k for n, k in files_pks.items() if k != pg_pks[n]} == {"payment": ["payment_id"]}
    assert files_fks <= pg_fks
    assert {(t, c) for t, c, _ in pg_fks - files_fks} == UNNAMED_KEYS

    # the same proposed statistics, up to types (an enum is a category, its varchar is text)
    pg_stats = {s.name for s in load_config(pg / "config.yaml").src_stats}
    files_stats = {s.name for s in load_config(files / "config.yaml").src_stats}
    assert files_stats <= pg_stats
    # original_language_id is always NULL, so no key is guessed for it; rating is an enum in
    # PostgreSQL and measured as a category in the files (where generate-config measures it)
    assert pg_stats - files_stats <= {"auto__film__original_language_id__children",
                                      "auto__film__original_language_id__parents",
                                      "auto__film__original_language_id__per_parent",
                                      "auto__film__rating__freq"}


def test_pagila_csv_flow_to_a_database(pagila_dirs: dict[str, Path], tmp_path: Path) -> None:
    folder = ["--csv-dir", str(pagila_dirs["csv"])]
    ok(run(AGENT, "make-tables", *folder, cwd=tmp_path))
    ok(run(AGENT, "generate-config", *folder, "--vocabulary", "language", "--vocabulary",
           "country", cwd=tmp_path))
    ok(run(AGENT, "make-stats", *folder, cwd=tmp_path))
    ok(run(AGENT, "make-vocab", *folder, cwd=tmp_path))
    assert (tmp_path / "vocab" / "country.yaml").exists()
    dst = {"DST_DSN": f"sqlite:///{tmp_path / 'dst.db'}"}
    for args in (["create-generators"], ["create-tables"], ["create-vocab"],
                 ["create-data", "--scale", "1", "--seed", "1"]):
        ok(run(BUILDER, *args, cwd=tmp_path, env=dst))
    engine = sa.create_engine(dst["DST_DSN"])
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM rental")).scalar() == 16044
        orphans = conn.execute(sa.text(
            "SELECT count(*) FROM rental r LEFT JOIN inventory i USING (inventory_id) "
            "WHERE i.inventory_id IS NULL")).scalar()
        assert orphans == 0
    engine.dispose()


def _folder(tmp_path: Path, frames: dict[str, pd.DataFrame], kind: str = "csv") -> Path:
    folder = tmp_path / kind
    folder.mkdir(exist_ok=True)
    for name, frame in frames.items():
        if kind == "csv":
            frame.to_csv(folder / name, index=False)
        else:
            frame.to_parquet(folder / name)
    return folder


def _refused(tmp_path: Path, *args: str) -> str:
    result = run(AGENT, "make-tables", *args, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert not (tmp_path / "orm.yaml").exists()
    return lines[0]


SHOPS = pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"]})


def test_a_file_that_is_not_csv(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"shop.csv": SHOPS})
    (folder / "notes.txt").write_text("hello\n")
    assert "notes.txt is not a CSV file" in _refused(tmp_path, "--csv-dir", str(folder))


def test_a_parquet_file_that_is_not_parquet(tmp_path: Path) -> None:
    folder = tmp_path / "parquet"
    folder.mkdir()
    SHOPS.to_csv(folder / "shop.parquet", index=False)
    line = _refused(tmp_path, "--parquet-dir", str(folder))
    assert "shop.parquet cannot be read as PARQUET" in line


def test_two_files_for_one_table(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"shop.csv": SHOPS, "Shop.csv.gz": SHOPS})
    assert "are both table" in _refused(tmp_path, "--csv-dir", str(folder))


def test_a_column_whose_type_cannot_be_inferred(tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    folder.mkdir()
    pq.write_table(pa.table({"id": [1, 2], "nothing": pa.nulls(2)}), folder / "shop.parquet")
    line = _refused(tmp_path, "--parquet-dir", str(folder))
    assert "column shop.nothing cannot be inferred (no value has a type)" in line
    pq.write_table(pa.table({"id": [1], "pair": [{"a": 1}]}), folder / "shop.parquet")
    line = _refused(tmp_path, "--parquet-dir", str(folder))
    assert "column shop.pair cannot be inferred (type STRUCT(a BIGINT))" in line


def test_an_empty_csv_column_is_text_with_a_warning(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"shop.csv": SHOPS.assign(fax=[None, None, None])})
    result = run(AGENT, "make-tables", "--csv-dir", str(folder), cwd=tmp_path)
    ok(result)
    assert "warning: guessed type varchar for shop.fax: every value is empty" in result.stderr
    assert load_orm(tmp_path / "orm.yaml").table("shop").column("fax").type == "varchar"


def test_both_folders_at_once(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"shop.csv": SHOPS})
    line = _refused(tmp_path, "--csv-dir", str(folder), "--parquet-dir", str(folder))
    assert "not both" in line


def test_a_key_guess_that_is_not_unique_is_skipped(tmp_path: Path) -> None:
    shops = pd.DataFrame({"shop_id": [1, 1, 2], "name": ["a", "b", "c"]})
    items = pd.DataFrame({"id": [1, 2, 3], "shop_id": [1, 2, 2], "cat_id": [5, 6, 7]})
    folder = _folder(tmp_path, {"shop.parquet": shops, "item.parquet": items}, "parquet")
    result = run(AGENT, "make-tables", "--parquet-dir", str(folder), cwd=tmp_path)
    ok(result)
    assert "not guessed: shop.shop_id is named like a primary key but repeats a value" \
        in result.stderr
    model = load_orm(tmp_path / "orm.yaml")
    assert model.table("shop").primary_key == []
    assert model.table("item").primary_key == ["id"]
    assert model.table("item").foreign_keys == []  # its parent has no key to point at
    assert model.table("item").column("cat_id").type == "bigint"


def test_a_reference_with_missing_parents_is_skipped(tmp_path: Path) -> None:
    shops = pd.DataFrame({"id": [1, 2], "name": ["a", "b"]})
    items = pd.DataFrame({"id": [1, 2, 3], "shop_id": [1, 2, 9]})
    folder = _folder(tmp_path, {"shops.csv": shops, "items.csv": items})
    result = run(AGENT, "make-tables", "--csv-dir", str(folder), cwd=tmp_path)
    ok(result)
    assert "items.shop_id is named like a reference to shops.id, but 1 value(s) are not " \
        "there" in result.stderr
    assert load_orm(tmp_path / "orm.yaml").table("items").foreign_keys == []
