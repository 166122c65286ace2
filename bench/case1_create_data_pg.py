"""Case 1: create-data with the default generators on the Pagila schema into PostgreSQL,
against COPY FROM STDIN of the same rows into an empty copy of the same tables.

The baseline: the rows create-data made are copied out to CSV (not timed), then one psql
session loads them with ``\\copy ... FROM`` (COPY FROM STDIN) into a fresh create-tables
copy of the schema, parents first, in one transaction; only that psql run is timed.
Foreign keys and unique constraints are checked in both.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from common import (
    AGENT,
    BUILDER,
    PSQL,
    Result,
    announce,
    copy_out,
    count_rows,
    defaults_only,
    edit_config,
    pagila_db,
    print_results,
    ratio_result,
    run,
    run_measured,
    scale_parser,
    scratch_db,
    workdir,
)
from synthgate_shared.config import load_config
from synthgate_shared.orm import load_orm
from synthgate_shared.sqla import table_order

ROWS_PER_TABLE = 10_000  # num_rows_per_pass of every Pagila table (15 tables)
PASSES = 4  # 600,000 rows, about 20 s on 2 cores; the 2x run makes 8 passes


def generated_tables(work: Path) -> list[str]:
    """The tables create-data fills, parents first (not vocabulary, not ignored)."""
    config = load_config(work / "config.yaml")
    return [t for t in table_order(load_orm(work / "orm.yaml"))
            if not config.table(t).vocabulary_table and not config.table(t).ignore]


def prepare_config(work: Path, src: str, rows_per_table: int) -> None:
    """orm.yaml and config.yaml of the source: every table at ``rows_per_table`` a pass,
    with the default generators only (no statistics, no row generators)."""
    run([AGENT, "make-tables", "--dsn", src], cwd=work)
    run([AGENT, "generate-config", "--dsn", src], cwd=work)

    def rows(data: dict[str, Any]) -> None:
        defaults_only(data)
        for entry in data.get("tables", {}).values():
            entry["num_rows_per_pass"] = rows_per_table

    edit_config(work / "config.yaml", rows)


def prepare_destination(work: Path, dst: str) -> None:
    """create-tables (and create-vocab when the config names vocabulary tables)."""
    run([BUILDER, "create-tables", "--dsn", dst], cwd=work)
    if load_config(work / "config.yaml").vocabulary_tables():
        run([BUILDER, "create-vocab", "--dsn", dst], cwd=work)


def copy_baseline(work: Path, filled: str, empty: str, tables: list[str]) -> float:
    """Seconds psql takes to COPY FROM STDIN the rows of ``tables`` of ``filled`` into the
    (vocabulary-loaded) empty copy ``empty``, parents first, in one transaction."""
    script = []
    for table in tables:
        csv = work / f"{table}.csv"
        copy_out(filled, f'"{table}"', csv)
        script.append(f"\\copy \"{table}\" FROM '{csv}' (FORMAT csv)")
    (work / "copy.sql").write_text("\n".join(script) + "\n")
    measured = run_measured([*PSQL, "--single-transaction", empty, "-f", str(work / "copy.sql")],
                            cwd=work)
    for table in tables:
        (work / f"{table}.csv").unlink()
    return measured.seconds


def measure_create_data(case: str, what: str, work: Path, passes: int, size: str,
                        target: float | None) -> Result:
    """create-data of ``passes`` passes into a new database, and the COPY baseline."""
    tables = generated_tables(work)
    with scratch_db("pg", f"c{case}_dst") as dst, scratch_db("pg", f"c{case}_copy") as empty:
        prepare_destination(work, dst)
        prepare_destination(work, empty)
        announce(f"case {case} {size}: create-data --num-passes {passes}")
        measured = run_measured([BUILDER, "create-data", "--dsn", dst, "--num-passes",
                                 str(passes), "--seed", "1"], cwd=work)
        rows = count_rows(dst, tables)
        announce(f"case {case} {size}: COPY FROM STDIN of the same {rows} rows")
        base = copy_baseline(work, dst, empty, tables)
    return ratio_result(case, what, size, rows, measured, "COPY FROM STDIN (psql)", base, target,
                        note=f"{passes} passes, {len(tables)} tables")


def run_case(scale: float = 1.0) -> list[Result]:
    """Case 1 at the default size and at twice the size."""
    passes = max(1, round(PASSES * scale))
    results = []
    with pagila_db("c1_src") as src, workdir("c1") as work:
        prepare_config(work, src, ROWS_PER_TABLE)
        run([BUILDER, "create-generators"], cwd=work)
        for size, n in (("1x", passes), ("2x", 2 * passes)):
            results.append(measure_create_data("1", "create-data, default generators, PG",
                                               work, n, size, 0.5))
    return results


if __name__ == "__main__":
    args = scale_parser(__doc__ or "").parse_args()
    print_results(run_case(args.scale))
    sys.exit(0)
