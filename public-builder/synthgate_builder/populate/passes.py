"""The pass loop: each pass fills every generated table, parents first (``table_order``), a
batch at a time, then runs the stories, then closes the cycles; each pass is one transaction
(``api.create_data``), so an interrupted run keeps whole passes only."""

from __future__ import annotations

from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from synthgate_shared.config import Config
from synthgate_shared.db import mask_dsn
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel

from synthgate_builder.populate.context import Context
from synthgate_builder.populate.cycles import CycleCloser
from synthgate_builder.populate.filler import BatchFiller
from synthgate_builder.populate.plan import Rows, TablePlan, build_plan
from synthgate_builder.populate.state import load_state
from synthgate_builder.populate.stories import Stories
from synthgate_builder.populate.writers import writer_for
from synthgate_builder.sequences import advance_sequences
from synthgate_builder.ssg_load import SsgModule

BATCH_ROWS = 10_000


class Run:
    """One ``create_data`` run: its shared context, the filler, the cycle closer and the
    rows inserted per table."""

    def __init__(self, engine: Engine, model: OrmModel, config: Config, ssg: SsgModule,
                 seed: int | None, schema: str | None, scale: float | None = None) -> None:
        notes: list[str] = []
        writer = writer_for(engine, schema)
        rng = np.random.default_rng(seed)
        plan = build_plan(model, config, ssg, engine.dialect.name, schema, scale,
                          can_defer=writer.can_defer, notes=notes)
        self.ctx = Context(engine, config, ssg, ssg.src_stats, plan, writer,
                           rng, notes)
        self.schema = schema
        self.filler = BatchFiller(self.ctx)
        self.cycles = CycleCloser(self.ctx, self.filler.drawer)
        self.rows: dict[str, int] = dict.fromkeys(plan.generated, 0)

    def load_state(self, conn: Connection) -> None:
        """Read key pools, existing unique keys and counter starts from the destination."""
        present = set(sa.inspect(conn).get_table_names(schema=self.schema))
        plan = self.ctx.plan
        missing = [n for n in plan.order
                   if n not in present and not self.ctx.config.table(n).ignore]
        if missing:
            raise SynthgateError(
                f"{len(missing)} table(s) of orm.yaml do not exist in the destination "
                f"({', '.join(missing[:5])}{'...' if len(missing) > 5 else ''})",
                where=mask_dsn(self.ctx.engine.url), fix="run create-tables first",
            )
        self.ctx.keys = load_state(conn, plan)

    def add_rows(self, conn: Connection, plan: TablePlan, values: Rows, returning: list[str],
                 presets: list[dict[str, Any]] | None = None, *,
                 n: int) -> list[dict[str, Any]] | None:
        """Insert a filled batch of ``n`` rows (``values`` has no column when the database
        fills them all) and record its keys and its pending foreign keys."""
        back = self.ctx.writer.insert(conn, plan, values, returning, n)
        self.rows[plan.name] += n
        self._remember(plan, values, back)
        self.filler.drawer.take(plan, values, presets, n)
        self.cycles.add_pending(plan, values, back, presets, n)
        return back

    def _remember(self, plan: TablePlan, values: Rows,
                  back: list[dict[str, Any]] | None) -> None:
        """Add the inserted rows to the key pools of their table."""
        for key, pool in self.ctx.keys.pools.items():
            if key[0] != plan.name:
                continue
            keys = [values[c] if c in values and not (back and c in back[0])
                    else [row.get(c) for row in back or []] for c in key[1]]
            pool.add(keys)
            attributes = self.ctx.keys.attributes.get(key)
            if attributes is not None:
                attributes.add(keys, {c: values[c] for c in attributes.columns if c in values})

    def run_pass(self, conn: Connection) -> None:
        """Generate one pass: every table's rows, then the stories, then close cycles."""
        ctx, writer = self.ctx, self.ctx.writer
        ctx.keys.pass_start = {key: len(pool) for key, pool in ctx.keys.pools.items()}
        writer.begin_pass(conn, ctx.plan)
        try:
            for name in ctx.plan.generated:
                self._fill_table(conn, ctx.plan.tables[name], ctx.plan.rows_per_pass[name])
            writer.settle()
        finally:  # after an error too: the rollback must not start while a COPY runs
            writer.abandon()
        ctx.keys.queues.clear()
        Stories(self, conn).run()
        self.cycles.close(conn)
        if ctx.explicit_keys:
            advance_sequences(conn, ctx.plan.model, sorted(ctx.explicit_keys), self.schema)
            ctx.explicit_keys.clear()

    def _fill_table(self, conn: Connection, plan: TablePlan, left: int) -> None:
        """The pass's ``left`` rows of one table, a batch at a time."""
        self.filler.drawer.queue_children(plan, left)
        while left > 0:
            n = min(left, BATCH_ROWS)
            values = self.filler.fill(plan, conn, n)
            returning = self.ctx.writer.reserve_keys(conn, plan, values, n, left)
            self.add_rows(conn, plan, values, returning, n=n)
            left -= n
