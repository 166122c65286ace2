"""Issue 11 figures on every test database: the zero-config flow, then the independent evaluation.

    .venv/bin/python bench/fidelity_any_db.py [--dataset pagila --dataset bank ...] [--seed 1]

For each database (Pagila, Chinook, bank, shop from tests/data/), loads it into a new
PostgreSQL database, runs generate-config (no edits) -> make-tables -> make-stats ->
create-generators -> create-tables -> create-vocab (when asked) -> create-data --scale 1
through the CLIs into another new database, compares the two with tests/fidelity_eval.py
and prints a markdown table: per measure its count, median and worst, the issue's threshold
and whether it is met, and the seconds of generate-config and make-stats. Both databases are
dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import fidelity_eval as fe

ADMIN = os.environ.get("SYNTHGATE_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
TITLES = {"rows": "row count (relative difference)", "null": "NULL share difference",
          "tvd": "categorical TVD", "tvd_sparse": "TVD, values ~one per row (not a threshold)",
          "ks": "numeric/date KS", "children": "children-per-parent TVD",
          "children_ks": "children-per-parent KS (not a threshold)",
          "date_order": "date-order share difference", "fk_invalid": "invalid foreign keys"}


def _admin(sql: str) -> None:
    engine = sa.create_engine(f"{ADMIN}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()


def markdown(name: str, seconds: dict[str, float], table: pd.DataFrame) -> str:
    """One database's figures as a markdown section."""
    limits = {(c.kind, c.how): c for c in fe.CHECKS}
    lines = [f"### {name}", "",
             f"generate-config {seconds['generate-config']:.2f} s, make-stats "
             f"{seconds['make-stats']:.2f} s, create-data {seconds['create-data']:.2f} s", "",
             "| measure | n | median | worst | worst at | threshold | met |",
             "|---|---:|---:|---:|---|---|---|"]
    for row in fe.summary(table).itertuples(index=False):
        checks = [c for how in ("median", "worst") if (c := limits.get((row.kind, how)))]
        threshold = ", ".join(f"{c.how} <= {c.limit:g}" for c in checks) or "-"
        met = "-" if not checks else (
            "yes" if all(fe.check(table, c) is None for c in checks) else "**no**")
        lines.append(f"| {TITLES[row.kind]} | {row.n} | {row.median:.3f} | {row.worst:.3f} | "
                     f"{row.worst_at} | {threshold} | {met} |")
    return "\n".join(lines)


def run(name: str, seed: int) -> str:
    """Load ``name``, run the flow and evaluate; its markdown section (or the failure)."""
    tag = uuid.uuid4().hex[:8]
    source_db, destination_db = f"bench_fid_{name}_{tag}", f"bench_fid_{name}_{tag}_dst"
    try:
        source = fe.load_dataset(name, ADMIN, source_db)
        _admin(f'CREATE DATABASE "{destination_db}"')
        destination = f"{ADMIN}/{destination_db}"
        with tempfile.TemporaryDirectory(prefix=f"fidelity_{name}_") as work:
            try:
                flow = fe.run_flow(source, destination, Path(work), seed=seed)
            except fe.FlowFailed as error:
                return f"### {name}\n\nThe flow failed: `{error}`"
            return markdown(name, flow.seconds, fe.evaluate(source, destination))
    finally:
        for db in (destination_db, source_db):
            _admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def main() -> None:
    """Print the figures of every database asked for (all by default)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", choices=fe.DATASETS,
                        help="a database to measure (repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=1, help="create-data seed (default 1)")
    args = parser.parse_args()
    for name in args.dataset or fe.DATASETS:
        print(run(name, args.seed), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
