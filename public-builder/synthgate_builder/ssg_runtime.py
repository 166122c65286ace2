"""The run-time library that a rendered ``ssg.py`` imports, and what ``create-data`` reads of
its calls: result rows, unique draws, built-in distributions, the statistics binding and the
errors of a row generator.

``ssg.py`` holds code, not data: its ``SRC_STATS = given_stats()`` takes the statistics that
the loader (``ssg_load``) binds while the file runs, from the verified bundle or the files
given to the command.
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import dataclasses
import inspect
import textwrap
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
from synthgate_shared.config import Config
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import Table

from synthgate_builder.dist_children import children_per_parent
from synthgate_builder.dist_common import StatsUnavailable
from synthgate_builder.distributions import CHILDREN, run_builtin
from synthgate_builder.ssgcheck import callee_code

# the statistics an ssg.py being loaded takes (set only while ``ssg_load`` runs the file)
_GIVEN: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "synthgate_src_stats", default=None)


def assign_columns(value: Any, table: str, generator: str,
                   columns: tuple[str, ...]) -> dict[str, Any]:
    """Map a row generator's return value onto ``columns``; a wrong count is a clear error."""
    if len(columns) == 1:
        return {columns[0]: value}
    if not isinstance(value, tuple | list) or len(value) != len(columns):
        got = f"{len(value)} values" if isinstance(value, tuple | list) else "one value"
        raise SynthgateError(
            f"row generator {generator} returned {got} for the {len(columns)} columns "
            f"({', '.join(columns)}) of columns_assigned",
            where=f"table {table}",
            fix="return a tuple with one value per column, in the order of columns_assigned",
        )
    return dict(zip(columns, value, strict=True))


class StatsRow(dict[str, Any]):
    """A result row of ``SRC_STATS``: a dict by column name that also takes an integer index
    in column order, as SqlSynthGen's rows did (``row["n"]`` and ``row[0]``)."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int) and not isinstance(key, bool) and key not in self:
            values = list(self.values())
            if -len(values) <= key < len(values):
                return values[key]
            raise IndexError(f"row index {key} is out of range: the row has {len(values)} "
                             f"column(s) ({', '.join(map(str, self))})")
        return super().__getitem__(key)


def stats_results(src_stats: Mapping[str, Any]) -> dict[str, Any]:
    """``SRC_STATS`` as SqlSynthGen has it: each src-stats name -> its results list."""
    out: dict[str, Any] = {}
    for name, entry in (src_stats or {}).items():
        out[str(name)] = entry.get("results", []) if isinstance(entry, dict) else entry
    return out


def indexed_rows(results: Mapping[str, Any]) -> dict[str, Any]:
    """Results (name -> rows) with each row (a mapping) as a ``StatsRow``."""
    return {name: [StatsRow(r) if isinstance(r, dict) else r for r in rows]
            if isinstance(rows, list) else rows for name, rows in results.items()}


@contextlib.contextmanager
def giving_stats(results: dict[str, Any]) -> Iterator[None]:
    """Let ``given_stats`` return ``results`` inside the block (the loader runs ssg.py here)."""
    token = _GIVEN.set(results)
    try:
        yield
    finally:
        _GIVEN.reset(token)


def given_stats() -> dict[str, Any]:
    """The statistics an ``ssg.py`` runs with: each src-stats name -> its results, rows as
    ``StatsRow``. Only the loader gives them; a plain ``import ssg`` is refused."""
    results = _GIVEN.get()
    if results is None:
        raise SynthgateError(
            "ssg.py takes its statistics from create-data, and none were given",
            where="ssg.py", fix="run it with synthgate-builder create-data (or load it with "
            "synthgate_builder.ssg_load.load_ssg)")
    return results


class UniqueDraws:
    """A Mimesis method that config.yaml gives ``unique: true``, called without it (so its
    values come from the seeded ``generic``): a value that repeats one made before in the run
    is drawn again, up to ``max_tries`` times in a row. The values made are kept as 64-bit
    hashes (two values with the same hash only cost a draw)."""

    def __init__(self, method: Callable[..., Any], where: str,
                 max_tries: int = Config().max_unique_constraint_tries) -> None:
        self.method = method
        self.where = where
        self.max_tries = max_tries
        self.made: set[int] = set()

    def restart(self, max_tries: int) -> None:
        """Start a run: forget the values made and allow ``max_tries`` draws per value."""
        self.made.clear()
        self.max_tries = max_tries

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for _ in range(self.max_tries):
            value = self.method(*args, **kwargs)
            key = hash(value)
            if key not in self.made:
                self.made.add(key)
                return value
        name = getattr(self.method, "__qualname__", repr(self.method))
        raise SynthgateError(
            f"{name} with unique: true repeated a value {self.max_tries} times in a row "
            f"(after {len(self.made)} distinct values)", where=self.where,
            fix="give it more values to draw from (e.g. more domains), lower "
            "num_rows_per_pass, or raise max-unique-constraint-tries")


@dataclasses.dataclass(frozen=True)
class Distribution:
    """A built-in ``synthgate.*`` generator of a table as ``ssg.py`` lists it: ``create-data``
    calls it once per batch of rows with ``SRC_STATS[stat]``, the columns and their types.
    ``available`` is False when the loader found the statistic without rows (the defaults
    fill its columns then); ``ssg.py`` never writes it."""

    name: str
    columns: tuple[str, ...]
    stat: str
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    available: bool = dataclasses.field(default=True, repr=False)


def distribution_available(dist: Distribution, table: Table, stats: Any) -> bool:
    """A trial call of the built-in for one row with its statistic: False when the statistic
    has no rows left (all suppressed); a statistic of the wrong shape, or kwargs that do not
    fit, is an error. The renderer checks with it, and the loader once per run."""
    rng = np.random.default_rng(0)  # a trial must not move the run's generator
    try:
        if dist.name == CHILDREN:
            children_per_parent([], rng, stats, stat_name=dist.stat)
        else:
            run_builtin(dist.name, 1, rng, stats=stats, columns=dist.columns,
                        types=[table.column(c).type for c in dist.columns], stat_name=dist.stat,
                        **dist.kwargs)
    except StatsUnavailable:
        return False
    except TypeError as exc:
        raise SynthgateError(f"{dist.name}: the kwargs do not fit ({exc})",
                             where=f"table {table.name}, column(s) {', '.join(dist.columns)}",
                             fix="correct kwargs in config.yaml") from None
    return True


def _statement_columns(stmt: ast.stmt) -> list[str] | None:
    """The columns a row function statement assigns (``row[c] = ...`` or
    ``row.update(assign_columns(..., columns))``); None for any other statement."""
    if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Subscript)
            and isinstance(stmt.targets[0].slice, ast.Constant)):
        return [str(stmt.targets[0].slice.value)]
    if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and stmt.value.args and isinstance(stmt.value.args[0], ast.Call)
            and len(stmt.value.args[0].args) == 4):
        with contextlib.suppress(ValueError):
            return [str(c) for c in ast.literal_eval(stmt.value.args[0].args[3])]
    return None


def failed_columns(exc: BaseException, row_fn: Callable[..., Any]) -> list[str] | None:
    """The columns whose generator call in ``row_fn`` (a row function of ``ssg.py``) raised
    ``exc``; None when the traceback or the function's source does not tell."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code is row_fn.__code__:
            line = tb.tb_lineno
        tb = tb.tb_next
    try:
        source, first = inspect.getsourcelines(row_fn)
    except (OSError, TypeError):
        return None
    if line is None:
        return None
    func = ast.parse(textwrap.dedent("".join(source))).body[0]
    assert isinstance(func, ast.FunctionDef)
    for stmt in func.body:
        end = stmt.end_lineno or stmt.lineno
        if stmt.lineno + first - 1 <= line <= end + first - 1:
            return _statement_columns(stmt)
    return None


def row_generator_error(exc: Exception, row_fn: Callable[..., Any], table: str,
                        config: Config) -> SynthgateError:
    """One line for a row generator of ``table`` that raised ``exc``: the column(s), the
    generator as config.yaml names it (module-qualified) and the exception."""
    columns = failed_columns(exc, row_fn)
    gen = next((g for g in config.table(table).row_generators if g.columns == columns), None)
    if columns is None or gen is None:
        return SynthgateError(
            f"a row generator of table {table} failed ({type(exc).__name__}: {exc})",
            where="ssg.py", fix="check the row generators of this table in config.yaml")
    name = callee_code(gen.name, config.row_generators_module)
    return SynthgateError(f"generator {name} failed: {type(exc).__name__}: {exc}",
                          where=", ".join(f"{table}.{c}" for c in columns))
