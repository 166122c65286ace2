"""DuckDB: a batch goes in as one Arrow table (``duckdb_load.arrow_insert``; row by row when a
value does not fit its Arrow type), database-filled keys are taken from their sequences up
front, and foreign keys are checked at once (nothing to defer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from synthgate_builder.duckdb_load import arrow_insert, delete_each_committed, duckdb_sequence
from synthgate_builder.populate.plan import Rows, TablePlan
from synthgate_builder.populate.writers.sequences import SequenceWriter


class DuckDbWriter(SequenceWriter):
    """The DuckDB writer."""

    def send(self, conn: Connection, plan: TablePlan, columns: list[str], part: Rows) -> None:
        """Insert the rows through Arrow (multi-row INSERT when Arrow cannot type them)."""
        if not arrow_insert(conn, plan.sa_table, plan.table, part):
            super().send(conn, plan, columns, part)

    def sequence_name(self, conn: Connection, plan: TablePlan, column: str) -> str | None:
        """The column's sequence (``duckdb_load.duckdb_sequence``)."""
        return duckdb_sequence(conn, plan.name, column, self.schema)

    def remove(self, conn: Connection, tables: list[sa.Table],
               cut: Callable[[Connection, list[str]], None]) -> dict[str, int]:
        """Delete each table's rows in a transaction of its own (DuckDB checks a parent's
        DELETE against its children as last committed); no cycle keys are declared there
        (``sqla.py``), so nothing is cut."""
        present = set(sa.inspect(conn).get_table_names(schema=self.schema))
        return delete_each_committed(conn, [t for t in tables if t.name in present])

    def default_value(self) -> Any:
        """NULL fills the key from its sequence."""
        return sa.null()
