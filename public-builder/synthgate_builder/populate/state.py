"""What a run knows of the destination, read once when it starts and kept up to date in
memory as rows go in: key pools, parent attributes, checked unique keys, existing keys of the
columns drawn with ``sample_unique``, counters, and the per-foreign-key state (queued keys,
free parents of a one-to-one key, stand-in makers).

A unique key that is unique by construction (it has the counter, or a column drawn by
``sample_unique``) is not checked and keeps nothing, nor are database-filled keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from synthgate_shared.types import INTEGER_TYPES

from synthgate_builder.defaults import ColumnSampler
from synthgate_builder.parents import ParentAttributes
from synthgate_builder.populate.keys import FreeParents, Hashes, Pool, Queue, hash_keys
from synthgate_builder.populate.plan import FkMode, FkPlan, Key, RunPlan

READ_ROWS = 10_000  # rows read at a time


@dataclasses.dataclass
class KeyState:
    """The run's key and uniqueness state (see the module's docstring)."""

    pools: dict[Key, Pool] = dataclasses.field(default_factory=dict)  # drawn from only
    attributes: dict[Key, ParentAttributes] = dataclasses.field(default_factory=dict)
    seen: dict[Key, Hashes] = dataclasses.field(default_factory=dict)  # checked keys only
    exclude: dict[Key, set[Any]] = dataclasses.field(default_factory=dict)  # keys before
    counters: dict[str, int] = dataclasses.field(default_factory=dict)
    pass_start: dict[Key, int] = dataclasses.field(default_factory=dict)  # pool sizes then
    parents: dict[FkPlan, FreeParents] = dataclasses.field(default_factory=dict)  # one-to-one
    stand_ins: dict[FkPlan, list[ColumnSampler]] = dataclasses.field(default_factory=dict)
    queues: dict[FkPlan, Queue] = dataclasses.field(default_factory=dict)  # this pass's keys


def select_keys(conn: Connection, sa_table: sa.Table, columns: Sequence[str],
                extra: Sequence[str] = ()) -> Iterator[list[tuple[Any, ...]]]:
    """The key's values in the table (rows without NULL), a batch of rows at a time;
    each row followed by the values of the ``extra`` columns."""
    cols = [sa_table.c[c] for c in columns]
    stmt = (sa.select(*cols, *(sa_table.c[c] for c in extra))
            .where(*(c.isnot(None) for c in cols))
            .execution_options(yield_per=READ_ROWS))
    for rows in conn.execute(stmt).partitions():
        yield [tuple(r) for r in rows]


def load_hashes(conn: Connection, plan: RunPlan, key: Key) -> Hashes:
    """The hashes of the key's values in the table."""
    seen = Hashes()
    one = len(key[1]) == 1
    for rows in select_keys(conn, plan.sa_tables[key[0]], key[1]):
        seen.add(hash_keys((r[0] for r in rows) if one else rows, len(rows)))
    return seen


def _load_pool(conn: Connection, plan: RunPlan, key: Key,
               attributes: ParentAttributes | None) -> Pool:
    table = plan.model.table(key[0])
    pool = Pool([table.column(c).portable.base in INTEGER_TYPES
                 and not table.column(c).portable.is_array for c in key[1]])
    extra = attributes.columns if attributes is not None else ()
    width = len(key[1])
    for rows in select_keys(conn, plan.sa_tables[key[0]], key[1], extra):
        columns = list(zip(*rows, strict=True))
        pool.add(columns[:width])
        if attributes is not None:
            attributes.add(columns[:width], dict(zip(extra, columns[width:], strict=True)))
    return pool


def _parent_attributes(plan: RunPlan) -> dict[Key, ParentAttributes]:
    """A store of parent attributes for every pool whose columns some child's
    distribution reads, aligned with the pool."""
    wanted: dict[Key, list[str]] = {}
    for table in plan.tables.values():
        for dist in table.dists:
            for f, column in dist.parents.values():
                columns = wanted.setdefault(f.pool, [])
                if column not in columns:
                    columns.append(column)
    return {key: ParentAttributes(key[1], columns) for key, columns in wanted.items()}


def load_state(conn: Connection, plan: RunPlan) -> KeyState:
    """Read key pools, existing unique keys and counter starts from the destination."""
    state = KeyState(attributes=_parent_attributes(plan))
    for table in plan.tables.values():
        for f in table.fks:
            if f.mode is not FkMode.NULL and f.pool not in state.pools:
                state.pools[f.pool] = _load_pool(conn, plan, f.pool,
                                                 state.attributes.get(f.pool))
            if f.unique is not None:
                state.parents[f] = FreeParents(load_hashes(conn, plan, f.unique.key))
        for u in table.uniques:
            if not u.made:
                state.seen[u.key] = load_hashes(conn, plan, u.key)
        for u in table.distinct.values():
            state.exclude[u.key] = {r[0] for rows in select_keys(
                conn, plan.sa_tables[u.key[0]], u.key[1]) for r in rows}
        if table.counter:
            column = table.sa_table.c[table.counter]
            top = conn.execute(sa.select(sa.func.max(column))).scalar()
            state.counters[table.name] = int(top) + 1 if top is not None else 1
    return state
