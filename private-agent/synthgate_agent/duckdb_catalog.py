"""DuckDB's own catalog read the way ``reflect.py`` reads SQLAlchemy's inspector.

duckdb-engine's inspector runs PostgreSQL catalog queries that DuckDB does not answer
(``pg_collation``, ``regclass``), so a DuckDB source is read from ``duckdb_tables()``,
``duckdb_columns()`` and ``duckdb_constraints()`` instead: the same dictionaries, with the
column types as SQLAlchemy types that ``reflect.portable_type`` maps.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.types import NullType, TypeEngine

_SIMPLE: dict[str, TypeEngine[Any]] = {
    "BOOLEAN": sa.Boolean(),
    "TINYINT": sa.SmallInteger(),
    "UTINYINT": sa.SmallInteger(),
    "SMALLINT": sa.SmallInteger(),
    "USMALLINT": sa.Integer(),
    "INTEGER": sa.Integer(),
    "UINTEGER": sa.BigInteger(),
    "BIGINT": sa.BigInteger(),
    "UBIGINT": sa.Numeric(20),
    "HUGEINT": sa.Numeric(38),
    "UHUGEINT": sa.Numeric(39),
    "FLOAT": sa.REAL(),
    "DOUBLE": sa.Double(),
    "VARCHAR": sa.String(),
    "DATE": sa.Date(),
    "TIME": sa.Time(),
    "TIME WITH TIME ZONE": sa.Time(timezone=True),
    "TIMESTAMP": sa.DateTime(),
    "TIMESTAMP_S": sa.DateTime(),
    "TIMESTAMP_MS": sa.DateTime(),
    "TIMESTAMP_NS": sa.DateTime(),
    "TIMESTAMP WITH TIME ZONE": sa.DateTime(timezone=True),
    "TIMESTAMPTZ_S": sa.DateTime(timezone=True),
    "TIMESTAMPTZ_MS": sa.DateTime(timezone=True),
    "TIMESTAMPTZ_NS": sa.DateTime(timezone=True),
    "TIME_NS": sa.Time(),
    "INTERVAL": sa.Interval(),
    "UUID": sa.Uuid(),
    "BLOB": sa.LargeBinary(),
    "JSON": sa.JSON(),
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")
_ENUM = re.compile(r"^ENUM\((.*)\)$", re.DOTALL)


def duckdb_type(data_type: str) -> TypeEngine[Any]:
    """The SQLAlchemy type of a DuckDB ``data_type`` string; ``NullType`` when it has none
    (STRUCT, MAP, UNION, BIT, the ``NULL`` type of an all-NULL column...)."""
    text = data_type.strip()
    if text.endswith("[]"):
        item = duckdb_type(text[:-2])
        return NullType() if isinstance(item, NullType) else sa.ARRAY(item)
    decimal = _DECIMAL.match(text)
    if decimal:
        return sa.Numeric(int(decimal[1]), int(decimal[2]))
    enum = _ENUM.match(text)
    if enum:
        return sa.Enum(*re.findall(r"'((?:[^']|'')*)'", enum[1]))
    return _SIMPLE.get(text.upper(), NullType())


class DuckDBCatalog:
    """The inspector methods ``reflect._Reader`` calls, answered from DuckDB's catalog."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.default_schema_name: str = str(conn.exec_driver_sql(
            "SELECT current_schema()").scalar_one())

    def _rows(self, sql: str, **params: Any) -> list[Any]:
        return list(self.conn.execute(sa.text(sql), params))

    def _schema(self, schema: str | None) -> str:
        return schema or self.default_schema_name

    def get_schema_names(self) -> list[str]:
        """The schemas of the open database."""
        return [str(r[0]) for r in self._rows(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() "
            "ORDER BY schema_name")]

    def get_table_names(self, schema: str | None = None) -> list[str]:
        """The base tables of ``schema`` (views are left out, as on the other dialects)."""
        return [str(r[0]) for r in self._rows(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = :schema AND NOT temporary ORDER BY table_name",
            schema=self._schema(schema))]

    def get_columns(self, table: str, schema: str | None = None) -> list[dict[str, Any]]:
        """Columns in table order, with their types mapped to SQLAlchemy types."""
        rows = self._rows(
            "SELECT column_name, data_type, is_nullable, column_default, comment "
            "FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = :schema AND table_name = :table ORDER BY column_index",
            schema=self._schema(schema), table=table)
        return [{"name": str(name), "type": duckdb_type(str(data_type)),
                 "nullable": bool(nullable), "default": default,
                 "autoincrement": bool(default and str(default).startswith("nextval(")),
                 "comment": comment}
                for name, data_type, nullable, default, comment in rows]

    def _constraints(self, table: str, schema: str | None, kind: str) -> list[Any]:
        return self._rows(
            "SELECT constraint_name, constraint_column_names, referenced_table, "
            "referenced_column_names, expression FROM duckdb_constraints() "
            "WHERE database_name = current_database() AND schema_name = :schema "
            "AND table_name = :table AND constraint_type = :kind ORDER BY constraint_index",
            schema=self._schema(schema), table=table, kind=kind)

    def get_pk_constraint(self, table: str, schema: str | None = None) -> dict[str, Any]:
        """The primary key's columns (an empty list when the table has none)."""
        rows = self._constraints(table, schema, "PRIMARY KEY")
        return {"constrained_columns": list(rows[0][1]) if rows else [],
                "name": rows[0][0] if rows else None}

    def get_foreign_keys(self, table: str, schema: str | None = None) -> list[dict[str, Any]]:
        """Foreign keys (DuckDB has no ON DELETE actions and reads no other schema's keys)."""
        return [{"name": name, "constrained_columns": list(cols), "referred_table": ref,
                 "referred_columns": list(ref_cols), "referred_schema": None, "options": {}}
                for name, cols, ref, ref_cols, _ in self._constraints(table, schema,
                                                                      "FOREIGN KEY")]

    def get_unique_constraints(self, table: str,
                               schema: str | None = None) -> list[dict[str, Any]]:
        """Unique constraints."""
        return [{"name": name, "column_names": list(cols)}
                for name, cols, _, _, _ in self._constraints(table, schema, "UNIQUE")]

    def get_indexes(self, table: str, schema: str | None = None) -> list[dict[str, Any]]:
        """Unique indexes over plain columns (ART indexes made with CREATE UNIQUE INDEX)."""
        rows = self._rows(
            "SELECT index_name, expressions FROM duckdb_indexes() "
            "WHERE database_name = current_database() AND schema_name = :schema "
            "AND table_name = :table AND is_unique ORDER BY index_name",
            schema=self._schema(schema), table=table)
        out = []
        for name, expressions in rows:
            cols = [str(e).strip('"') for e in _list(expressions)]
            if all(re.fullmatch(r"\w+", c) for c in cols):
                out.append({"name": name, "column_names": cols, "unique": True})
        return out

    def get_check_constraints(self, table: str,
                              schema: str | None = None) -> list[dict[str, Any]]:
        """Check constraints with their condition's SQL text."""
        return [{"name": name, "sqltext": expression}
                for name, _, _, _, expression in self._constraints(table, schema, "CHECK")]

    def get_table_comment(self, table: str, schema: str | None = None) -> dict[str, Any]:
        """The table's comment, if any."""
        rows = self._rows(
            "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = :schema AND table_name = :table",
            schema=self._schema(schema), table=table)
        return {"text": rows[0][0] if rows else None}


def _list(value: Any) -> list[Any]:
    """DuckDB lists come back as lists; ``duckdb_indexes().expressions`` as their text."""
    if isinstance(value, list):
        return value
    text = str(value or "").strip()
    return [p.strip() for p in text.strip("[]").split(",") if p.strip()] if text else []
