"""The plan of a run, built once before any row is made: for each generated table, the
columns it fills and how (samplers, built-in distributions, a row function, a counter), its
foreign keys (``FkMode``: drawn, NULL, or set later to close a cycle), its unique keys and
which of them are unique by construction. Nothing here reads or writes the destination.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from synthgate_shared.config import Config
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import stat_name
from synthgate_shared.orm import ForeignKey, OrmModel, Table
from synthgate_shared.sqla import cycle_edges, orm_to_metadata, table_order
from synthgate_shared.srcstats import row_count
from synthgate_shared.types import INTEGER_TYPES

from synthgate_builder.defaults import ColumnSampler, column_sampler
from synthgate_builder.dist_children import source_parents
from synthgate_builder.distributions import BUILTINS, CHILDREN
from synthgate_builder.fit import TableFit, cannot_generate, generator_sources
from synthgate_builder.ssg_load import SsgModule
from synthgate_builder.ssg_runtime import Distribution

Key = tuple[str, tuple[str, ...]]  # (table, columns): a key pool or a unique set
Rows = dict[str, list[Any]]  # column -> values of a batch (column-major)


class FkMode(enum.Enum):
    """How a foreign key is filled as rows go in."""

    DRAW = "draw"  # from the parent's key pool (or per parent: ``FkPlan.children``)
    NULL = "null"  # the parent is ignored: always NULL
    LATER = "later"  # NULL or a stand-in first, set at the end of the pass (a cycle)


@dataclasses.dataclass
class Children:
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


@dataclasses.dataclass(eq=False)
class FkPlan:
    """How one foreign key is filled (``FkMode``); ``children`` draws per parent in the
    source's distribution. Compared by identity: run state is kept per foreign key."""

    fk: ForeignKey
    mode: FkMode
    pool: Key
    nullable: bool
    self_ref: bool
    children: Children | None = None
    unique: UniqueKey | None = None  # a unique key over exactly these columns (one-to-one)
    # a ``later`` key whose children counts were all suppressed: ``..._parents`` rows
    summary: Any | None = None
    # ... and of a small parent table: ``..._per_parent`` rows, preferred
    per_parent: Any | None = None


@dataclasses.dataclass
class Dist:
    """A built-in column generator of a table with its statistic's rows and column types."""

    dist: Distribution
    stats: Any
    types: list[str]
    # a parent's column it reads (kwargs ``parents``): name -> (foreign key, parent column)
    parents: dict[str, tuple[FkPlan, str]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class UniqueKey:
    """A unique key; ``made`` lists its columns whose values are unique by construction (the
    counter, a column drawn by ``sample_unique``, a one-to-one foreign key): then the key needs
    no check unless a story or a row function gave one of them a value."""

    name: str
    key: Key
    made: frozenset[str] = frozenset()


@dataclasses.dataclass
class TablePlan:
    """Everything needed to generate rows of one table."""

    table: Table
    sa_table: sa.Table
    db_filled: set[str]
    fill: list[str]  # columns we give values to, in table order
    counter: str | None  # integer primary key column filled by a counter
    fks: list[FkPlan]
    uniques: list[UniqueKey]
    samplers: dict[str, ColumnSampler]
    distinct: dict[str, UniqueKey]  # single-column unique keys drawn with sample_unique
    row_fn: Callable[[Any], dict[str, Any]] | None
    row_uses_conn: bool  # the row function may use the connection (no COPY in flight then)
    rowgen_columns: set[str]  # filled by ssg.py's row function or a built-in distribution
    returning: list[str]  # database-filled columns other tables need back
    fit: TableFit  # checks of the values that generators and stories give
    dists: list[Dist] = dataclasses.field(default_factory=list)
    null_shares: dict[str, float] = dataclasses.field(default_factory=dict)  # column -> share

    @property
    def name(self) -> str:
        """The table's name."""
        return self.table.name


@dataclasses.dataclass
class RunPlan:
    """The plans of a run: tables in fill order, those generated, and rows per pass."""

    model: OrmModel
    order: list[str]  # every table, parents first
    generated: list[str]  # the tables filled (not ignored, not vocabulary), in order
    sa_tables: dict[str, sa.Table]
    tables: dict[str, TablePlan]
    rows_per_pass: dict[str, int]


def sampler(model: OrmModel, dialect: str, table: Table, column: str) -> ColumnSampler:
    """The default generator of ``table.column``; a column none can fill stops in one line."""
    try:
        return column_sampler(table.column(column), model, table, dialect=dialect)
    except SynthgateError as exc:
        raise cannot_generate(table.name, table.column(column), exc) from None


def nonnull_share(src_stats: dict[str, Any], table: Table, f: FkPlan) -> float:
    """The share of the table's rows whose (nullable, one-column) foreign key is not
    NULL in the source, from the profile; 1.0 when unknown."""
    profile = src_stats.get(stat_name(table.name, "profile"))
    if f.nullable and len(f.fk.columns) == 1 and isinstance(profile, list) and profile:
        nonnull = profile[0].get(f"{f.fk.columns[0]}__nonnull")
        n = row_count(profile)
        if isinstance(nonnull, int | float) and not isinstance(nonnull, bool) and n:
            return min(max(float(nonnull) / n, 0.0), 1.0)
    return 1.0


def build_plan(model: OrmModel, config: Config, ssg: SsgModule, dialect: str,
               schema: str | None, scale: float | None, *, can_defer: bool,
               notes: list[str]) -> RunPlan:
    """The plan of a run into a ``dialect`` database (``can_defer``: it can check a
    deferrable foreign key at commit); notes on statistics without rows go to ``notes``."""
    metadata = orm_to_metadata(model, dialect, schema)
    sa_tables = {t.name: t for t in metadata.tables.values()}
    planner = Planner(model, config, ssg, dialect, sa_tables, can_defer, notes)
    order = table_order(model)
    generated = [n for n in order if not config.table(n).ignore
                 and not config.table(n).vocabulary_table]
    plans = {n: planner.plan(n) for n in generated}
    _returning(plans)
    return RunPlan(model, order, generated, sa_tables, plans,
                   planner.rows_per_pass(generated, scale))


def _returning(plans: dict[str, TablePlan]) -> None:
    """Decide which database-filled values must come back from each insert."""
    for plan in plans.values():
        for f in plan.fks:
            parent = plans.get(f.fk.ref_table)
            if parent is not None and f.mode is not FkMode.NULL:
                parent.returning += [c for c in f.fk.ref_columns
                                     if c in parent.db_filled and c not in parent.returning]
            if f.mode is FkMode.LATER:
                plan.returning += [c for c in plan.table.primary_key
                                   if c in plan.db_filled and c not in plan.returning]


def _uniques(table: Table, db_filled: set[str]) -> list[UniqueKey]:
    """The table's primary and unique keys that the run fills (not database-filled)."""
    uniques: list[UniqueKey] = []
    if table.primary_key and not db_filled & set(table.primary_key):
        uniques.append(UniqueKey("primary key", (table.name, tuple(table.primary_key))))
    for u in table.unique:
        if not db_filled & set(u.columns):
            uniques.append(UniqueKey(u.name or f"unique ({', '.join(u.columns)})",
                                     (table.name, tuple(u.columns))))
    return uniques


def _mark_made(uniques: list[UniqueKey], fks: list[FkPlan], made: set[str],
               rowgen_columns: set[str]) -> None:
    """Note the columns of each unique key that are unique by construction (``made``), and
    the one-to-one foreign keys (a unique key over exactly their columns: parents are drawn
    without replacement)."""
    for unique in uniques:
        unique.made = frozenset(made.intersection(unique.key[1]))
    for f in fks:  # (a row function's values are checked as any other)
        if f.mode is not FkMode.NULL and f.children is None and not rowgen_columns & set(
                f.fk.columns):
            f.unique = next((u for u in uniques if set(u.key[1]) == set(f.fk.columns)), None)
            if f.unique is not None:
                f.unique.made = frozenset(f.unique.key[1])


class Planner:
    """Builds the plan of each table (``build_plan``)."""

    def __init__(self, model: OrmModel, config: Config, ssg: SsgModule, dialect: str,
                 sa_tables: dict[str, sa.Table], can_defer: bool, notes: list[str]) -> None:
        self.model = model
        self.config = config
        self.ssg = ssg
        self.src_stats: dict[str, Any] = ssg.src_stats
        self.dialect = dialect
        self.sa_tables = sa_tables
        self.can_defer = can_defer
        self.notes = notes
        self.closing = cycle_edges(model)

    def plan(self, name: str) -> TablePlan:
        """The plan of table ``name``."""
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
        uniques = _uniques(table, db_filled)
        samplers = {c: sampler(self.model, self.dialect, table, c) for c in fill
                    if c not in fk_columns and c != counter and c not in rowgen_columns}
        distinct = {u.key[1][0]: u for u in uniques if len(u.key[1]) == 1
                    and u.key[1][0] in samplers and u.key[1][0] not in rowgen_columns}
        # the counter and sample_unique's sequences (not its random types) never repeat
        made = {c for c in distinct if samplers[c].capacity is not None}
        if counter:
            made.add(counter)
        _mark_made(uniques, fks, made, rowgen_columns)
        row_fn = self.ssg.table_generators.get(name)
        sources = generator_sources(tconf.row_generators, self.config.row_generators_module)
        fit = TableFit(table, self.model, self.dialect,
                       {c: s for c, s in sources.items() if c in rowgen_columns})
        return TablePlan(table, sa_table, db_filled, fill, counter, fks, uniques, samplers,
                         distinct, row_fn, row_fn is not None and self._uses_connection(name),
                         rowgen_columns, [], fit, dists,
                         self._null_shares(table, fill, fk_columns, dists))

    def _null_shares(self, table: Table, fill: list[str], fk_columns: set[str],
                     dists: list[Dist]) -> dict[str, float]:
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
        """Whether the table's row generators are given the connection (ssg.py lists them)."""
        return table in self.ssg.tables_using_dst_db_conn

    def _available(self, name: str, table: str, dist: Distribution,
                   instead: str = "by the default generators") -> bool:
        """Whether the statistic has rows (the loader's trial call); if not, say once that
        the default generators fill the columns instead."""
        if not dist.available:
            self.notes.append(
                f"{table}.{', '.join(dist.columns)}: statistic {dist.stat!r} has no rows (all "
                f"suppressed as small counts); {name} drawn {instead}")
        return dist.available

    def _dists(self, table: Table, fks: list[FkPlan]) -> list[Dist]:
        """The table's built-in distributions from ssg.py whose statistics have rows; the
        children_per_parent ones are attached to their foreign keys instead."""
        out: list[Dist] = []
        for dist in self.ssg.distributions.get(table.name, ()):
            stats = self.src_stats.get(dist.stat)
            if dist.name == CHILDREN:
                f = next((f for f in fks if tuple(f.fk.columns) == tuple(dist.columns)), None)
                if f is not None and f.mode is FkMode.LATER and not has_rows(stats):
                    f.summary = rows_or_none(self.src_stats.get(
                        stat_name(table.name, *f.fk.columns, "parents")))
                    f.per_parent = rows_or_none(self.src_stats.get(
                        stat_name(table.name, *f.fk.columns, "per_parent")))
                if f is not None and f.mode is FkMode.DRAW:
                    summary = stat_name(table.name, *f.fk.columns, "parents")
                    counts = stat_name(table.name, *f.fk.columns, "per_parent")
                    instead = (f"from the children of each parent ({counts})"
                               if self.src_stats.get(counts) else
                               f"for the share of parents with any child ({summary})"
                               if self.src_stats.get(summary) else "by the default generators")
                    available = self._available("foreign keys are", table.name, dist, instead)
                    f.children = self._children(table, f, dist, stats if available else None)
                continue
            types = [table.column(c).type for c in dist.columns]
            if self._available("the columns are", table.name, dist):
                out.append(Dist(dist, stats, types, self._dist_parents(table, fks, dist)))
        return out

    def _dist_parents(self, table: Table, fks: list[FkPlan],
                      dist: Distribution) -> dict[str, tuple[FkPlan, str]]:
        """The parents' columns a distribution reads (kwargs ``parents: {name: {fk: [child
        columns], column: parent column}}``), checked against the schema."""
        out: dict[str, tuple[FkPlan, str]] = {}
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
            if f.mode is FkMode.DRAW:  # a key set later (a cycle) is not known yet
                out[str(ref)] = (f, str(column))
        return out

    def _children(self, table: Table, f: FkPlan, dist: Distribution, stats: Any) -> Children:
        share = nonnull_share(self.src_stats, table, f)
        entry = self.config.stat(dist.stat)
        min_count = entry.min_count if entry and entry.min_count is not None \
            else self.config.min_count
        summary = self.src_stats.get(stat_name(table.name, *f.fk.columns, "parents"))
        parents = source_parents(self.src_stats.get(stat_name(f.fk.ref_table, "profile")),
                                 summary)
        per_parent = self.src_stats.get(stat_name(table.name, *f.fk.columns, "per_parent"))
        return Children(dist.stat, stats, parents, share, min_count, rows_or_none(summary),
                        rows_or_none(per_parent),
                        self.config.table(f.fk.ref_table).vocabulary_table)

    def rows_per_pass(self, generated: list[str], scale: float | None) -> dict[str, int]:
        """Rows per table and pass: ``num_rows_per_pass``, or with ``scale`` that many times
        the source's row count (the ``n`` of ``auto__<table>__profile``)."""
        if scale is None:
            return {n: self.config.table(n).num_rows_per_pass for n in generated}
        out: dict[str, int] = {}
        for name in generated:
            source = row_count(self.src_stats.get(stat_name(name, "profile")))
            if source is None:
                out[name] = self.config.table(name).num_rows_per_pass
                self.notes.append(f"{name}: no source row count ({stat_name(name, 'profile')} "
                                  f"is not in src-stats); num_rows_per_pass "
                                  f"({out[name]}) used instead of --scale")
            else:
                out[name] = round(scale * source)
        return out

    def _fk(self, table: Table, fk: ForeignKey) -> FkPlan:
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
            return FkPlan(fk, FkMode.NULL, pool, nullable, self_ref)
        generated_parent = not ref_conf.vocabulary_table
        later = generated_parent and (self_ref or any(
            name == table.name and edge is fk for name, edge in self.closing))
        if later and (nullable or (fk.deferrable and self.can_defer)):
            return FkPlan(fk, FkMode.LATER, pool, nullable, self_ref)
        return FkPlan(fk, FkMode.DRAW, pool, nullable, self_ref)


def has_rows(stats: Any) -> bool:
    """Whether a statistic has rows."""
    return isinstance(stats, list) and bool(stats)


def rows_or_none(stats: Any) -> Any | None:
    """A statistic's rows, or None when it has none (missing, or all suppressed)."""
    return stats if has_rows(stats) else None


