"""The writer interface and its common part: a batch goes in as one multi-row INSERT, or
``INSERT ... RETURNING`` when database-filled values must come back (PostgreSQL, SQLite >=
3.35, MariaDB >= 10.5); a cycle's keys are set through a temporary table of (primary key,
target) pairs. A family's writer changes only what differs (``writers/__init__.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from synthgate_builder.populate.plan import Rows, RunPlan, TablePlan

PAIRS_TABLE = "synthgate_later_keys"  # the temporary table of a bulk update


class Writer:
    """Sends batches with INSERT (the generic writer; see the module's docstring)."""

    can_defer = True  # a deferrable foreign key is checked at commit

    def __init__(self, schema: str | None) -> None:
        self.schema = schema

    # -- a pass ------------------------------------------------------------------------

    def begin_pass(self, conn: Connection, plan: RunPlan) -> None:
        """Prepare the pass's transaction (defer foreign-key checks where the database can)."""

    def settle(self) -> None:
        """Wait for the batch still being sent (raising its error): call before any other use
        of the connection."""

    def abandon(self) -> None:
        """Wait for the batch still being sent, whatever its outcome (the pass rolls back)."""

    def close(self) -> None:
        """Let go of what the writer holds (its sender thread)."""

    def reserve_keys(self, conn: Connection, plan: TablePlan, values: Rows, n: int,
                     ahead: int) -> list[str]:
        """Put database-filled keys that other rows need in ``values`` where they can be
        taken up front; the columns that must still come back with RETURNING."""
        return plan.returning

    # -- a batch -----------------------------------------------------------------------

    def insert(self, conn: Connection, plan: TablePlan, values: Rows, returning: list[str],
               n: int) -> list[dict[str, Any]] | None:
        """Insert a batch of ``n`` rows; with ``returning``, the listed columns of each row
        come back."""
        # a story may give a database-filled key for some rows only: the others leave it out
        partial = [c for c in values if c in plan.db_filled and None in values[c]]
        groups: dict[tuple[str, ...], list[int]] = {}
        if partial:
            for i in range(n):
                key = tuple(c for c in values if c not in partial or values[c][i] is not None)
                groups.setdefault(key, []).append(i)
        else:
            groups[tuple(values)] = list(range(n))
        out: list[dict[str, Any]] = [{} for _ in range(n)]
        for columns, rows in groups.items():
            part = {c: [values[c][i] for i in rows] for c in columns} if len(groups) > 1 \
                else {c: values[c] for c in columns}
            if returning or not columns:
                self.settle()
                for i, got in zip(rows, self._returned(conn, plan, part, len(rows), returning),
                                  strict=False):
                    out[i] = got
            else:
                self.send(conn, plan, list(columns), part)
        return out if returning else None

    def _returned(self, conn: Connection, plan: TablePlan, part: Rows, n: int,
                  returning: list[str]) -> list[dict[str, Any]]:
        """Insert ``n`` rows with ``INSERT ... RETURNING`` (or of database values only); the
        ``returning`` columns of each row, in the order sent."""
        if not part:  # the database fills every column (a table of a serial key)
            made = conn.execute(self._defaults(plan, n, returning))
            return [dict(row) for row in made.mappings()] if returning else []
        stmt = plan.sa_table.insert().returning(*[plan.sa_table.c[c] for c in returning])
        result = conn.execute(stmt, dicts(part, list(part)))
        return in_sent_order(plan, part, [dict(r) for r in result.mappings()])

    def send(self, conn: Connection, plan: TablePlan, columns: list[str], part: Rows) -> None:
        """Insert rows of which nothing comes back: one multi-row INSERT."""
        conn.execute(plan.sa_table.insert(), dicts(part, columns))

    def default_value(self) -> Any:
        """What makes the database fill a column in a multi-row ``VALUES``."""
        return sa.literal_column("DEFAULT")

    def _defaults(self, plan: TablePlan, n: int, returning: list[str]) -> sa.Insert:
        """An INSERT of ``n`` rows that take every value from the database: multi-row
        ``VALUES (DEFAULT)``, with ``RETURNING`` the ``returning`` columns."""
        column = next(c for c in plan.table.column_names if c in plan.db_filled)
        stmt = plan.sa_table.insert().values([{column: self.default_value()}] * n)
        return stmt.returning(*[plan.sa_table.c[c] for c in returning]) if returning else stmt

    # -- remove-data --------------------------------------------------------------------

    def remove(self, conn: Connection, tables: list[sa.Table],
               cut: Callable[[Connection, list[str]], None]) -> dict[str, int]:
        """Delete every row of those of ``tables`` (children first) that exist, in one
        transaction, after ``cut`` set the references to rows deleted later to NULL;
        the rows deleted per table."""
        with conn.begin():
            present = set(sa.inspect(conn).get_table_names(schema=self.schema))
            tables = [t for t in tables if t.name in present]
            self.begin_delete(conn)
            cut(conn, [t.name for t in tables])
            return {t.name: conn.execute(sa.delete(t)).rowcount for t in tables}

    def begin_delete(self, conn: Connection) -> None:
        """Prepare remove-data's transaction."""

    # -- the temporary table of a bulk update ------------------------------------------

    def create_pairs(self, conn: Connection, select_sql: str) -> None:
        """Create the temporary pairs table from a SELECT (its columns' types)."""
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {PAIRS_TABLE} AS {select_sql}")

    def fill_pairs(self, conn: Connection, temp: sa.TableClause, plan: TablePlan,
                   columns: list[str], rows: Rows) -> None:
        """Put the (primary key, target) pairs (``rows``, by pairs-table column) in it;
        ``columns``: the table's columns each pairs column copies."""
        conn.execute(temp.insert(), dicts(rows, list(rows)))

    def drop_pairs(self, conn: Connection) -> None:
        """Drop the temporary pairs table."""
        conn.exec_driver_sql(f"DROP TABLE {PAIRS_TABLE}")


def dicts(values: Rows, columns: list[str]) -> list[dict[str, Any]]:
    """Rows given column by column as one dict a row."""
    data = [values[c] for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*data, strict=True)]


def in_sent_order(plan: TablePlan, sent: Rows, back: list[dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """Returned rows in the order they were sent.

    Multi-row ``INSERT ... RETURNING`` gives rows back in the order of its VALUES on
    PostgreSQL, SQLite and MariaDB; asking SQLAlchemy to guarantee it
    (``sort_by_parameter_order``) falls back to one statement per row on tables without a
    sentinel, so the rows are matched by primary key instead whenever it was sent.
    """
    pk = plan.table.primary_key
    if not pk or not all(c in sent and c in back[0] for c in pk):
        return back
    by_key = {tuple(row[c] for c in pk): row for row in back}
    keys = zip(*[sent[c] for c in pk], strict=True)
    try:
        return [by_key[key] for key in keys]
    except KeyError:  # the database changed the key's form (e.g. padded a CHAR)
        return back
