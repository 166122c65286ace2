"""create-data / remove-data: fill the destination with synthetic rows that keep every key.

Each pass is one transaction, so an interrupted run keeps whole passes only. Tables are
filled parents first (``table_order``); story generators run after them. Values come, in
this order of precedence, from a story's partial row, the row generators of ``ssg.py``,
the key pools (foreign keys), a counter (integer primary keys) and the default generators.
Then each nullable column gets the source's NULL share (``<c>__nonnull`` of the profile),
whatever filled it, once per batch in ``fill``; built-in distributions (their statistics hold
the NULLs), foreign keys and row generators with ``null-share: false`` are left as they are.

Speed: foreign-key targets are drawn from key pools read once per run and extended in
memory as rows go in; existing unique keys are read once too. Rows go in with ``COPY`` on
PostgreSQL when no value has to come back, else with multi-row ``INSERT ... RETURNING``
batches (PostgreSQL, SQLite >= 3.35, MariaDB >= 10.5); SQLite and MariaDB get multi-row
batches. Story generators run side by side, so their rows are inserted in batches too.
A cycle's ``later`` foreign keys are set at the end of the pass by one UPDATE joined to a
temporary table of (primary key, target) pairs, not one UPDATE a row (one-to-one keys
excepted: their rows go in an order that keeps the unique key valid at every row).
A COPY batch is made into text a column at a time and sent by a copier thread while the
next batch is generated (the database and Python work at once); anything else that uses the
connection waits for it first (``settle``), so statements still run one at a time, in order.

Memory: a run keeps every key its foreign keys draw from and every value of the unique keys
it must check, so both are compact: a pool holds one NumPy array per key column (8 bytes a
key for integer columns), a checked unique key only 64-bit hashes of its values. A unique
key that is unique by construction (it has the counter, or a column drawn by
``sample_unique``) is not checked and keeps nothing, nor are database-filled keys.

A foreign key whose columns are also a unique key (one-to-one) is unique by construction too:
its parents are drawn without replacement from the parents no row holds yet (hashes of the
keys taken), both when it is drawn as rows go in and when it closes a cycle at the end of the
pass; a nullable one is left NULL once the parents run out.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import random
import time
import types
import typing
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from synthgate_shared.config import Config
from synthgate_shared.copytext import copy_text_column
from synthgate_shared.db import connection_error, connection_lost, first_cause, mask_dsn
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import stat_name
from synthgate_shared.orm import ForeignKey, OrmModel, Table
from synthgate_shared.sqla import cycle_edges, family, orm_to_metadata, table_order
from synthgate_shared.srcstats import row_count
from synthgate_shared.types import INTEGER_TYPES

from synthgate_builder.defaults import ColumnSampler, column_sampler
from synthgate_builder.dist_children import children_from_counts, children_from_share
from synthgate_builder.distributions import (
    BUILTINS,
    CHILDREN,
    StatsUnavailable,
    children_per_parent,
    run_builtin,
)
from synthgate_builder.duckdb_load import (
    arrow_insert,
    delete_each_committed,
    duckdb_sequence,
)
from synthgate_builder.fit import TableFit, cannot_generate, generator_sources, story_source
from synthgate_builder.generators import (
    Distribution,
    config_fingerprint,
    load_ssg,
    module_from_text,
    render_ssg,
    row_generator_error,
)
from synthgate_builder.parents import ParentAttributes
from synthgate_builder.sequences import advance_sequences

BATCH_ROWS = 10_000
RESERVE_ROWS = 100_000  # PostgreSQL sequence keys taken at a time for COPY batches
COPY_CHUNK = 1 << 20
PAIRS_TABLE = "synthgate_later_keys"  # the temporary table of ``_bulk_update``

Key = tuple[str, tuple[str, ...]]  # (table, columns): a key pool or a unique set
Rows = dict[str, list[Any]]  # column -> values of a batch (column-major)


@dataclasses.dataclass
class DataSummary:
    """What ``create_data`` made: rows per table, passes, time taken, and notes (such as a
    statistic left to the default generators because all its rows were suppressed)."""

    rows: dict[str, int]
    passes: int
    seconds: float
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def total(self) -> int:
        """All rows inserted."""
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        """Inserted rows per second of wall time."""
        return self.total / self.seconds if self.seconds > 0 else 0.0


# --- plans ----------------------------------------------------------------------------------

@dataclasses.dataclass
class _Children:
    """A ``synthgate.children_per_parent`` foreign key: its statistic (``results`` None when
    all its rows were suppressed: keys are then drawn at random), the source's parent count
    and the share of its children whose key is not NULL (from the profile)."""

    stat: str
    results: Any | None
    parents_total: int | None
    nonnull_share: float
    min_count: int
    # with every count suppressed: the share of parents with any child (``..._parents``)
    summary: Any | None = None
    # a small parent table: the children of each parent (``..._per_parent``), preferred;
    # ``keyed``: the parents are the source's (a vocabulary table), matched by key
    per_parent: Any | None = None
    keyed: bool = False


@dataclasses.dataclass
class _Fk:
    """How one foreign key is filled: ``draw`` from the pool, ``null``, or ``later``
    (NULL or a placeholder first, then an UPDATE once the referenced rows exist);
    ``children`` draws per parent in the source's distribution."""

    fk: ForeignKey
    mode: str
    pool: Key
    nullable: bool
    self_ref: bool
    children: _Children | None = None
    unique: _Unique | None = None  # a unique key over exactly these columns (one-to-one)
    # a ``later`` key whose children counts were all suppressed: ``..._parents`` rows
    summary: Any | None = None
    # ... and of a small parent table: ``..._per_parent`` rows, preferred
    per_parent: Any | None = None


@dataclasses.dataclass
class _Dist:
    """A built-in column generator of a table with its statistic's rows and column types."""

    dist: Distribution
    stats: Any
    types: list[str]
    # a parent's column it reads (kwargs ``parents``): name -> (foreign key, parent column)
    parents: dict[str, tuple[_Fk, str]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _Unique:
    """A unique key; ``made`` lists its columns whose values are unique by construction (the
    counter, a column drawn by ``sample_unique``, a one-to-one foreign key): then the key needs
    no check unless a story or a row function gave one of them a value."""

    name: str
    key: Key
    made: frozenset[str] = frozenset()


@dataclasses.dataclass
class _Plan:
    """Everything needed to generate rows of one table."""

    table: Table
    sa_table: sa.Table
    db_filled: set[str]
    fill: list[str]  # columns we give values to, in table order
    counter: str | None  # integer primary key column filled by a counter
    fks: list[_Fk]
    uniques: list[_Unique]
    samplers: dict[str, ColumnSampler]
    distinct: dict[str, _Unique]  # single-column unique keys drawn with sample_unique
    row_fn: Callable[[Any], dict[str, Any]] | None
    row_uses_conn: bool  # the row function may use the connection (no COPY in flight then)
    rowgen_columns: set[str]  # filled by ssg.py's row function or a built-in distribution
    returning: list[str]  # database-filled columns other tables need back
    fit: TableFit  # checks of the values that generators and stories give
    dists: list[_Dist] = dataclasses.field(default_factory=list)
    null_shares: dict[str, float] = dataclasses.field(default_factory=dict)  # column -> share

    @property
    def name(self) -> str:
        return self.table.name


@dataclasses.dataclass
class _Pending:
    """Rows whose ``later`` foreign key is filled by an UPDATE at the end of the pass."""

    plan: _Plan
    fk: _Fk
    keys: list[tuple[Any, ...]]  # primary-key values of the rows to update
    # a one-to-one key: the rows' values now (NULL or stand-ins), None where one is NULL
    held: list[tuple[Any, ...] | None] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Parents:
    """The parents a one-to-one foreign key can still point at: ``taken`` holds the hashes of
    the keys the child's rows hold (never stand-ins), ``index`` the pool positions not taken
    nor drawn yet, with the hashes of their keys, as far as ``upto`` of the pool. ``stale``:
    a story gave keys, which may be in ``index``."""

    taken: _Hashes
    index: npt.NDArray[np.int64] = dataclasses.field(
        default_factory=lambda: np.empty(0, dtype=np.int64))
    hashes: npt.NDArray[np.int64] = dataclasses.field(
        default_factory=lambda: np.empty(0, dtype=np.int64))
    upto: int = 0
    stale: bool = False
    noted: bool = False  # a note said that the parents ran out

    def remove(self, pick: npt.NDArray[np.int64]) -> None:
        """Drop the distinct positions ``pick`` of ``index``: the entries after the last
        ``len(pick)`` fill the holes, so a draw costs its size, not the pool's."""
        end = len(self.index) - len(pick)
        tail = np.ones(len(pick), dtype=bool)
        tail[pick[pick >= end] - end] = False
        holes = pick[pick < end]
        fill = np.arange(end, len(self.index))[tail]
        self.index[holes], self.hashes[holes] = self.index[fill], self.hashes[fill]
        self.index, self.hashes = self.index[:end], self.hashes[:end]


class _Pool:
    """The keys of a parent table that foreign keys draw from: one NumPy array per key
    column, int64 for integer columns (8 bytes a key) and object arrays otherwise (a pointer
    to the value), grown by doubling. A value an int64 cannot hold turns its column into
    an object array."""

    def __init__(self, integer: Sequence[bool]) -> None:
        self.size = 0
        self.columns = [np.empty(1024, dtype=np.int64 if i else object) for i in integer]

    def __len__(self) -> int:
        return self.size

    def add(self, columns: Sequence[Sequence[Any]]) -> None:
        """Append the keys of ``columns`` (one sequence per key column) that have no NULL."""
        if any(None in c for c in columns):
            keep = [i for i, key in enumerate(zip(*columns, strict=True)) if None not in key]
            columns = [[c[i] for i in keep] for c in columns]
        n = len(columns[0])
        if n == 0:
            return
        end = self.size + n
        for j, values in enumerate(columns):
            target = self.columns[j]
            new = np.asarray(values) if target.dtype == np.int64 else None
            if new is None or new.dtype.kind != "i":
                new = np.fromiter(values, dtype=object, count=n)
                if target.dtype == np.int64:
                    target = target.astype(object)
            if end > len(target):
                target = np.concatenate([target[:self.size],
                                         np.empty(max(end, 2 * len(target)) - self.size,
                                                  dtype=target.dtype)])
            target[self.size:end] = new
            self.columns[j] = target
        self.size = end

    def rows(self, index: npt.NDArray[np.int64]) -> list[list[Any]]:
        """The keys at positions ``index``, one list per key column."""
        return [c[index].tolist() for c in self.columns]


class _Hashes:
    """The values a unique key has taken, as 64-bit hashes (8 bytes a key instead of about
    150 for a set of tuples), in sorted NumPy blocks merged like a binary counter, so a
    lookup searches a few blocks and each hash is merged a few times.

    Equal values have equal hashes, so no repeat is missed; two different values with the
    same hash (about one chance in 30 million at a million keys) only make a row's values
    be generated again."""

    def __init__(self) -> None:
        self.blocks: list[npt.NDArray[np.int64]] = []

    def hits(self, hashes: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Whether each of ``hashes`` is in the set."""
        found = np.zeros(len(hashes), dtype=bool)
        for block in self.blocks:
            at = np.minimum(np.searchsorted(block, hashes), len(block) - 1)
            found |= block[at] == hashes
        return found

    def add(self, hashes: npt.NDArray[np.int64]) -> None:
        """Add ``hashes``."""
        if not len(hashes):
            return
        self.blocks.append(np.sort(hashes))
        while len(self.blocks) > 1 and len(self.blocks[-2]) <= len(self.blocks[-1]):
            last = self.blocks.pop()
            self.blocks[-1] = np.sort(np.concatenate([self.blocks[-1], last]))


def _hash_keys(keys: Iterable[Any], count: int = -1) -> npt.NDArray[np.int64]:
    return np.fromiter(map(hash, keys), dtype=np.int64, count=count)


def _key_hashes(columns: Sequence[Sequence[Any]]
                ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """The rows of a batch whose key (one sequence per column) has no NULL, and the hashes
    of their keys: of the value for a one-column key, of the tuple otherwise."""
    keys: Sequence[Any] = columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))
    if any(None in c for c in columns):
        rows = np.array([i for i, key in enumerate(zip(*columns, strict=True))
                         if None not in key], dtype=np.intp)
        return rows, _hash_keys((keys[i] for i in rows.tolist()), len(rows))
    return np.arange(len(keys)), _hash_keys(keys, len(keys))


def _repeats(hashes: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Whether each hash equals an earlier one of the array."""
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    out = np.zeros(len(hashes), dtype=bool)
    out[order[1:]] = ordered[1:] == ordered[:-1]
    return out


@dataclasses.dataclass
class _Queue:
    """This pass's values of a children_per_parent foreign key, one list per column."""

    columns: list[list[Any]]
    taken: int = 0

    def take(self, n: int) -> list[list[Any]]:
        """The next ``n`` values of each column (fewer once the queue runs out)."""
        start, self.taken = self.taken, min(self.taken + n, len(self.columns[0]))
        return [c[start:self.taken] for c in self.columns]


class _Run:
    """One ``create_data`` run: plans, key pools, unique sets and counters."""

    def __init__(self, engine: Engine, model: OrmModel, config: Config, ssg: types.ModuleType,
                 seed: int | None, schema: str | None, scale: float | None = None) -> None:
        self.engine = engine
        self.model = model
        self.config = config
        self.ssg = ssg
        self.src_stats: dict[str, Any] = getattr(ssg, "SRC_STATS", {})
        self.notes: list[str] = []
        self.schema = schema
        self.dialect = family(engine.dialect.name)
        self.copy = self.dialect == "postgresql" and engine.dialect.driver == "psycopg2"
        self.duckdb = engine.dialect.name == "duckdb"  # batches go in as Arrow tables
        self.rng = np.random.default_rng(seed)
        self.tries = config.max_unique_constraint_tries
        self.order = table_order(model)
        metadata = orm_to_metadata(model, engine.dialect.name, schema)
        self.sa_tables = {t.name: t for t in metadata.tables.values()}
        self.generated = [n for n in self.order if not config.table(n).ignore
                          and not config.table(n).vocabulary_table]
        self.closing = {(name, id(fk)) for name, fk in cycle_edges(model)}
        self.plans = {n: self._plan(n) for n in self.generated}
        self.rows_per_pass = self._rows_per_pass(scale)
        self.queues: dict[int, _Queue] = {}  # id(_Fk) -> this pass's keys
        self.pass_start: dict[Key, int] = {}  # pool sizes when the pass began
        self.pools: dict[Key, _Pool] = {}  # only the pools some foreign key draws from
        self.attributes: dict[Key, ParentAttributes] = {}  # parent columns children read
        self.seen: dict[Key, _Hashes] = {}  # only the unique keys that must be checked
        self.exclude: dict[Key, set[Any]] = {}  # keys in the table before the run
        self.parents: dict[int, _Parents] = {}  # id(_Fk) -> parents of a one-to-one key
        self.stand_ins: dict[int, list[ColumnSampler]] = {}  # id(_Fk) -> stand-in makers
        self.counters: dict[str, int] = {}
        self.rows: dict[str, int] = dict.fromkeys(self.generated, 0)
        self.explicit_keys: set[str] = set()
        self.sequences: dict[tuple[str, str], str | None] = {}
        # sequence keys taken, unused
        self.reserved: dict[tuple[str, str], npt.NDArray[np.int64]] = {}
        # the COPY of the last batch, sent by the copier thread while the next one is made
        self.copier = ThreadPoolExecutor(1, thread_name_prefix="synthgate-copy")
        self.in_flight: Future[None] | None = None

    # -- planning --------------------------------------------------------------------------

    def _plan(self, name: str) -> _Plan:
        table = self.model.table(name)
        sa_table = self.sa_tables[name]
        db_filled = {c.name for c in sa_table.columns
                     if c.autoincrement is True or c.identity is not None}
        fill = [c for c in table.column_names if c not in db_filled]
        fks = [self._fk(table, fk) for fk in table.foreign_keys]
        fk_columns = {c for f in fks for c in f.fk.columns}
        tconf = self.config.table(name)
        rowgen_columns = {c for g in tconf.row_generators if g.name.strip() not in BUILTINS
                          for c in g.columns}
        dists = self._dists(table, fks)
        rowgen_columns.update(c for d in dists for c in d.dist.columns)
        counter = next((c for c in table.primary_key if c in fill and c not in fk_columns
                        and c not in rowgen_columns
                        and table.column(c).portable.base in INTEGER_TYPES
                        and not table.column(c).portable.is_array), None)
        uniques: list[_Unique] = []
        if table.primary_key and not db_filled & set(table.primary_key):
            uniques.append(_Unique("primary key", (name, tuple(table.primary_key))))
        for u in table.unique:
            if not db_filled & set(u.columns):
                uniques.append(_Unique(u.name or f"unique ({', '.join(u.columns)})",
                                       (name, tuple(u.columns))))
        samplers = {c: self._sampler(table, c) for c in fill
                    if c not in fk_columns and c != counter and c not in rowgen_columns}
        distinct = {u.key[1][0]: u for u in uniques if len(u.key[1]) == 1
                    and u.key[1][0] in samplers and u.key[1][0] not in rowgen_columns}
        # the counter and sample_unique's sequences (not its random types) never repeat
        made = {c for c in distinct if samplers[c].capacity is not None}
        if counter:
            made.add(counter)
        for unique in uniques:
            unique.made = frozenset(made.intersection(unique.key[1]))
        for f in fks:  # (a row function's values are checked as any other)
            if f.mode != "null" and f.children is None and not rowgen_columns & set(
                    f.fk.columns):
                f.unique = next((u for u in uniques if set(u.key[1]) == set(f.fk.columns)),
                                None)
                if f.unique is not None:  # parents are drawn without replacement
                    f.unique.made = frozenset(f.unique.key[1])
        row_fn = getattr(self.ssg, "TABLE_GENERATORS", {}).get(name)
        sources = generator_sources(tconf.row_generators, self.config.row_generators_module)
        fit = TableFit(table, self.model, self.engine.dialect.name,
                       {c: s for c, s in sources.items() if c in rowgen_columns})
        return _Plan(table, sa_table, db_filled, fill, counter, fks, uniques, samplers,
                     distinct, row_fn, row_fn is not None and self._uses_connection(name),
                     rowgen_columns, [], fit, dists,
                     self._null_shares(table, fill, fk_columns, dists))

    def _null_shares(self, table: Table, fill: list[str], fk_columns: set[str],
                     dists: list[_Dist]) -> dict[str, float]:
        """The source's NULL share (``<c>__nonnull`` of the profile) of each nullable column
        that a Mimesis provider, a user's row generator or a default fills; built-in
        distributions follow their own statistic's NULLs, foreign keys their children
        counts, and a row generator with ``null-share: false`` makes its own."""
        profile = self.src_stats.get(stat_name(table.name, "profile"))
        n = row_count(profile)
        if not n or not isinstance(profile, list):
            return {}
        own = {c for d in dists for c in d.dist.columns} | fk_columns | {
            c for g in self.config.table(table.name).row_generators if not g.null_share
            for c in g.columns}
        out: dict[str, float] = {}
        for column in fill:
            nonnull = profile[0].get(f"{column}__nonnull")
            if column in own or not table.column(column).nullable or isinstance(
                    nonnull, bool) or not isinstance(nonnull, int | float):
                continue
            share = min(max(1.0 - float(nonnull) / n, 0.0), 1.0)
            if share > 0:
                out[column] = share
        return out

    def _uses_connection(self, table: str) -> bool:
        """Whether the table's row generators are given the connection (ssg.py lists them;
        an ssg.py without the list is assumed to give it to every table)."""
        return table in getattr(self.ssg, "TABLES_USING_DST_DB_CONN", [table])

    def _available(self, name: str, table: str, dist: Distribution,
                   probe: Callable[[], Any], instead: str = "by the default generators") -> bool:
        """Whether the statistic has rows (a trial call); if not, say once that the default
        generators fill the columns instead."""
        try:
            probe()
        except StatsUnavailable:
            self.notes.append(
                f"{table}.{', '.join(dist.columns)}: statistic {dist.stat!r} has no rows (all "
                f"suppressed as small counts); {name} drawn {instead}")
            return False
        return True

    def _dists(self, table: Table, fks: list[_Fk]) -> list[_Dist]:
        """The table's built-in distributions from ssg.py whose statistics have rows; the
        children_per_parent ones are attached to their foreign keys instead."""
        out: list[_Dist] = []
        probe_rng = np.random.default_rng(0)  # trial calls must not move the run's generator
        for dist in getattr(self.ssg, "DISTRIBUTIONS", {}).get(table.name, []):
            stats = self.src_stats.get(dist.stat)
            if dist.name == CHILDREN:
                f = next((f for f in fks if tuple(f.fk.columns) == tuple(dist.columns)), None)
                if f is not None and f.mode == "later" and not _has_rows(stats):
                    f.summary = _rows_or_none(self.src_stats.get(
                        stat_name(table.name, *f.fk.columns, "parents")))
                    f.per_parent = _rows_or_none(self.src_stats.get(
                        stat_name(table.name, *f.fk.columns, "per_parent")))
                if f is not None and f.mode == "draw":
                    summary = stat_name(table.name, *f.fk.columns, "parents")
                    counts = stat_name(table.name, *f.fk.columns, "per_parent")
                    instead = (f"from the children of each parent ({counts})"
                               if self.src_stats.get(counts) else
                               f"for the share of parents with any child ({summary})"
                               if self.src_stats.get(summary) else "by the default generators")
                    available = self._available("foreign keys are", table.name, dist, partial(
                        children_per_parent, [], probe_rng, stats), instead)
                    f.children = self._children(table, f, dist, stats if available else None)
                continue
            types = [table.column(c).type for c in dist.columns]
            if self._available("the columns are", table.name, dist, partial(
                    run_builtin, dist.name, 1, probe_rng, stats=stats, columns=dist.columns,
                    types=types, stat_name=dist.stat, **dist.kwargs)):
                out.append(_Dist(dist, stats, types, self._dist_parents(table, fks, dist)))
        return out

    def _dist_parents(self, table: Table, fks: list[_Fk],
                      dist: Distribution) -> dict[str, tuple[_Fk, str]]:
        """The parents' columns a distribution reads (kwargs ``parents: {name: {fk: [child
        columns], column: parent column}}``), checked against the schema."""
        out: dict[str, tuple[_Fk, str]] = {}
        specs = dist.kwargs.get("parents") or {}
        for ref, spec in (specs.items() if isinstance(specs, dict) else [("", None)]):
            where = f"config.yaml: tables.{table.name}, generator {dist.name}, parents.{ref}"
            spec = spec if isinstance(spec, dict) else {}
            f = next((f for f in fks if list(f.fk.columns) == list(spec.get("fk") or [])), None)
            column = spec.get("column")
            if f is None or column not in self.model.table(f.fk.ref_table).column_names:
                raise SynthgateError(
                    f"parents.{ref} names no foreign key of {table.name} and column of its "
                    "parent", where=where,
                    fix="give {fk: [<child columns of one foreign key>], column: <parent "
                    "column>}")
            if f.mode == "draw":  # a key set later (a cycle) is not known when rows are made
                out[str(ref)] = (f, str(column))
        return out

    def _nonnull_share(self, table: Table, f: _Fk) -> float:
        """The share of the table's rows whose (nullable, one-column) foreign key is not
        NULL in the source, from the profile; 1.0 when unknown."""
        profile = self.src_stats.get(stat_name(table.name, "profile"))
        if f.nullable and len(f.fk.columns) == 1 and isinstance(profile, list) and profile:
            nonnull = profile[0].get(f"{f.fk.columns[0]}__nonnull")
            n = row_count(profile)
            if isinstance(nonnull, int | float) and not isinstance(nonnull, bool) and n:
                return min(max(float(nonnull) / n, 0.0), 1.0)
        return 1.0

    def _children(self, table: Table, f: _Fk, dist: Distribution, stats: Any) -> _Children:
        share = self._nonnull_share(table, f)
        entry = self.config.stat(dist.stat)
        min_count = entry.min_count if entry and entry.min_count is not None \
            else self.config.min_count
        parents = row_count(self.src_stats.get(stat_name(f.fk.ref_table, "profile")))
        summary = self.src_stats.get(stat_name(table.name, *f.fk.columns, "parents"))
        per_parent = self.src_stats.get(stat_name(table.name, *f.fk.columns, "per_parent"))
        return _Children(dist.stat, stats, parents, share, min_count, _rows_or_none(summary),
                         _rows_or_none(per_parent),
                         self.config.table(f.fk.ref_table).vocabulary_table)

    def _rows_per_pass(self, scale: float | None) -> dict[str, int]:
        """Rows per table and pass: ``num_rows_per_pass``, or with ``scale`` that many times
        the source's row count (the ``n`` of ``auto__<table>__profile``)."""
        if scale is None:
            return {n: self.config.table(n).num_rows_per_pass for n in self.generated}
        out: dict[str, int] = {}
        for name in self.generated:
            source = row_count(self.src_stats.get(stat_name(name, "profile")))
            if source is None:
                out[name] = self.config.table(name).num_rows_per_pass
                self.notes.append(f"{name}: no source row count ({stat_name(name, 'profile')} "
                                  f"is not in src-stats); num_rows_per_pass "
                                  f"({out[name]}) used instead of --scale")
            else:
                out[name] = round(scale * source)
        return out

    def _sampler(self, table: Table, column: str) -> ColumnSampler:
        try:
            return column_sampler(table.column(column), self.model, table,
                                  dialect=self.engine.dialect.name)
        except SynthgateError as exc:
            raise cannot_generate(table.name, table.column(column), exc) from None

    def _fk(self, table: Table, fk: ForeignKey) -> _Fk:
        nullable = all(table.column(c).nullable for c in fk.columns)
        pool = (fk.ref_table, tuple(fk.ref_columns))
        self_ref = fk.ref_table == table.name
        ref_conf = self.config.table(fk.ref_table)
        label = fk.name or f"({', '.join(fk.columns)})"
        if fk.ref_table not in self.model.tables or ref_conf.ignore:
            if not nullable:
                raise SynthgateError(
                    f"foreign key {label} of table {table.name} refers to table "
                    f"{fk.ref_table}, which is ignored, and its columns are NOT NULL",
                    where="config.yaml",
                    fix=f"do not ignore {fk.ref_table}, or ignore {table.name} too",
                )
            return _Fk(fk, "null", pool, nullable, self_ref)
        generated_parent = not ref_conf.vocabulary_table
        later = generated_parent and (self_ref or (table.name, id(fk)) in self.closing)
        if later and (nullable or (fk.deferrable and self.dialect != "mysql")):
            return _Fk(fk, "later", pool, nullable, self_ref)
        return _Fk(fk, "draw", pool, nullable, self_ref)

    def _finish_plans(self) -> None:
        """Decide which database-filled values must come back from each insert."""
        for plan in self.plans.values():
            for f in plan.fks:
                parent = self.plans.get(f.fk.ref_table)
                if parent is not None and f.mode != "null":
                    parent.returning += [c for c in f.fk.ref_columns
                                         if c in parent.db_filled and c not in parent.returning]
                if f.mode == "later":
                    plan.returning += [c for c in plan.table.primary_key
                                       if c in plan.db_filled and c not in plan.returning]

    # -- state read once per run --------------------------------------------------------------

    def _select(self, conn: Connection, key: Key, extra: Sequence[str] = ()
                ) -> Iterator[list[tuple[Any, ...]]]:
        """The key's values in the table (rows without NULL), a batch of rows at a time;
        each row followed by the values of the ``extra`` columns."""
        table = self.sa_tables[key[0]]
        cols = [table.c[c] for c in key[1]]
        stmt = (sa.select(*cols, *(table.c[c] for c in extra))
                .where(*(c.isnot(None) for c in cols))
                .execution_options(yield_per=BATCH_ROWS))
        for rows in conn.execute(stmt).partitions():
            yield [tuple(r) for r in rows]

    def _load_pool(self, conn: Connection, key: Key) -> _Pool:
        table = self.model.table(key[0])
        pool = _Pool([table.column(c).portable.base in INTEGER_TYPES
                      and not table.column(c).portable.is_array for c in key[1]])
        attributes = self.attributes.get(key)
        extra = attributes.columns if attributes is not None else ()
        width = len(key[1])
        for rows in self._select(conn, key, extra):
            columns = list(zip(*rows, strict=True))
            pool.add(columns[:width])
            if attributes is not None:
                attributes.add(columns[:width], dict(zip(extra, columns[width:], strict=True)))
        return pool

    def _parent_attributes(self) -> dict[Key, ParentAttributes]:
        """A store of parent attributes for every pool whose columns some child's
        distribution reads, aligned with the pool."""
        wanted: dict[Key, list[str]] = {}
        for plan in self.plans.values():
            for dist in plan.dists:
                for f, column in dist.parents.values():
                    columns = wanted.setdefault(f.pool, [])
                    if column not in columns:
                        columns.append(column)
        return {key: ParentAttributes(key[1], columns) for key, columns in wanted.items()}

    def _load_hashes(self, conn: Connection, key: Key) -> _Hashes:
        seen = _Hashes()
        one = len(key[1]) == 1
        for rows in self._select(conn, key):
            seen.add(_hash_keys((r[0] for r in rows) if one else rows, len(rows)))
        return seen

    def load_state(self, conn: Connection) -> None:
        """Read key pools, existing unique keys and counter starts from the destination."""
        present = set(sa.inspect(conn).get_table_names(schema=self.schema))
        missing = [n for n in self.order if n not in present and not self.config.table(n).ignore]
        if missing:
            raise SynthgateError(
                f"{len(missing)} table(s) of orm.yaml do not exist in the destination "
                f"({', '.join(missing[:5])}{'...' if len(missing) > 5 else ''})",
                where=mask_dsn(self.engine.url), fix="run create-tables first",
            )
        self._finish_plans()
        self.attributes = self._parent_attributes()
        for plan in self.plans.values():
            for f in plan.fks:
                if f.mode != "null" and f.pool not in self.pools:
                    self.pools[f.pool] = self._load_pool(conn, f.pool)
                if f.unique is not None:
                    self.parents[id(f)] = _Parents(self._load_hashes(conn, f.unique.key))
            for u in plan.uniques:
                if not u.made:
                    self.seen[u.key] = self._load_hashes(conn, u.key)
            for u in plan.distinct.values():
                self.exclude[u.key] = {r[0] for rows in self._select(conn, u.key) for r in rows}
            if plan.counter:
                column = plan.sa_table.c[plan.counter]
                top = conn.execute(sa.select(sa.func.max(column))).scalar()
                self.counters[plan.name] = int(top) + 1 if top is not None else 1

    # -- filling a batch -------------------------------------------------------------------

    def _call_row_fn(self, plan: _Plan, conn: Connection) -> dict[str, Any]:
        assert plan.row_fn is not None
        if plan.row_uses_conn:
            self.settle()
        try:
            return plan.row_fn(conn)
        except SynthgateError:
            raise
        except Exception as exc:
            raise row_generator_error(exc, plan.row_fn, plan.name, self.config) from exc

    def _dist_values(self, dist: _Dist, n: int, values: Rows | None = None
                     ) -> list[list[Any]]:
        """One batch of a built-in distribution: a list of ``n`` values per column. One
        that reads parents' columns is given them for the foreign keys in ``values``
        (without ``values``, as for a row made again, it is given none)."""
        d = dist.dist
        given = {"given": self._parent_values(dist, values)} if dist.parents and values \
            else {}
        return run_builtin(d.name, n, self.rng, stats=dist.stats, columns=d.columns,
                           types=dist.types, stat_name=d.stat, **d.kwargs, **given)

    def _parent_values(self, dist: _Dist, values: Rows) -> dict[str, list[Any]]:
        """For each parent column a distribution reads, the value of each row's parent."""
        return {ref: self.attributes[f.pool].lookup([values[c] for c in f.fk.columns])[column]
                for ref, (f, column) in dist.parents.items()}

    def queue_children(self, plan: _Plan, total: int) -> None:
        """Foreign keys of this pass's ``total`` rows for each children_per_parent key:
        children per parent as in the source, over the parents made in this pass (or the
        whole pool when the parent made none, e.g. a vocabulary table), NULLs in the
        source's share; a small parent table's children of each parent win over both."""
        for f in plan.fks:
            spec = f.children
            if spec is None:
                continue
            pool = self.pools[f.pool]
            first = self.pass_start.get(f.pool, 0)
            parents = range(first if first < len(pool) else 0, len(pool))
            nonnull = round(total * spec.nonnull_share)
            keys: list[list[Any]]
            if parents and nonnull and spec.per_parent is not None:
                index = children_from_counts(
                    list(zip(*pool.rows(np.array(parents, dtype=np.int64)), strict=True)),
                    self.rng, spec.per_parent, nonnull, f.fk.columns, keyed=spec.keyed,
                    source_parents=spec.parents_total, shape=spec.results,
                    min_count=spec.min_count, stat_name=spec.stat)
                keys = pool.rows(np.array(index, dtype=np.int64) + parents.start)
            elif parents and nonnull and spec.results is not None:
                index = children_per_parent(parents, self.rng, spec.results, total=nonnull,
                                            stat_name=spec.stat,
                                            parents_total=spec.parents_total,
                                            min_count=spec.min_count)
                keys = pool.rows(np.array(index, dtype=np.int64))
            elif parents and nonnull and spec.summary is not None:
                index = children_from_share(parents, self.rng, spec.summary, nonnull,
                                            stat_name=spec.stat)
                keys = pool.rows(np.array(index, dtype=np.int64))
            elif nonnull:
                keys = self._draw(plan, f, nonnull)
            else:
                keys = [[] for _ in f.fk.columns]
            if nonnull < total:
                order = self.rng.permutation(total).tolist()
                padded = [c + [None] * (total - nonnull) for c in keys]
                keys = [[c[i] for i in order] for c in padded]
            self.queues[id(f)] = _Queue(keys)

    def _samples(self, plan: _Plan, column: str, n: int) -> list[Any]:
        """Default values; distinct ones (past the existing keys) for a unique column."""
        unique = plan.distinct.get(column)
        if unique is None:
            return plan.samplers[column].sample(n, self.rng)
        try:
            return plan.samplers[column].sample_unique(
                n, self.rng, exclude=self.exclude.get(unique.key))
        except SynthgateError as exc:
            raise SynthgateError(f"cannot keep {unique.name} ({column}) of table {plan.name}: "
                                 f"{exc.what}", where=f"table {plan.name}", fix=exc.fix) from None

    def _draw(self, plan: _Plan, f: _Fk, n: int) -> list[list[Any]]:
        """``n`` keys drawn at random from the whole pool, one list per column."""
        pool = self.pools[f.pool]
        if not pool:
            if f.nullable:
                return [[None] * n for _ in f.fk.columns]
            label = f.fk.name or f"({', '.join(f.fk.columns)})"
            ref = f.fk.ref_table
            fix = ("run create-vocab first" if self.config.table(ref).vocabulary_table
                   else f"give {ref} num_rows_per_pass > 0, or make the columns nullable")
            raise SynthgateError(
                f"foreign key {label} of table {plan.name} needs rows of table {ref}, "
                "which has none", where=mask_dsn(self.engine.url), fix=fix)
        return pool.rows(self.rng.integers(0, len(pool), size=n))

    def _unique_hashes(self, f: _Fk, columns: Sequence[Sequence[Any]]
                       ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
        """``_key_hashes`` of one-to-one key values given in the foreign key's column order,
        hashed in the order of its unique key (as the table's values are read)."""
        assert f.unique is not None
        return _key_hashes([columns[f.fk.columns.index(c)] for c in f.unique.key[1]])

    def _free_parents(self, f: _Fk) -> _Parents:
        """The parents of a one-to-one key that no row holds, the pool's new rows included
        (parent keys are distinct: only the new ones and, after a story, all are looked up)."""
        parents = self.parents[id(f)]
        pool = self.pools[f.pool]
        if parents.upto < len(pool):
            new = np.arange(parents.upto, len(pool), dtype=np.int64)
            hashes = self._unique_hashes(f, pool.rows(new))[1]
            free = ~parents.taken.hits(hashes)
            parents.index = np.concatenate([parents.index, new[free]])
            parents.hashes = np.concatenate([parents.hashes, hashes[free]])
            parents.upto = len(pool)
        if parents.stale:
            free = ~parents.taken.hits(parents.hashes)
            parents.index, parents.hashes = parents.index[free], parents.hashes[free]
            parents.stale = False
        return parents

    def _distinct(self, plan: _Plan, f: _Fk, n: int) -> list[list[Any]]:
        """``n`` keys of a one-to-one foreign key, one list per column: parents no row holds,
        drawn without replacement from the whole pool. When fewer are free, random rows get
        them and the others NULL; a NOT NULL key stops the pass instead."""
        parents = self._free_parents(f)
        k = min(n, len(parents.index))
        if k < n:
            ref = f.fk.ref_table
            what = (f"foreign key {f.fk.name or '(' + ', '.join(f.fk.columns) + ')'} of "
                    f"table {plan.name} is unique: {n} row(s) need a row of {ref} each, and "
                    f"only {k} row(s) of {ref} are not taken")
            if not f.nullable:
                raise SynthgateError(
                    what, where=f"{plan.name}.{', '.join(f.fk.columns)}",
                    fix=f"raise num_rows_per_pass of {ref} to at least that of {plan.name}, "
                    f"or lower {plan.name}'s")
            if not parents.noted:
                parents.noted = True
                self.notes.append(f"{plan.name}.{', '.join(f.fk.columns)}: {what}; the other "
                                  "rows were left NULL")
        pick = self.rng.choice(len(parents.index), size=k, replace=False) if k \
            else np.empty(0, dtype=np.int64)
        drawn = self.pools[f.pool].rows(parents.index[pick])
        parents.remove(pick)
        if k == n:
            return drawn
        out: list[list[Any]] = [[None] * n for _ in f.fk.columns]
        for i, row in zip(self.rng.choice(n, size=k, replace=False).tolist(),
                          zip(*drawn, strict=True), strict=True):
            for column, value in zip(out, row, strict=True):
                column[i] = value
        return out

    def _stand_ins(self, plan: _Plan, f: _Fk, n: int) -> list[list[Any]]:
        """Values for a NOT NULL one-to-one key until its cycle is closed: distinct, and none
        a key that a row holds, as the unique key is checked at once (the foreign key at
        commit). They come from one sequence of distinct values per run, so they never
        repeat the stand-ins still in the table."""
        assert f.unique is not None
        samplers = self.stand_ins.setdefault(
            id(f), [self._sampler(plan.table, c) for c in f.fk.columns])
        first = f.fk.columns.index(f.unique.key[1][0])
        taken = self.parents[id(f)].taken
        out: list[list[Any]] = [[] for _ in f.fk.columns]
        for _ in range(self.tries):
            need = n - len(out[0])
            if not need:
                break
            drawn = [s.sample_unique(need, self.rng) if j == first else s.sample(need, self.rng)
                     for j, s in enumerate(samplers)]
            rows, hashes = self._unique_hashes(f, drawn)
            keep = rows[~taken.hits(hashes)].tolist()
            for column, values in zip(out, drawn, strict=True):
                column += [values[i] for i in keep]
        if len(out[0]) < n:
            raise SynthgateError(
                f"cannot find {n} stand-in values for foreign key ({', '.join(f.fk.columns)}) "
                f"of table {plan.name} that no row holds", where=f"table {plan.name}",
                fix="raise max-unique-constraint-tries")
        return out

    def _fill_fk(self, plan: _Plan, f: _Fk, values: Rows, rows: Sequence[int],
                 queued: bool = False) -> None:
        n = len(rows)
        queue = self.queues.get(id(f)) if queued else None
        drawn: list[list[Any]]
        if queue is not None:
            drawn = queue.take(n)
            if len(drawn[0]) < n:  # rows beyond the pass's count (stories): from the pool
                more = self._draw(plan, f, n - len(drawn[0]))
                drawn = [a + b for a, b in zip(drawn, more, strict=True)]
        elif f.mode == "null" or (f.mode == "later" and f.nullable):
            drawn = [[None] * n for _ in f.fk.columns]
        elif f.mode == "later" and f.unique is not None:
            drawn = self._stand_ins(plan, f, n)
        elif f.unique is not None:
            drawn = self._distinct(plan, f, n)
        elif f.mode == "later" and not self.pools[f.pool]:
            # deferred NOT NULL with no parent yet: a placeholder
            drawn = [self._sampler(plan.table, c).sample(n, self.rng) for c in f.fk.columns]
        else:
            drawn = self._draw(plan, f, n)
        for column, drawn_values in zip(f.fk.columns, drawn, strict=True):
            if column in plan.rowgen_columns:
                continue
            if len(rows) == len(values[column]):  # the whole batch, in order
                values[column] = drawn_values
                continue
            target = values[column]
            for i, value in zip(rows, drawn_values, strict=True):
                target[i] = value

    def fill(self, plan: _Plan, conn: Connection, n: int,
             presets: list[dict[str, Any]] | None = None) -> Rows:
        """Values for ``n`` rows of ``plan`` (story ``presets`` win), unique keys kept."""
        columns = list(plan.fill)
        if presets:
            extra = {c for p in presets for c in p if c not in columns}
            columns += [c for c in plan.table.column_names if c in extra]
        values: Rows = {c: [None] * n for c in columns}
        everyone = range(n)
        for column in plan.samplers:
            if column not in plan.rowgen_columns:
                values[column] = self._samples(plan, column, n)
        for dist in plan.dists:
            if not dist.parents:
                values.update(zip(dist.dist.columns, self._dist_values(dist, n), strict=True))
        if plan.counter:
            start = self.counters[plan.name]
            values[plan.counter] = list(range(start, start + n))
            self.counters[plan.name] = start + n
        for f in plan.fks:
            self._fill_fk(plan, f, values, everyone, queued=True)
        for dist in plan.dists:  # those that read the parents of the keys just drawn
            if dist.parents:
                values.update(zip(dist.dist.columns, self._dist_values(dist, n, values),
                                  strict=True))
        given: set[str] = set()  # columns a row function or a story gave values to
        if plan.row_fn is not None:
            for i in everyone:
                row = self._call_row_fn(plan, conn)
                given.update(row)
                _set_row(values, n, i, row)
        for column, share in plan.null_shares.items():  # once, whatever filled the column
            target = values[column]
            # exactly the share (rounded) of each batch, not a coin per row: small tables too
            for i in self.rng.choice(n, size=round(n * share), replace=False).tolist():
                target[i] = None
        if presets:
            for i, preset in enumerate(presets):
                given.update(preset)
                _set_row(values, n, i, preset)
            if any(c in plan.db_filled for c in values):
                self.explicit_keys.add(plan.name)  # move its sequence past them after the pass
        plan.fit.batch(values, self.rng)
        self._keep_unique(plan, conn, values, presets, given)
        return values

    def _checked(self, plan: _Plan, conn: Connection, given: set[str]) -> list[_Unique]:
        """The unique keys of ``plan`` to check in a batch. A key unique by construction is
        checked from the first batch where a story or a row function gave a value to one of
        the columns that make it unique: its values are read from the table then."""
        out = []
        for unique in plan.uniques:
            if unique.key not in self.seen:
                if not unique.made & given:
                    continue
                self.settle()
                self.seen[unique.key] = self._load_hashes(conn, unique.key)
            out.append(unique)
        return out

    def _keep_unique(self, plan: _Plan, conn: Connection, values: Rows,
                     presets: list[dict[str, Any]] | None, given: set[str]) -> None:
        """Regenerate the values of rows that break a unique key, up to the configured tries."""
        checked = self._checked(plan, conn, given)
        tries = 0
        while True:
            unique, rows, hashes = self._first_clash(checked, values)
            if unique is None:
                break
            tries += 1
            exhausted = tries > self.tries
            if exhausted or not self._regenerate(plan, conn, values, unique, rows, presets):
                shown = ", ".join(unique.key[1])
                why = (f"after {self.tries} tries" if exhausted
                       else "and a story generator gave the values")
                raise SynthgateError(
                    f"cannot keep {unique.name} ({shown}) of table {plan.name}: "
                    f"{len(rows)} row(s) still repeat a value {why}",
                    where=f"table {plan.name}",
                    fix="give these columns a generator with more distinct values, lower "
                    "num_rows_per_pass, or raise max-unique-constraint-tries",
                )
        for unique, batch in zip(checked, hashes, strict=True):
            self.seen[unique.key].add(batch)

    def _first_clash(self, checked: list[_Unique], values: Rows
                     ) -> tuple[_Unique | None, list[int], list[npt.NDArray[np.int64]]]:
        """The first unique key the batch breaks and its rows that repeat a value (of the
        table or of an earlier row); with none, the hashes of each key's values."""
        hashes = []
        for unique in checked:
            rows, batch = _key_hashes([values[c] for c in unique.key[1]])
            clashes = rows[self.seen[unique.key].hits(batch) | _repeats(batch)]
            if len(clashes):
                return unique, clashes.tolist(), []
            hashes.append(batch)
        return None, [], hashes

    def _regenerate(self, plan: _Plan, conn: Connection, values: Rows, unique: _Unique,
                    rows: list[int], presets: list[dict[str, Any]] | None) -> bool:
        """New values for the key columns of ``rows``; False when none can change.

        A children_per_parent foreign key swaps its values with other rows of the batch
        instead (once per call, so the clashing combination really changes): every parent
        keeps its number of children."""
        changed = swapped = False
        for column in unique.key[1]:
            free = [i for i in rows if not (presets and column in presets[i])]
            if not free or column == plan.counter:
                continue
            dist = next((d for d in plan.dists if column in d.dist.columns), None)
            if dist is not None:
                fresh = self._dist_values(dist, len(free))[dist.dist.columns.index(column)]
                for i, v in zip(free, fresh, strict=True):
                    values[column][i] = v
            elif column in plan.rowgen_columns:
                for i in free:
                    values[column][i] = self._call_row_fn(plan, conn)[column]
            elif column in plan.samplers:
                for i, v in zip(free, self._samples(plan, column, len(free)), strict=True):
                    values[column][i] = v
            else:
                for f in plan.fks:
                    if column not in f.fk.columns or f.mode != "draw":
                        continue
                    if f.children is not None and swapped:
                        continue
                    if f.children is not None and self._swap(f, values, free, presets):
                        swapped = True
                    else:
                        self._fill_fk(plan, f, values, free)
            changed = True
        plan.fit.batch(values, self.rng, unique.key[1])
        return changed

    def _swap(self, f: _Fk, values: Rows, rows: list[int],
              presets: list[dict[str, Any]] | None) -> bool:
        """Swap the foreign key of ``rows`` with random other rows of the batch that no story
        fixed; False when there are none to swap with."""
        n = len(values[f.fk.columns[0]])
        partners = [j for j in range(n)
                    if not (presets and any(c in presets[j] for c in f.fk.columns))]
        if len(partners) < 2:
            return False
        for i, j in zip(rows, self.rng.choice(partners, size=len(rows)).tolist(), strict=True):
            for c in f.fk.columns:
                values[c][i], values[c][j] = values[c][j], values[c][i]
        return True

    # -- inserting -------------------------------------------------------------------------

    def _copy(self, conn: Connection, plan: _Plan, columns: list[str], values: Rows) -> None:
        """Start the COPY of a batch in the background: each column becomes COPY text at
        once, the rows are joined, and the copier thread sends them while the next batch is
        made (``settle`` waits for it)."""
        data = _copy_data(plan.table, columns, [values[c] for c in columns])
        preparer = conn.dialect.identifier_preparer
        names = ", ".join(preparer.quote(c) for c in columns)
        sql = f"COPY {preparer.format_table(plan.sa_table)} ({names}) FROM STDIN"
        raw = conn.connection.dbapi_connection
        assert raw is not None
        self.settle()
        self.in_flight = self.copier.submit(_copy_in, raw, sql, data)

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

    def _sequence(self, conn: Connection, plan: _Plan, column: str) -> str | None:
        key = (plan.name, column)
        if key not in self.sequences and self.duckdb:
            self.sequences[key] = duckdb_sequence(conn, plan.name, column, self.schema)
        if key not in self.sequences:
            self.settle()
            preparer = conn.dialect.identifier_preparer
            self.sequences[key] = conn.execute(
                sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                {"t": preparer.format_table(plan.sa_table), "c": column}).scalar()
        return self.sequences[key]

    def _reserve(self, conn: Connection, plan: _Plan, column: str, need: int,
                 want: int) -> npt.NDArray[np.int64] | None:
        """The keys of ``column`` taken from its PostgreSQL sequence and not used yet, topped
        up to ``want`` when fewer than ``need``; None when the column has no sequence."""
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

    def _reserve_ahead(self, conn: Connection) -> None:
        """At the start of a pass, while no COPY is in flight, take the first keys of every
        table (as many as ``_reserve_keys`` will ask for first)."""
        for name in self.generated:
            want = min(self.rows_per_pass[name], RESERVE_ROWS)
            for column in self.plans[name].returning:
                self._reserve(conn, self.plans[name], column, want, want)

    def _reserve_keys(self, conn: Connection, plan: _Plan, values: Rows, n: int,
                      ahead: int) -> list[str]:
        """Take the database-filled keys that other rows need from their PostgreSQL
        sequences up front, so the batch can go in with COPY; returns the columns that
        must still be read back with RETURNING (those without a sequence).

        Keys are taken for ``ahead`` rows at a time (the rows of the table still to come in
        this pass, at most RESERVE_ROWS), so the COPY in flight is seldom waited for and no
        key taken is left over at the end of the table's pass."""
        left: list[str] = []
        for column in plan.returning:
            keys = self._reserve(conn, plan, column, n, max(min(ahead, RESERVE_ROWS), n))
            if keys is None:
                left.append(column)
                continue
            values[column], self.reserved[(plan.name, column)] = keys[:n].tolist(), keys[n:]
        return left

    def insert(self, conn: Connection, plan: _Plan, values: Rows, returning: list[str],
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
            if not self.copy or returning or not columns:
                self.settle()
            if not columns:  # the database fills every column (a table of a serial key)
                made = conn.execute(self._defaults(plan, len(rows), returning))
                for i, row in zip(rows, made.mappings() if returning else [], strict=False):
                    out[i] = dict(row)
            elif returning:
                stmt = plan.sa_table.insert().returning(*[plan.sa_table.c[c] for c in returning])
                result = conn.execute(stmt, _dicts(part, list(columns)))
                back = _in_sent_order(plan, part, [dict(r) for r in result.mappings()])
                for i, got in zip(rows, back, strict=True):
                    out[i] = got
            elif self.copy:
                self._copy(conn, plan, list(columns), part)
            elif not (self.duckdb and arrow_insert(conn, plan.sa_table, plan.table, part)):
                conn.execute(plan.sa_table.insert(), _dicts(part, list(columns)))
        self.rows[plan.name] += n
        return out if returning else None

    def _defaults(self, plan: _Plan, n: int, returning: list[str]) -> sa.Insert:
        """An INSERT of ``n`` rows that take every value from the database: multi-row
        ``VALUES (DEFAULT)`` (``(NULL)`` on SQLite, which fills its rowid key so), with
        ``RETURNING`` the ``returning`` columns."""
        column = next(c for c in plan.table.column_names if c in plan.db_filled)
        value = sa.null() if self.dialect == "sqlite" else sa.literal_column("DEFAULT")
        stmt = plan.sa_table.insert().values([{column: value}] * n)
        return stmt.returning(*[plan.sa_table.c[c] for c in returning]) if returning else stmt

    def _remember(self, plan: _Plan, values: Rows, back: list[dict[str, Any]] | None) -> None:
        """Add the inserted rows to the key pools of their table."""
        for key, pool in self.pools.items():
            if key[0] != plan.name:
                continue
            keys = [values[c] if c in values and not (back and c in back[0])
                    else [row.get(c) for row in back or []] for c in key[1]]
            pool.add(keys)
            attributes = self.attributes.get(key)
            if attributes is not None:
                attributes.add(keys, {c: values[c] for c in attributes.columns if c in values})

    def _take(self, plan: _Plan, values: Rows, presets: list[dict[str, Any]] | None,
              n: int) -> None:
        """Mark the parents that inserted rows hold in one-to-one keys as taken: all of a
        drawn key, only the values stories gave to a ``later`` one (the rest are stand-ins
        or NULL until the end of the pass)."""
        gave = [preset.keys() for preset in presets or []]  # the columns stories gave
        for f in plan.fks:
            if f.unique is None:
                continue
            columns = set(f.fk.columns)
            given = [i for i, keys in enumerate(gave) if columns & keys]
            rows: Sequence[int] = range(n) if f.mode == "draw" else [
                i for i in given if columns <= gave[i]]
            if rows:
                parents = self.parents[id(f)]
                parents.taken.add(self._unique_hashes(f, [[values[c][i] for i in rows]
                                                          for c in f.fk.columns])[1])
                parents.stale = parents.stale or bool(given)

    def _pending(self, plan: _Plan, values: Rows, back: list[dict[str, Any]] | None,
                 pending: list[_Pending], presets: list[dict[str, Any]] | None,
                 n: int) -> None:
        pk = plan.table.primary_key
        if not pk:
            return  # rows cannot be found again: a nullable key stays NULL, which is valid
        for f in plan.fks:
            if f.mode != "later":
                continue
            rows = [i for i in range(n)
                    if not (presets and all(c in presets[i] for c in f.fk.columns))]
            keys = [tuple(values[c][i] if c in values and values[c][i] is not None
                          else (back[i][c] if back else None) for c in pk) for i in rows]
            held: list[tuple[Any, ...] | None] = []
            if f.unique is not None:
                now = [tuple(values[c][i] for c in f.fk.columns) for i in rows]
                held = [None if None in key else key for key in now]
            pending.append(_Pending(plan, f, keys, held))

    def add_rows(self, conn: Connection, plan: _Plan, values: Rows, pending: list[_Pending],
                 returning: list[str], presets: list[dict[str, Any]] | None = None, *,
                 n: int) -> list[dict[str, Any]] | None:
        """Insert a filled batch of ``n`` rows (``values`` has no column when the database
        fills them all) and record its keys and its pending foreign keys."""
        back = self.insert(conn, plan, values, returning, n)
        self._remember(plan, values, back)
        self._take(plan, values, presets, n)
        self._pending(plan, values, back, pending, presets, n)
        return back

    def close_cycles(self, conn: Connection, pending: list[_Pending]) -> None:
        """Point the ``later`` foreign keys at rows of the whole pool, with bulk UPDATEs; a
        one-to-one key draws the pass's rows all at once, without replacement."""
        one_to_one: dict[int, list[_Pending]] = {}
        many: dict[int, tuple[_Pending, Rows]] = {}  # id(_Fk) -> its rows' keys and targets
        for item in pending:
            if item.fk.unique is not None:
                one_to_one.setdefault(id(item.fk), []).append(item)
            elif item.keys:
                item = self._targeted(item)
                drawn = self._later_keys(item)
                rows = many.setdefault(id(item.fk), (item, {}))[1]
                for name, column in zip(_pair_columns(item), [*zip(*item.keys, strict=True),
                                                              *drawn], strict=True):
                    rows.setdefault(name, []).extend(column)
        for item, rows in many.values():
            self._bulk_update(conn, item, rows)
        for items in one_to_one.values():
            self._close_one_to_one(conn, items)

    def _targeted(self, item: _Pending) -> _Pending:
        """The rows of a ``later`` key that get a target: of a nullable key, the source's
        non-NULL share of them (the others stay NULL, as inserted)."""
        share = self._nonnull_share(item.plan.table, item.fk)
        if share >= 1.0:
            return item
        picked = self.rng.choice(len(item.keys), size=round(len(item.keys) * share),
                                 replace=False)
        return dataclasses.replace(item, keys=[item.keys[i] for i in sorted(picked.tolist())])

    def _later_keys(self, item: _Pending) -> list[list[Any]]:
        """Targets of a ``later`` key's rows: from the whole pool, or, when its children
        counts were all suppressed, from the children of each parent (a small parent table)
        or only from the share of parents with any child."""
        pool = self.pools[item.fk.pool]
        if item.fk.per_parent is not None and len(pool) and item.keys:
            whole = np.arange(len(pool), dtype=np.int64)
            index = children_from_counts(
                list(zip(*pool.rows(whole), strict=True)), self.rng, item.fk.per_parent,
                len(item.keys), item.fk.fk.columns, keyed=False, source_parents=row_count(
                    self.src_stats.get(stat_name(item.fk.fk.ref_table, "profile"))))
            return pool.rows(np.array(index, dtype=np.int64))
        if item.fk.summary is None or not len(pool) or not item.keys:
            return self._draw(item.plan, item.fk, len(item.keys))
        index = children_from_share(range(len(pool)), self.rng, item.fk.summary,
                                    len(item.keys))
        return pool.rows(np.array(index, dtype=np.int64))

    def _close_one_to_one(self, conn: Connection, items: list[_Pending]) -> None:
        """Close a one-to-one key for all the pass's rows. The unique key is checked at each
        row, so no row takes a key that another still holds (``_update_order``)."""
        item = items[0]
        keys = [key for i in items for key in i.keys]
        held = [key for i in items for key in i.held]
        if not keys:
            return
        columns = self._distinct(item.plan, item.fk, len(keys))
        targets = [None if None in row else row for row in zip(*columns, strict=True)]
        assert item.fk.unique is not None
        hashes = self._unique_hashes(item.fk, columns)[1]
        self.parents[id(item.fk)].taken.add(hashes)
        seen = self.seen.get(item.fk.unique.key)
        if seen is not None:  # checked since a story gave values: it must know these too
            seen.add(hashes)
        order = _update_order(held, targets)
        self._update(conn, item, [keys[i] for i in order],
                     [targets[i] or (None,) * len(columns) for i in order])

    def _update(self, conn: Connection, item: _Pending, keys: list[tuple[Any, ...]],
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
        for start in range(0, len(params), BATCH_ROWS):
            conn.execute(stmt, params[start:start + BATCH_ROWS])

    def _bulk_update(self, conn: Connection, item: _Pending, rows: Rows) -> None:
        """Set the foreign key of many rows at once: the (primary key, target) pairs go into
        a temporary table (with COPY on PostgreSQL), then one ``UPDATE ... FROM`` (a
        multi-table UPDATE on MariaDB) sets them all; executemany would take one round trip
        per row. The temporary table copies the columns' types from the table itself."""
        self.settle()
        table = item.plan.sa_table
        pairs = list(zip(_pair_columns(item), [*item.plan.table.primary_key,
                                               *item.fk.fk.columns], strict=True))
        source = sa.select(*(table.c[c].label(name) for name, c in pairs)).limit(0)
        made = source.compile(conn, compile_kwargs={"literal_binds": True})
        if self.dialect == "mysql":  # left by a failed pass: MariaDB keeps it on rollback
            conn.exec_driver_sql(f"DROP TEMPORARY TABLE IF EXISTS {PAIRS_TABLE}")
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {PAIRS_TABLE} AS {made}")
        temp = sa.table(PAIRS_TABLE, *(sa.column(name, table.c[c].type) for name, c in pairs))
        if self.copy:
            data = _copy_data(item.plan.table, [c for _, c in pairs],
                              [rows[name] for name, _ in pairs])
            _copy_in(conn.connection.dbapi_connection, f"COPY {PAIRS_TABLE} FROM STDIN", data)
        else:
            conn.execute(temp.insert(), _dicts(rows, list(rows)))
        pk = item.plan.table.primary_key
        conn.execute(sa.update(table)
                     .where(*(table.c[c] == temp.c[f"k_{i}"] for i, c in enumerate(pk)))
                     .values({c: temp.c[f"v_{i}"] for i, c in enumerate(item.fk.fk.columns)}))
        temporary = "TEMPORARY " if self.dialect == "mysql" else ""  # no implicit commit
        conn.exec_driver_sql(f"DROP {temporary}TABLE {PAIRS_TABLE}")

    # -- a pass ----------------------------------------------------------------------------

    def run_pass(self, conn: Connection) -> None:
        """Generate one pass: every table's rows, then the stories, then close cycles."""
        if self.dialect == "postgresql":
            conn.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")
        elif self.dialect == "sqlite" and not self.duckdb:  # DuckDB checks keys at once
            conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        pending: list[_Pending] = []
        self.pass_start = {key: len(pool) for key, pool in self.pools.items()}
        if self.copy or self.duckdb:
            self._reserve_ahead(conn)
        try:
            for name in self.generated:
                plan = self.plans[name]
                left = self.rows_per_pass[name]
                self.queue_children(plan, left)
                while left > 0:
                    n = min(left, BATCH_ROWS)
                    values = self.fill(plan, conn, n)
                    returning = self._reserve_keys(conn, plan, values, n, left) \
                        if self.copy or self.duckdb else plan.returning
                    self.add_rows(conn, plan, values, pending, returning, n=n)
                    left -= n
            self.settle()
        finally:  # after an error too: the rollback must not start while a COPY runs
            if self.in_flight is not None:
                wait([self.in_flight])
                self.in_flight = None
        self.queues.clear()
        _Stories(self, conn, pending).run()
        self.close_cycles(conn, pending)
        if self.explicit_keys:
            advance_sequences(conn, self.model, sorted(self.explicit_keys), self.schema)
            self.explicit_keys.clear()


def _has_rows(stats: Any) -> bool:
    return isinstance(stats, list) and bool(stats)


def _rows_or_none(stats: Any) -> Any | None:
    """A statistic's rows, or None when it has none (missing, or all suppressed)."""
    return stats if _has_rows(stats) else None


def _pair_columns(item: _Pending) -> list[str]:
    """The columns of ``_bulk_update``'s temporary table: ``k_<i>`` for the primary key,
    ``v_<i>`` for the foreign key (distinct even where the two share a column)."""
    return [*(f"k_{i}" for i in range(len(item.plan.table.primary_key))),
            *(f"v_{i}" for i in range(len(item.fk.fk.columns)))]


def _update_order(held: Sequence[tuple[Any, ...] | None],
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


def _in_sent_order(plan: _Plan, sent: Rows, back: list[dict[str, Any]]
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


def _copy_data(table: Table, columns: list[str], values: list[list[Any]]) -> bytes:
    """``COPY`` text of rows given column by column (``values``, one list per column of
    ``table`` named in ``columns``): each column is made into text at once."""
    fields = [copy_text_column(table.column(c).portable)(v)
              for c, v in zip(columns, values, strict=True)]
    return "\n".join([*map("\t".join, zip(*fields, strict=True)), ""]).encode()


def _copy_in(raw: Any, sql: str, data: bytes) -> None:
    """Run ``COPY ... FROM STDIN`` of ``data`` on the DB-API connection ``raw`` (the driver
    lets other threads run while the server reads)."""
    cursor = raw.cursor()
    try:
        cursor.copy_expert(sql, io.BytesIO(data), size=COPY_CHUNK)
    finally:
        cursor.close()


def _set_row(values: Rows, n: int, i: int, row: dict[str, Any]) -> None:
    """Put ``row``'s values in row ``i`` of a batch of ``n`` rows (new columns start None)."""
    for column, value in row.items():
        target = values.get(column)
        if target is None:
            target = values[column] = [None] * n
        target[i] = value


def _dicts(values: Rows, columns: list[str]) -> list[dict[str, Any]]:
    data = [values[c] for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*data, strict=True)]


# --- story generators -------------------------------------------------------------------------

_StoryGen = Generator[tuple[str, dict[str, Any]], dict[str, Any], None]


@dataclasses.dataclass
class _Story:
    name: str
    gen: _StoryGen
    table: str = ""
    partial: dict[str, Any] = dataclasses.field(default_factory=dict)


class _Stories:
    """Runs all stories of a pass side by side: each round inserts the rows they yielded,
    one multi-row ``INSERT ... RETURNING`` per table, and sends every row back."""

    def __init__(self, run: _Run, conn: Connection, pending: list[_Pending]) -> None:
        self.run_ = run
        self.conn = conn
        self.pending = pending
        module = run.config.story_generators_module
        self.sources = {s.name: story_source(s.name, module) for s in run.config.story_generators}

    def _start(self) -> list[_Story]:
        functions = list(getattr(self.run_.ssg, "STORY_GENERATORS", []))
        stories: list[_Story] = []
        for i, conf in enumerate(self.run_.config.story_generators):
            function = functions[i]
            for _ in range(conf.num_stories_per_pass):
                try:
                    gen = function(self.conn)
                except SynthgateError:
                    raise
                except Exception as exc:
                    raise _story_error(conf.name, exc) from exc
                if not inspect.isgenerator(gen):
                    raise SynthgateError(
                        f"story generator {conf.name} is not a Python generator (it must "
                        "yield (table_name, row_dict) pairs)", where="story_generators")
                story = _Story(conf.name, typing.cast(_StoryGen, gen))
                if self._advance(story, None):
                    stories.append(story)
        return stories

    def _advance(self, story: _Story, row: dict[str, Any] | None) -> bool:
        """Resume a story with the inserted row; False when it has finished."""
        try:
            item = next(story.gen) if row is None else story.gen.send(row)
        except StopIteration:
            return False
        except SynthgateError:
            raise
        except Exception as exc:
            raise _story_error(story.name, exc) from exc
        story.table, story.partial = self._check(story.name, item)
        return True

    def _check(self, name: str, item: Any) -> tuple[str, dict[str, Any]]:
        if (not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[0], str)
                or not isinstance(item[1], dict)):
            raise SynthgateError(f"story generator {name} yielded {item!r:.80}",
                                 where="story_generators",
                                 fix="yield (table_name, {column: value, ...}) pairs")
        table, partial = item
        run = self.run_
        if table not in run.plans:
            import difflib

            close = difflib.get_close_matches(table, list(run.model.tables), n=1)
            why = ("is ignored or a vocabulary table" if table in run.model.tables
                   else "is not a table of orm.yaml")
            raise SynthgateError(f"story generator {name} yielded a row for table {table!r}, "
                                 f"which {why}", where="story_generators",
                                 fix=f"did you mean {close[0]!r}?" if close and close[0]
                                 != table else "yield rows of generated tables only")
        columns = run.model.table(table).column_names
        for column in partial:
            if column not in columns:
                import difflib

                close = difflib.get_close_matches(str(column), columns, n=1)
                raise SynthgateError(
                    f"story generator {name} yielded column {column!r}, which table {table} "
                    "does not have", where="story_generators",
                    fix=f"did you mean {close[0]!r}?" if close else None)
        return table, partial

    def run(self) -> None:
        active = self._start()
        position = {n: i for i, n in enumerate(self.run_.order)}
        while active:
            by_table: dict[str, list[_Story]] = {}
            for story in active:
                by_table.setdefault(story.table, []).append(story)
            still: list[_Story] = []
            for table in sorted(by_table, key=position.__getitem__):
                group = by_table[table]
                plan = self.run_.plans[table]
                presets = [s.partial for s in group]
                plan.fit.rows(presets, [self.sources[s.name] for s in group], self.run_.rng)
                values = self.run_.fill(plan, self.conn, len(group), presets)
                back = self.run_.add_rows(self.conn, plan, values, self.pending,
                                          plan.table.column_names, presets, n=len(group))
                assert back is not None
                still += [s for s, row in zip(group, back, strict=True)
                          if self._advance(s, row)]
            active = still


def _story_error(name: str, exc: Exception) -> SynthgateError:
    return SynthgateError(f"story generator {name} failed ({type(exc).__name__}: {exc})",
                          where="story_generators", fix="check the story generator's code")


# --- entry points -------------------------------------------------------------------------------

def _ssg_module(ssg: types.ModuleType | Path | str | None, model: OrmModel,
                config: Config) -> types.ModuleType:
    if ssg is None:
        return module_from_text(render_ssg(config, model, {}))
    module = ssg if isinstance(ssg, types.ModuleType) else load_ssg(Path(ssg))
    fingerprint = getattr(module, "CONFIG_FINGERPRINT", None)
    if fingerprint is not None and fingerprint != config_fingerprint(config):
        raise SynthgateError("ssg.py was generated from a different config.yaml",
                             where=getattr(module, "__file__", None) or "ssg.py",
                             fix="run create-generators --force")
    if len(getattr(module, "STORY_GENERATORS", [])) != len(config.story_generators):
        raise SynthgateError("ssg.py does not list the story generators of config.yaml",
                             where="ssg.py", fix="run create-generators --force")
    return module


def _seed(ssg: types.ModuleType, seed: int | None) -> None:
    """Seed every random source a generator may use: Python, NumPy and Mimesis."""
    if seed is None:
        return
    random.seed(seed)
    np.random.seed(seed % 2**32)
    generic = getattr(ssg, "generic", None)
    if generic is None:
        return
    # seed the generators, not the providers: Mimesis refuses unique=True on seeded providers
    generic.random.seed(seed)
    for name in dir(generic):
        provider = getattr(generic, name, None)
        if provider is not None and hasattr(provider, "random"):
            provider.random.seed(seed)


def create_data(engine: Engine, model: OrmModel, config: Config,
                ssg_module_or_path: types.ModuleType | Path | str | None, num_passes: int = 1,
                seed: int | None = None, schema: str | None = None,
                progress: Callable[[int], None] | None = None,
                scale: float | None = None) -> DataSummary:
    """Run ``num_passes`` passes of generation; each pass is one transaction.

    Each pass makes ``num_rows_per_pass`` rows per table, or with ``scale`` round(scale x
    the source's row count) from ``SRC_STATS["auto__<table>__profile"]`` (tables without
    one keep ``num_rows_per_pass``, and a note says so).

    Every foreign key points at an existing row, unique keys are kept, and the same
    ``seed`` gives the same rows. A failure rolls back the pass it happened in (earlier
    passes stay) and is raised as a one-line error. ``progress`` is called after each pass.
    """
    module = _ssg_module(ssg_module_or_path, model, config)
    _seed(module, seed)
    for draws in getattr(module, "UNIQUE_DRAWS", []):  # values of an earlier run do not count
        draws.restart(config.max_unique_constraint_tries)
    if scale is not None and not scale > 0:
        raise SynthgateError(f"--scale must be above 0, not {scale:g}", fix="e.g. --scale 1")
    run = _Run(engine, model, config, module, seed, schema, scale)
    started = time.perf_counter()
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        raise connection_error(exc, engine.url) from None
    # duckdb-engine's DB-API module has no IntegrityError (SQLAlchemy's wraps DuckDB's)
    dbapi_error = getattr(engine.dialect.loaded_dbapi, "IntegrityError", IntegrityError)
    with conn, run.copier:
        with conn.begin():
            run.load_state(conn)
        for done in range(num_passes):
            kept = f"pass {done + 1} was rolled back; the {done} pass(es) before it are kept"
            try:
                with conn.begin():
                    try:
                        run.run_pass(conn)
                    except BaseException as exc:
                        run.abandon()  # the copier thread lets go of the connection first
                        if not isinstance(exc, Exception):
                            # interrupted (a signal): the driver may be mid-protocol, so drop
                            # the connection; the server rolls the pass back
                            conn.invalidate()
                        raise
            except (IntegrityError, dbapi_error) as exc:
                raise SynthgateError(
                    f"a row broke a constraint ({_first_line(exc)}); {kept}",
                    where=mask_dsn(engine.url),
                    fix="check the row and story generators of the table named",
                ) from exc
            except DBAPIError as exc:
                if not connection_lost(exc):
                    raise
                raise SynthgateError(
                    f"the connection to the database was lost ({first_cause(exc)}); {kept}",
                    where=mask_dsn(engine.url), fix="check the server, then run create-data "
                    "again for the passes still needed") from None
            except SynthgateError as exc:
                raise SynthgateError(f"{exc.what}; {kept}" if done else exc.what,
                                     where=exc.where, fix=exc.fix) from exc
            if progress is not None:
                progress(done + 1)
    return DataSummary(rows=run.rows, passes=num_passes,
                       seconds=time.perf_counter() - started, notes=run.notes)


def _first_line(exc: Exception) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]


def remove_data(engine: Engine, model: OrmModel, config: Config,
                schema: str | None = None, only: set[str] | None = None) -> dict[str, int]:
    """Delete every row of the generated tables (not vocabulary, not ignored; of ``only``
    when given), children first, in one transaction. Returns the rows deleted per table."""
    metadata = orm_to_metadata(model, engine.dialect.name, schema)
    sa_tables = {t.name: t for t in metadata.tables.values()}
    names = [n for n in reversed(table_order(model))
             if not config.table(n).vocabulary_table and not config.table(n).ignore
             and (only is None or n in only)]
    deleted: dict[str, int] = {}
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        raise connection_error(exc, engine.url) from None
    if engine.dialect.name == "duckdb":  # no cycle keys are declared there (sqla.py)
        with conn:
            present = set(sa.inspect(conn).get_table_names(schema=schema))
            return delete_each_committed(conn, [sa_tables[n] for n in names if n in present])
    with conn, conn.begin():
        present = set(sa.inspect(conn).get_table_names(schema=schema))
        names = [n for n in names if n in present]
        if family(engine.dialect.name) == "postgresql":
            conn.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")
        closing = {id(fk) for _name, fk in cycle_edges(model)}
        for name in names:  # references to rows deleted later (cycles, self) are cut first
            table = model.table(name)
            for fk in table.foreign_keys:
                later = id(fk) in closing or fk.ref_table == name
                if later and fk.ref_table in names and all(
                        table.column(c).nullable for c in fk.columns):
                    conn.execute(sa.update(sa_tables[name]).values(dict.fromkeys(fk.columns)))
        for name in names:
            deleted[name] = conn.execute(sa.delete(sa_tables[name])).rowcount
    return deleted
