"""Every generated value fits its column: checked (and, for built-in generators, made to fit)
before a batch is sent.

``create-data`` fits the values of every column that a row generator, a built-in
distribution or a story fills (the default generators of ``defaults.py`` obey the column by
construction, so their columns cost nothing here)::

    fit = TableFit(table, model, dialect, generator_sources(table_config.row_generators,
                                                            config.row_generators_module))
    fit.batch(values, rng)                       # values: column -> list, fitted in place
    fit.rows(rows, [story_source("short", "stories")] * len(rows), rng)  # story rows

What a value must obey: its type (an ``int`` for an integer column, a ``date`` or an ISO
string for a date column...), ``varchar(n)``/``char(n)`` lengths, ``numeric(p,s)`` precision
and scale, integer ranges, enum labels, ``NOT NULL``, and the checks of the table and the
column's domain that ``synthgate_shared.checks.column_facts`` understands (ranges, ``IN``
lists, ``<>``, ``length(col)`` bounds).

Conversions the database would make on assignment are made for every generator: a finite
float for an integer column is rounded half to even (as PostgreSQL's assignment cast
does: ``26.43`` -> ``26``), a string of digits becomes an integer, numbers are rounded to a
numeric column's scale (half away from zero, as PostgreSQL rounds), ISO strings become
dates and timestamps, trailing spaces beyond a string's length are dropped.

What does not fit is then fixed or refused, by who made it. Values of Mimesis methods
(``generic.*``) and built-ins (``synthgate.*``) are fixed: a string that is too long is cut
(at the last space when that keeps two thirds of the length, else at the length), numbers
are clamped into the range (to the nearest allowed value of an ``IN`` list), a value outside
an enum or an ``IN`` list of strings is drawn again among the allowed ones. A value made by
the user's own code (row generators of ``row_generators_module``, story generators) is
refused with one line naming the table, the column, the generator and the value, as is a
value of the wrong type from any generator.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from synthgate_shared.checks import column_facts
from synthgate_shared.config import RowGenerator
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import Column, OrmModel, Table
from synthgate_shared.sqla import family

from synthgate_builder.defaults import column_nullable
from synthgate_builder.distributions import BUILTINS
from synthgate_builder.fit_kinds import Misfit, Rng, kind_of, shown, with_article


@dataclasses.dataclass(frozen=True)
class Source:
    """Who made a column's values: ``name`` as config.yaml spells it (module-qualified for
    the user's functions); ``strict`` for the user's own code, whose misfits are errors."""

    name: str
    strict: bool
    story: bool = False

    def said(self) -> str:
        """``generator m.f returned`` / ``story generator m.f yielded``: an error's subject."""
        return (f"story generator {self.name} yielded" if self.story
                else f"generator {self.name} returned")


def row_generator_source(name: str, module: str | None) -> Source:
    """The source of a row generator entry of config.yaml: Mimesis (``generic.*``) and
    built-ins (``synthgate.*``) are fixed; any other name is the user's code."""
    name = name.strip()
    if name in BUILTINS or name.startswith("generic."):
        return Source(name, strict=False)
    return Source(name if "." in name or not module else f"{module}.{name}", strict=True)


def story_source(name: str, module: str | None) -> Source:
    """The source of the rows a story generator yields (the user's code)."""
    name = name.strip()
    return Source(name if "." in name or not module else f"{module}.{name}", strict=True,
                  story=True)


def generator_sources(row_generators: Iterable[RowGenerator], module: str | None
                      ) -> dict[str, Source]:
    """Each column that a row generator of the table assigns -> its source."""
    return {column: row_generator_source(g.name, module)
            for g in row_generators for column in g.columns}


def cannot_generate(table: str, column: Column, exc: SynthgateError) -> SynthgateError:
    """The error for a column that the default generators cannot fill (its type with its
    checks allows no value), saying how to configure it instead."""
    return SynthgateError(
        f"nothing can generate values of type {column.type} ({exc.what})",
        where=f"{table}.{column.name}",
        fix=f"give it a row generator in config.yaml (tables: {table}: row_generators: "
        f"[{{name: ..., columns_assigned: [{column.name}]}}]), or set ignore: true for "
        f"table {table}")


class ColumnFit:
    """The checks of one column: ``fit(values, source, rng)`` returns the values fitted
    (the same list when nothing had to change) or raises a one-line ``SynthgateError``."""

    def __init__(self, table: Table, column: Column, model: OrmModel, dialect: str) -> None:
        self.where = f"{table.name}.{column.name}"
        self.nullable = column_nullable(column, model) or column.autoincrement
        ptype = column.portable
        shown = f"enum {ptype.enum}" if ptype.enum else column.type
        if column.domain:
            shown += f" (domain {column.domain})"
        self.column_text = with_article(f"{shown} column")
        self.kind = kind_of(ptype, column_facts(column, model, table), model, self.column_text,
                          family(dialect))

    def fit(self, values: list[Any], source: Source, rng: Rng) -> list[Any]:
        """``values`` fitted to the column; fixes made only for a lenient ``source``."""
        if self.kind is None or not values:
            return values
        present, rows = values, None
        try:
            has_null = None in values
        except (ValueError, TypeError):  # values whose == is not a bool (NumPy arrays)
            has_null = any(v is None for v in values)
        if has_null:
            if not self.nullable:
                raise self._error(source, Misfit(None, f"for {self.column_text} that is NOT "
                                                  "NULL", "return a value"))
            rows = [i for i, v in enumerate(values) if v is not None]
            present = [values[i] for i in rows]
            if not present:
                return values
        try:
            fitted = self.kind.fit(present, not source.strict, rng)
        except Misfit as misfit:
            raise self._error(source, misfit) from None
        if fitted is present:
            return values
        if rows is None:
            return fitted
        out = list(values)
        for i, v in zip(rows, fitted, strict=True):
            out[i] = v
        return out

    def _error(self, source: Source, misfit: Misfit) -> SynthgateError:
        fix = misfit.fix
        if not source.strict:
            fix += f", or give {self.where} another generator in config.yaml"
        return SynthgateError(f"{source.said()} {shown(misfit.value)} {misfit.why}",
                              where=self.where, fix=fix)


class TableFit:
    """The checks of one table's generated columns, each built when first needed.
    ``sources`` names the generator of each column that ``batch`` fits."""

    def __init__(self, table: Table, model: OrmModel, dialect: str,
                 sources: dict[str, Source]) -> None:
        self.table, self.model, self.dialect = table, model, dialect
        self.sources = sources
        self.columns: dict[str, ColumnFit] = {}

    def column(self, name: str) -> ColumnFit:
        """The checks of column ``name``."""
        fit = self.columns.get(name)
        if fit is None:
            fit = self.columns[name] = ColumnFit(self.table, self.table.column(name),
                                                 self.model, self.dialect)
        return fit

    def batch(self, values: dict[str, list[Any]], rng: Rng,
              columns: Iterable[str] | None = None) -> None:
        """Fit, in place, the columns of a batch (column -> values) that ``sources`` names
        (only ``columns`` of them when given)."""
        for name in self.sources if columns is None else columns:
            source = self.sources.get(name)
            if source is not None and name in values:
                values[name] = self.column(name).fit(values[name], source, rng)

    def rows(self, rows: list[dict[str, Any]], sources: Sequence[Source], rng: Rng) -> None:
        """Fit rows (column -> value) that the user's code made, each by its
        source (story generators): a row whose values change is replaced in ``rows`` by a
        new dict. A column at a time, then row by row to name the source of a misfit."""
        columns: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            for name in row:
                columns.setdefault(name, []).append(i)
        for name, at in columns.items():
            fit = self.column(name)
            values = [rows[i][name] for i in at]
            try:
                fitted = fit.fit(values, sources[at[0]], rng)
            except SynthgateError:
                for i in at:
                    fit.fit([rows[i][name]], sources[i], rng)
                raise
            if fitted is not values:  # new dicts: the generator's own are left alone
                for i, value in zip(at, fitted, strict=True):
                    if value is not rows[i][name]:
                        rows[i] = {**rows[i], name: value}
