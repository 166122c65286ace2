"""Proposed statistics for dependent dates and for suppressed children counts (issue 11).

``add_order_statistics`` runs at the end of ``propose`` (plain aggregates only; nothing under
``--epsilon``) and adds, for every table with date or time columns filled from their
quantiles:

* ``auto__<t>__order`` — one row over the table LEFT JOINed to the parents whose dates its
  dates may follow: ``n``, per column ``<c>__nonnull`` and quantiles ``<c>__q``, per
  parent date ``<fk columns>__<column>__nonnull``, and per pair ``[b, a]`` the counts
  ``<b>__<a>__both`` (both known), ``__ge`` (b >= a), ``__le`` (b <= a) and the quantiles
  ``<b>__<a>__dq`` of b - a in seconds. The pairs: every pair of up to
  ``MAX_ORDER_COLUMNS`` date columns of the table (more: neighbouring columns only), then
  each date column with each date of a parent (foreign keys that are not self-references
  and close no cycle), at most ``MAX_ORDER_PAIRS`` in all. The table's date columns move
  from ``synthgate.gaussian_copula``/``synthgate.quantiles`` (and a date in a key of several
  columns, which no generator filled) to ``synthgate.date_order``, which makes them in the
  order of their medians, each from its own quantiles or from one of its ordered pairs,
  whichever keeps the measured shares best.
* ``auto__<t>__<fk columns>__parents`` — one row per foreign key with a
  ``synthgate.children_per_parent`` generator: ``parents``, ``used`` (parents with any
  child) and ``children``. The builder uses it when every count of the children statistic
  was suppressed (a few parents with many children each), instead of spreading the
  children over every parent.
* ``auto__<t>__<fk columns>__per_parent`` — for a foreign key whose parent table is small
  (measured: at most ``SMALL_PARENTS`` rows; a vocabulary table, not measured, when the
  query finds it that small): the
  number of children of each parent, one row per parent with at least ``min-count``
  children (its key, ``parents`` 1, ``children``), the others pooled in SQL into one row
  with NULL keys (how many such parents and their children), suppressed as a small count
  when those are fewer than ``min-count``. A frequency of the key's values: every released
  row counts at least ``min-count`` children. The builder prefers it to both fallbacks
  above, since few parents leave every children count suppressed.

Dates stored as text or numbers are not paired: the schema does not say they are dates.
Foreign keys set at the end of the pass (self-references, cycles) are not paired either: the
parent is not known when the row is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synthgate_shared import srcstats
from synthgate_shared.config import Config
from synthgate_shared.fidelity import stat_name
from synthgate_shared.orm import Column, ForeignKey, OrmModel, Table
from synthgate_shared.sqla import cycle_edges

from synthgate_agent.measure import TableFacts
from synthgate_agent.proposal import Proposal, gen_entry, stat_entry
from synthgate_agent.propose_roles import Col
from synthgate_agent.propose_sql import (
    SAMPLE_ROWS,
    SAMPLE_SEED,
    Sql,
    alias_ok,
    children_per_parent,
    sample_percent,
)

ORDER = "synthgate.date_order"
CHILDREN = "synthgate.children_per_parent"
MOVABLE = ("synthgate.gaussian_copula", "synthgate.quantiles")
TEMPORAL = ("date", "timestamp", "timestamptz")
MAX_ORDER_COLUMNS = 6  # every pair of up to this many date columns (15 pairs)
MAX_ORDER_PAIRS = 16  # per table, pairs within the table first
SMALL_PARENTS = 200  # a parent table this small gets its children counted per parent


@dataclass(frozen=True)
class _Date:
    """A date column of the table (``fk`` None, alias ``c``) or of a parent through a
    foreign key (alias ``p<i>``, the key's position in the table)."""

    name: str  # the column, or ``<fk columns>__<parent column>``
    column: Column
    table_alias: str
    fk: ForeignKey | None = None


def _is_date(column: Column) -> bool:
    return column.portable.base in TEMPORAL and not column.portable.is_array


def _movable(table: Table, generators: list[dict[str, Any]]) -> list[Column]:
    """The table's date columns that its proposed generators fill from their quantiles, or
    that no generator fills and are part of a key of several columns (such as Pagila's
    ``payment (payment_date, payment_id)``; a key of one column needs distinct values)."""
    assigned: set[str] = set()
    movable: set[str] = set()
    for gen in generators:
        cols = gen["columns_assigned"]
        cols = [cols] if isinstance(cols, str) else cols
        assigned.update(cols)
        if gen["name"] in MOVABLE and "bins" not in gen.get("kwargs", {}):
            movable.update(cols)
    single = {u.columns[0] for u in table.unique if len(u.columns) == 1}
    if len(table.primary_key) == 1:
        single.add(table.primary_key[0])
    keyed = {c for fk in table.foreign_keys for c in fk.columns}
    return [c for c in table.columns if _is_date(c) and alias_ok(srcstats.nonnull(c.name))
            and (c.name in movable or (c.name not in assigned | single | keyed
                                       and not c.autoincrement))]


def _parent_dates(table: Table, model: OrmModel, config: Config,
                  closing: set[int]) -> list[_Date]:
    """Date columns of the parents whose keys are drawn when the table's rows are made."""
    out: list[_Date] = []
    for i, fk in enumerate(table.foreign_keys):
        parent = model.tables.get(fk.ref_table)
        if parent is None or config.table(fk.ref_table).ignore or fk.ref_table == table.name \
                or id(fk) in closing:
            continue
        for column in parent.columns:
            name = srcstats.field("_".join(fk.columns), column.name)
            if _is_date(column) and alias_ok(srcstats.nonnull(name)):
                out.append(_Date(name, column, f"p{i}", fk))
    return out


def _pairs(own: list[_Date], parents: list[_Date]) -> list[tuple[_Date, _Date]]:
    """The measured pairs ``(b, a)``, as the module docstring says, within the alias limit."""
    if len(own) <= MAX_ORDER_COLUMNS:
        inside = [(own[j], own[i]) for j in range(len(own)) for i in range(j)]
    else:
        inside = [(own[i + 1], own[i]) for i in range(len(own) - 1)]
    across = [(b, a) for a in parents for b in own]
    fits = [(b, a) for b, a in inside + across
            if alias_ok(srcstats.field(b.name, a.name, srcstats.BOTH))]
    return fits[:MAX_ORDER_PAIRS]


def _order_query(sql: Sql, table: Table, pairs: list[tuple[_Date, _Date]],
                 own: list[_Date]) -> str:
    """One row of counts (exact) and quantiles (from a sample on PostgreSQL)."""
    joined = {a.table_alias: a.fk for _, a in pairs if a.fk is not None}
    source = f"{sql.table(table.name)} c"
    for alias, fk in joined.items():
        on = " AND ".join(f"{alias}.{sql.q(r)} = c.{sql.q(col)}"
                          for col, r in zip(fk.columns, fk.ref_columns, strict=True))
        source += f" LEFT JOIN {sql.table(fk.ref_table)} {alias} ON {on}"

    def epoch(d: _Date) -> str:
        return sql.numeric(Col(d.column, "temporal"), prefix=f"{d.table_alias}.")

    counts = [f"count(*) AS {srcstats.COUNT}"]
    shapes: list[str] = []
    used = {a.name: a for _, a in pairs if a.fk is not None}
    for d in [*own, *used.values()]:
        counts.append(f"count({d.table_alias}.{sql.q(d.column.name)}) AS "
                      f"{sql.q(srcstats.nonnull(d.name))}")
    for d in own:
        shapes.append(f"{sql.quantiles(epoch(d), source)} AS "
                      f"{sql.q(srcstats.quantiles(d.name))}")
    for b, a in pairs:
        diff = f"({epoch(b)} - {epoch(a)})"
        both, ge, le, dq = (sql.q(srcstats.field(b.name, a.name, kind)) for kind in (
            srcstats.BOTH, srcstats.AT_LEAST, srcstats.AT_MOST, srcstats.DIFFERENCE_QUANTILES))
        counts += [f"count({diff}) AS {both}",
                   f"sum(CASE WHEN {diff} >= 0 THEN 1 ELSE 0 END) AS {ge}",
                   f"sum(CASE WHEN {diff} <= 0 THEN 1 ELSE 0 END) AS {le}"]
        shapes.append(f"{sql.quantiles(diff, source)} AS {dq}")
    if sql.dialect != "postgresql":
        return f"SELECT {', '.join(counts + shapes)} FROM {source}"
    sampled = source.replace(
        f"{sql.table(table.name)} c",
        f"{sql.table(table.name)} c TABLESAMPLE BERNOULLI ({sample_percent(sql, table)}) "
        f"REPEATABLE ({SAMPLE_SEED})", 1)
    return (f"SELECT * FROM (SELECT {', '.join(counts)} FROM {source}) counts CROSS JOIN "
            f"(SELECT {', '.join(shapes)} FROM {sampled}) shapes")


def _move_out(generators: list[dict[str, Any]], columns: set[str]) -> list[dict[str, Any]]:
    """The generators without ``columns`` (a copula left with one column becomes quantiles;
    one left with none is dropped)."""
    out = []
    for gen in generators:
        if gen["name"] not in MOVABLE:
            out.append(gen)
            continue
        cols = gen["columns_assigned"]
        kept = [c for c in ([cols] if isinstance(cols, str) else cols) if c not in columns]
        if not kept:
            continue
        name = gen["name"] if len(kept) > 1 else "synthgate.quantiles"
        out.append({**gen, "name": name,
                    "columns_assigned": kept[0] if len(kept) == 1 else kept})
    return out


def _order_comment(table: Table, own: list[_Date], pairs: list[tuple[_Date, _Date]]) -> str:
    inside = sum(1 for _, a in pairs if a.fk is None)
    rule = (f"every pair of its {len(own)} date columns" if len(own) <= MAX_ORDER_COLUMNS
            else f"neighbouring columns of its {len(own)} date columns (more than "
            f"{MAX_ORDER_COLUMNS})")
    return (f"date order of {table.name}: {inside} pair(s) within the table ({rule}) and "
            f"{len(pairs) - inside} with parents' dates across foreign keys, at most "
            f"{MAX_ORDER_PAIRS}; per pair the rows where both are known, where b >= a and "
            f"b <= a, and quantiles of b - a in seconds (PostgreSQL: from a sample of about "
            f"{SAMPLE_ROWS:,} rows); synthgate.date_order makes the dates in the order of "
            "their medians, each from its own quantiles or from one of its ordered pairs, "
            "whichever keeps the measured shares best")


def _small_parents(fk: ForeignKey, config: Config, facts: dict[str, TableFacts]) -> bool:
    """Whether the key may have at most ``SMALL_PARENTS`` parents: a vocabulary parent (not
    measured; the query checks its size), or the measured facts say so."""
    if config.table(fk.ref_table).vocabulary_table:
        return True
    parent = facts.get(fk.ref_table)
    return parent is not None and parent.rows <= SMALL_PARENTS


def _wider_key(table: Table, fk: ForeignKey) -> list[str]:
    """The other columns of the narrowest unique key of more columns that holds the key
    (none: an empty list)."""
    keys = [table.primary_key, *(u.columns for u in table.unique)]
    wider = sorted((k for k in keys if set(fk.columns) < set(k)), key=len)
    return [c for c in wider[0] if c not in fk.columns] if wider else []


def _per_parent_query(sql: Sql, table: Table, fk: ForeignKey, min_count: int) -> str:
    """Children per key value; the values with fewer than ``min_count`` children pooled
    into one row with NULL keys (see the module docstring). No row when the parent table
    has more than ``SMALL_PARENTS`` rows by the time make-stats runs, nor, for a key inside
    a unique key of more columns, when a parent has more children than a quarter of the
    other columns' distinct values: random keys could not keep the unique key. Unless those
    other columns are another foreign key (Chinook's ``playlist_track (playlist_id,
    track_id)``, one playlist holding most tracks): the builder pairs the two keys' values
    so that no pair repeats (``dist_children.distinct_pairs``)."""
    keys = [sql.q(c) for c in fk.columns]
    child = sql.table(table.name)
    checks = [*(f"{k} IS NOT NULL" for k in keys),
              f"(SELECT count(*) FROM {sql.table(fk.ref_table)}) <= {SMALL_PARENTS}"]
    wider = _wider_key(table, fk)
    paired = any(set(other.columns) == set(wider) for other in table.foreign_keys)
    others = [] if paired else [sql.q(c) for c in wider]
    if others:
        checks.append(
            f"(SELECT max(m.n) FROM (SELECT count(*) AS n FROM {child} GROUP BY "
            f"{', '.join(keys)}) m) * 4 <= (SELECT count(*) FROM (SELECT DISTINCT "
            f"{', '.join(others)} FROM {child}) d)")
    kept = ", ".join(f"CASE WHEN count(*) >= {min_count} THEN {k} END AS {k}" for k in keys)
    outer = ", ".join(f"k.{k}" for k in keys)
    return (f"SELECT {outer}, sum(k.parents) AS parents, sum(k.n_children) AS children "
            f"FROM (SELECT {kept}, 1 AS parents, count(*) AS n_children "
            f"FROM {child} WHERE {' AND '.join(checks)} GROUP BY {', '.join(keys)}) k "
            f"GROUP BY {outer}")


def _children_summaries(sql: Sql, model: OrmModel, config: Config, proposal: Proposal,
                        facts: dict[str, TableFacts]) -> None:
    for table_name, generators in proposal.row_generators.items():
        table = model.tables[table_name]
        for gen in generators:
            if gen["name"] != CHILDREN:
                continue
            cols = gen["columns_assigned"]
            cols = [cols] if isinstance(cols, str) else list(cols)
            fk = next((f for f in table.foreign_keys if f.columns == cols), None)
            if fk is None:
                continue
            source, count = children_per_parent(sql, table, fk)
            proposal.src_stats.append(stat_entry(
                stat_name(table_name, *fk.columns, "parents"),
                f"SELECT count(*) AS parents, sum(CASE WHEN {count} > 0 THEN 1 ELSE 0 END) "
                f"AS used, sum({count}) AS children FROM {source}", count_column="parents",
                comment=f"parents of {table_name}.{', '.join(fk.columns)} with any child: "
                "used when every children-per-parent count is suppressed"))
            if _small_parents(fk, config, facts):
                proposal.src_stats.append(stat_entry(
                    stat_name(table_name, *fk.columns, "per_parent"),
                    _per_parent_query(sql, table, fk, config.min_count),
                    count_column="children",
                    comment=f"children of each parent of {table_name}.{', '.join(fk.columns)} "
                    f"(at most {SMALL_PARENTS} parents): parents with fewer than "
                    f"{config.min_count} children pooled into the row with NULL keys"))


def add_order_statistics(sql: Sql, model: OrmModel, config: Config, proposal: Proposal,
                         facts: dict[str, TableFacts] | None = None) -> None:
    """Add the date-order statistics and generators, and the children fallbacks (per
    parent only where ``facts`` say the parents are few), to a plain (not differentially
    private) ``proposal`` (see the module docstring)."""
    closing = {id(fk) for _, fk in cycle_edges(model)}
    for table_name in list(proposal.row_generators):
        table = model.tables[table_name]
        generators = proposal.row_generators[table_name]
        own = [_Date(c.name, c, "c") for c in _movable(table, generators)]
        pairs = _pairs(own, _parent_dates(table, model, config, closing)) if own else []
        if not pairs:
            continue
        name = stat_name(table_name, "order")
        proposal.src_stats.append(stat_entry(name, _order_query(sql, table, pairs, own),
                                        count_column=srcstats.COUNT,
                                        comment=_order_comment(table, own, pairs)))
        parents = {a.name: {"fk": list(a.fk.columns), "column": a.column.name}
                   for _, a in pairs if a.fk is not None}
        kwargs: dict[str, Any] = {"pairs": [[b.name, a.name] for b, a in pairs]}
        if parents:
            kwargs["parents"] = parents
        moved = _move_out(generators, {d.name for d in own})
        moved.append(gen_entry(ORDER, name, [d.name for d in own], **kwargs))
        proposal.row_generators[table_name] = moved
    _children_summaries(sql, model, config, proposal, facts or {})
