"""Database-filled keys taken from their sequences up front, so a batch whose keys other rows
need can go in without RETURNING (COPY on PostgreSQL, Arrow on DuckDB)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from synthgate_builder.populate.plan import Rows, RunPlan, TablePlan
from synthgate_builder.populate.writers.base import Writer

RESERVE_ROWS = 100_000  # sequence keys taken at a time


class SequenceWriter(Writer):
    """A writer that takes database-filled keys from sequences (``sequence_name``)."""

    def __init__(self, schema: str | None) -> None:
        super().__init__(schema)
        self.sequences: dict[tuple[str, str], str | None] = {}
        # sequence keys taken, unused
        self.reserved: dict[tuple[str, str], npt.NDArray[np.int64]] = {}

    def sequence_name(self, conn: Connection, plan: TablePlan, column: str) -> str | None:
        """The sequence that fills ``column``; None without one."""
        raise NotImplementedError

    def _sequence(self, conn: Connection, plan: TablePlan, column: str) -> str | None:
        key = (plan.name, column)
        if key not in self.sequences:
            self.sequences[key] = self.sequence_name(conn, plan, column)
        return self.sequences[key]

    def _reserve(self, conn: Connection, plan: TablePlan, column: str, need: int,
                 want: int) -> npt.NDArray[np.int64] | None:
        """The keys of ``column`` taken from its sequence and not used yet, topped up to
        ``want`` when fewer than ``need``; None when the column has no sequence."""
        sequence = self._sequence(conn, plan, column)
        if sequence is None:
            return None
        keys = self.reserved.get((plan.name, column), np.empty(0, dtype=np.int64))
        if len(keys) < need:
            self.settle()
            taken = conn.execute(sa.text("SELECT nextval(:s) FROM generate_series(1, :n)"),
                                 {"s": sequence, "n": want - len(keys)}).scalars()
            keys = np.concatenate([keys, np.fromiter(taken, dtype=np.int64)])
        self.reserved[(plan.name, column)] = keys
        return keys

    def begin_pass(self, conn: Connection, plan: RunPlan) -> None:
        """At the start of a pass, while no batch is in flight, take the first keys of every
        table (as many as ``reserve_keys`` will ask for first)."""
        super().begin_pass(conn, plan)
        for name in plan.generated:
            want = min(plan.rows_per_pass[name], RESERVE_ROWS)
            for column in plan.tables[name].returning:
                self._reserve(conn, plan.tables[name], column, want, want)

    def reserve_keys(self, conn: Connection, plan: TablePlan, values: Rows, n: int,
                     ahead: int) -> list[str]:
        """Take the database-filled keys that other rows need from their sequences up front;
        returns the columns that must still be read back with RETURNING (those without a
        sequence).

        Keys are taken for ``ahead`` rows at a time (the rows of the table still to come in
        this pass, at most RESERVE_ROWS), so the batch in flight is seldom waited for and no
        key taken is left over at the end of the table's pass."""
        left: list[str] = []
        for column in plan.returning:
            keys = self._reserve(conn, plan, column, n, max(min(ahead, RESERVE_ROWS), n))
            if keys is None:
                left.append(column)
                continue
            values[column], self.reserved[(plan.name, column)] = keys[:n].tolist(), keys[n:]
        return left
