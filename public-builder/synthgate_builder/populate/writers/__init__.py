"""How batches go into the destination, one writer per database family: ``base.Writer`` (multi-row
INSERT and INSERT ... RETURNING, the temporary table of a bulk UPDATE), ``postgres``
(``SET CONSTRAINTS ALL DEFERRED``; COPY with a sender thread and sequence keys taken up front
on psycopg2), ``mariadb`` (no deferred keys, temporary tables kept on rollback), ``sqlite``
(deferred foreign keys by PRAGMA) and ``duckdb`` (Arrow batches, sequence keys)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from synthgate_shared.sqla import family

from synthgate_builder.populate.writers.base import Writer
from synthgate_builder.populate.writers.duckdb import DuckDbWriter
from synthgate_builder.populate.writers.mariadb import MariaDbWriter
from synthgate_builder.populate.writers.postgres import CopyWriter, PostgresWriter
from synthgate_builder.populate.writers.sqlite import SqliteWriter


def writer_for(engine: Engine, schema: str | None) -> Writer:
    """The writer of the engine's database family (COPY on PostgreSQL through psycopg2)."""
    if engine.dialect.name == "duckdb":
        return DuckDbWriter(schema)
    kind = family(engine.dialect.name)
    if kind == "postgresql":
        return CopyWriter(schema) if engine.dialect.driver == "psycopg2" \
            else PostgresWriter(schema)
    return MariaDbWriter(schema) if kind == "mysql" else SqliteWriter(schema)
