"""Filling a batch: values for ``n`` rows of a table, column-major, in this order of
precedence: a story's partial row, the row function of ``ssg.py``, the key pools (foreign
keys), a counter (integer primary keys) and the default generators. Then each nullable
column gets the source's NULL share (``<c>__nonnull`` of the profile), whatever filled it,
once per batch; built-in distributions (their statistics hold the NULLs), foreign keys and
row generators with ``null-share: false`` are left as they are. The values are fitted to
their columns (``fit.py``) and the rows breaking a unique key made again (``unique.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection
from synthgate_shared.errors import SynthgateError

from synthgate_builder.distributions import run_builtin
from synthgate_builder.populate.context import Context
from synthgate_builder.populate.draws import KeyDrawer
from synthgate_builder.populate.plan import Dist, FkPlan, Rows, TablePlan
from synthgate_builder.populate.unique import UniqueRepair
from synthgate_builder.ssg_runtime import row_generator_error


class BatchFiller:
    """Makes the batches of a run (``ctx``)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.drawer = KeyDrawer(ctx)
        self.repair = UniqueRepair(ctx, self)

    def fill(self, plan: TablePlan, conn: Connection, n: int,
             presets: list[dict[str, Any]] | None = None) -> Rows:
        """Values for ``n`` rows of ``plan`` (story ``presets`` win), unique keys kept."""
        columns = list(plan.fill)
        if presets:
            extra = {c for p in presets for c in p if c not in columns}
            columns += [c for c in plan.table.column_names if c in extra]
        values: Rows = {c: [None] * n for c in columns}
        self._generated(plan, values, n)
        given: set[str] = set()  # columns a row function or a story gave values to
        if plan.row_fn is not None:
            for i in range(n):
                row = self.call_row_fn(plan, conn)
                given.update(row)
                _set_row(values, n, i, row)
        for column, share in plan.null_shares.items():  # once, whatever filled the column
            target = values[column]
            # exactly the share (rounded) of each batch, not a coin per row: small tables too
            for i in self.ctx.rng.choice(n, size=round(n * share), replace=False).tolist():
                target[i] = None
        if presets:
            for i, preset in enumerate(presets):
                given.update(preset)
                _set_row(values, n, i, preset)
            if any(c in plan.db_filled for c in values):
                self.ctx.explicit_keys.add(plan.name)
        plan.fit.batch(values, self.ctx.rng)
        self.repair.keep_unique(plan, conn, values, presets, given)
        return values

    def _generated(self, plan: TablePlan, values: Rows, n: int) -> None:
        """The values of the default generators, built-in distributions, the counter and
        foreign keys; distributions that read parents' columns after the keys are drawn."""
        for column in plan.samplers:
            if column not in plan.rowgen_columns:
                values[column] = self.samples(plan, column, n)
        for dist in plan.dists:
            if not dist.parents:
                values.update(zip(dist.dist.columns, self.dist_values(dist, n), strict=True))
        if plan.counter:
            start = self.ctx.keys.counters[plan.name]
            values[plan.counter] = list(range(start, start + n))
            self.ctx.keys.counters[plan.name] = start + n
        for f in plan.fks:
            self.fill_fk(plan, f, values, range(n), queued=True)
        for dist in plan.dists:  # those that read the parents of the keys just drawn
            if dist.parents:
                values.update(zip(dist.dist.columns, self.dist_values(dist, n, values),
                                  strict=True))

    def call_row_fn(self, plan: TablePlan, conn: Connection) -> dict[str, Any]:
        """One row of the table's row function (the COPY in flight waits when it may use
        the connection); its errors name the function."""
        assert plan.row_fn is not None
        if plan.row_uses_conn:
            self.ctx.writer.settle()
        try:
            return plan.row_fn(conn)
        except SynthgateError:
            raise
        except Exception as exc:
            raise row_generator_error(exc, plan.row_fn, plan.name, self.ctx.config) from exc

    def dist_values(self, dist: Dist, n: int, values: Rows | None = None) -> list[list[Any]]:
        """One batch of a built-in distribution: a list of ``n`` values per column. One
        that reads parents' columns is given them for the foreign keys in ``values``
        (without ``values``, as for a row made again, it is given none)."""
        d = dist.dist
        given = {"given": self._parent_values(dist, values)} if dist.parents and values \
            else {}
        return run_builtin(d.name, n, self.ctx.rng, stats=dist.stats, columns=d.columns,
                           types=dist.types, stat_name=d.stat, **d.kwargs, **given)

    def _parent_values(self, dist: Dist, values: Rows) -> dict[str, list[Any]]:
        """For each parent column a distribution reads, the value of each row's parent."""
        attributes = self.ctx.keys.attributes
        return {ref: attributes[f.pool].lookup([values[c] for c in f.fk.columns])[column]
                for ref, (f, column) in dist.parents.items()}

    def samples(self, plan: TablePlan, column: str, n: int) -> list[Any]:
        """Default values; distinct ones (past the existing keys) for a unique column."""
        unique = plan.distinct.get(column)
        if unique is None:
            return plan.samplers[column].sample(n, self.ctx.rng)
        try:
            return plan.samplers[column].sample_unique(
                n, self.ctx.rng, exclude=self.ctx.keys.exclude.get(unique.key))
        except SynthgateError as exc:
            raise SynthgateError(f"cannot keep {unique.name} ({column}) of table {plan.name}: "
                                 f"{exc.what}", where=f"table {plan.name}", fix=exc.fix) from None

    def fill_fk(self, plan: TablePlan, f: FkPlan, values: Rows, rows: Sequence[int],
                queued: bool = False) -> None:
        """Foreign-key values for ``rows`` of the batch: the pass's queued keys first (then
        the pool, for rows beyond the pass's count), else by the key's mode."""
        n = len(rows)
        queue = self.ctx.keys.queues.get(f) if queued else None
        drawn: list[list[Any]]
        if queue is not None:
            drawn = queue.take(n)
            if len(drawn[0]) < n:  # rows beyond the pass's count (stories): from the pool
                more = self.drawer.draw(plan, f, n - len(drawn[0]))
                drawn = [a + b for a, b in zip(drawn, more, strict=True)]
        else:
            drawn = self.drawer.keys_for(plan, f, n)
        for column, drawn_values in zip(f.fk.columns, drawn, strict=True):
            if column in plan.rowgen_columns:
                continue
            if len(rows) == len(values[column]):  # the whole batch, in order
                values[column] = drawn_values
                continue
            target = values[column]
            for i, value in zip(rows, drawn_values, strict=True):
                target[i] = value


def _set_row(values: Rows, n: int, i: int, row: dict[str, Any]) -> None:
    """Put ``row``'s values in row ``i`` of a batch of ``n`` rows (new columns start None)."""
    for column, value in row.items():
        target = values.get(column)
        if target is None:
            target = values[column] = [None] * n
        target[i] = value
