"""PostgreSQL: foreign keys deferred to commit; through psycopg2, batches of which nothing
comes back go in with ``COPY``. A COPY batch is made into text a column at a time and sent by
a copier thread while the next batch is generated (the database and Python work at once);
anything else that uses the connection waits for it first (``settle``), so statements still
run one at a time, in order. Keys other rows need are taken from their sequences up front."""

from __future__ import annotations

import io
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from synthgate_shared.copytext import copy_in, copy_text_column
from synthgate_shared.orm import Table

from synthgate_builder.populate.plan import Rows, RunPlan, TablePlan
from synthgate_builder.populate.writers.base import PAIRS_TABLE, Writer
from synthgate_builder.populate.writers.sequences import SequenceWriter

COPY_CHUNK = 1 << 20


class PostgresWriter(Writer):
    """PostgreSQL through a driver without COPY: INSERT, foreign keys checked at commit."""

    def begin_pass(self, conn: Connection, plan: RunPlan) -> None:
        """Defer every deferrable constraint to the commit."""
        conn.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")
        super().begin_pass(conn, plan)

    def begin_delete(self, conn: Connection) -> None:
        """Defer every deferrable constraint to the commit."""
        conn.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")


class CopyWriter(SequenceWriter, PostgresWriter):
    """PostgreSQL through psycopg2: COPY sent by a copier thread, sequence keys up front."""

    def __init__(self, schema: str | None) -> None:
        super().__init__(schema)
        # the COPY of the last batch, sent by the copier thread while the next one is made
        self.copier = ThreadPoolExecutor(1, thread_name_prefix="synthgate-copy")
        self.in_flight: Future[int] | None = None

    def send(self, conn: Connection, plan: TablePlan, columns: list[str], part: Rows) -> None:
        """Start the COPY of a batch in the background: each column becomes COPY text at
        once, the rows are joined, and the copier thread sends them while the next batch is
        made (``settle`` waits for it)."""
        data = copy_data(plan.table, columns, [part[c] for c in columns])
        preparer = conn.dialect.identifier_preparer
        names = ", ".join(preparer.quote(c) for c in columns)
        sql = f"COPY {preparer.format_table(plan.sa_table)} ({names}) FROM STDIN"
        raw = conn.connection.dbapi_connection
        assert raw is not None
        self.settle()
        self.in_flight = self.copier.submit(copy_in, raw, sql, io.BytesIO(data), COPY_CHUNK)

    def settle(self) -> None:
        """Wait for the COPY in flight (raising its error): call before any other use of the
        connection, which must not run while the copier thread uses it."""
        if self.in_flight is not None:
            done, self.in_flight = self.in_flight, None
            done.result()

    def abandon(self) -> None:
        """Wait for the COPY in flight to end, whatever its outcome (the pass rolls back):
        the connection must be free before the rollback uses it."""
        if self.in_flight is not None:
            done, self.in_flight = self.in_flight, None
            wait([done])

    def close(self) -> None:
        """Stop the copier thread."""
        self.copier.shutdown()

    def sequence_name(self, conn: Connection, plan: TablePlan, column: str) -> str | None:
        """The column's serial sequence (``pg_get_serial_sequence``)."""
        self.settle()
        preparer = conn.dialect.identifier_preparer
        name: str | None = conn.execute(
            sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
            {"t": preparer.format_table(plan.sa_table), "c": column}).scalar()
        return name

    def fill_pairs(self, conn: Connection, temp: sa.TableClause, plan: TablePlan,
                   columns: list[str], rows: Rows) -> None:
        """COPY the pairs into the temporary table."""
        data = copy_data(plan.table, columns, list(rows.values()))
        copy_in(conn.connection.dbapi_connection, f"COPY {PAIRS_TABLE} FROM STDIN",
                io.BytesIO(data), COPY_CHUNK)


def copy_data(table: Table, columns: list[str], values: list[list[Any]]) -> bytes:
    """``COPY`` text of rows given column by column (``values``, one list per column of
    ``table`` named in ``columns``): each column is made into text at once."""
    fields = [copy_text_column(table.column(c).portable)(v)
              for c, v in zip(columns, values, strict=True)]
    return "\n".join([*map("\t".join, zip(*fields, strict=True)), ""]).encode()
