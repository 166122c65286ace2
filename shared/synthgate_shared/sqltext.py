"""Reading SQL text with sqlglot: dialect names and families, row-level checks and readable
layout."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

ROW_LEVEL_ROWS = 50  # more result rows than this and no aggregate: looks row-level

_SQLGLOT_DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql",
                     "sqlite": "sqlite", "duckdb": "duckdb"}


def family(dialect_name: str) -> str:
    """``postgresql``, ``mysql`` (MariaDB too) or ``sqlite`` (also the generic fallback)."""
    if dialect_name in ("postgresql", "postgres"):
        return "postgresql"
    if dialect_name in ("mysql", "mariadb"):
        return "mysql"
    return "sqlite"


def sqlglot_dialect(dialect: str) -> str:
    """The sqlglot name of a SQLAlchemy dialect name (``postgresql`` -> ``postgres``)."""
    return _SQLGLOT_DIALECTS.get(dialect, dialect)


def row_level_warning(sql: str, dialect: str, n_rows: int) -> str | None:
    """A warning when a result has many rows and its SQL has no aggregate and no GROUP BY."""
    if n_rows <= ROW_LEVEL_ROWS:
        return None
    try:
        tree = sqlglot.parse_one(sql, read=sqlglot_dialect(dialect))
    except sqlglot.errors.SqlglotError:
        return (f"{n_rows} rows and the SQL could not be parsed to look for aggregates; "
                "check that the result is not row-level data")
    aggregated = tree.find(exp.Group) is not None or any(
        agg.find_ancestor(exp.Window) is None for agg in tree.find_all(exp.AggFunc))
    if aggregated:
        return None
    return (f"result looks row-level: {n_rows} rows and no aggregate function or GROUP BY "
            "in the SQL; row-level data should not leave the secure network")


def readable_sql(query: str, dialect: str) -> str:
    """``query`` laid out on several lines for a reviewer (same dialect, same meaning);
    the query itself when sqlglot cannot parse it."""
    read = sqlglot_dialect(dialect)
    try:
        return str(sqlglot.parse_one(query, read=read).sql(dialect=read, pretty=True))
    except sqlglot.errors.SqlglotError:
        return query
