"""Foreign-key values: drawn from the key pools at random, per parent in the source's
distribution (children_per_parent, queued for the pass), or without replacement for a
one-to-one key (a foreign key whose columns are also a unique key), whose parents are drawn
from those no row holds yet (hashes of the keys taken); a nullable one is left NULL once the
parents run out. Stand-ins hold a NOT NULL one-to-one key until its cycle is closed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from synthgate_shared.db import mask_dsn
from synthgate_shared.errors import SynthgateError

from synthgate_builder.dist_children import (
    children_from_counts,
    children_from_share,
    distinct_pairs,
)
from synthgate_builder.distributions import children_per_parent
from synthgate_builder.populate.context import Context
from synthgate_builder.populate.keys import FreeParents, Queue, key_hashes
from synthgate_builder.populate.plan import Children, FkMode, FkPlan, Rows, TablePlan, sampler


class KeyDrawer:
    """Draws the values of foreign keys for a run (``ctx``)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def queue_children(self, plan: TablePlan, total: int) -> None:
        """Foreign keys of this pass's ``total`` rows for each children_per_parent key:
        children per parent as in the source, over the parents made in this pass (or the
        whole pool when the parent made none, e.g. a vocabulary table), NULLs in the
        source's share; a small parent table's children of each parent win over both."""
        rng = self.ctx.rng
        for f in plan.fks:
            if f.children is None:
                continue
            nonnull = round(total * f.children.nonnull_share)
            keys = self._children_keys(plan, f, f.children, total, nonnull)
            if nonnull < total:
                order = rng.permutation(total).tolist()
                padded = [c + [None] * (total - nonnull) for c in keys]
                keys = [[c[i] for i in order] for c in padded]
            self.ctx.keys.queues[f] = Queue(keys)
        self._pair_children(plan)

    def _pair_children(self, plan: TablePlan) -> None:
        """A unique key made of two children_per_parent foreign keys, such as
        ``playlist_track (playlist_id, track_id)``: the second key's queued values reordered
        so that no pair repeats and both keep their children per parent (``distinct_pairs``;
        without such an order the clashes are swapped apart as before)."""
        queues = self.ctx.keys.queues
        queued = [f for f in plan.fks if f.children is not None and f in queues]
        for unique in plan.uniques:
            for i, a in enumerate(queued):
                for b in queued[i + 1:]:
                    if set(unique.key[1]) != set(a.fk.columns) | set(b.fk.columns):
                        continue
                    first = list(zip(*queues[a].columns, strict=True))
                    second = list(zip(*queues[b].columns, strict=True))
                    if any(None in k for k in (*first, *second)):
                        continue
                    order = distinct_pairs(first, second, self.ctx.rng)
                    if order is not None:
                        queues[b].columns = [[c[j] for j in order] for c in queues[b].columns]

    def _children_keys(self, plan: TablePlan, f: FkPlan, spec: Children, total: int,
                       nonnull: int) -> list[list[Any]]:
        """The ``nonnull`` keys of a children_per_parent foreign key, one list per column."""
        rng = self.ctx.rng
        pool = self.ctx.keys.pools[f.pool]
        first = self.ctx.keys.pass_start.get(f.pool, 0)
        parents = range(first if first < len(pool) else 0, len(pool))
        if parents and nonnull and spec.per_parent is not None:
            index = children_from_counts(
                list(zip(*pool.rows(np.array(parents, dtype=np.int64)), strict=True)),
                rng, spec.per_parent, nonnull, f.fk.columns, keyed=spec.keyed,
                source_parents=spec.parents_total, shape=spec.results,
                min_count=spec.min_count, stat_name=spec.stat)
            return pool.rows(np.array(index, dtype=np.int64) + parents.start)
        if parents and nonnull and spec.results is not None:
            index = children_per_parent(parents, rng, spec.results, total=nonnull,
                                        stat_name=spec.stat,
                                        parents_total=spec.parents_total,
                                        min_count=spec.min_count)
            return pool.rows(np.array(index, dtype=np.int64))
        if parents and nonnull and spec.summary is not None:
            index = children_from_share(parents, rng, spec.summary, nonnull,
                                        stat_name=spec.stat)
            return pool.rows(np.array(index, dtype=np.int64))
        if nonnull:
            return self.draw(plan, f, nonnull)
        return [[] for _ in f.fk.columns]

    def draw(self, plan: TablePlan, f: FkPlan, n: int) -> list[list[Any]]:
        """``n`` keys drawn at random from the whole pool, one list per column."""
        pool = self.ctx.keys.pools[f.pool]
        if not pool:
            if f.nullable:
                return [[None] * n for _ in f.fk.columns]
            label = f.fk.name or f"({', '.join(f.fk.columns)})"
            ref = f.fk.ref_table
            fix = ("run create-vocab first" if self.ctx.config.table(ref).vocabulary_table
                   else f"give {ref} num_rows_per_pass > 0, or make the columns nullable")
            raise SynthgateError(
                f"foreign key {label} of table {plan.name} needs rows of table {ref}, "
                "which has none", where=mask_dsn(self.ctx.engine.url), fix=fix)
        return pool.rows(self.ctx.rng.integers(0, len(pool), size=n))

    def keys_for(self, plan: TablePlan, f: FkPlan, n: int) -> list[list[Any]]:
        """``n`` values of a foreign key that is not queued, by its mode."""
        if f.mode is FkMode.NULL or (f.mode is FkMode.LATER and f.nullable):
            return [[None] * n for _ in f.fk.columns]
        if f.mode is FkMode.LATER and f.unique is not None:
            return self._stand_ins(plan, f, n)
        if f.unique is not None:
            return self.distinct(plan, f, n)
        if f.mode is FkMode.LATER and not self.ctx.keys.pools[f.pool]:
            # deferred NOT NULL with no parent yet: a placeholder
            dialect = self.ctx.engine.dialect.name
            return [sampler(self.ctx.plan.model, dialect, plan.table, c).sample(n, self.ctx.rng)
                    for c in f.fk.columns]
        return self.draw(plan, f, n)

    @staticmethod
    def unique_hashes(f: FkPlan, columns: Sequence[Sequence[Any]]
                      ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
        """``key_hashes`` of one-to-one key values given in the foreign key's column order,
        hashed in the order of its unique key (as the table's values are read)."""
        assert f.unique is not None
        return key_hashes([columns[f.fk.columns.index(c)] for c in f.unique.key[1]])

    def _free_parents(self, f: FkPlan) -> FreeParents:
        """The parents of a one-to-one key that no row holds, the pool's new rows included
        (parent keys are distinct: only the new ones and, after a story, all are looked up)."""
        parents = self.ctx.keys.parents[f]
        pool = self.ctx.keys.pools[f.pool]
        if parents.upto < len(pool):
            new = np.arange(parents.upto, len(pool), dtype=np.int64)
            hashes = self.unique_hashes(f, pool.rows(new))[1]
            free = ~parents.taken.hits(hashes)
            parents.index = np.concatenate([parents.index, new[free]])
            parents.hashes = np.concatenate([parents.hashes, hashes[free]])
            parents.upto = len(pool)
        if parents.stale:
            free = ~parents.taken.hits(parents.hashes)
            parents.index, parents.hashes = parents.index[free], parents.hashes[free]
            parents.stale = False
        return parents

    def _short(self, plan: TablePlan, f: FkPlan, parents: FreeParents, n: int, k: int) -> None:
        """Fewer free parents (``k``) than rows (``n``): a NOT NULL key stops the pass, a
        nullable one gets a note (once)."""
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
            self.ctx.notes.append(f"{plan.name}.{', '.join(f.fk.columns)}: {what}; the other "
                                  "rows were left NULL")

    def distinct(self, plan: TablePlan, f: FkPlan, n: int) -> list[list[Any]]:
        """``n`` keys of a one-to-one foreign key, one list per column: parents no row holds,
        drawn without replacement from the whole pool. When fewer are free, random rows get
        them and the others NULL; a NOT NULL key stops the pass instead."""
        rng = self.ctx.rng
        parents = self._free_parents(f)
        k = min(n, len(parents.index))
        if k < n:
            self._short(plan, f, parents, n, k)
        pick = rng.choice(len(parents.index), size=k, replace=False) if k \
            else np.empty(0, dtype=np.int64)
        drawn = self.ctx.keys.pools[f.pool].rows(parents.index[pick])
        parents.remove(pick)
        if k == n:
            return drawn
        out: list[list[Any]] = [[None] * n for _ in f.fk.columns]
        for i, row in zip(rng.choice(n, size=k, replace=False).tolist(),
                          zip(*drawn, strict=True), strict=True):
            for column, value in zip(out, row, strict=True):
                column[i] = value
        return out

    def _stand_ins(self, plan: TablePlan, f: FkPlan, n: int) -> list[list[Any]]:
        """Values for a NOT NULL one-to-one key until its cycle is closed: distinct, and none
        a key that a row holds, as the unique key is checked at once (the foreign key at
        commit). They come from one sequence of distinct values per run, so they never
        repeat the stand-ins still in the table."""
        assert f.unique is not None
        rng = self.ctx.rng
        dialect = self.ctx.engine.dialect.name
        samplers = self.ctx.keys.stand_ins.setdefault(
            f, [sampler(self.ctx.plan.model, dialect, plan.table, c) for c in f.fk.columns])
        first = f.fk.columns.index(f.unique.key[1][0])
        taken = self.ctx.keys.parents[f].taken
        out: list[list[Any]] = [[] for _ in f.fk.columns]
        for _ in range(self.ctx.tries):
            need = n - len(out[0])
            if not need:
                break
            drawn = [s.sample_unique(need, rng) if j == first else s.sample(need, rng)
                     for j, s in enumerate(samplers)]
            rows, hashes = self.unique_hashes(f, drawn)
            keep = rows[~taken.hits(hashes)].tolist()
            for column, values in zip(out, drawn, strict=True):
                column += [values[i] for i in keep]
        if len(out[0]) < n:
            raise SynthgateError(
                f"cannot find {n} stand-in values for foreign key ({', '.join(f.fk.columns)}) "
                f"of table {plan.name} that no row holds", where=f"table {plan.name}",
                fix="raise max-unique-constraint-tries")
        return out

    def take(self, plan: TablePlan, values: Rows, presets: list[dict[str, Any]] | None,
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
            rows: Sequence[int] = range(n) if f.mode is FkMode.DRAW else [
                i for i in given if columns <= gave[i]]
            if rows:
                parents = self.ctx.keys.parents[f]
                parents.taken.add(self.unique_hashes(f, [[values[c][i] for i in rows]
                                                         for c in f.fk.columns])[1])
                parents.stale = parents.stale or bool(given)
