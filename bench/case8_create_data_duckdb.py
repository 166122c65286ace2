"""Case 8: create-data with the default generators on the Pagila schema into DuckDB and into
Parquet files (``--dst-dir``), against DuckDB's own ``COPY ... FROM`` of the same rows.

The baseline (in this process, timing only the COPY statements and the commit): the rows
create-data wrote into DuckDB are exported to Parquet (not timed), then copied into an empty
create-tables copy, parents first, in one transaction, with ``COPY <table> FROM 'x.parquet'``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
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
    timed,
    workdir,
)

ROWS_PER_TABLE = 10_000
PASSES = 1


def _copy_baseline(filled: Path, empty: Path, tables: list[str], parquet: Path) -> float:
    parquet.mkdir(exist_ok=True)
    with duckdb.connect(str(filled), read_only=True) as source:
        for table in tables:
            source.execute(f"COPY \"{table}\" TO '{parquet / table}.parquet' (FORMAT parquet)")
    with duckdb.connect(str(empty)) as target, timed() as seconds:
        target.execute("BEGIN")
        for table in tables:
            target.execute(f"COPY \"{table}\" FROM '{parquet / table}.parquet'")
        target.execute("COMMIT")
    return seconds[0]


def run_case(scale: float = 1.0) -> list[Result]:
    """Case 8 (DuckDB, then Parquet files) at the default size and at twice the size."""
    passes = max(1, round(PASSES * scale))
    results = []
    with pagila_db("c8_src") as src, workdir("c8") as work:
        prepare_config(work, src, ROWS_PER_TABLE)
        run([BUILDER, "create-generators"], cwd=work)
        tables = generated_tables(work)
        for size, n in (("1x", passes), ("2x", 2 * passes)):
            filled, empty = (work / f"{size}_{k}.duckdb" for k in ("data", "copy"))
            for path in (filled, empty):
                run([BUILDER, "create-tables", "--dsn", f"duckdb:///{path}"], cwd=work)
            announce(f"case 8 DuckDB {size}: create-data --num-passes {n}")
            measured = run_measured([BUILDER, "create-data", "--dsn", f"duckdb:///{filled}",
                                     "--num-passes", str(n), "--seed", "1"], cwd=work)
            rows = count_rows(f"duckdb:///{filled}", tables)
            announce(f"case 8 {size}: COPY FROM Parquet of the same {rows} rows")
            base = _copy_baseline(filled, empty, tables, work / f"{size}_parquet")
            baseline = "DuckDB COPY ... FROM Parquet, 1 transaction"
            results.append(ratio_result("8", "create-data, default generators, DuckDB", size,
                                        rows, measured, baseline, base, None,
                                        note=f"{n} passes, {len(tables)} tables"))
            announce(f"case 8 Parquet files {size}: create-data --dst-dir")
            files = run_measured([BUILDER, "create-data", "--dst-dir", str(work / f"{size}_out"),
                                  "--num-passes", str(n), "--seed", "1"], cwd=work)
            results.append(ratio_result("8", "create-data --dst-dir, Parquet files", size,
                                        rows, files, baseline, base, None,
                                        note=f"{n} passes, {len(tables)} tables"))
    return results


if __name__ == "__main__":
    args = scale_parser(__doc__ or "").parse_args()
    print_results(run_case(args.scale))
    sys.exit(0)
