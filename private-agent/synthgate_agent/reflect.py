"""Reflect the source schema (read only) into the portable ``orm.yaml`` model.

Every reflected type is mapped to a portable type string of ``synthgate_shared.types``;
types with no portable equivalent become ``text`` (with a warning), so the destination
can always be created. PostgreSQL partitions are folded into their partitioned parent
table (the parent also gets the partitions' foreign keys), views are left out.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Connection, Inspector
from sqlalchemy.sql.sqltypes import _Binary
from sqlalchemy.types import TypeEngine
from synthgate_shared.db import mask_dsn
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import (
    CheckConstraint,
    Column,
    Domain,
    ForeignKey,
    OrmModel,
    SourceFingerprint,
    Table,
    UniqueConstraint,
)
from synthgate_shared.types import PortableType, parse_type

from synthgate_agent.duckdb_catalog import DuckDBCatalog
from synthgate_agent.source import Source, read_only

# PostgreSQL writes "NULL::character varying"; MariaDB writes "NULL": both mean no default.
_NULL_DEFAULT = re.compile(r"^\(?NULL\)?(::[\w .\"\[\]]+)?$", re.IGNORECASE)
_FK_ACTIONS = frozenset({"CASCADE", "RESTRICT", "SET NULL", "SET DEFAULT"})


class _Mapped:
    """A portable type string plus the named enum it uses, if any."""

    def __init__(self, type_: str, enum: tuple[str, list[str]] | None = None,
                 domain: str | None = None) -> None:
        self.type = type_
        self.enum = enum
        self.domain = domain


def portable_type(coltype: TypeEngine[Any], inline_enum_name: str) -> _Mapped | None:
    """Map a reflected SQLAlchemy type to a portable type; None when there is no equivalent.

    ``inline_enum_name`` names an enum that has no name of its own (MariaDB ``ENUM(...)``).
    """
    if isinstance(coltype, postgresql.DOMAIN):
        inner = portable_type(coltype.data_type, inline_enum_name)
        if inner is None:
            return None
        return _Mapped(inner.type, inner.enum, str(coltype.name))
    if isinstance(coltype, sa.ARRAY):
        item = portable_type(coltype.item_type, inline_enum_name)
        if item is None:
            return None
        dims = coltype.dimensions or 1
        return _Mapped(item.type + "[]" * dims, item.enum)
    if isinstance(coltype, sa.Enum):
        name = str(coltype.name or inline_enum_name)
        return _Mapped(f"enum:{name}", (name, list(coltype.enums)))
    scalar = _scalar_type(coltype)
    return _Mapped(scalar) if scalar else None


def _integer_type(coltype: TypeEngine[Any]) -> str:
    unsigned = bool(getattr(coltype, "unsigned", False))
    if isinstance(coltype, mysql.TINYINT):
        return "smallint"
    if isinstance(coltype, sa.SmallInteger):
        return "integer" if unsigned else "smallint"
    if isinstance(coltype, sa.BigInteger):
        return "numeric(20)" if unsigned else "bigint"
    if isinstance(coltype, mysql.MEDIUMINT):
        return "integer"
    return "bigint" if unsigned else "integer"


def _string_type(coltype: sa.String) -> str:
    if isinstance(coltype, mysql.TINYTEXT):
        return "varchar(255)"
    if isinstance(coltype, (sa.Text, mysql.MEDIUMTEXT, mysql.LONGTEXT)):
        return "text"
    if isinstance(coltype, sa.CHAR):
        return f"char({coltype.length or 1})"
    return f"varchar({coltype.length})" if coltype.length else "varchar"


def _number_type(coltype: TypeEngine[Any]) -> str | None:
    """Portable name of a boolean or numeric type (None: not one)."""
    if isinstance(coltype, mysql.TINYINT) and coltype.display_width == 1:
        return "boolean"  # MariaDB/MySQL spell BOOLEAN as TINYINT(1)
    if isinstance(coltype, sa.Boolean):
        return "boolean"
    if isinstance(coltype, mysql.YEAR):
        return "smallint"
    if isinstance(coltype, sa.Integer):
        return _integer_type(coltype)
    if isinstance(coltype, sa.Float):  # before Numeric: Float is a Numeric
        if isinstance(coltype, (sa.REAL, mysql.FLOAT)) or (
            coltype.precision is not None and coltype.precision <= 24
        ):
            return "real"
        return "double"
    if isinstance(coltype, sa.Numeric):
        if coltype.precision is None:
            return "numeric"
        if coltype.scale is None:
            return f"numeric({coltype.precision})"
        return f"numeric({coltype.precision},{coltype.scale})"
    return None


def _temporal_type(coltype: TypeEngine[Any]) -> str | None:
    """Portable name of an interval, timestamp, date or time type (None: not one)."""
    if isinstance(coltype, (postgresql.INTERVAL, sa.Interval)):
        return "interval"
    if isinstance(coltype, sa.DateTime):
        return "timestamptz" if coltype.timezone else "timestamp"
    if isinstance(coltype, sa.Date):
        return "date"
    if isinstance(coltype, sa.Time):
        return "timetz" if coltype.timezone else "time"
    return None


def _scalar_type(coltype: TypeEngine[Any]) -> str | None:
    """Portable name of a non-array, non-enum type (None: unknown)."""
    number = _number_type(coltype)
    if number is not None:
        return number
    if isinstance(coltype, sa.String):
        return _string_type(coltype)
    if isinstance(coltype, sa.Uuid):
        return "uuid"
    if isinstance(coltype, postgresql.JSONB):
        return "jsonb"
    if isinstance(coltype, sa.JSON):
        return "json"
    if isinstance(coltype, postgresql.TSVECTOR):
        return "tsvector"
    if isinstance(coltype, _Binary):  # BYTEA, BLOB of every size, (VAR)BINARY
        return "bytea"
    return _temporal_type(coltype)


def _clean_default(default: str | None, dialect: str, schema: str) -> str | None:
    """The default's SQL text without NULL defaults and without the source schema name."""
    if default is None or _NULL_DEFAULT.match(default.strip()):
        return None
    if dialect == "postgresql":
        # 'G'::public.mpaa_rating -> 'G'::mpaa_rating: the destination schema may differ
        default = re.sub(rf'::(?:"{re.escape(schema)}"|{re.escape(schema)})\.', "::", default)
    return default


def _name(value: Any) -> str | None:
    """A reflected name as a plain ``str`` (SQLAlchemy hands out ``quoted_name``)."""
    return None if value is None else str(value)


def _fk_action(value: str | None) -> str | None:
    action = (value or "").upper()
    return action if action in _FK_ACTIONS else None


class _Reader:
    """Reads one schema through an inspector bound to a read-only connection."""

    def __init__(self, conn: Connection, source: Source) -> None:
        self.conn = conn
        self.insp: Inspector = (DuckDBCatalog(conn)  # type: ignore[assignment]
                                if source.dialect == "duckdb" else sa.inspect(conn))
        # mysql+pymysql and mariadb+pymysql read MariaDB alike
        self.dialect = "mysql" if source.dialect in ("mysql", "mariadb") else source.dialect
        self.is_mariadb = bool(getattr(conn.dialect, "is_mariadb", False))
        self.schema = source.schema
        self.schema_name: str = source.schema or self.insp.default_schema_name or ""
        self.where = mask_dsn(source.engine.url)
        self.enums: dict[str, list[str]] = {}
        self.domains: dict[str, Domain] = {}
        self._pg_domains: dict[str, dict[str, Any]] = {}
        self._array_dims: dict[tuple[str, str], int] = {}

    # --- schema level ---------------------------------------------------------------------

    def check_schema(self) -> None:
        if self.schema is None:
            return
        names = self.insp.get_schema_names()
        if self.schema not in names:
            shown = ", ".join(n for n in names if n not in ("information_schema",)
                              and not n.startswith("pg_"))
            raise SynthgateError(
                f"schema {self.schema!r} does not exist", where=self.where,
                fix=f"check --schema / SRC_SCHEMA (schemas there: {shown or 'none'})",
            )

    def partitions(self) -> dict[str, str]:
        """PostgreSQL partitions of this schema -> their root partitioned table."""
        if self.dialect != "postgresql":
            return {}
        rows = self.conn.execute(sa.text(
            "SELECT c.relname, r.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_class r ON r.oid = pg_partition_root(c.oid) "
            "WHERE c.relispartition AND n.nspname = :schema"
        ), {"schema": self.schema_name})
        return {str(part): str(root) for part, root in rows}

    def load_pg_catalog(self) -> None:
        """Domains and declared array dimensions, which the column reflection does not give."""
        if self.dialect != "postgresql":
            return
        for dom in self.insp.get_domains(self.schema_name):  # type: ignore[attr-defined]
            self._pg_domains[str(dom["name"])] = dom
        # get_domains() leaves out the base type's length/precision (typtypmod)
        rows = self.conn.execute(sa.text(
            "SELECT t.typname, format_type(t.typbasetype, t.typtypmod) FROM pg_type t "
            "JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE t.typtype = 'd' AND n.nspname = :schema"
        ), {"schema": self.schema_name})
        for name, base in rows:
            if str(name) in self._pg_domains:
                self._pg_domains[str(name)]["type"] = str(base)
        rows = self.conn.execute(sa.text(
            "SELECT c.relname, a.attname, a.attndims FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND a.attndims > 0 AND NOT a.attisdropped"
        ), {"schema": self.schema_name})
        self._array_dims = {(str(t), str(c)): int(d) for t, c, d in rows}

    def fingerprint(self, table_count: int) -> SourceFingerprint:
        info = self.conn.dialect.server_version_info or ()
        version = ".".join(str(p) for p in info) or None
        if self.dialect == "duckdb":  # duckdb-engine reports the PostgreSQL it imitates
            version = str(self.conn.exec_driver_sql("SELECT version()").scalar()).lstrip("v")
        dialect = "mariadb" if self.is_mariadb else self.dialect
        return SourceFingerprint(dialect=dialect, server_version=version,
                                 schema=self.schema_name or None, table_count=table_count)

    # --- table level ----------------------------------------------------------------------

    def table(self, name: str) -> Table:
        pk = self.insp.get_pk_constraint(name, self.schema)
        pk_cols = [str(c) for c in pk.get("constrained_columns") or []]
        checks = self.checks(name)
        columns = [self.column(name, col, pk_cols)
                   for col in self.insp.get_columns(name, self.schema)]
        if self.dialect == "mysql":
            checks = self._mariadb_json_columns(columns, checks)
        table = Table(
            name=name,
            columns=columns,
            primary_key=pk_cols,
            foreign_keys=self.foreign_keys(name),
            unique=self.uniques(name, pk_cols),
            checks=sorted(checks, key=lambda c: (c.name or "", c.sqltext)),
            comment=self._table_comment(name),
        )
        return table

    def checks(self, name: str) -> list[CheckConstraint]:
        if self.dialect != "mysql":
            return [CheckConstraint(sqltext=str(c["sqltext"]), name=_name(c.get("name")))
                    for c in self.insp.get_check_constraints(name, self.schema)]
        # SQLAlchemy misses MariaDB's column-level checks (JSON columns have one)
        sql = (
            "SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = :schema AND TABLE_NAME = :table"
        ) if self.is_mariadb else (
            "SELECT tc.CONSTRAINT_NAME, cc.CHECK_CLAUSE "
            "FROM information_schema.TABLE_CONSTRAINTS tc "
            "JOIN information_schema.CHECK_CONSTRAINTS cc "
            "ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA "
            "AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME "
            "WHERE tc.TABLE_SCHEMA = :schema AND tc.TABLE_NAME = :table "
            "AND tc.CONSTRAINT_TYPE = 'CHECK'"
        )
        rows = self.conn.execute(sa.text(sql), {"schema": self.schema_name, "table": name})
        return [CheckConstraint(sqltext=str(clause), name=str(cname)) for cname, clause in rows]

    def column(self, table: str, col: Any, pk_cols: list[str]) -> Column:
        name = str(col["name"])
        coltype = col["type"]
        if isinstance(coltype, sa.ARRAY) and (table, name) in self._array_dims:
            coltype = sa.ARRAY(coltype.item_type, dimensions=self._array_dims[(table, name)])
        mapped = portable_type(coltype, f"{table}_{name}")
        if mapped is None:
            warnings.warn(f"{table}.{name}: type {coltype!r} has no portable equivalent; "
                          "it is written as text", stacklevel=2)
            mapped = _Mapped("text")
        if mapped.enum:
            self.enums[mapped.enum[0]] = mapped.enum[1]
        if mapped.domain:
            mapped.type = self._add_domain(mapped.domain, mapped.type)
        autoincrement = self._autoincrement(col, pk_cols)
        default = None if autoincrement else _clean_default(
            col.get("default"), self.dialect, self.schema_name)
        return Column(
            name=name, type=mapped.type, nullable=bool(col["nullable"]),
            autoincrement=autoincrement, domain=mapped.domain, default=default,
            comment=_name(col.get("comment") or None),
        )

    def _autoincrement(self, col: Any, pk_cols: list[str]) -> bool:
        if self.dialect == "sqlite":
            # only a single INTEGER PRIMARY KEY is an alias of the rowid that SQLite fills
            return pk_cols == [col["name"]] and type(col["type"]) is sa.INTEGER
        if col.get("identity"):
            return True
        return col.get("autoincrement") is True and isinstance(col["type"], sa.Integer)

    def _add_domain(self, name: str, type_: str) -> str:
        """Record a domain; returns its portable type (with the length the column lacks)."""
        dom = self._pg_domains.get(name, {})
        # the reflected column type lacks the domain's length/precision: take it from format_type
        params = re.search(r"\((\d+(?:,\s*\d+)?)\)", str(dom.get("type", "")))
        base = parse_type(type_)
        if params and not base.params and base.base in ("char", "varchar", "numeric"):
            numbers = tuple(int(p) for p in params[1].split(","))
            type_ = PortableType(base.base, numbers, None, base.array_dims).render()
        self.domains[name] = Domain(
            type=type_,
            nullable=bool(dom.get("nullable", True)),
            default=_clean_default(dom.get("default"), self.dialect, self.schema_name),
            checks=[str(c["check"]) for c in dom.get("constraints", [])],
        )
        return type_

    def _mariadb_json_columns(self, columns: list[Column],
                              checks: list[CheckConstraint]) -> list[CheckConstraint]:
        """MariaDB stores JSON as LONGTEXT plus CHECK (json_valid(col)): give back ``json``."""
        kept = []
        by_name = {c.name: c for c in columns}
        for check in checks:
            column = by_name.get(check.name or "")
            text = check.sqltext.replace("`", "").replace(" ", "").lower()
            if column is not None and text == f"json_valid({column.name.lower()})":
                column.type = "json"
            else:
                kept.append(check)
        return kept

    def foreign_keys(self, name: str) -> list[ForeignKey]:
        fks = [self._foreign_key(fk) for fk in self.insp.get_foreign_keys(name, self.schema)]
        return sorted((fk for fk in fks if fk is not None), key=lambda f: (f.name or "", f.columns))

    def _foreign_key(self, fk: Any) -> ForeignKey | None:
        ref_schema = fk.get("referred_schema")
        if ref_schema and ref_schema != self.schema_name:
            warnings.warn(f"foreign key {fk.get('name')} points into schema {ref_schema!r}; "
                          "it is left out", stacklevel=2)
            return None
        options = fk.get("options") or {}
        return ForeignKey(
            columns=[str(c) for c in fk["constrained_columns"]],
            ref_table=str(fk["referred_table"]),
            ref_columns=[str(c) for c in fk["referred_columns"]],
            name=_name(fk.get("name")),
            on_delete=_fk_action(options.get("ondelete")),
            on_update=_fk_action(options.get("onupdate")),
            deferrable=bool(options.get("deferrable")),
            initially_deferred=str(options.get("initially") or "").upper() == "DEFERRED",
        )

    def uniques(self, name: str, pk_cols: list[str]) -> list[UniqueConstraint]:
        """Unique constraints and unique indexes over plain columns (partial ones are skipped)."""
        seen: set[tuple[str, ...]] = {tuple(pk_cols)}
        out: list[UniqueConstraint] = []
        for uc in self.insp.get_unique_constraints(name, self.schema):
            cols = tuple(str(c) for c in uc["column_names"])
            if cols not in seen:
                seen.add(cols)
                out.append(UniqueConstraint(columns=list(cols), name=_name(uc.get("name"))))
        for ix in self.insp.get_indexes(name, self.schema):
            cols = tuple(str(c) for c in ix["column_names"] if c is not None)
            options = ix.get("dialect_options") or {}
            if (not ix["unique"] or None in ix["column_names"] or options.get("postgresql_where")
                    or cols in seen):
                continue
            seen.add(cols)
            out.append(UniqueConstraint(columns=list(cols), name=_name(ix.get("name"))))
        return sorted(out, key=lambda u: (u.name or "", u.columns))

    def _table_comment(self, name: str) -> str | None:
        if self.dialect == "sqlite":
            return None
        comment = self.insp.get_table_comment(name, self.schema).get("text")
        return str(comment) if comment else None


def _fold_partition_keys(tables: dict[str, Table], reader: _Reader,
                         partitions: dict[str, str]) -> None:
    """Give each partitioned table the foreign keys declared on its partitions only."""
    for part, root in sorted(partitions.items()):
        parent = tables.get(root)
        if parent is None:
            continue
        have = {(tuple(fk.columns), fk.ref_table, tuple(fk.ref_columns))
                for fk in parent.foreign_keys}
        for fk in reader.foreign_keys(part):
            fk.ref_table = partitions.get(fk.ref_table, fk.ref_table)
            key = (tuple(fk.columns), fk.ref_table, tuple(fk.ref_columns))
            if key in have:
                continue
            have.add(key)
            # the name PostgreSQL itself would give the key on the parent
            fk.name = f"{root}_{'_'.join(fk.columns)}_fkey"
            parent.foreign_keys.append(fk)
        parent.foreign_keys.sort(key=lambda f: (f.name or "", f.columns))


def reflect_schema(source: Source) -> OrmModel:
    """Read the source schema (read only) into an ``OrmModel``.

    Tables come in name order; partitions are folded into their parent and views are
    left out. Foreign keys into tables that are not part of the model are dropped with a
    warning. Raises a clear error for an unknown or empty schema.
    """
    with read_only(source) as conn, warnings.catch_warnings():
        # SQLAlchemy warns about types it does not know; we warn once per column instead
        warnings.filterwarnings("ignore", message="Did not recognize type",
                                category=sa.exc.SAWarning)
        reader = _Reader(conn, source)
        reader.check_schema()
        partitions = reader.partitions()
        names = sorted(str(n) for n in reader.insp.get_table_names(reader.schema)
                       if n not in partitions)
        if not names:
            raise SynthgateError(
                f"schema {reader.schema_name!r} has no tables", where=reader.where,
                fix="check --schema / SRC_SCHEMA and the database name",
            )
        reader.load_pg_catalog()
        tables = {name: reader.table(name) for name in names}
        _fold_partition_keys(tables, reader, partitions)
        for part, root in sorted(partitions.items()):
            if root in tables:  # recorded so config.yaml entries of partitions are explained
                tables[root].partitions.append(part)
        fingerprint = reader.fingerprint(len(tables))
    for table in tables.values():
        for fk in list(table.foreign_keys):
            if fk.ref_table not in tables:
                warnings.warn(f"{table.name}: foreign key {fk.name} points at "
                              f"{fk.ref_table!r}, which is not a table of the schema; "
                              "it is left out", stacklevel=2)
                table.foreign_keys.remove(fk)
    return OrmModel(
        source=fingerprint,
        tables=tables,
        enums=dict(sorted(reader.enums.items())),
        domains=dict(sorted(reader.domains.items())),
    )
