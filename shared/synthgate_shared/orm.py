"""The ``orm.yaml`` model: a portable, secret-free description of a database schema.

``orm.yaml`` looks like this (columns keep their source order)::

    synthgate-orm: 1
    source: {dialect: postgresql, server_version: '15.4', schema: public, table_count: 2}
    enums:
      mpaa_rating: [G, PG, PG-13, R, NC-17]
    domains:
      year: {type: integer, nullable: true, checks: ['VALUE >= 1901 AND VALUE <= 2155']}
    tables:
      film:
        columns:
        - {name: film_id, type: integer, nullable: false, autoincrement: true}
        - {name: title, type: text, nullable: false}
        - {name: release_year, type: integer, domain: year}
        - {name: rating, type: 'enum:mpaa_rating', default: "'G'"}
        primary_key: [film_id]
        foreign_keys:
        - {name: film_language_id_fkey, columns: [language_id], ref_table: language,
           ref_columns: [language_id], on_delete: RESTRICT}
        unique: [{name: film_title_key, columns: [title]}]
        checks: [{name: film_length_check, sqltext: length > 0}]

The conversion to and from SQLAlchemy ``MetaData`` lives in ``synthgate_shared.sqla``.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from synthgate_shared.errors import SynthgateError
from synthgate_shared.types import PortableType, parse_type
from synthgate_shared.yamlio import (
    FlowMapping,
    FlowSequence,
    dump_yaml,
    load_yaml_file,
    load_yaml_text,
)

ORM_FORMAT_VERSION = 1


@dataclass
class Column:
    """One column. ``autoincrement`` means the database fills the value (serial, identity)."""

    name: str
    type: str
    nullable: bool = True
    autoincrement: bool = False
    domain: str | None = None
    default: str | None = None
    comment: str | None = None

    @property
    def portable(self) -> PortableType:
        """The parsed portable type."""
        return parse_type(self.type)


@dataclass
class ForeignKey:
    """A (possibly composite) foreign key from ``columns`` to ``ref_table.ref_columns``."""

    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    name: str | None = None
    on_delete: str | None = None
    on_update: str | None = None
    deferrable: bool = False
    initially_deferred: bool = False


@dataclass
class UniqueConstraint:
    """A unique constraint or unique index over ``columns``."""

    columns: list[str]
    name: str | None = None


@dataclass
class CheckConstraint:
    """A check constraint as SQL text in the source dialect."""

    sqltext: str
    name: str | None = None


@dataclass
class Domain:
    """A PostgreSQL domain resolved to its base type, nullability, default and checks."""

    type: str
    nullable: bool = True
    default: str | None = None
    checks: list[str] = field(default_factory=list)


@dataclass
class Table:
    """One table with its columns and constraints."""

    name: str
    columns: list[Column]
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    unique: list[UniqueConstraint] = field(default_factory=list)
    checks: list[CheckConstraint] = field(default_factory=list)
    comment: str | None = None
    # PostgreSQL partitions folded into this partitioned table (their rows are its rows)
    partitions: list[str] = field(default_factory=list)

    def column(self, name: str) -> Column:
        """The column called ``name``; a clear error when there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise SynthgateError(f"table {self.name!r} has no column {name!r}")

    @property
    def column_names(self) -> list[str]:
        """Column names in table order."""
        return [c.name for c in self.columns]


@dataclass
class SourceFingerprint:
    """What the source was, without any secret: dialect, server version, schema, size, and
    the role the agent read it as (``privileged_role``: it may do more than read)."""

    dialect: str
    server_version: str | None = None
    schema: str | None = None
    table_count: int = 0
    role: str | None = None
    privileged_role: bool = False


@dataclass
class OrmModel:
    """The whole ``orm.yaml``: source fingerprint, enums, domains and tables (in source order)."""

    source: SourceFingerprint
    tables: dict[str, Table] = field(default_factory=dict)
    enums: dict[str, list[str]] = field(default_factory=dict)
    domains: dict[str, Domain] = field(default_factory=dict)

    def table(self, name: str) -> Table:
        """The table called ``name``; a clear error when there is none."""
        try:
            return self.tables[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self.tables), n=1)
            raise SynthgateError(
                f"the schema has no table {name!r}",
                fix=f"did you mean {close[0]!r}?" if close else "check the table name",
            ) from None


def _compact(obj: Any) -> dict[str, Any]:
    """A dataclass as a one-line mapping without default-valued optional fields."""
    out: dict[str, Any] = FlowMapping()
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.name != "nullable" and (value is None or value is False or value in ([], {})):
            continue
        out[f.name] = value
    return out


def orm_to_data(model: OrmModel) -> dict[str, Any]:
    """Plain data (dicts and lists) for ``orm.yaml``."""
    tables: dict[str, Any] = {}
    for name, table in model.tables.items():
        entry: dict[str, Any] = {"columns": [_compact(c) for c in table.columns]}
        if table.primary_key:
            entry["primary_key"] = FlowSequence(table.primary_key)
        if table.foreign_keys:
            entry["foreign_keys"] = [_compact(fk) for fk in table.foreign_keys]
        if table.unique:
            entry["unique"] = [_compact(u) for u in table.unique]
        if table.checks:
            entry["checks"] = [_compact(c) for c in table.checks]
        if table.comment:
            entry["comment"] = table.comment
        if table.partitions:
            entry["partitions"] = FlowSequence(table.partitions)
        tables[name] = entry
    data: dict[str, Any] = {
        "synthgate-orm": ORM_FORMAT_VERSION,
        "source": {k: v for k, v in asdict(model.source).items()  # no role: no role keys
                   if model.source.role is not None or k not in ("role", "privileged_role")},
    }
    if model.enums:
        data["enums"] = {k: FlowSequence(v) for k, v in model.enums.items()}
    if model.domains:
        data["domains"] = {k: _compact(v) for k, v in model.domains.items()}
    data["tables"] = tables
    return data


def dump_orm(model: OrmModel) -> str:
    """Render the model as ``orm.yaml`` text."""
    header = (
        "# orm.yaml: the source schema as synthgate read it (no data, no secrets).\n"
        "# Written by `synthgate-agent make-tables`; the builder creates tables from it.\n"
    )
    return header + dump_yaml(orm_to_data(model))


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise SynthgateError(f"expected a mapping, found {type(data).__name__}", where=where)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise SynthgateError(f"unknown key {sorted(unknown)[0]!r}", where=where)
    try:
        return cls(**data)
    except TypeError as exc:
        raise SynthgateError(str(exc), where=where) from None


def orm_from_data(data: Any, where: str = "orm.yaml") -> OrmModel:
    """Build the model from plain data, with errors naming the place in the file."""
    if not isinstance(data, dict) or "tables" not in data:
        raise SynthgateError("not an orm.yaml file (no 'tables' key)", where=where)
    version = data.get("synthgate-orm", ORM_FORMAT_VERSION)
    if version != ORM_FORMAT_VERSION:
        raise SynthgateError(f"unsupported orm.yaml format version {version!r}", where=where)
    source = _build(SourceFingerprint, data.get("source") or {"dialect": "unknown"},
                    f"{where}: source")
    enums = {str(k): [str(v) for v in vals] for k, vals in (data.get("enums") or {}).items()}
    domains = {
        str(k): _build(Domain, v, f"{where}: domains.{k}")
        for k, v in (data.get("domains") or {}).items()
    }
    tables: dict[str, Table] = {}
    for tname, tdata in (data.get("tables") or {}).items():
        place = f"{where}: tables.{tname}"
        if not isinstance(tdata, dict):
            raise SynthgateError("expected a mapping", where=place)
        tdata = dict(tdata)
        columns = [
            _build(Column, c, f"{place}.columns[{i}]")
            for i, c in enumerate(tdata.pop("columns", []))
        ]
        for column in columns:
            column.portable  # noqa: B018 - validates the type string early
        table = Table(
            name=str(tname),
            columns=columns,
            primary_key=list(tdata.pop("primary_key", []) or []),
            foreign_keys=[
                _build(ForeignKey, fk, f"{place}.foreign_keys[{i}]")
                for i, fk in enumerate(tdata.pop("foreign_keys", []) or [])
            ],
            unique=[
                _build(UniqueConstraint, u, f"{place}.unique[{i}]")
                for i, u in enumerate(tdata.pop("unique", []) or [])
            ],
            checks=[
                _build(CheckConstraint, c, f"{place}.checks[{i}]")
                for i, c in enumerate(tdata.pop("checks", []) or [])
            ],
            comment=tdata.pop("comment", None),
            partitions=[str(p) for p in tdata.pop("partitions", []) or []],
        )
        if tdata:
            raise SynthgateError(f"unknown key {sorted(tdata)[0]!r}", where=place)
        tables[table.name] = table
    return OrmModel(source=source, tables=tables, enums=enums, domains=domains)


def load_orm_text(text: str, where: str = "orm.yaml") -> OrmModel:
    """Parse ``orm.yaml`` text into the model."""
    return orm_from_data(load_yaml_text(text, where), where)


def load_orm(path: Path) -> OrmModel:
    """Read an ``orm.yaml`` file into the model."""
    return orm_from_data(load_yaml_file(path), str(path))
