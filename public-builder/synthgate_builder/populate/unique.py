"""Unique repair: the rows of a batch that break a unique key (a value of the table or of an
earlier row of the batch, by 64-bit hashes) get their key columns made again, up to the
configured tries; a children_per_parent foreign key swaps its values with other rows of the
batch instead, so every parent keeps its number of children."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.engine import Connection
from synthgate_shared.errors import SynthgateError

from synthgate_builder.populate.context import Context
from synthgate_builder.populate.keys import key_hashes, repeats
from synthgate_builder.populate.plan import FkMode, FkPlan, Rows, TablePlan, UniqueKey
from synthgate_builder.populate.state import load_hashes

if TYPE_CHECKING:
    from synthgate_builder.populate.filler import BatchFiller


class UniqueRepair:
    """Keeps the unique keys of the batches a filler makes."""

    def __init__(self, ctx: Context, filler: BatchFiller) -> None:
        self.ctx = ctx
        self.filler = filler

    def _checked(self, plan: TablePlan, conn: Connection, given: set[str]) -> list[UniqueKey]:
        """The unique keys of ``plan`` to check in a batch. A key unique by construction is
        checked from the first batch where a story or a row function gave a value to one of
        the columns that make it unique: its values are read from the table then."""
        out = []
        for unique in plan.uniques:
            if unique.key not in self.ctx.keys.seen:
                if not unique.made & given:
                    continue
                self.ctx.writer.settle()
                self.ctx.keys.seen[unique.key] = load_hashes(conn, self.ctx.plan, unique.key)
            out.append(unique)
        return out

    def keep_unique(self, plan: TablePlan, conn: Connection, values: Rows,
                     presets: list[dict[str, Any]] | None, given: set[str]) -> None:
        """Regenerate the values of rows that break a unique key, up to the configured tries."""
        checked = self._checked(plan, conn, given)
        tries = 0
        while True:
            unique, rows, hashes = self._first_clash(checked, values)
            if unique is None:
                break
            tries += 1
            exhausted = tries > self.ctx.tries
            if exhausted or not self._regenerate(plan, conn, values, unique, rows, presets):
                shown = ", ".join(unique.key[1])
                why = (f"after {self.ctx.tries} tries" if exhausted
                       else "and a story generator gave the values")
                raise SynthgateError(
                    f"cannot keep {unique.name} ({shown}) of table {plan.name}: "
                    f"{len(rows)} row(s) still repeat a value {why}",
                    where=f"table {plan.name}",
                    fix="give these columns a generator with more distinct values, lower "
                    "num_rows_per_pass, or raise max-unique-constraint-tries",
                )
        for unique, batch in zip(checked, hashes, strict=True):
            self.ctx.keys.seen[unique.key].add(batch)

    def _first_clash(self, checked: list[UniqueKey], values: Rows
                     ) -> tuple[UniqueKey | None, list[int], list[npt.NDArray[np.int64]]]:
        """The first unique key the batch breaks and its rows that repeat a value (of the
        table or of an earlier row); with none, the hashes of each key's values."""
        hashes = []
        for unique in checked:
            rows, batch = key_hashes([values[c] for c in unique.key[1]])
            clashes = rows[self.ctx.keys.seen[unique.key].hits(batch) | repeats(batch)]
            if len(clashes):
                return unique, clashes.tolist(), []
            hashes.append(batch)
        return None, [], hashes

    def _regenerate(self, plan: TablePlan, conn: Connection, values: Rows, unique: UniqueKey,
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
                fresh = self.filler.dist_values(dist, len(free))[dist.dist.columns.index(column)]
                for i, v in zip(free, fresh, strict=True):
                    values[column][i] = v
            elif column in plan.rowgen_columns:
                for i in free:
                    values[column][i] = self.filler.call_row_fn(plan, conn)[column]
            elif column in plan.samplers:
                for i, v in zip(free, self.filler.samples(plan, column, len(free)), strict=True):
                    values[column][i] = v
            else:
                swapped = self._redraw_keys(plan, values, column, free, presets, swapped)
            changed = True
        plan.fit.batch(values, self.ctx.rng, unique.key[1])
        return changed

    def _redraw_keys(self, plan: TablePlan, values: Rows, column: str, free: list[int],
                     presets: list[dict[str, Any]] | None, swapped: bool) -> bool:
        """New values for the drawn foreign keys over ``column`` of rows ``free``: a
        children_per_parent one swaps (unless one already did), others are drawn again.
        Whether a swap was made (now or before)."""
        for f in plan.fks:
            if column not in f.fk.columns or f.mode is not FkMode.DRAW:
                continue
            if f.children is not None and swapped:
                continue
            if f.children is not None and self._swap(f, values, free, presets):
                swapped = True
            else:
                self.filler.fill_fk(plan, f, values, free)
        return swapped

    def _swap(self, f: FkPlan, values: Rows, rows: list[int],
              presets: list[dict[str, Any]] | None) -> bool:
        """Swap the foreign key of ``rows`` with random other rows of the batch that no story
        fixed; False when there are none to swap with."""
        n = len(values[f.fk.columns[0]])
        partners = [j for j in range(n)
                    if not (presets and any(c in presets[j] for c in f.fk.columns))]
        if len(partners) < 2:
            return False
        for i, j in zip(rows, self.ctx.rng.choice(partners, size=len(rows)).tolist(), strict=True):
            for c in f.fk.columns:
                values[c][i], values[c][j] = values[c][j], values[c][i]
        return True
