"""Database-filled keys after rows were written with explicit keys: each sequence, identity or
AUTO_INCREMENT moved past the largest key, so later inserts that rely on the default do not
collide (create-vocab after loading, create-data after each pass)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from synthgate_shared.orm import OrmModel
from synthgate_shared.sqla import family


def _advance_postgresql(conn: sa.Connection, qualified: str, column: str, col: str) -> None:
    """Set the column's sequence (serial or identity) to its largest value, if any."""
    conn.execute(
        sa.text(f"SELECT setval(seq, m) FROM (SELECT pg_get_serial_sequence("
                f":t, :c) AS seq, (SELECT max({col}) FROM {qualified}) AS m) s "
                "WHERE seq IS NOT NULL AND m IS NOT NULL"),
        {"t": qualified, "c": column},
    )


def _advance_other(conn: sa.Connection, qualified: str, table: str, column: str, col: str,
                   schema: str | None) -> None:
    """MariaDB's AUTO_INCREMENT, or DuckDB's sequence, past the column's largest value."""
    top = conn.execute(sa.text(f"SELECT max({col}) FROM {qualified}")).scalar()
    if top is None:
        return
    if conn.dialect.name == "duckdb":
        from synthgate_builder.duckdb_load import advance_duckdb_sequence

        advance_duckdb_sequence(conn, table, column, schema, int(top))
    else:
        conn.exec_driver_sql(f"ALTER TABLE {qualified} AUTO_INCREMENT = {int(top) + 1}")


def advance_sequences(conn: sa.Connection, model: OrmModel, tables: Iterable[str],
                      schema: str | None) -> None:
    """Move each database-filled key of ``tables`` past its largest value, so inserts that
    rely on the default do not collide with loaded rows (PostgreSQL sequences and
    identities, MariaDB AUTO_INCREMENT; SQLite needs nothing)."""
    dest = family(conn.dialect.name)
    if dest == "sqlite" and conn.dialect.name != "duckdb":
        return
    preparer = conn.dialect.identifier_preparer
    for name in tables:
        qualified = (preparer.quote(schema) + "." if schema else "") + preparer.quote(name)
        for column in model.table(name).columns:
            if not column.autoincrement:
                continue
            col = preparer.quote(column.name)
            if dest == "postgresql":
                _advance_postgresql(conn, qualified, column.name, col)
            else:
                _advance_other(conn, qualified, name, column.name, col, schema)
