"""What each column of the source holds, measured by aggregate queries for ``generate-config``.

``measure(source, model, config)`` returns ``TableFacts`` per generated table: counts and
shares only (row count, null count, distinct count, how many values are frequent and the
share of rows they cover, the share of the most common values, text lengths, and the share
of text values that parse as a number, a date, an e-mail address or a URL). Nothing
row-level is kept: the only per-value results read are counts (never the values), for
columns with at most ``MAX_GROUPS`` distinct values, and they stay in memory.

Queries, per table: one scan with every per-column aggregate, then the value counts of the
low-cardinality columns: on PostgreSQL one ``GROUPING SETS`` scan, elsewhere one
``GROUP BY`` per column. PostgreSQL tables above ``SAMPLE_ROWS`` rows (by
``pg_class.reltuples``) are measured on a repeatable Bernoulli sample of about that many
rows (the row count stays exact); MariaDB and SQLite tables are read whole.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from synthgate_shared.config import Config
from synthgate_shared.orm import Column, OrmModel, Table
from synthgate_shared.types import INTEGER_RANGES

from synthgate_agent.reflect import portable_type
from synthgate_agent.source import Source, read_only
from synthgate_agent.stats import _use_schema

MAX_GROUPS = 1000  # value counts are read only for columns with at most this many values
TOP_K = 10
SAMPLE_ROWS = 100_000
SAMPLE_SEED = 0
_GROUPING_CHUNK = 30  # PostgreSQL's GROUPING() takes at most 31 arguments

TEXT = ("char", "varchar", "text")
_NUMBERS = (*INTEGER_RANGES, "real", "double", "numeric")
_COUNTED = (*TEXT, *_NUMBERS, "boolean", "enum", "date", "timestamp", "timestamptz")

# Text patterns as regular expressions (PostgreSQL ``~``, MariaDB ``REGEXP``); no
# backslashes, so they read the same in every dialect's string literals.
_NUMBER_RE = "^[-+]?(0|[1-9][0-9]*)([.][0-9]+)?$"
_DATE_RE = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
PATTERNS: dict[str, str] = {
    "number": _NUMBER_RE,
    "digits": "^[0-9]+$",  # codes such as "00747": numbers with their leading zeros
    "date": _DATE_RE + "$",
    "datetime": _DATE_RE + " [0-2][0-9]:[0-5][0-9](:[0-5][0-9]([.][0-9]+)?)?$",
    "datetime_t": _DATE_RE + "T[0-2][0-9]:[0-5][0-9](:[0-5][0-9]([.][0-9]+)?)?$",
    "email": "^[^@[:space:]]+@[^@[:space:]]+[.][A-Za-z]{2,}$",
    "url": "^https?://[^[:space:]]+$",
}
_D = "[0-9]"
_SQLITE_DATE = f"{_D * 4}-[01]{_D}-[0-3]{_D}"
_SQLITE_TIME = f"[0-2]{_D}:[0-5]{_D}"


@dataclass(frozen=True)
class ColumnFacts:
    """Counts and shares of one column (over ``TableFacts.measured`` rows).

    ``frequent`` values each have at least ``min_count`` rows and cover ``frequent_share``
    of the non-null rows; ``top_share`` is the share of the ``TOP_K`` most common values
    (both None when the column has more than ``MAX_GROUPS`` values or was not grouped).
    ``shares`` maps a pattern of ``PATTERNS`` to the share of non-null text values that
    match it; ``places`` is the most decimal places of a text number.
    """

    nonnull: int
    distinct: int | None = None
    frequent: int | None = None
    frequent_share: float | None = None
    top_share: float | None = None
    min_length: int | None = None
    avg_length: float | None = None
    max_length: int | None = None
    shares: dict[str, float] = field(default_factory=dict)
    places: int | None = None


@dataclass(frozen=True)
class TableFacts:
    """A table's exact row count, the rows the column facts were measured on, and those."""

    rows: int
    measured: int
    columns: dict[str, ColumnFacts]
    min_count: int
    # text columns of the copy whose source type has no portable equivalent (a point, a
    # geometry): never measured nor proposed, their values left to the builder's defaults
    opaque: frozenset[str] = frozenset()

    @property
    def sampled(self) -> bool:
        """Whether the column facts come from a sample of the rows."""
        return self.measured < self.rows


class _Dialect:
    """Expressions of the measurement queries for one source dialect."""

    def __init__(self, name: str, quote: Callable[[str], str]) -> None:
        self.name = "mysql" if name == "mariadb" else name
        self.q = quote

    def length(self, ref: str) -> str:
        return f"length({ref})" if self.name == "sqlite" else f"char_length({ref})"

    def matches(self, ref: str, pattern: str) -> str:
        """A condition true when the text ``ref`` matches ``PATTERNS[pattern]``."""
        if self.name == "postgresql":
            return f"{ref} ~ '{PATTERNS[pattern]}'"
        if self.name == "mysql":
            return f"{ref} REGEXP '{PATTERNS[pattern]}'"
        if self.name == "duckdb":  # its GLOB has no [^...]; RE2 reads these patterns
            return f"regexp_matches({ref}, '{PATTERNS[pattern]}')"
        return _sqlite_glob(ref, pattern)

    def dot(self, ref: str) -> str:
        """The 1-based position of the first '.' in ``ref`` (0 when there is none)."""
        if self.name == "postgresql":
            return f"strpos({ref}, '.')"
        if self.name == "mysql":
            return f"LOCATE('.', {ref})"
        return f"instr({ref}, '.')"


def _sqlite_glob(ref: str, pattern: str) -> str:
    """SQLite has no REGEXP function by default: the patterns in GLOB terms."""
    if pattern == "number":
        body = f"ltrim({ref}, '+-')"
        digits = f"replace({body}, '.', '')"
        return (f"({digits} <> '' AND {digits} NOT GLOB '*[^0-9]*' AND length({body}) - "
                f"length({digits}) <= 1 AND {body} NOT GLOB '.*' AND {body} NOT GLOB '*.' "
                f"AND {body} NOT GLOB '0[0-9]*' AND length({ref}) - length({body}) <= 1)")
    if pattern == "digits":
        return f"({ref} <> '' AND {ref} NOT GLOB '*[^0-9]*')"
    if pattern == "date":
        return f"{ref} GLOB '{_SQLITE_DATE}'"
    if pattern in ("datetime", "datetime_t"):
        sep = " " if pattern == "datetime" else "T"
        return (f"({ref} GLOB '{_SQLITE_DATE}{sep}{_SQLITE_TIME}' OR {ref} GLOB "
                f"'{_SQLITE_DATE}{sep}{_SQLITE_TIME}:[0-5]{_D}*')")
    if pattern == "email":
        return f"({ref} GLOB '?*@?*.[A-Za-z][A-Za-z]*' AND {ref} NOT GLOB '*[ @]*@*')"
    return f"({ref} GLOB 'http://?*' OR {ref} GLOB 'https://?*') AND {ref} NOT GLOB '* *'"


def measured_columns(table: Table) -> list[Column]:
    """The columns whose contents are measured: text, numbers, booleans, enums and dates
    that are neither keys nor filled by the database (the proposal never decides those)."""
    keys = {c for fk in table.foreign_keys for c in fk.columns} | set(table.primary_key)
    return [c for c in table.columns if not c.portable.is_array and c.portable.base in _COUNTED
            and c.name not in keys and not c.autoincrement]


def text_matches(dialect: str, ref: str, pattern: str) -> str:
    """A SQL condition true when the text ``ref`` matches ``PATTERNS[pattern]`` (``~`` on
    PostgreSQL, ``REGEXP`` on MariaDB, ``GLOB`` on SQLite), for proposed queries too."""
    return _Dialect(dialect, str).matches(ref, pattern)


def _scan_parts(d: _Dialect, columns: Sequence[Column]) -> tuple[list[str], list[tuple[str, str]]]:
    """The aggregates of the scan query and, per result position, (column, what)."""
    exprs = ["count(*)"]
    keys: list[tuple[str, str]] = [("", "rows")]

    def add(expr: str, column: str, what: str) -> None:
        exprs.append(expr)
        keys.append((column, what))

    for column in columns:
        ref = d.q(column.name)
        add(f"count({ref})", column.name, "nonnull")
        add(f"count(DISTINCT {ref})", column.name, "distinct")
        if column.portable.base not in TEXT:
            continue
        length = d.length(ref)
        add(f"min({length})", column.name, "min_length")
        add(f"avg({length})", column.name, "avg_length")
        add(f"max({length})", column.name, "max_length")
        for pattern in PATTERNS:
            add(f"sum(CASE WHEN {d.matches(ref, pattern)} THEN 1 ELSE 0 END)", column.name,
                pattern)
        add(f"max(CASE WHEN {d.matches(ref, 'number')} AND {d.dot(ref)} > 0 THEN "
            f"{length} - {d.dot(ref)} END)", column.name, "places")
    return exprs, keys


def _from(d: _Dialect, table: Table, percent: float | None) -> str:
    name = d.q(table.name)
    if percent is None:
        return name
    return f"{name} TABLESAMPLE BERNOULLI ({percent!r}) REPEATABLE ({SAMPLE_SEED})"


def _sample_percent(conn: Connection, d: _Dialect, table: Table) -> float | None:
    """The TABLESAMPLE percentage for about ``SAMPLE_ROWS`` rows of a large PostgreSQL
    table (by its planner estimate), else None (the whole table)."""
    if d.name != "postgresql":
        return None
    regclass = d.q(table.name).replace("'", "''")
    estimate = conn.exec_driver_sql(
        f"SELECT reltuples FROM pg_class WHERE oid = to_regclass('{regclass}')").scalar()
    if estimate is None or float(estimate) <= SAMPLE_ROWS:
        return None
    return round(100.0 * SAMPLE_ROWS / float(estimate), 6)


def _value_counts(conn: Connection, d: _Dialect, table: Table, source_from: str,
                  names: Sequence[str]) -> dict[str, list[int]]:
    """Rows per value (NULL included as one value) of each named column; counts only."""
    out: dict[str, list[int]] = {n: [] for n in names}
    if d.name == "postgresql":
        for start in range(0, len(names), _GROUPING_CHUNK):
            chunk = names[start:start + _GROUPING_CHUNK]
            refs = [d.q(n) for n in chunk]
            sets = ", ".join(f"({r})" for r in refs)
            sql = (f"SELECT GROUPING({', '.join(refs)}) AS g, count(*) AS n FROM {source_from} "
                   f"GROUP BY GROUPING SETS ({sets})")
            full = (1 << len(chunk)) - 1
            by_mask = {full ^ (1 << (len(chunk) - 1 - i)): n for i, n in enumerate(chunk)}
            for g, n in conn.exec_driver_sql(sql):
                out[by_mask[int(g)]].append(int(n))
        return out
    for name in names:
        ref = d.q(name)
        sql = f"SELECT count(*) AS n FROM {source_from} GROUP BY {ref}"
        out[name] = [int(n) for (n,) in conn.exec_driver_sql(sql)]
    return out


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _column_facts(raw: dict[str, Any], counts: list[int] | None, min_count: int,
                  ) -> ColumnFacts:
    nonnull = int(raw["nonnull"] or 0)
    frequent = frequent_share = top_share = None
    if counts is not None:
        values = sorted(counts, reverse=True)
        nulls = int(raw["rows"]) - nonnull
        if len(values) > int(raw["distinct"] or 0) and nulls in values:  # the NULL group
            values.remove(nulls)
        big = [c for c in values if c >= min_count]
        frequent = len(big)
        frequent_share = sum(big) / nonnull if nonnull else 0.0
        top_share = sum(values[:TOP_K]) / nonnull if nonnull else 0.0
    text = "min_length" in raw
    shares = {p: (float(raw[p] or 0) / nonnull if nonnull else 0.0) for p in PATTERNS} \
        if text else {}
    places = raw.get("places")
    return ColumnFacts(
        nonnull=nonnull, distinct=int(raw["distinct"] or 0), frequent=frequent,
        frequent_share=frequent_share, top_share=top_share,
        min_length=None if raw.get("min_length") is None else int(raw["min_length"]),
        avg_length=_number(raw.get("avg_length")),
        max_length=None if raw.get("max_length") is None else int(raw["max_length"]),
        shares=shares, places=None if places is None else int(places))


def _opaque(conn: Connection, dialect: str, table: Table, schema: str | None) -> frozenset[str]:
    """The table's text columns whose source type has no portable equivalent (reflect writes
    them as text; their values may not even be compared, as a PostgreSQL ``point``)."""
    text = {c.name for c in table.columns if c.portable.base in TEXT}
    if not text or dialect not in ("postgresql", "mysql", "mariadb"):
        return frozenset()
    with warnings.catch_warnings():  # reflect has warned of these types already
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        found = sa.inspect(conn).get_columns(table.name, schema)
    return frozenset(str(c["name"]) for c in found
                     if str(c["name"]) in text and portable_type(c["type"], "") is None)


def measure_table(conn: Connection, dialect: str, quote: Callable[[str], str], table: Table,
                  min_count: int, schema: str | None = None) -> TableFacts:
    """The facts of one table (see the module docstring), read on ``conn``; columns of a
    type with no portable equivalent are left out (``TableFacts.opaque``)."""
    d = _Dialect(dialect, quote)
    opaque = _opaque(conn, dialect, table, schema)
    columns = [c for c in measured_columns(table) if c.name not in opaque]
    percent = _sample_percent(conn, d, table)
    source_from = _from(d, table, percent)
    exprs, keys = _scan_parts(d, columns)
    row = conn.exec_driver_sql(f"SELECT {', '.join(exprs)} FROM {source_from}").one()
    measured = int(row[0])
    rows = measured if percent is None else int(conn.exec_driver_sql(
        f"SELECT count(*) FROM {d.q(table.name)}").scalar_one())
    raw: dict[str, dict[str, Any]] = {c.name: {"rows": measured} for c in columns}
    for (column, what), value in zip(keys[1:], row[1:], strict=True):
        raw[column][what] = value
    few = [c.name for c in columns if 0 < int(raw[c.name]["distinct"] or 0) <= MAX_GROUPS]
    counts = _value_counts(conn, d, table, source_from, few) if few else {}
    facts = {c.name: _column_facts(raw[c.name], counts.get(c.name), min_count)
             for c in columns}
    return TableFacts(rows=rows, measured=measured, columns=facts, min_count=min_count,
                      opaque=opaque)


def measure(source: Source, model: OrmModel, config: Config) -> dict[str, TableFacts]:
    """Facts of every table that is neither ignored nor a vocabulary table, each read in a
    read-only transaction of its own; schema as ``make-stats`` selects it."""
    out: dict[str, TableFacts] = {}
    for table in model.tables.values():
        settings = config.table(table.name)
        if settings.ignore or settings.vocabulary_table:
            continue
        with read_only(source) as conn:
            _use_schema(conn, source)
            quote = conn.dialect.identifier_preparer.quote_identifier
            out[table.name] = measure_table(conn, source.dialect, quote, table,
                                            config.min_count, source.schema)
            conn.invalidate()  # the SET of _use_schema must not outlive this session
    return out
