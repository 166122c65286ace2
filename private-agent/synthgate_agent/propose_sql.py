"""The SQL of proposed statistics for one source dialect: quoting, numbers from dates and
text, quantiles, correlations, the profile query and children per parent."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
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
            return "corr", f"corr({a}, {b})"
        both = f"CASE WHEN {a} IS NOT NULL AND {b} IS NOT NULL THEN 1.0 END"
        parts = [f"count({both})", f"sum({both} * {a})", f"sum({both} * {b})",
                 f"sum({both} * {a} * {a})", f"sum({both} * {b} * {b})",
                 f"sum({both} * {a} * {b})"]
        if self.dialect == "sqlite":
            return "moments", " || ',' || ".join(parts)
        return "moments", "CONCAT_WS(',', " + ", ".join(parts) + ")"


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


def profile_query(sql: Sql, table: Table, cols: list[Col], fks: list[ForeignKey],
                   min_count: int) -> str:
    """Exact row and null counts of every nullable column (the builder keeps each column's
    NULL share whatever fills it), and the shapes (quantiles, correlations) that only a
    table with at least ``min_count`` rows releases (NULL below: its profile is kept, for
    the row count, while its values stay withheld)."""
    counts = ["count(*) AS n"]  # exact, from every row
    shapes: list[str] = []  # quantiles and correlations: from a sample on PostgreSQL
    tname = sql.table(table.name)
    counted: set[str] = set()

    def nonnull(column: Column) -> None:
        alias = f"{column.name}__nonnull"
        if column.name not in counted and alias_ok(alias):
            counted.add(column.name)
            # NOT NULL: the row count, and count(*) spares reading the column from every row
            what = sql.q(column.name) if column.nullable else "*"
            counts.append(f"count({what}) AS {sql.q(alias)}")

    def shape(expr: str, alias: str) -> None:
        shapes.append(f"CASE WHEN count(*) >= {int(min_count)} THEN {expr} END AS "
                      f"{sql.q(alias)}")

    for fk in fks:  # how many children have no parent (the builder keeps that share NULL)
        if len(fk.columns) == 1 and table.column(fk.columns[0]).nullable:
            nonnull(table.column(fk.columns[0]))
    for col in cols:
        nonnull(col.column)
        if col.role in ("number", "temporal", "number_text", "date_text") \
                and alias_ok(f"{col.name}__q"):
            shape(sql.quantiles(sql.numeric(col), tname), col.name + "__q")
        if col.role == "text" and alias_ok(f"{col.name}__len_q"):
            shape(sql.quantiles(sql.length(col), tname), col.name + "__len_q")
    fk_columns = {c for fk in table.foreign_keys for c in fk.columns}
    for column in table.columns:  # the other nullable columns: default generators
        if column.nullable and column.name not in fk_columns and not column.autoincrement:
            nonnull(column)
    numeric = copula_columns(cols)
    for i, a in enumerate(numeric):
        for b in numeric[i + 1:]:
            suffix, expr = sql.correlation(sql.numeric(a), sql.numeric(b))
            alias = f"{a.name}__{b.name}__{suffix}"
            if alias_ok(alias):
                shape(expr, alias)
    if sql.dialect != "postgresql" or not shapes:
        return "SELECT " + ", ".join(counts + shapes) + f" FROM {tname}"
    # Ordered-set aggregates sort every value they see and keep the scan serial; the counts
    # stay exact in a parallel scan of their own.
    return (f"SELECT * FROM (SELECT {', '.join(counts)} FROM {tname}) counts CROSS JOIN "
            f"(SELECT {', '.join(shapes)} FROM {tname} TABLESAMPLE BERNOULLI "
            f"({sample_percent(sql, table)}) REPEATABLE ({SAMPLE_SEED})) shapes")


def copula_columns(cols: list[Col]) -> list[Col]:
    return [c for c in cols if c.role in ("number", "temporal")
            and alias_ok(f"{c.name}__q")]
