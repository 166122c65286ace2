"""SqlSynthGen and datafaker vocabulary in ``config.yaml``, run as written (issue 15).

Render time (``ssg_render`` and ``ssg_args`` call these through small hooks):

- ``resolve_generator``: ``generic.column_value_provider.column_value``/``increment`` and
  datafaker's ``dist_gen.*`` names, to callables whose signatures check the arguments; a
  ``dist_gen`` name synthgate cannot honour is one line naming what to use instead.
- ``References``: the references SqlSynthGen and datafaker put in ``args``/``kwargs``:
  ``orm.<ClassName>`` (sqlacodegen's class name of a table, see ``class_name``),
  ``metadata.tables["t"]``, ``metadata.tables["t"].columns["c"]``, ``orm.<ClassName>.<column>``
  and datafaker's ``SRC_STATS["name"]["results"][0]["key"]``. Each is validated against
  orm.yaml and src-stats and rendered by ``repr`` into a call of a helper below, never pasted.
- ``header_lines``: the lines ``ssg.py`` needs for them, only when the config uses them.

Load time (``ssg_load``): ``check_given_stats`` refuses, in one line, a deep ``SRC_STATS``
reference that the statistics ``ssg.py`` is given do not hold (a suppressed row, say), as the
renderer does for the statistics it had; ``ssg.py`` reads the value from them as it runs.

Run time (``ssg.py`` imports these):

- ``with_compat_providers(generic)`` adds the ``column_value_provider`` and ``dist_gen``
  Mimesis providers to ``generic``; both draw from their Mimesis ``random``, which
  ``create-data --seed`` seeds, so the same seed gives the same values.
- ``dst_table(dst_db_conn, name)`` / ``dst_column(dst_db_conn, table, column)``: the table
  (column) of the destination as a SQLAlchemy object, reflected once per connection.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from mimesis import Generic
from mimesis.providers.base import BaseProvider
from synthgate_shared.config import Config
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel
from synthgate_shared.values import leaves

# names ssg.py imports from this module (ssgcheck allows them and their calls)
RUNTIME_HELPERS = frozenset({"with_compat_providers", "dst_table", "dst_column"})
COLUMN_VALUE = "generic.column_value_provider."
DIST_GEN = "dist_gen."

# --- run time ---------------------------------------------------------------------------------


def dst_table(dst_db_conn: sa.Connection, name: str) -> sa.Table:
    """Table ``name`` of the destination, reflected once per connection."""
    cache: dict[str, sa.Table] = dst_db_conn.info.setdefault("synthgate_compat_tables", {})
    if name not in cache:
        cache[name] = sa.Table(name, sa.MetaData(), autoload_with=dst_db_conn)
    return cache[name]


def dst_column(dst_db_conn: sa.Connection, table: str, column: str) -> sa.Column[Any]:
    """Column ``column`` of table ``table`` of the destination."""
    return dst_table(dst_db_conn, table).c[column]


def _selectable(orm_class: Any) -> sa.Table:
    """A table given as a SQLAlchemy Table or a mapped class (``__table__``)."""
    table = getattr(orm_class, "__table__", orm_class)
    if not isinstance(table, sa.Table):
        raise TypeError(f"expected a table (orm.<ClassName>), got {type(orm_class).__name__}")
    return table


class ColumnValueProvider(BaseProvider):
    """SqlSynthGen's and datafaker's ``generic.column_value_provider``."""

    class Meta:
        """The provider's name in ``generic``."""

        name = "column_value_provider"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counters: dict[tuple[str, str], int] = {}

    def column_value(self, db_connection: Any, orm_class: Any, column_name: str) -> Any:
        """A random value of ``column_name`` among the rows the destination table has so
        far (None when it has none), drawn by a seeded offset in the column's order. The
        values are read again only when the table's row count changed since the last call."""
        table = _selectable(orm_class)
        key = (table.name, column_name)
        cache: dict[tuple[str, str], tuple[sa.Select[Any], int, list[Any]]] = \
            db_connection.info.setdefault("synthgate_compat_values", {})
        if key not in cache:
            cache[key] = (sa.select(sa.func.count()).select_from(table), -1, [])
        count_query, known, values = cache[key]
        count = int(db_connection.execute(count_query).scalar() or 0)
        if count != known:
            column = table.c[column_name]
            values = list(db_connection.execute(sa.select(column).order_by(column)).scalars())
            cache[key] = (count_query, count, values)
        return values[self.random.randrange(len(values))] if values else None

    def increment(self, db_connection: Any, column: Any) -> int:
        """One more than the largest value ``column`` had when first asked, then one more
        than the last value given, as datafaker's ``increment``."""
        key = (column.table.name, column.name)
        if key not in self.counters:
            top = db_connection.execute(sa.select(sa.func.max(column))).scalar()
            self.counters[key] = int(top) if top is not None else 0
        self.counters[key] += 1
        return self.counters[key]


def _zipf_weights(size: int) -> list[float]:
    return [1 / n for n in range(1, size + 1)]


class DistGen(BaseProvider):
    """datafaker's ``dist_gen`` generators, with the same arguments and meaning, drawn from
    this provider's seeded ``random``."""

    class Meta:
        """The provider's name in ``generic``."""

        name = "dist_gen"

    def uniform(self, low: float, high: float) -> float:
        """A value uniform between ``low`` and ``high``."""
        return self.random.uniform(float(low), float(high))

    def uniform_ms(self, mean: float, sd: float) -> float:
        """A uniform value with mean ``mean`` and standard deviation ``sd``."""
        half = math.sqrt(3) * float(sd)
        return self.random.uniform(float(mean) - half, float(mean) + half)

    def normal(self, mean: float, sd: float) -> float:
        """A normal value with mean ``mean`` and standard deviation ``sd``."""
        return self.random.gauss(float(mean), float(sd))

    def lognormal(self, logmean: float, logsd: float) -> float:
        """A log-normal value whose log has mean ``logmean`` and deviation ``logsd``."""
        return self.random.lognormvariate(float(logmean), float(logsd))

    def choice_direct(self, a: list[Any]) -> Any:
        """One item of ``a``, each as likely."""
        return self.random.choice(a)

    def choice(self, a: list[Mapping[str, Any]]) -> Any:
        """The ``value`` of one row of ``a``, each as likely."""
        return self.choice_direct(a).get("value")

    def zipf_choice_direct(self, a: list[Any], n: int | None = None) -> Any:
        """One of the first ``n`` items of ``a`` (most frequent first), the k-th 1/k as
        often as the first."""
        size = len(a) if n is None else min(int(n), len(a))
        return self.random.choices(a[:size], weights=_zipf_weights(size))[0]

    def zipf_choice(self, a: list[Mapping[str, Any]], n: int | None = None) -> Any:
        """``zipf_choice_direct`` of the rows of ``a``, their ``value``."""
        return self.zipf_choice_direct(a, n).get("value")

    def weighted_choice(self, a: list[Mapping[str, Any]]) -> Any:
        """The ``value`` of one row of ``a``, as often as its ``count`` (None for none)."""
        rows = [r for r in a if r.get("count")]
        if not rows:
            return None
        return self.random.choices([r.get("value") for r in rows],
                                   weights=[float(r["count"]) for r in rows])[0]

    def constant(self, value: Any) -> Any:
        """``value``, always."""
        return value

    def _mvn(self, cov: Mapping[str, Any]) -> list[float]:
        rank = int(cov["rank"])
        if rank == 0:
            return []
        mean = np.array([float(cov[f"m{i}"]) for i in range(rank)])
        matrix = np.array([[float(cov[f"c{min(i, j)}_{max(i, j)}"]) for j in range(rank)]
                           for i in range(rank)])
        values, vectors = np.linalg.eigh(matrix)  # covariance may be only semi-definite
        root = vectors * np.sqrt(np.clip(values, 0, None))
        z = np.array([self.random.gauss(0.0, 1.0) for _ in range(rank)])
        return [float(v) for v in mean + root @ z]

    def multivariate_normal(self, cov: Mapping[str, Any]) -> list[float]:
        """``rank`` values of a multivariate normal: means ``m<i>``, covariances ``c<i>_<j>``."""
        return self._mvn(cov)

    def multivariate_lognormal(self, cov: Mapping[str, Any]) -> list[float]:
        """``multivariate_normal`` of the logs, exponentiated."""
        return [math.exp(v) for v in self._mvn(cov)]

    def _group(self, alts: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        weights = [max(float(a.get("count", 0)), 0.0) for a in alts]
        if not any(weights):
            raise ValueError("no alternative has a positive count")
        return self.random.choices(list(alts), weights=weights)[0]

    def _grouped(self, covs: Sequence[Mapping[str, Any]], log: bool) -> list[Any]:
        cov = self._group(covs)
        nums = self._mvn(cov)
        nums = [math.exp(v) for v in nums] if log else nums
        constants = {int(k[1:]): v for k, v in cov.items() if k[:1] == "k" and k[1:].isdigit()}
        return _merge_constants(nums, constants)

    def grouped_multivariate_normal(self, covs: list[Mapping[str, Any]]) -> list[Any]:
        """A ``multivariate_normal`` of one group of ``covs`` (picked by its ``count``),
        with the group's constants ``k<i>`` (its NULLs) at their positions."""
        return self._grouped(covs, log=False)

    def grouped_multivariate_lognormal(self, covs: list[Mapping[str, Any]]) -> list[Any]:
        """``grouped_multivariate_normal`` of the logs, exponentiated."""
        return self._grouped(covs, log=True)

    def with_constants_at(self, constants_at: Mapping[int, Any], subgen: str,
                          params: Mapping[str, Any]) -> list[Any]:
        """The values of dist_gen ``subgen(**params)`` with ``constants_at`` inserted."""
        out = self._subgen(subgen)(**params)
        return _merge_constants(list(out), {int(k): v for k, v in constants_at.items()})

    def alternatives(self, alternative_configs: list[Mapping[str, Any]],
                     counts: list[Mapping[str, Any]] | None = None) -> Any:
        """One of ``alternative_configs`` (``name``, ``params``), picked by its ``count``
        (or by ``counts``' rows, ``index`` and ``count``), called."""
        if counts is not None:
            alt = alternative_configs[int(self._group(counts)["index"])]
        else:
            alt = self._group(alternative_configs)
        return self._subgen(str(alt["name"]))(**alt.get("params", {}))

    def _subgen(self, name: str) -> Callable[..., Any]:
        if name not in _SUBGENS:
            raise ValueError(f"{name!r} is not one of the generators alternatives may call "
                             f"({', '.join(sorted(_SUBGENS))})")
        return getattr(self, name)


_SUBGENS = frozenset({"multivariate_normal", "multivariate_lognormal", "constant",
                      "grouped_multivariate_normal", "grouped_multivariate_lognormal",
                      "weighted_choice", "with_constants_at"})
DIST_GEN_NAMES = frozenset(n for n in vars(DistGen) if not n.startswith("_") and n != "Meta")
# datafaker names with no meaning here, and what to use instead
_NOT_HONOURED = {
    "truncated_string": "name the Mimesis method itself: create-data cuts Mimesis strings to "
                        "the column's length",
}


def _merge_constants(values: list[Any], constants: Mapping[int, Any]) -> list[Any]:
    """``values`` with ``constants`` placed at their indices (datafaker's order)."""
    out: list[Any] = []
    rest = iter(values)
    size = len(values) + len(constants)
    for i in range(size):
        if i in constants:
            out.append(constants[i])
        else:
            item = next(rest, _END)
            if item is _END:
                break
            out.append(item)
    return out


_END = object()


def with_compat_providers(generic: Generic) -> Generic:
    """``generic`` with the ``column_value_provider`` and ``dist_gen`` providers added."""
    generic.add_providers(ColumnValueProvider, DistGen)
    return generic


# --- render time ------------------------------------------------------------------------------

def uses_compat(name: str) -> bool:
    """Whether generator ``name`` is one of this module's."""
    name = name.strip()
    return name.startswith((COLUMN_VALUE, DIST_GEN))


def resolve_generator(name: str, where: str) -> Callable[..., Any] | None:
    """The callable (for checking its arguments) of a ``column_value_provider`` or
    ``dist_gen`` generator ``name``; None for other names; an error for one not honoured."""
    name = name.strip()
    if name.startswith(DIST_GEN):
        method = name[len(DIST_GEN):]
        if method in _NOT_HONOURED:
            raise SynthgateError(f"datafaker's {name} is not supported", where=where,
                                 fix=_NOT_HONOURED[method])
        if method not in DIST_GEN_NAMES:
            close = difflib.get_close_matches(method, sorted(DIST_GEN_NAMES), n=1)
            raise SynthgateError(
                f"there is no datafaker generator {name!r}", where=where,
                fix=f"did you mean dist_gen.{close[0]}?" if close else
                "use one of " + ", ".join(f"dist_gen.{n}" for n in sorted(DIST_GEN_NAMES)))
        return getattr(DistGen(), method)
    if name.startswith(COLUMN_VALUE):
        method = name[len(COLUMN_VALUE):]
        if method not in ("column_value", "increment"):
            raise SynthgateError(f"column_value_provider has no method {method!r}", where=where,
                                 fix="use column_value or increment")
        return getattr(ColumnValueProvider(), method)
    return None


def header_lines(config: Config, code: str) -> list[str]:
    """The lines ``ssg.py`` needs after ``generic = ...`` for the rendered ``code`` (its
    row and story functions): none when nothing of this module is used."""
    names = [g.name for t in config.tables.values() for g in t.row_generators]
    names += [s.name for s in config.story_generators]
    uses = {h for h in ("dst_table", "dst_column") if f"{h}(" in code}
    if not any(uses_compat(n) for n in names) and not uses:
        return []
    lines = ["from synthgate_builder.compat import (  # noqa: E402, F401",
             "    dst_column, dst_table, with_compat_providers,", ")", "",
             "# SqlSynthGen's and datafaker's providers: generic.column_value_provider, dist_gen",
             "generic = with_compat_providers(generic)"]
    if any(n.strip().startswith(DIST_GEN) for n in names):
        lines.append("dist_gen = generic.dist_gen")
    return [*lines, ""]


def class_name(table: str) -> str:
    """The class name sqlacodegen (which SqlSynthGen's ``orm.py`` came from) gives a table:
    characters that are not word characters become ``_``, then each ``_``-separated part
    is capitalised and joined (``age_gender_bkts`` -> ``AgeGenderBkts``)."""
    name = re.sub(r"\W", "_", table)
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


_STR = r"""\[\s*(?:"([^"]*)"|'([^']*)')\s*\]"""
_ORM = re.compile(r"^orm\.(?P<cls>[A-Za-z_][A-Za-z0-9_]*)(?:\.(?P<col>[A-Za-z_][A-Za-z0-9_]*))?$")
_METADATA = re.compile(rf"^metadata\.tables{_STR}(?:\.(?:columns|c){_STR}|\.c\.(\w+))?$")
_DEEP_STATS = re.compile(rf"^SRC_STATS{_STR}(?P<path>(?:\s*(?:\[\s*-?\d+\s*\]|{_STR}))+)$")
_STEP = re.compile(rf"\[\s*(-?\d+)\s*\]|{_STR}")


@dataclasses.dataclass(frozen=True)
class TableStandIn:
    """Stands in for a destination table (or column) while arguments are checked."""

    table: str
    column: str | None = None


Parsed = tuple[str, str | None, Callable[[Mapping[str, Any]], Any]]


@dataclasses.dataclass
class References:
    """Parses the SqlSynthGen/datafaker references of one orm.yaml."""

    model: OrmModel

    def __post_init__(self) -> None:
        self.classes: dict[str, str] = {}
        for name, table in self.model.tables.items():
            plain = re.sub(r"\W", "_", name)
            pref = class_name(name) if table.primary_key else f"t_{plain}"
            self.classes.setdefault(pref, name)

    def parse(self, text: str, where: str) -> Parsed | None:
        """``(code, statistic, live value)`` for a reference ``text``, None for anything
        else; a reference to a table or column orm.yaml lacks is an error."""
        if match := _ORM.match(text):
            return self._table(self._class(match["cls"], where), match["col"], where)
        if match := _METADATA.match(text):
            table = match[1] if match[1] is not None else match[2]
            column = next((g for g in match.groups()[2:] if g is not None), None)
            if table not in self.model.tables:
                raise SynthgateError(f"{text} names table {table!r}, which orm.yaml does not "
                                     "have", where=where, fix=self._close(table))
            return self._table(table, column, where)
        if match := _DEEP_STATS.match(text):
            return _deep_stats(match[1] if match[1] is not None else match[2], match["path"])
        return None

    def _class(self, cls: str, where: str) -> str:
        if cls in self.classes:
            return self.classes[cls]
        close = difflib.get_close_matches(cls, list(self.classes), n=1)
        raise SynthgateError(f"orm.{cls} names no table of orm.yaml (SqlSynthGen's class "
                             "names: table names in CamelCase)", where=where,
                             fix=f"did you mean orm.{close[0]}?" if close else None)

    def _close(self, table: str) -> str | None:
        close = difflib.get_close_matches(table, list(self.model.tables), n=1)
        return f"did you mean {close[0]!r}?" if close else None

    def _table(self, table: str, column: str | None, where: str) -> Parsed:
        if column is None:
            return (f"dst_table(dst_db_conn, {table!r})", None,
                    lambda _stats: TableStandIn(table))
        if column not in self.model.tables[table].column_names:
            raise SynthgateError(f"table {table} has no column {column!r}", where=where)
        return (f"dst_column(dst_db_conn, {table!r}, {column!r})", None,
                lambda _stats: TableStandIn(table, column))


def _deep_stats(name: str, path_text: str) -> Parsed:
    """datafaker's ``SRC_STATS["name"]["results"]...``: synthgate's ``SRC_STATS["name"]``
    is the results list already, so a leading ``["results"]`` is dropped."""
    path: list[int | str] = []
    for step in _STEP.finditer(path_text):
        index, dq, sq = step.groups()
        path.append(int(index) if index is not None else (dq if dq is not None else sq))
    if path[:1] == ["results"]:
        path = path[1:]
    code = f"SRC_STATS[{name!r}]" + "".join(f"[{p!r}]" for p in path)

    def live(stats: Mapping[str, Any]) -> Any:
        value: Any = stats.get(name)
        for step in path:
            try:
                value = value[step]
            except (KeyError, IndexError, TypeError):
                raise SynthgateError(f"{code}: src-stats has no {step!r} there",
                                     where="src-stats.yaml",
                                     fix="check the query's result columns and rows") from None
        return value

    return code, name, live


def _strings(value: Any) -> Iterator[str]:
    """The strings in a config argument (nested lists and dicts too)."""
    return (v.strip() for v in leaves(value) if isinstance(v, str))


def check_given_stats(config: Config, results: Mapping[str, Any]) -> None:
    """Check each deep ``SRC_STATS[...][...]`` reference of the generators ``ssg.py`` runs
    against ``results`` (name -> results), the statistics it is given: one that they do not
    hold is the one-line error of the renderer."""
    gens: list[Any] = [g for t in config.tables.values() if not t.ignore
                       and not t.vocabulary_table for g in t.row_generators]
    for gen in [*gens, *config.story_generators]:
        for text in _strings([gen.args, gen.kwargs]):
            if match := _DEEP_STATS.match(text):
                _deep_stats(match[1] if match[1] is not None else match[2],
                            match["path"])[2](results)
