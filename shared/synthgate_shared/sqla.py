"""``OrmModel`` -> SQLAlchemy ``MetaData`` for a destination dialect, and foreign-key order.

Each portable type becomes the best type of the destination: native arrays, enums,
domains, ``tsvector``, ``uuid``, ``json``/``jsonb`` and ``interval`` on PostgreSQL; JSON
for arrays, TEXT for ``tsvector``, inline ``ENUM`` on MariaDB; a checked VARCHAR for enums
on SQLite. SQL text written in the source dialect (defaults, checks, domain checks) is
re-rendered by ``transpile`` (one pure expression, refused otherwise); what cannot be
translated is left out with a warning.
"""

from __future__ import annotations

import warnings
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.schema import SchemaItem
from sqlalchemy.types import TypeEngine
from sqlglot import exp

from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import Column, Domain, ForeignKey, OrmModel, Table
from synthgate_shared.sqltext import family
from synthgate_shared.transpile import transpile_condition, transpile_default
from synthgate_shared.types import PortableType

_SaType = TypeEngine[Any]
# columns whose defaults are too type-specific to carry over to another dialect
_NO_FOREIGN_DEFAULT = frozenset({"json", "jsonb", "tsvector", "bytea", "interval", "uuid"})
_MYSQL_KEY_VARCHAR = 255  # a TEXT column in a key becomes VARCHAR(255)
_MYSQL_MAX_KEY_VARCHAR = 768  # utf8mb4: 4 bytes a character, index keys up to 3072 bytes
_MYSQL_LONG_VARCHAR = 1000  # longer VARCHARs would break MariaDB's 64 KiB row limit


def duckdb_sequence_name(table: str, column: str) -> str:
    """The sequence that fills a database-filled key column on DuckDB."""
    return f"{table}_{column}_seq"


# --- foreign-key order --------------------------------------------------------------------

def _edges(model: OrmModel) -> dict[str, set[str]]:
    """Table -> the other tables of the model it references."""
    return {
        name: {fk.ref_table for fk in table.foreign_keys
               if fk.ref_table != name and fk.ref_table in model.tables}
        for name, table in model.tables.items()
    }


def _components(deps: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), members in the order of ``deps``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    position = {name: i for i, name in enumerate(deps)}

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(deps[node], key=position.__getitem__):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            out.append(sorted(members, key=position.__getitem__))

    for name in deps:
        if name not in index:
            visit(name)
    return out


def _order_component(model: OrmModel, members: list[str], deps: dict[str, set[str]]) -> list[str]:
    """Order the tables of one cycle: ready tables first; when stuck, break the cycle at the
    table with the fewest NOT NULL references into the rest (then the first in the model)."""
    left = list(members)
    order: list[str] = []

    def required_refs(name: str) -> int:
        table = model.tables[name]
        return sum(
            1 for fk in table.foreign_keys
            if fk.ref_table in left and fk.ref_table != name
            and any(not table.column(c).nullable for c in fk.columns)
        )

    while left:
        ready = [t for t in left if not (deps[t] & set(left))]
        pick = ready[0] if ready else min(left, key=required_refs)
        order.append(pick)
        left.remove(pick)
    return order


def table_order(model: OrmModel) -> list[str]:
    """All tables, parents before the tables that reference them.

    Self-references are ignored; a cycle is broken deterministically (see ``cycle_edges``
    for the foreign keys that then point at a later table). Ties keep the model's order.
    """
    deps = _edges(model)
    components = _components(deps)
    owner = {t: i for i, comp in enumerate(components) for t in comp}
    position = {name: i for i, name in enumerate(model.tables)}
    needs = {i: {owner[d] for t in comp for d in deps[t]} - {i}
             for i, comp in enumerate(components)}
    first = {i: min(position[t] for t in comp) for i, comp in enumerate(components)}
    done: set[int] = set()
    order: list[str] = []
    while len(done) < len(components):
        ready = [i for i in range(len(components)) if i not in done and needs[i] <= done]
        nxt = min(ready, key=first.__getitem__)
        done.add(nxt)
        order.extend(_order_component(model, components[nxt], deps))
    return order


def cycle_edges(model: OrmModel) -> list[tuple[str, ForeignKey]]:
    """The foreign keys ``(table, fk)`` that close a cycle: they reference a table that comes
    later in ``table_order``, so their values can only be filled after both rows exist.
    Self-references are not included (a table can reference its own earlier rows)."""
    position = {name: i for i, name in enumerate(table_order(model))}
    return [
        (name, fk)
        for name, table in model.tables.items()
        for fk in table.foreign_keys
        if fk.ref_table in position and fk.ref_table != name
        and position[fk.ref_table] > position[name]
    ]


# --- types ---------------------------------------------------------------------------------

class _Types:
    """Portable type -> SQLAlchemy type for one destination; enums and domains made once."""

    def __init__(self, model: OrmModel, dest: str, metadata: sa.MetaData,
                 schema: str | None) -> None:
        self.model = model
        self.dest = family(dest)
        self.metadata = metadata
        self.schema = schema
        self._enums: dict[str, _SaType] = {}
        self._domains: dict[str, postgresql.DOMAIN] = {}

    def enum(self, name: str) -> _SaType:
        if name not in self._enums:
            values = self.model.enums.get(name)
            if values is None:
                raise SynthgateError(f"enum {name!r} is not listed under 'enums'",
                                     where="orm.yaml")
            if self.dest == "postgresql":
                self._enums[name] = postgresql.ENUM(*values, name=name, schema=self.schema,
                                                    metadata=self.metadata)
            elif self.dest == "mysql":
                self._enums[name] = sa.Enum(*values, name=name, native_enum=True)
            else:
                self._enums[name] = sa.Enum(*values, name=name, native_enum=False,
                                            create_constraint=True)
        return self._enums[name]

    def domain(self, name: str, domain: Domain, base: _SaType, where: str) -> postgresql.DOMAIN:
        if name not in self._domains:
            where = f"{where}, domain {name}"
            checks = [c for c in (transpile_condition(check, "postgresql", "postgresql",
                                                      where=where, what="domain check")
                                  for check in domain.checks) if c is not None]
            check = checks[0] if len(checks) == 1 else (
                " AND ".join(f"({c})" for c in checks) if checks else None)
            default = None if domain.default is None else transpile_default(
                domain.default, "postgresql", "postgresql", where)
            self._domains[name] = postgresql.DOMAIN(
                name, base, not_null=None if domain.nullable else True,
                default=sa.text(default) if default is not None else None,
                check=check, schema=self.schema, metadata=self.metadata,
            )
        return self._domains[name]

    def column_type(self, column: Column, keyed: bool, autoincrement: bool) -> _SaType:
        ptype = column.portable
        if ptype.is_array:
            if self.dest != "postgresql":
                return sa.JSON()
            return postgresql.ARRAY(self.scalar(ptype.element, keyed, autoincrement),
                                    dimensions=ptype.array_dims)
        return self.scalar(ptype, keyed, autoincrement)

    def scalar(self, ptype: PortableType, keyed: bool, autoincrement: bool) -> _SaType:
        if ptype.enum:
            return self.enum(ptype.enum)
        if self.dest == "postgresql":
            return self._postgresql(ptype)
        if self.dest == "mysql":
            return self._mysql(ptype, keyed)
        return self._sqlite(ptype, autoincrement)

    def _common(self, ptype: PortableType) -> _SaType | None:
        base, params = ptype.base, ptype.params
        simple: dict[str, _SaType] = {
            "smallint": sa.SmallInteger(), "integer": sa.Integer(), "bigint": sa.BigInteger(),
            "boolean": sa.Boolean(), "date": sa.Date(),
        }
        if base in simple:
            return simple[base]
        if base == "numeric":
            scale = params[1] if len(params) > 1 else None
            return sa.Numeric(params[0] if params else None, scale)
        if base == "char":
            return sa.CHAR(ptype.length or 1)
        return None

    def _postgresql(self, ptype: PortableType) -> _SaType:
        base = ptype.base
        common = self._common(ptype)
        if common is not None:
            return common
        if base == "varchar":
            return sa.VARCHAR(ptype.length)
        native: dict[str, _SaType] = {
            "real": sa.REAL(), "double": postgresql.DOUBLE_PRECISION(), "text": sa.TEXT(),
            "time": postgresql.TIME(), "timetz": postgresql.TIME(timezone=True),
            "timestamp": postgresql.TIMESTAMP(), "timestamptz": postgresql.TIMESTAMP(timezone=True),
            "interval": postgresql.INTERVAL(), "uuid": postgresql.UUID(),
            "json": postgresql.JSON(), "jsonb": postgresql.JSONB(), "bytea": postgresql.BYTEA(),
            "tsvector": postgresql.TSVECTOR(),
        }
        return native[base]

    def _mysql(self, ptype: PortableType, keyed: bool) -> _SaType:
        base, length = ptype.base, ptype.length
        if base == "numeric" and not ptype.params:
            return sa.Numeric(38, 10)  # MariaDB's bare DECIMAL would be DECIMAL(10,0)
        if base == "char" and (length or 1) > 255:
            return sa.VARCHAR(length)
        if base in ("varchar", "text"):
            if keyed:
                return sa.VARCHAR(min(length or _MYSQL_KEY_VARCHAR, _MYSQL_MAX_KEY_VARCHAR))
            if base == "varchar" and length and (
                    length <= _MYSQL_LONG_VARCHAR
                    or self.model.source.dialect in ("mysql", "mariadb")):
                return sa.VARCHAR(length)
            return mysql.LONGTEXT()
        common = self._common(ptype)
        if common is not None:
            return common
        native: dict[str, _SaType] = {
            "real": mysql.FLOAT(), "double": mysql.DOUBLE(), "time": mysql.TIME(fsp=6),
            "timetz": mysql.TIME(fsp=6), "timestamp": mysql.DATETIME(fsp=6),
            "timestamptz": mysql.DATETIME(fsp=6), "interval": sa.Interval(), "uuid": sa.Uuid(),
            "json": sa.JSON(), "jsonb": sa.JSON(), "bytea": mysql.LONGBLOB(),
            "tsvector": mysql.LONGTEXT(),
        }
        return native[base]

    def _sqlite(self, ptype: PortableType, autoincrement: bool) -> _SaType:
        base = ptype.base
        if autoincrement and base in ("smallint", "bigint"):
            return sa.Integer()  # only INTEGER PRIMARY KEY is filled by SQLite
        common = self._common(ptype)
        if common is not None:
            return common
        if base == "varchar":
            return sa.VARCHAR(ptype.length)
        generic: dict[str, _SaType] = {
            "real": sa.REAL(), "double": sa.Double(), "text": sa.Text(), "time": sa.Time(),
            "timetz": sa.Time(timezone=True), "timestamp": sa.DateTime(),
            "timestamptz": sa.DateTime(timezone=True), "interval": sa.Interval(),
            "uuid": sa.Uuid(), "json": sa.JSON(), "jsonb": sa.JSON(),
            "bytea": sa.LargeBinary(), "tsvector": sa.Text(),
        }
        return generic[base]


# --- metadata -----------------------------------------------------------------------------

def _keyed_columns(table: Table, model: OrmModel) -> set[str]:
    """Columns that take part in a key or are referenced by one (MariaDB cannot key TEXT)."""
    keyed = set(table.primary_key)
    for unique in table.unique:
        keyed.update(unique.columns)
    for fk in table.foreign_keys:
        keyed.update(fk.columns)
    for other in model.tables.values():
        for fk in other.foreign_keys:
            if fk.ref_table == table.name:
                keyed.update(fk.ref_columns)
    return keyed


def _where(table: Table, column: Column) -> str:
    return f"orm.yaml: table {table.name}, column {column.name}"


class _TableBuilder:
    def __init__(self, model: OrmModel, dest: str, metadata: sa.MetaData,
                 schema: str | None) -> None:
        self.model = model
        self.source = model.source.dialect
        self.dest = family(dest)
        self.duckdb = dest == "duckdb"
        self.same = family(self.source) == self.dest
        self.schema = schema
        self.types = _Types(model, dest, metadata, schema)
        self.metadata = metadata
        self.closing = {id(fk) for _t, fk in cycle_edges(model)}

    def warn(self, where: str, what: str) -> None:
        warnings.warn(f"{where}: {what} ({self.source} -> {self.dest}); it is left out",
                      stacklevel=3)

    def column(self, table: Table, column: Column, keyed: set[str],
               extra_checks: list[sa.CheckConstraint]) -> sa.Column[Any]:
        single_key = table.primary_key == [column.name]
        autoincrement = column.autoincrement and column.name in table.primary_key and (
            self.dest != "sqlite" or single_key)
        domain = self.model.domains.get(column.domain) if column.domain else None
        coltype = self.types.column_type(column, column.name in keyed, autoincrement)
        nullable = column.nullable
        default = column.default
        if domain is not None and self.dest == "postgresql":
            coltype = self.types.domain(str(column.domain), domain, coltype,
                                        _where(table, column))
        elif domain is not None:
            nullable = nullable and domain.nullable
            default = default or domain.default
            extra_checks.extend(self.domain_checks(table, column, domain))
        args: list[SchemaItem] = []
        if column.autoincrement and not autoincrement and self.dest == "postgresql":
            args.append(sa.Identity())
        server_default = self.default(table, column, default)
        if autoincrement and self.duckdb:  # DuckDB has no SERIAL: a sequence of its own
            sequence = sa.Sequence(duckdb_sequence_name(table.name, column.name),
                                   schema=self.schema, metadata=self.metadata)
            args.append(sequence)
            server_default = str(sequence.next_value().compile(dialect=postgresql.dialect()))
        return sa.Column(
            column.name, coltype, *args, nullable=nullable, autoincrement=autoincrement,
            server_default=sa.text(server_default) if server_default is not None else None,
            comment=column.comment if self.dest != "sqlite" else None,
        )

    def default(self, table: Table, column: Column, default: str | None) -> str | None:
        if default is None:
            return None
        ptype = column.portable
        if not self.same and (ptype.is_array or ptype.base in _NO_FOREIGN_DEFAULT):
            self.warn(f"{table.name}.{column.name}", f"default {default!r} is not portable")
            return None
        out = transpile_default(default, self.source, self.dest, _where(table, column))
        if out is None:
            self.warn(f"{table.name}.{column.name}", f"default {default!r} cannot be translated")
        return out

    def domain_checks(self, table: Table, column: Column,
                      domain: Domain) -> list[sa.CheckConstraint]:
        """A domain's checks inlined on a column of a database without domains."""
        def value_to_column(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column) and node.name.upper() == "VALUE" and not node.table:
                return exp.column(column.name, quoted=True)
            return node

        out = []
        for check in domain.checks:
            sql = transpile_condition(check, "postgresql", self.dest, value_to_column,
                                      f"{_where(table, column)}, domain {column.domain}",
                                      "domain check")
            if sql is None:
                self.warn(f"{table.name}.{column.name}", f"domain check {check!r} cannot be "
                          "translated")
            else:
                out.append(sa.CheckConstraint(sql))
        return out

    def checks(self, table: Table) -> list[sa.CheckConstraint]:
        out = []
        for check in table.checks:
            where = f"orm.yaml: table {table.name}, check {check.name or '(unnamed)'}"
            sql = transpile_condition(check.sqltext, self.source, self.dest, where=where)
            if sql is None:
                self.warn(f"{table.name}", f"check {check.name or check.sqltext!r} cannot be "
                          "translated")
            else:
                out.append(sa.CheckConstraint(sql, name=check.name))
        return out

    def foreign_key(self, table: Table, fk: ForeignKey) -> sa.ForeignKeyConstraint:
        prefix = f"{self.schema}." if self.schema else ""
        closing = id(fk) in self.closing
        name = fk.name or (f"{table.name}_{'_'.join(fk.columns)}_fkey" if closing else None)
        deferrable = fk.deferrable and self.dest != "mysql" and not self.duckdb
        # DuckDB has no ON DELETE/UPDATE actions: the builder never deletes parents anyway
        actions = (None, None) if self.duckdb else (fk.on_delete, fk.on_update)
        return sa.ForeignKeyConstraint(
            fk.columns, [f"{prefix}{fk.ref_table}.{c}" for c in fk.ref_columns], name=name,
            ondelete=actions[0], onupdate=actions[1],
            deferrable=True if deferrable else None,
            initially="DEFERRED" if deferrable and fk.initially_deferred else None,
            use_alter=closing and self.dest != "sqlite",  # SQLite: no ALTER, none needed
        )

    def _duckdb_cycle(self, table: Table, fk: ForeignKey) -> bool:
        """DuckDB can neither add a key later (ALTER) nor defer one: the key that closes a
        cycle, or points back at its own table, is left out, and the builder's own checks
        keep it."""
        if id(fk) not in self.closing and fk.ref_table != table.name:
            return False
        self.warn(f"{table.name}: foreign key {fk.name or fk.columns}",
                  "a key closing a cycle cannot be declared on DuckDB")
        return True

    def key_order(self, table: Table) -> list[str]:
        """Primary-key columns; InnoDB wants an AUTO_INCREMENT column to lead its key."""
        key = list(table.primary_key)
        auto = [c for c in key if table.column(c).autoincrement]
        if self.dest == "mysql" and auto:
            key.remove(auto[0])
            key.insert(0, auto[0])
        return key

    def table(self, table: Table) -> sa.Table:
        keyed = _keyed_columns(table, self.model)
        extra_checks: list[sa.CheckConstraint] = []
        columns = [self.column(table, c, keyed, extra_checks) for c in table.columns]
        constraints: list[SchemaItem] = []
        if table.primary_key:
            constraints.append(sa.PrimaryKeyConstraint(*self.key_order(table)))
        constraints.extend(self.foreign_key(table, fk) for fk in table.foreign_keys
                           if not (self.duckdb and self._duckdb_cycle(table, fk)))
        constraints.extend(sa.UniqueConstraint(*u.columns, name=u.name) for u in table.unique)
        constraints.extend(self.checks(table))
        constraints.extend(extra_checks)
        return sa.Table(
            table.name, self.metadata, *columns, *constraints, schema=self.schema,
            comment=table.comment if self.dest != "sqlite" else None,
        )


def orm_to_metadata(model: OrmModel, dialect_name: str, schema: str | None = None) -> sa.MetaData:
    """SQLAlchemy ``MetaData`` that creates the model's tables in ``dialect_name``.

    Tables keep their column order, keys, unique constraints, checks and foreign keys
    (with ON DELETE/UPDATE rules); the foreign keys that close a cycle are added after the
    tables (``use_alter``). Enums and domains are schema items of the metadata, so
    ``create_all``/``drop_all`` create and drop them once.
    """
    metadata = sa.MetaData(schema=schema)
    builder = _TableBuilder(model, dialect_name, metadata, schema)
    for name in table_order(model):
        builder.table(model.tables[name])
    return metadata
