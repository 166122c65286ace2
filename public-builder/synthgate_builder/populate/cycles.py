"""Closing foreign-key cycles at the end of a pass. A cycle's ``later`` foreign keys go in
as NULL or a stand-in; once every row of the pass exists they are set by one UPDATE joined to
a temporary table of (primary key, target) pairs (``Writer.create_pairs``), not one UPDATE a
row. A one-to-one key draws the pass's targets all at once, without replacement, and its rows
are updated one by one in an order that keeps the unique key valid at every row."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from synthgate_shared.fidelity import stat_name
from synthgate_shared.srcstats import row_count

from synthgate_builder.dist_children import children_from_counts, children_from_share
from synthgate_builder.populate.context import Context
from synthgate_builder.populate.draws import KeyDrawer
from synthgate_builder.populate.plan import FkMode, FkPlan, Rows, TablePlan, nonnull_share
from synthgate_builder.populate.writers.base import PAIRS_TABLE

UPDATE_ROWS = 10_000  # rows updated a statement


@dataclasses.dataclass
class Pending:
    """Rows whose ``later`` foreign key is filled by an UPDATE at the end of the pass."""

    plan: TablePlan
    fk: FkPlan
    keys: list[tuple[Any, ...]]  # primary-key values of the rows to update
    # a one-to-one key: the rows' values now (NULL or stand-ins), None where one is NULL
    held: list[tuple[Any, ...] | None] = dataclasses.field(default_factory=list)


class CycleCloser:
    """Records the rows of a pass whose ``later`` keys wait, and sets them at its end."""

    def __init__(self, ctx: Context, drawer: KeyDrawer) -> None:
        self.ctx = ctx
        self.drawer = drawer
        self.pending: list[Pending] = []

    def add_pending(self, plan: TablePlan, values: Rows, back: list[dict[str, Any]] | None,
                    presets: list[dict[str, Any]] | None, n: int) -> None:
        """Note the inserted rows whose ``later`` keys are set at the end of the pass (by
        primary key: the values sent, else those that came back)."""
        pk = plan.table.primary_key
        if not pk:
            return  # rows cannot be found again: a nullable key stays NULL, which is valid
        for f in plan.fks:
            if f.mode is not FkMode.LATER:
                continue
            rows = [i for i in range(n)
                    if not (presets and all(c in presets[i] for c in f.fk.columns))]
            keys = [tuple(values[c][i] if c in values and values[c][i] is not None
                          else (back[i][c] if back else None) for c in pk) for i in rows]
            held: list[tuple[Any, ...] | None] = []
            if f.unique is not None:
                now = [tuple(values[c][i] for c in f.fk.columns) for i in rows]
                held = [None if None in key else key for key in now]
            self.pending.append(Pending(plan, f, keys, held))

    def close(self, conn: Connection) -> None:
        """Point the ``later`` foreign keys at rows of the whole pool, with bulk UPDATEs; a
        one-to-one key draws the pass's rows all at once, without replacement."""
        pending, self.pending = self.pending, []
        one_to_one: dict[FkPlan, list[Pending]] = {}
        many: dict[FkPlan, tuple[Pending, Rows]] = {}  # its rows' keys and targets
        for item in pending:
            if item.fk.unique is not None:
                one_to_one.setdefault(item.fk, []).append(item)
            elif item.keys:
                item = self._targeted(item)
                drawn = self._later_keys(item)
                rows = many.setdefault(item.fk, (item, {}))[1]
                for name, column in zip(pair_columns(item), [*zip(*item.keys, strict=True),
                                                              *drawn], strict=True):
                    rows.setdefault(name, []).extend(column)
        for item, rows in many.values():
            self._bulk_update(conn, item, rows)
        for items in one_to_one.values():
            self._close_one_to_one(conn, items)

    def _targeted(self, item: Pending) -> Pending:
        """The rows of a ``later`` key that get a target: of a nullable key, the source's
        non-NULL share of them (the others stay NULL, as inserted)."""
        share = nonnull_share(self.ctx.src_stats, item.plan.table, item.fk)
        if share >= 1.0:
            return item
        picked = self.ctx.rng.choice(len(item.keys), size=round(len(item.keys) * share),
                                     replace=False)
        return dataclasses.replace(item, keys=[item.keys[i] for i in sorted(picked.tolist())])

    def _later_keys(self, item: Pending) -> list[list[Any]]:
        """Targets of a ``later`` key's rows: from the whole pool, or, when its children
        counts were all suppressed, from the children of each parent (a small parent table)
        or only from the share of parents with any child."""
        pool = self.ctx.keys.pools[item.fk.pool]
        if item.fk.per_parent is not None and len(pool) and item.keys:
            whole = np.arange(len(pool), dtype=np.int64)
            index = children_from_counts(
                list(zip(*pool.rows(whole), strict=True)), self.ctx.rng, item.fk.per_parent,
                len(item.keys), item.fk.fk.columns, keyed=False, source_parents=row_count(
                    self.ctx.src_stats.get(stat_name(item.fk.fk.ref_table, "profile"))))
            return pool.rows(np.array(index, dtype=np.int64))
        if item.fk.summary is None or not len(pool) or not item.keys:
            return self.drawer.draw(item.plan, item.fk, len(item.keys))
        index = children_from_share(range(len(pool)), self.ctx.rng, item.fk.summary,
                                    len(item.keys))
        return pool.rows(np.array(index, dtype=np.int64))

    def _close_one_to_one(self, conn: Connection, items: list[Pending]) -> None:
        """Close a one-to-one key for all the pass's rows. The unique key is checked at each
        row, so no row takes a key that another still holds (``update_order``)."""
        item = items[0]
        keys = [key for i in items for key in i.keys]
        held = [key for i in items for key in i.held]
        if not keys:
            return
        columns = self.drawer.distinct(item.plan, item.fk, len(keys))
        targets = [None if None in row else row for row in zip(*columns, strict=True)]
        assert item.fk.unique is not None
        hashes = self.drawer.unique_hashes(item.fk, columns)[1]
        self.ctx.keys.parents[item.fk].taken.add(hashes)
        seen = self.ctx.keys.seen.get(item.fk.unique.key)
        if seen is not None:  # checked since a story gave values: it must know these too
            seen.add(hashes)
        order = update_order(held, targets)
        self._update(conn, item, [keys[i] for i in order],
                     [targets[i] or (None,) * len(columns) for i in order])

    def _update(self, conn: Connection, item: Pending, keys: list[tuple[Any, ...]],
                values: list[tuple[Any, ...]]) -> None:
        """Set the foreign key of the rows with primary keys ``keys`` to ``values``, in order."""
        table = item.plan.sa_table
        pk = item.plan.table.primary_key
        stmt = (sa.update(table)
                .where(*(table.c[c] == sa.bindparam(f"k_{i}") for i, c in enumerate(pk)))
                .values({c: sa.bindparam(f"v_{i}") for i, c in enumerate(item.fk.fk.columns)}))
        params = [{**{f"k_{i}": k for i, k in enumerate(key)},
                   **{f"v_{i}": v for i, v in enumerate(value)}}
                  for key, value in zip(keys, values, strict=True)]
        for start in range(0, len(params), UPDATE_ROWS):
            conn.execute(stmt, params[start:start + UPDATE_ROWS])

    def _bulk_update(self, conn: Connection, item: Pending, rows: Rows) -> None:
        """Set the foreign key of many rows at once: the (primary key, target) pairs go into
        a temporary table (with COPY on PostgreSQL), then one ``UPDATE ... FROM`` (a
        multi-table UPDATE on MariaDB) sets them all; executemany would take one round trip
        per row. The temporary table copies the columns' types from the table itself."""
        self.ctx.writer.settle()
        table = item.plan.sa_table
        pairs = list(zip(pair_columns(item), [*item.plan.table.primary_key,
                                               *item.fk.fk.columns], strict=True))
        source = sa.select(*(table.c[c].label(name) for name, c in pairs)).limit(0)
        made = source.compile(conn, compile_kwargs={"literal_binds": True})
        writer = self.ctx.writer
        writer.create_pairs(conn, str(made))
        temp = sa.table(PAIRS_TABLE, *(sa.column(name, table.c[c].type) for name, c in pairs))
        writer.fill_pairs(conn, temp, item.plan, [c for _, c in pairs],
                          {name: rows[name] for name, _ in pairs})
        pk = item.plan.table.primary_key
        conn.execute(sa.update(table)
                     .where(*(table.c[c] == temp.c[f"k_{i}"] for i, c in enumerate(pk)))
                     .values({c: temp.c[f"v_{i}"] for i, c in enumerate(item.fk.fk.columns)}))
        writer.drop_pairs(conn)


def pair_columns(item: Pending) -> list[str]:
    """The columns of ``_bulk_update``'s temporary table: ``k_<i>`` for the primary key,
    ``v_<i>`` for the foreign key (distinct even where the two share a column)."""
    return [*(f"k_{i}" for i in range(len(item.plan.table.primary_key))),
            *(f"v_{i}" for i in range(len(item.fk.fk.columns)))]


def update_order(held: Sequence[tuple[Any, ...] | None],
                  targets: Sequence[tuple[Any, ...] | None]) -> list[int]:
    """The rows to update, in an order where none takes a key that another row still holds
    (``held``: each row's distinct key now, None for NULL). A row waits for the one holding
    its target; rows that wait for one another in a ring keep their keys instead (the ring
    holds the same set of keys as its targets), and rows that stay NULL are left out."""
    holder = {key: i for i, key in enumerate(held) if key is not None}
    waits = [holder.get(t) if t is not None else None for t in targets]
    state = [0] * len(targets)  # 0 not seen, 1 on the current path, 2 placed
    order: list[int] = []
    for start in range(len(targets)):
        path: list[int] = []
        row: int | None = start
        while row is not None and state[row] == 0:
            state[row] = 1
            path.append(row)
            row = waits[row]
        ring = row is not None and state[row] == 1  # each key is one row's target at most,
        for j in reversed(path):                     # so a ring is the whole path
            state[j] = 2
            if not ring and (targets[j] is not None or held[j] is not None):
                order.append(j)
    return order


