"""Create and remove the destination tables described by ``orm.yaml``.

Only the tables named in the model are touched (plus the enum and domain types they
use). Creation refuses to run over existing tables; on databases whose DDL is not
transactional (MariaDB, SQLite) a failed creation removes what it had created.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from synthgate_shared.db import connection_error, mask_dsn
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel
from synthgate_shared.sqla import orm_to_metadata, table_order


@contextlib.contextmanager
def _begin(engine: Engine, schema: str | None) -> Iterator[Connection]:
    """A transaction on the destination; a connection failure is one readable line."""
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        raise connection_error(exc, engine.url) from None
    with conn, conn.begin():
        if schema and engine.dialect.name == "postgresql":
            # defaults such as 'G'::mpaa_rating name types without a schema
            conn.execute(sa.text("SELECT set_config('search_path', :path, true)"),
                         {"path": f'"{schema}", public'})
        yield conn


def _existing(conn: Connection, model: OrmModel, schema: str | None, where: str) -> list[str]:
    inspector = sa.inspect(conn)
    if schema is not None and schema not in inspector.get_schema_names():
        raise SynthgateError(f"schema {schema!r} does not exist", where=where,
                             fix="create it first, or check --schema / DST_SCHEMA")
    present = set(inspector.get_table_names(schema))
    return [name for name in table_order(model) if name in present]


def create_tables(engine: Engine, model: OrmModel, schema: str | None = None) -> list[str]:
    """Create every table of ``model`` (with its enums, domains and constraints).

    Returns the table names in creation (foreign-key) order. Refuses, naming them, when
    any of the tables already exists.
    """
    where = mask_dsn(engine.url)
    metadata = orm_to_metadata(model, engine.dialect.name, schema)
    with _begin(engine, schema) as conn:
        existing = _existing(conn, model, schema, where)
        if existing:
            raise SynthgateError(
                f"{len(existing)} table(s) of orm.yaml already exist: {', '.join(existing)}",
                where=where, fix="run remove-tables first",
            )
        try:
            metadata.create_all(conn, checkfirst=False)
        except (OperationalError, ProgrammingError) as exc:
            detail = str(exc.orig).strip().splitlines()[0]
            failed = SynthgateError(f"cannot create the tables ({detail})", where=where,
                                    fix="check orm.yaml and the destination's permissions")
        else:
            return table_order(model)
    if engine.dialect.name != "postgresql":
        # MariaDB and SQLite commit each CREATE TABLE: remove what was made
        with _begin(engine, schema) as conn:
            metadata.drop_all(conn, checkfirst=True)
    raise failed


def remove_tables(engine: Engine, model: OrmModel, schema: str | None = None) -> list[str]:
    """Drop the tables of ``model`` that exist (and the enums and domains it created).

    Returns the names of the dropped tables, children first; tables that are not in
    ``orm.yaml`` are never touched.
    """
    where = mask_dsn(engine.url)
    metadata = orm_to_metadata(model, engine.dialect.name, schema)
    with _begin(engine, schema) as conn:
        existing = _existing(conn, model, schema, where)
        present = [metadata.tables[_key(name, schema)] for name in existing]
        metadata.drop_all(conn, tables=present, checkfirst=True)
    return list(reversed(existing))


def _key(name: str, schema: str | None) -> str:
    return f"{schema}.{name}" if schema else name
