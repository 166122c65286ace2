"""Case 7: create-data with the default generators on the Pagila schema into SQLite and
MariaDB, against each database's own bulk path for the same rows.

The baselines (in this process, timing only the inserts and the commit): the rows
create-data made are read back (not timed), then written into an empty create-tables copy,
parents first, in one transaction: SQLite with ``sqlite3`` ``executemany``, MariaDB with
PyMySQL ``executemany`` (which sends multi-row ``INSERT ... VALUES`` statements).
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql
from case1_create_data_pg import generated_tables, prepare_config
from common import (
    BUILDER,
    Result,
    announce,
    count_rows,
    pagila_db,
    print_results,
    ratio_result,
    run,
    run_measured,
    scale_parser,
    scratch_db,
    timed,
    workdir,
)
from sqlalchemy.engine import make_url

ROWS_PER_TABLE = 10_000
PASSES = 1


def _sqlite_bulk(filled: str, empty: str, tables: list[str]) -> float:
    source = sqlite3.connect(make_url(filled).database or "")
    rows = {t: source.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables}
    source.close()
    target = sqlite3.connect(make_url(empty).database or "")
    with timed() as seconds, target:  # one transaction
        for table in tables:
            if rows[table]:
                marks = ", ".join("?" * len(rows[table][0]))
                target.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows[table])
    target.close()
    return seconds[0]


def _maria_connect(url: str) -> Any:
    u = make_url(url)
    return pymysql.connect(host=u.host, port=u.port or 3306, user=u.username,
                           password=u.password or "", database=u.database, charset="utf8mb4")


def _maria_bulk(filled: str, empty: str, tables: list[str]) -> float:
    source = _maria_connect(filled)
    rows: dict[str, list[Any]] = {}
    with source.cursor() as cur:
        for table in tables:
            cur.execute(f"SELECT * FROM `{table}`")
            rows[table] = list(cur.fetchall())
    source.close()
    target = _maria_connect(empty)
    with timed() as seconds:
        with target.cursor() as cur:
            for table in tables:
                if rows[table]:
                    marks = ", ".join(["%s"] * len(rows[table][0]))
                    cur.executemany(f"INSERT INTO `{table}` VALUES ({marks})", rows[table])
        target.commit()
    target.close()
    return seconds[0]


def _measure(name: str, work: Path, filled: str, empty: str, passes: int, size: str,
             bulk: Callable[[str, str, list[str]], float], baseline: str) -> Result:
    tables = generated_tables(work)
    run([BUILDER, "create-tables", "--dsn", filled], cwd=work)
    run([BUILDER, "create-tables", "--dsn", empty], cwd=work)
    announce(f"case 7 {name} {size}: create-data --num-passes {passes}")
    measured = run_measured([BUILDER, "create-data", "--dsn", filled, "--num-passes",
                             str(passes), "--seed", "1"], cwd=work)
    rows = count_rows(filled, tables)
    announce(f"case 7 {name} {size}: {baseline} of the same {rows} rows")
    return ratio_result("7", f"create-data, default generators, {name}", size, rows, measured,
                        baseline, bulk(filled, empty, tables), None,
                        note=f"{passes} passes, {len(tables)} tables")


def run_case(scale: float = 1.0) -> list[Result]:
    """Case 7 (SQLite, then MariaDB) at the default size and at twice the size."""
    passes = max(1, round(PASSES * scale))
    results = []
    with pagila_db("c7_src") as src, workdir("c7") as work:
        prepare_config(work, src, ROWS_PER_TABLE)
        run([BUILDER, "create-generators"], cwd=work)
        for size, n in (("1x", passes), ("2x", 2 * passes)):
            filled, empty = (f"sqlite:///{work / f'{size}_{k}.db'}" for k in ("data", "copy"))
            results.append(_measure("SQLite", work, filled, empty, n, size, _sqlite_bulk,
                                    "sqlite3 executemany, 1 transaction"))
        for size, n in (("1x", passes), ("2x", 2 * passes)):
            with scratch_db("maria", f"c7_data_{size}") as filled, \
                    scratch_db("maria", f"c7_copy_{size}") as empty:
                results.append(_measure("MariaDB", work, filled, empty, n, size, _maria_bulk,
                                        "PyMySQL executemany (multi-row INSERT)"))
    return results


if __name__ == "__main__":
    args = scale_parser(__doc__ or "").parse_args()
    print_results(run_case(args.scale))
    sys.exit(0)
