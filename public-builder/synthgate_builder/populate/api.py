"""The entry points: ``create_data`` (passes of generation, each one transaction) and
``remove_data``; what ``create_data`` made (``DataSummary``)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from functools import partial

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from synthgate_shared.config import Config
from synthgate_shared.db import connection_error, connection_lost, first_cause, mask_dsn
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel
from synthgate_shared.sqla import cycle_edges, orm_to_metadata, table_order

from synthgate_builder.populate.passes import Run
from synthgate_builder.populate.writers import writer_for
from synthgate_builder.ssg_load import SsgModule, ssg_for


@dataclasses.dataclass
class DataSummary:
    """What ``create_data`` made: rows per table, passes, time taken, and notes (such as a
    statistic left to the default generators because all its rows were suppressed)."""

    rows: dict[str, int]
    passes: int
    seconds: float
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def total(self) -> int:
        """All rows inserted."""
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        """Inserted rows per second of wall time."""
        return self.total / self.seconds if self.seconds > 0 else 0.0


def _ssg_module(ssg: SsgModule | None, model: OrmModel, config: Config) -> SsgModule:
    """``ssg``, checked to be made for ``config`` and ``model``; without one, the generators
    rendered from ``config`` (no statistics)."""
    if ssg is None:
        return ssg_for(config, model, {})
    ssg.check_made_for(config, model)
    return ssg


def create_data(engine: Engine, model: OrmModel, config: Config,
                ssg: SsgModule | None, num_passes: int = 1,
                seed: int | None = None, schema: str | None = None,
                progress: Callable[[int], None] | None = None,
                scale: float | None = None) -> DataSummary:
    """Run ``num_passes`` passes of generation; each pass is one transaction.

    Each pass makes ``num_rows_per_pass`` rows per table, or with ``scale`` round(scale x
    the source's row count) from ``SRC_STATS["auto__<table>__profile"]`` (tables without
    one keep ``num_rows_per_pass``, and a note says so).

    Every foreign key points at an existing row, unique keys are kept, and the same
    ``seed`` gives the same rows. A failure rolls back the pass it happened in (earlier
    passes stay) and is raised as a one-line error. ``progress`` is called after each pass.
    """
    module = _ssg_module(ssg, model, config)
    module.start(seed, config.max_unique_constraint_tries)
    if scale is not None and not scale > 0:
        raise SynthgateError(f"--scale must be above 0, not {scale:g}", fix="e.g. --scale 1")
    run = Run(engine, model, config, module, seed, schema, scale)
    started = time.perf_counter()
    conn = _connect(engine)
    try:
        with conn:
            with conn.begin():
                run.load_state(conn)
            for done in range(num_passes):
                _one_pass(run, conn, done)
                if progress is not None:
                    progress(done + 1)
    finally:
        run.ctx.writer.close()
    return DataSummary(rows=run.rows, passes=num_passes,
                       seconds=time.perf_counter() - started, notes=run.ctx.notes)


def _one_pass(run: Run, conn: Connection, done: int) -> None:
    """Pass ``done + 1`` in its own transaction; its failures as one-line errors that say
    which passes are kept."""
    engine = run.ctx.engine
    # duckdb-engine's DB-API module has no IntegrityError (SQLAlchemy's wraps DuckDB's)
    dbapi_error = getattr(engine.dialect.loaded_dbapi, "IntegrityError", IntegrityError)
    kept = f"pass {done + 1} was rolled back; the {done} pass(es) before it are kept"
    try:
        with conn.begin():
            try:
                run.run_pass(conn)
            except BaseException as exc:
                run.ctx.writer.abandon()  # the copier thread lets go of the connection first
                if not isinstance(exc, Exception):
                    # interrupted (a signal): the driver may be mid-protocol, so drop
                    # the connection; the server rolls the pass back
                    conn.invalidate()
                raise
    except (IntegrityError, dbapi_error) as exc:
        raise SynthgateError(
            f"a row broke a constraint ({_first_line(exc)}); {kept}",
            where=mask_dsn(engine.url),
            fix="check the row and story generators of the table named",
        ) from exc
    except DBAPIError as exc:
        if not connection_lost(exc):
            raise
        raise SynthgateError(
            f"the connection to the database was lost ({first_cause(exc)}); {kept}",
            where=mask_dsn(engine.url), fix="check the server, then run create-data "
            "again for the passes still needed") from None
    except SynthgateError as exc:
        raise SynthgateError(f"{exc.what}; {kept}" if done else exc.what,
                             where=exc.where, fix=exc.fix) from exc


def _first_line(exc: Exception) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]


def remove_data(engine: Engine, model: OrmModel, config: Config,
                schema: str | None = None, only: set[str] | None = None) -> dict[str, int]:
    """Delete every row of the generated tables (not vocabulary, not ignored; of ``only``
    when given), children first, in one transaction. Returns the rows deleted per table."""
    metadata = orm_to_metadata(model, engine.dialect.name, schema)
    sa_tables = {t.name: t for t in metadata.tables.values()}
    names = [n for n in reversed(table_order(model))
             if not config.table(n).vocabulary_table and not config.table(n).ignore
             and (only is None or n in only)]
    writer = writer_for(engine, schema)
    conn = _connect(engine)
    try:
        with conn:
            return writer.remove(conn, [sa_tables[n] for n in names],
                                 partial(_cut_cycles, model, sa_tables))
    finally:
        writer.close()


def _connect(engine: Engine) -> Connection:
    """A connection to the destination; a refusal is one line naming the (masked) URL."""
    try:
        return engine.connect()
    except DBAPIError as exc:
        raise connection_error(exc, engine.url) from None


def _cut_cycles(model: OrmModel, sa_tables: dict[str, sa.Table], conn: Connection,
                names: list[str]) -> None:
    """Set to NULL the nullable references to rows deleted later (cycles, self)."""
    closing = [fk for _name, fk in cycle_edges(model)]
    for name in names:
        table = model.table(name)
        for fk in table.foreign_keys:
            later = any(fk is edge for edge in closing) or fk.ref_table == name
            if later and fk.ref_table in names and all(
                    table.column(c).nullable for c in fk.columns):
                conn.execute(sa.update(sa_tables[name]).values(dict.fromkeys(fk.columns)))
