"""The DuckDB bulk path: a batch of rows goes in as one Arrow table, not row by row.

The batch is registered on the DuckDB connection under a name of its own and copied with one
``INSERT INTO t (cols) SELECT cols FROM batch``, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import count, islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from synthgate_shared.orm import Table
from synthgate_shared.sqla import duckdb_sequence_name
from synthgate_shared.vocabfile import VocabFile

from synthgate_builder.arrow import arrow_batch

BATCH_ROWS = 100_000
_names = count()


def arrow_insert(conn: Connection, sa_table: sa.Table, table: Table,
                 values: Mapping[str, Sequence[Any]]) -> bool:
    """Insert the rows given column by column (``values``) into ``sa_table`` through Arrow;
    False (nothing inserted) when a value does not fit its column's Arrow type."""
    columns = list(values)
    batch = arrow_batch(table, columns, [values[c] for c in columns])
    if batch is None:
        return False
    raw: Any = conn.connection.dbapi_connection
    name = f"synthgate_batch_{next(_names)}"
    preparer = conn.dialect.identifier_preparer
    names = ", ".join(preparer.quote(c) for c in columns)
    raw.register(name, batch)
    try:
        raw.execute(f"INSERT INTO {preparer.format_table(sa_table)} ({names}) "
                    f"SELECT {names} FROM {name}")
    finally:
        raw.unregister(name)
    return True


def duckdb_sequence(conn: Connection, table: str, column: str,
                    schema: str | None) -> str | None:
    """The (qualified) name of the sequence filling ``table.column``; None without one."""
    name = duckdb_sequence_name(table, column)
    found = conn.execute(sa.text(
        "SELECT count(*) FROM duckdb_sequences() WHERE sequence_name = :s "
        "AND schema_name = coalesce(:schema, current_schema())"),
        {"s": name, "schema": schema}).scalar_one()
    if not found:
        return None
    return f"{schema}.{name}" if schema else name


def advance_duckdb_sequence(conn: Connection, table: str, column: str, schema: str | None,
                            top: int) -> None:
    """Move the sequence of a database-filled key (DuckDB has no ``setval``) until its next
    value is above ``top``; nothing when the column has no sequence."""
    name = duckdb_sequence_name(table, column)
    rows = conn.execute(sa.text(
        "SELECT coalesce(last_value, start_value - 1) FROM duckdb_sequences() "
        "WHERE sequence_name = :s AND schema_name = coalesce(:schema, current_schema())"),
        {"s": name, "schema": schema}).all()
    if not rows or top <= int(rows[0][0]):
        return
    qualified = f"{schema}.{name}" if schema else name
    conn.execute(sa.text("SELECT max(nextval(:s)) FROM range(:n)"),
                 {"s": qualified, "n": top - int(rows[0][0])})


def load_vocab_rows(conn: Connection, sa_table: sa.Table, vocab: VocabFile) -> int:
    """Load a vocabulary file through Arrow, ``BATCH_ROWS`` rows at a time (row by row for a
    batch Arrow cannot type); returns the number of rows."""
    columns = vocab.columns
    rows = iter(vocab.rows())
    total = 0
    while batch := list(islice(rows, BATCH_ROWS)):
        values = {c: list(v) for c, v in zip(columns, zip(*batch, strict=True), strict=True)}
        if not arrow_insert(conn, sa_table, vocab.table, values):
            conn.execute(sa_table.insert(), [dict(zip(columns, r, strict=True)) for r in batch])
        total += len(batch)
    return total


def delete_each_committed(conn: Connection, sa_tables: Sequence[sa.Table]) -> dict[str, int]:
    """Delete every row of each table (children first), each in a transaction of its own:
    DuckDB checks a parent's DELETE against its children as last committed, so one
    transaction cannot empty both. Returns the rows deleted per table."""
    deleted: dict[str, int] = {}
    conn.rollback()  # the transaction a caller's inspector began
    for table in sa_tables:
        with conn.begin():
            deleted[table.name] = conn.execute(sa.delete(table)).rowcount
    return deleted
