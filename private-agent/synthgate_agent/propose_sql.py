"""The SQL of proposed statistics for one source dialect: quoting, numbers from dates and
text, quantiles, correlations, the profile query and children per parent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from synthgate_shared import srcstats
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import QUANTILE_PROBS
from synthgate_shared.orm import Column, ForeignKey, Table

from synthgate_agent.measure import text_matches
from synthgate_agent.propose_roles import Col

MAX_ALIAS = 60  # PostgreSQL truncates identifiers at 63 bytes, MariaDB at 64
# Quantiles and correlations of larger PostgreSQL tables come from a sample of about this many
# rows: the standard error of each quantile's probability is at most 0.5 / sqrt(SAMPLE_ROWS).
SAMPLE_ROWS = 100_000
SAMPLE_SEED = 0

_DIALECTS: dict[str, Callable[[], Dialect]] = {
    "postgresql": postgresql.dialect,
    "sqlite": sqlite.dialect,
    "mysql": mysql.dialect,
    "mariadb": mysql.dialect,
    "duckdb": postgresql.dialect,  # DuckDB quotes, and spells these aggregates, as PostgreSQL
}


class Sql:
    """SQL fragments for one source dialect, with identifiers quoted for it."""

    def __init__(self, dialect: str) -> None:
        factory = _DIALECTS.get(dialect)
        if factory is None:
            raise SynthgateError(
                f"cannot propose statistics for a {dialect!r} source",
                where="orm.yaml: source.dialect",
                fix="use PostgreSQL, MariaDB/MySQL, SQLite or DuckDB",
            )
        self.dialect = "mysql" if dialect == "mariadb" else dialect
        self._preparer = factory().identifier_preparer
        # percentile_cont(ARRAY[...]), corr() and extract(epoch ...) as on PostgreSQL
        self.pg_functions = self.dialect in ("postgresql", "duckdb")

    def q(self, name: str) -> str:
        """A quoted identifier."""
        return str(self._preparer.quote_identifier(name))

    def table(self, name: str) -> str:
        """A quoted table name; never schema-qualified, because ``make-stats`` (and the
        builder's report) select the schema for the connection."""
        return self.q(name)

    def numeric(self, col: Col, prefix: str = "") -> str:
        """The column as a number: dates and timestamps as epoch seconds."""
        ref = prefix + self.q(col.name)
        if col.role == "number_text":
            kind = {"postgresql": "numeric", "sqlite": "REAL"}.get(self.dialect, "DOUBLE")
            matches = text_matches(self.dialect, ref, col.pattern or "number")
            return (f"CAST(CASE WHEN {matches} THEN {ref} "
                    f"END AS {kind})")
        if col.role == "date_text":
            ref = f"CASE WHEN {text_matches(self.dialect, ref, col.pattern or 'date')} THEN " \
                  f"{ref} END"
            if self.dialect == "postgresql":
                ref = f"CAST({ref} AS timestamp)"
        elif col.role != "temporal":
            return ref
        if self.pg_functions:
            return f"extract(epoch from {ref})"
        if self.dialect == "sqlite":
            return f"CAST(strftime('%s', {ref}) AS INTEGER)"
        return f"TIMESTAMPDIFF(SECOND, '1970-01-01', {ref})"

    def length(self, col: Col) -> str:
        """The length in characters of a text column."""
        fn = "length" if self.dialect == "sqlite" else "char_length"
        return f"{fn}({self.q(col.name)})"

    def quantiles(self, expr: str, table: str) -> str:
        """An aggregate (or scalar subquery) giving the quantiles of ``expr``."""
        if self.pg_functions:
            probs = ", ".join(str(p) for p in QUANTILE_PROBS)
            return f"percentile_cont(ARRAY[{probs}]) WITHIN GROUP (ORDER BY {expr})"
        buckets = ", ".join(str(round(p * 100)) for p in QUANTILE_PROBS)
        if self.dialect == "sqlite":
            pair = "b || ':' || v"
            agg = f"group_concat({pair}, ',')"
        else:
            agg = "GROUP_CONCAT(CONCAT(b, ':', v) ORDER BY b SEPARATOR ',')"
        return (
            f"(SELECT {agg} FROM (SELECT b, max(x) AS v FROM (SELECT {expr} AS x, "
            f"NTILE(100) OVER (ORDER BY {expr}) AS b FROM {table} WHERE {expr} IS NOT NULL) s "
            f"GROUP BY b HAVING b IN ({buckets})) s2)"
        )

    def correlation(self, a: str, b: str) -> tuple[str, str]:
        """(alias suffix, aggregate) giving the correlation of two numeric expressions."""
        if self.pg_functions:
            return srcstats.CORRELATION, f"corr({a}, {b})"
        both = f"CASE WHEN {a} IS NOT NULL AND {b} IS NOT NULL THEN 1.0 END"
        parts = [f"count({both})", f"sum({both} * {a})", f"sum({both} * {b})",
                 f"sum({both} * {a} * {a})", f"sum({both} * {b} * {b})",
                 f"sum({both} * {a} * {b})"]
        if self.dialect == "sqlite":
            return srcstats.MOMENTS, " || ',' || ".join(parts)
        return srcstats.MOMENTS, "CONCAT_WS(',', " + ", ".join(parts) + ")"


def alias_ok(alias: str) -> bool:
    return len(alias.encode()) <= MAX_ALIAS

def children_per_parent(sql: Sql, table: Table, fk: ForeignKey) -> tuple[str, str]:
    """(FROM clause, expression): every parent row ``p`` with its number of children.

    The children are counted per key by one GROUP BY before the join, so the join meets one
    row per parent rather than every child; children whose key matches no parent (or holds
    a NULL) count for no parent, as in a join of the rows."""
    child_keys = ", ".join(sql.q(c) for c in fk.columns)
    present = " AND ".join(f"{sql.q(c)} IS NOT NULL" for c in fk.columns)
    on = " AND ".join(f"c.{sql.q(c)} = p.{sql.q(r)}" for c, r in
                      zip(fk.columns, fk.ref_columns, strict=True))
    source = (f"{sql.table(fk.ref_table)} p LEFT JOIN (SELECT {child_keys}, count(*) AS "
              f"n_children FROM {sql.table(table.name)} WHERE {present} GROUP BY {child_keys}) c "
              f"ON {on}")
    return source, "COALESCE(c.n_children, 0)"


def children_query(sql: Sql, table: Table, fk: ForeignKey) -> str:
    source, count = children_per_parent(sql, table, fk)
    return f"SELECT {count} AS n_children, count(*) AS n FROM {source} GROUP BY {count}"


def sample_percent(sql: Sql, table: Table) -> str:
    """The TABLESAMPLE percentage that keeps about ``SAMPLE_ROWS`` rows: decided by the
    database from its own row estimate (100, the whole table, when it has none)."""
    regclass = sql.table(table.name).replace("'", "''")
    # max(): a row even when the name resolves to nothing; a bare subquery: what sqlglot reads
    return (f"(SELECT coalesce(max(least(100, 100 * {SAMPLE_ROWS} / greatest(reltuples, 1))), "
            f"100) FROM pg_class WHERE oid = to_regclass('{regclass}'))")


@dataclass
class _ProfileSelect:
    """The select list of a profile query: exact counts, and shapes only a table with at
    least ``min_count`` rows releases."""

    sql: Sql
    min_count: int
    counts: list[str] = field(default_factory=lambda: [f"count(*) AS {srcstats.COUNT}"])
    shapes: list[str] = field(default_factory=list)  # from a sample on PostgreSQL
    counted: set[str] = field(default_factory=set)

    def nonnull(self, column: Column) -> None:
        """Count the column's values, once."""
        alias = srcstats.nonnull(column.name)
        if column.name not in self.counted and alias_ok(alias):
            self.counted.add(column.name)
            # NOT NULL: the row count, and count(*) spares reading the column from every row
            what = self.sql.q(column.name) if column.nullable else "*"
            self.counts.append(f"count({what}) AS {self.sql.q(alias)}")

    def shape(self, expr: str, alias: str) -> None:
        """Release ``expr`` as ``alias`` when the table has enough rows (NULL below)."""
        self.shapes.append(f"CASE WHEN count(*) >= {int(self.min_count)} THEN {expr} END AS "
                           f"{self.sql.q(alias)}")

    def column(self, col: Col, tname: str) -> None:
        """The column's count and its quantiles (of values, or of text lengths)."""
        self.nonnull(col.column)
        if col.role in ("number", "temporal", "number_text", "date_text") \
                and alias_ok(srcstats.quantiles(col.name)):
            self.shape(self.sql.quantiles(self.sql.numeric(col), tname),
                       srcstats.quantiles(col.name))
        if col.role == "text" and alias_ok(srcstats.length_quantiles(col.name)):
            self.shape(self.sql.quantiles(self.sql.length(col), tname),
                       srcstats.length_quantiles(col.name))

    def pairs(self, cols: list[Col]) -> None:
        """The correlation (or its moments) of every pair of copula columns."""
        numeric = copula_columns(cols)
        for i, a in enumerate(numeric):
            for b in numeric[i + 1:]:
                suffix, expr = self.sql.correlation(self.sql.numeric(a), self.sql.numeric(b))
                alias = srcstats.field(a.name, b.name, suffix)
                if alias_ok(alias):
                    self.shape(expr, alias)


def profile_query(sql: Sql, table: Table, cols: list[Col], fks: list[ForeignKey],
                  min_count: int) -> str:
    """Exact row and null counts of every nullable column (the builder keeps each column's
    NULL share whatever fills it), and the shapes (quantiles, correlations) that only a
    table with at least ``min_count`` rows releases (NULL below: its profile is kept, for
    the row count, while its values stay withheld)."""
    select = _ProfileSelect(sql, min_count)
    tname = sql.table(table.name)
    for fk in fks:  # how many children have no parent (the builder keeps that share NULL)
        if len(fk.columns) == 1 and table.column(fk.columns[0]).nullable:
            select.nonnull(table.column(fk.columns[0]))
    for col in cols:
        select.column(col, tname)
    fk_columns = {c for fk in table.foreign_keys for c in fk.columns}
    for column in table.columns:  # the other nullable columns: default generators
        if column.nullable and column.name not in fk_columns and not column.autoincrement:
            select.nonnull(column)
    select.pairs(cols)
    counts, shapes = select.counts, select.shapes
    if sql.dialect != "postgresql" or not shapes:
        return "SELECT " + ", ".join(counts + shapes) + f" FROM {tname}"
    # Ordered-set aggregates sort every value they see and keep the scan serial; the counts
    # stay exact in a parallel scan of their own.
    return (f"SELECT * FROM (SELECT {', '.join(counts)} FROM {tname}) counts CROSS JOIN "
            f"(SELECT {', '.join(shapes)} FROM {tname} TABLESAMPLE BERNOULLI "
            f"({sample_percent(sql, table)}) REPEATABLE ({SAMPLE_SEED})) shapes")


def copula_columns(cols: list[Col]) -> list[Col]:
    return [c for c in cols if c.role in ("number", "temporal")
            and alias_ok(srcstats.quantiles(c.name))]
