"""Story generators: each yields ``(table, partial row)`` pairs and is sent each inserted row
back. All stories of a pass run side by side after the tables' rows: each round inserts the
rows they yielded, one multi-row ``INSERT ... RETURNING`` per table, so their rows go in in
batches too."""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import typing
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection
from synthgate_shared.errors import SynthgateError

from synthgate_builder.fit import story_source

if TYPE_CHECKING:
    from synthgate_builder.populate.passes import Run

_StoryGen = Generator[tuple[str, dict[str, Any]], dict[str, Any], None]


@dataclasses.dataclass
class _Story:
    name: str
    gen: _StoryGen
    table: str = ""
    partial: dict[str, Any] = dataclasses.field(default_factory=dict)


class Stories:
    """Runs all stories of a pass side by side: each round inserts the rows they yielded,
    one multi-row ``INSERT ... RETURNING`` per table, and sends every row back."""

    def __init__(self, run: Run, conn: Connection) -> None:
        self.run_ = run
        self.conn = conn
        module = run.ctx.config.story_generators_module
        self.sources = {s.name: story_source(s.name, module)
                        for s in run.ctx.config.story_generators}

    def _start(self) -> list[_Story]:
        functions = self.run_.ctx.ssg.story_generators
        stories: list[_Story] = []
        for i, conf in enumerate(self.run_.ctx.config.story_generators):
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
        plan = self.run_.ctx.plan
        if table not in plan.tables:
            close = difflib.get_close_matches(table, list(plan.model.tables), n=1)
            why = ("is ignored or a vocabulary table" if table in plan.model.tables
                   else "is not a table of orm.yaml")
            raise SynthgateError(f"story generator {name} yielded a row for table {table!r}, "
                                 f"which {why}", where="story_generators",
                                 fix=f"did you mean {close[0]!r}?" if close and close[0]
                                 != table else "yield rows of generated tables only")
        columns = plan.model.table(table).column_names
        for column in partial:
            if column not in columns:
                close = difflib.get_close_matches(str(column), columns, n=1)
                raise SynthgateError(
                    f"story generator {name} yielded column {column!r}, which table {table} "
                    "does not have", where="story_generators",
                    fix=f"did you mean {close[0]!r}?" if close else None)
        return table, partial

    def run(self) -> None:
        """Run the pass's stories to their end, a round of rows at a time."""
        active = self._start()
        position = {n: i for i, n in enumerate(self.run_.ctx.plan.order)}
        while active:
            by_table: dict[str, list[_Story]] = {}
            for story in active:
                by_table.setdefault(story.table, []).append(story)
            still: list[_Story] = []
            for table in sorted(by_table, key=position.__getitem__):
                group = by_table[table]
                plan = self.run_.ctx.plan.tables[table]
                presets = [s.partial for s in group]
                plan.fit.rows(presets, [self.sources[s.name] for s in group],
                              self.run_.ctx.rng)
                values = self.run_.filler.fill(plan, self.conn, len(group), presets)
                back = self.run_.add_rows(self.conn, plan, values, plan.table.column_names,
                                          presets, n=len(group))
                assert back is not None
                still += [s for s, row in zip(group, back, strict=True)
                          if self._advance(s, row)]
            active = still


def _story_error(name: str, exc: Exception) -> SynthgateError:
    return SynthgateError(f"story generator {name} failed ({type(exc).__name__}: {exc})",
                          where="story_generators", fix="check the story generator's code")
