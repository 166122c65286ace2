"""create-data keeps its keys with compact key pools and unique checks (issue 7: 10M rows in
under 500 MB): integer pools as NumPy arrays, unique keys as hashes, and no check at all for
keys unique by construction (a counter, a sample_unique column) unless a story sets them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
import synthgate_builder.populate.passes as passes
from synthgate_builder.populate import create_data
from synthgate_builder.populate.keys import Hashes, Pool, hash_keys, key_hashes, repeats
from synthgate_builder.ssg_load import ssg_for
from synthgate_builder.tables import create_tables
from synthgate_shared.config import config_from_data
from synthgate_shared.db import create_engine_for, parse_dsn
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel, orm_from_data

_INT = {"type": "integer", "nullable": False}

# maker: database-filled key, unique text drawn by sample_unique; part: counter key, unique
# integer from a row generator with few values to spare; shelf: text key (an object pool);
# stock and pairing: unique keys made of foreign keys, pairing with hardly any room.
ORM: dict[str, Any] = {"tables": {
    "maker": {"columns": [{"name": "id", **_INT, "autoincrement": True},
                          {"name": "code", "type": "varchar(8)", "nullable": False},
                          {"name": "name", "type": "text"}],
              "primary_key": ["id"], "unique": [{"name": "maker_code_key", "columns": ["code"]}]},
    "part": {"columns": [{"name": "part_no", **_INT}, {"name": "serial", **_INT},
                         {"name": "label", "type": "varchar(12)"}],
             "primary_key": ["part_no"],
             "unique": [{"name": "part_serial_key", "columns": ["serial"]}]},
    "shelf": {"columns": [{"name": "tag", "type": "varchar(10)", "nullable": False},
                          {"name": "floor", "type": "smallint"}],
              "primary_key": ["tag"]},
    "stock": {"columns": [{"name": "id", **_INT, "autoincrement": True},
                          {"name": "maker_id", **_INT}, {"name": "part_no", **_INT},
                          {"name": "shelf_tag", "type": "varchar(10)"}],
              "primary_key": ["id"],
              "unique": [{"name": "stock_maker_part_key", "columns": ["maker_id", "part_no"]}],
              "foreign_keys": [
                  {"columns": ["maker_id"], "ref_table": "maker", "ref_columns": ["id"]},
                  {"columns": ["part_no"], "ref_table": "part", "ref_columns": ["part_no"]},
                  {"columns": ["shelf_tag"], "ref_table": "shelf", "ref_columns": ["tag"]}]},
    "pairing": {"columns": [{"name": "maker_id", **_INT},
                            {"name": "shelf_tag", "type": "varchar(10)", "nullable": False}],
                "primary_key": ["maker_id", "shelf_tag"],
                "foreign_keys": [
                    {"columns": ["maker_id"], "ref_table": "maker", "ref_columns": ["id"]},
                    {"columns": ["shelf_tag"], "ref_table": "shelf", "ref_columns": ["tag"]}]},
}}
UNIQUE = {"maker": [["id"], ["code"]], "part": [["part_no"], ["serial"]], "shelf": [["tag"]],
          "stock": [["id"], ["maker_id", "part_no"]], "pairing": [["maker_id", "shelf_tag"]]}
ROWS = {"maker": 4, "part": 250, "shelf": 3, "stock": 300, "pairing": 8}


def _engine(url: str) -> sa.Engine:
    return create_engine_for(parse_dsn(url))


def _query(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def _check_keys(engine: sa.Engine, model: OrmModel) -> None:
    """Every foreign key points at a row and no unique key repeats a value."""
    for name, table in model.tables.items():
        for fk in table.foreign_keys:
            col, ref = fk.columns[0], fk.ref_columns[0]
            assert _query(engine, f"SELECT count(*) FROM {name} c LEFT JOIN {fk.ref_table} p "
                                  f"ON c.{col} = p.{ref} WHERE c.{col} IS NOT NULL "
                                  f"AND p.{ref} IS NULL") == 0, f"{name}.{col}"
    for name, keys in UNIQUE.items():
        for key in keys:
            cols = ", ".join(key)
            assert _query(engine, f"SELECT count(*) FROM (SELECT {cols} FROM {name} GROUP BY "
                                  f"{cols} HAVING count(*) > 1) d") == 0, f"{name} {cols}"


def test_keys_stay_valid_over_many_passes(any_db_url: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Many small batches, pools that grow past their first block, unique keys checked
    against earlier batches, passes and runs (the second run reads them from the table)."""
    monkeypatch.setattr(passes, "BATCH_ROWS", 64)
    engine, model = _engine(any_db_url), orm_from_data(ORM)
    create_tables(engine, model)
    tables: dict[str, Any] = {name: {"num_rows_per_pass": n} for name, n in ROWS.items()}
    tables["part"]["row_generators"] = [{
        "name": "generic.numeric.integer_number", "kwargs": {"start": 1, "end": 2500},
        "columns_assigned": "serial"}]
    config = config_from_data({"tables": tables})
    ssg = ssg_for(config, model, {})
    create_data(engine, model, config, ssg, num_passes=6, seed=11)
    _check_keys(engine, model)
    summary = create_data(engine, model, config, ssg, num_passes=2, seed=12)
    assert summary.rows == {name: 2 * n for name, n in ROWS.items()}
    _check_keys(engine, model)
    assert _query(engine, "SELECT count(*) FROM part") == 2000  # a pool past 1024 keys
    assert _query(engine, "SELECT max(part_no) FROM part") == 2000  # the counter went on
    # the parents of every pass were drawn, not only the first pass's
    assert _query(engine, "SELECT count(DISTINCT part_no) FROM stock") > 1000


# the story's first row has a new value, its second one a value made in pass 2 (the counter
# and sample_unique go on from 7, as the story's row of pass 1 took 6)
STORY = """
VALUES = iter([9000, 8])

def story():
    yield "part", {"COLUMN": next(VALUES)}
"""


@pytest.mark.parametrize("column", ["part_no", "serial"])
def test_story_values_on_keys_unique_by_construction(any_db_url: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      column: str) -> None:
    """A story that gives the counter (or a sample_unique column) a value makes that key
    checked against the rows already in the table and the rows made after."""
    module = f"story_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{module}.py").write_text(STORY.replace("COLUMN", column))
    monkeypatch.syspath_prepend(str(tmp_path))
    engine = _engine(any_db_url)
    model = orm_from_data({"tables": {"part": ORM["tables"]["part"]}})
    create_tables(engine, model)
    config = config_from_data({
        "story_generators_module": module,
        "story_generators": [{"name": f"{module}.story", "num_stories_per_pass": 1}],
        "tables": {"part": {"num_rows_per_pass": 5}}})
    ssg = ssg_for(config, model, {})
    with pytest.raises(SynthgateError) as info:
        create_data(engine, model, config, ssg, num_passes=3, seed=1)
    message = info.value.one_line()
    assert f"({column}) of table part" in message
    assert "a story generator gave the values" in message and "pass 2 was rolled back" in message
    assert _query(engine, "SELECT count(*) FROM part") == 6  # pass 1: 5 rows and the story's
    assert _query(engine, f"SELECT count(*) FROM part WHERE {column} = 9000") == 1


def test_pool_arrays() -> None:
    """Integer keys go into int64 arrays (NULLs left out, grown past a block); a value
    int64 cannot hold turns the column into an object array, and keys come out as Python
    values."""
    pool = Pool([True, False])
    pool.add([list(range(1500)), [f"k{i}" for i in range(1500)]])
    pool.add([[None, 7], ["x", None]])
    assert len(pool) == 1500 and pool.columns[0].dtype == np.int64
    pool.add([[2**70], ["big"]])
    assert len(pool) == 1501 and pool.columns[0].dtype == object
    keys = pool.rows(np.array([0, 1499, 1500]))
    assert keys == [[0, 1499, 2**70], ["k0", "k1499", "big"]]
    assert all(type(v) is int for v in keys[0])


def test_hashes_find_every_repeat() -> None:
    seen = Hashes()
    for start in range(0, 5000, 64):  # blocks merged as they come
        seen.add(hash_keys(range(start, start + 64)))
    assert len(seen.blocks) <= 8
    probe = np.array([0, 4999, 5000, -7, 2500])
    assert seen.hits(probe).tolist() == [True, True, True, False, True]
    rows, hashes = key_hashes([[1, None, 1, 2], ["a", "b", "a", "a"]])
    assert rows.tolist() == [0, 2, 3]
    assert repeats(hashes).tolist() == [False, True, False]
