"""``dump-data``: every generated and vocabulary table of the destination -> CSV or Parquet.

Tables are read in chunks (a server-side cursor where the driver has one; DuckDB hands out
Arrow record batches), so memory stays flat whatever the table's size. Parquet columns get
the types of ``orm.yaml`` through ``synthgate_builder.arrow``; CSV is written by Arrow's CSV
writer (arrays as JSON text, binary as hex). The files go into a temporary folder beside the
output folder, which is renamed into place only when every table is written.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from synthgate_shared.config import Config
from synthgate_shared.db import connection_error, mask_dsn
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel, Table
from synthgate_shared.sqla import orm_to_metadata, table_order

from synthgate_builder.arrow import arrow_array, arrow_batch, arrow_schema

if TYPE_CHECKING:
    from synthgate_builder.populate import DataSummary

FORMATS = ("csv", "parquet")
CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class DumpedTable:
    """One table written: its file, its row count and the seconds it took."""

    name: str
    path: Path
    rows: int
    seconds: float


def dumped_tables(model: OrmModel, config: Config) -> list[str]:
    """The tables ``dump-data`` writes: generated and vocabulary tables, parents first."""
    return [n for n in table_order(model) if not config.table(n).ignore]


def refuse_folder(out: Path, force: bool) -> None:
    """Refuse an output folder that is a file, or that holds files, without ``force``."""
    if out.exists() and not out.is_dir():
        raise SynthgateError("the output folder is a file", where=str(out),
                             fix="give the path of a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise SynthgateError("output folder already exists and is not empty", where=str(out),
                             fix="give a new folder, or use --force to replace it")


@contextlib.contextmanager
def atomic_folder(out: Path, force: bool) -> Iterator[Path]:
    """A temporary folder beside ``out`` that becomes ``out`` when the block succeeds.

    Refuses what ``refuse_folder`` refuses; with ``force``, the old folder is replaced only
    once the new one is complete. On any error the temporary folder is removed.
    """
    out = Path(out)
    refuse_folder(out, force)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:
        raise SynthgateError(f"cannot write to the output folder ({exc.strerror})",
                             where=str(out.parent.absolute()),
                             fix="give a writable folder") from None
    try:
        yield tmp
        tmp.chmod(0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            old.rmdir()
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _csv_safe(batch: pa.Table) -> pa.Table:
    """Arrays as JSON text and binary as hex: what Arrow's CSV writer cannot write."""
    for i, field in enumerate(batch.schema):
        if pa.types.is_list(field.type) or pa.types.is_binary(field.type):
            values = batch.column(i).to_pylist()
            text = [None if v is None else (v.hex() if isinstance(v, bytes)
                                            else json.dumps(v, default=str)) for v in values]
            batch = batch.set_column(i, pa.field(field.name, pa.string()),
                                    pa.array(text, type=pa.string()))
    return batch


def _chunks(conn: Connection, sa_table: sa.Table, table: Table) -> Iterator[pa.Table]:
    """The rows of ``table`` as Arrow tables of at most ``CHUNK_ROWS`` rows, typed by the model."""
    schema = arrow_schema(table)
    if conn.dialect.name == "duckdb":  # native Arrow batches: no Python objects at all
        raw: Any = conn.connection.dbapi_connection
        query = str(sa.select(sa_table).compile(conn))
        reader = raw.sql(query).to_arrow_reader(CHUNK_ROWS)
        try:
            for record_batch in reader:
                yield _typed(pa.Table.from_batches([record_batch]), table, schema)
        finally:  # DuckDB refuses the rollback while a result is open
            reader.close()
        return
    result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(
        sa.select(sa_table))
    names = table.column_names
    for rows in result.partitions(CHUNK_ROWS):
        columns = [list(c) for c in zip(*rows, strict=True)]
        batch = arrow_batch(table, names, columns)
        if batch is None:
            raise SynthgateError(f"a value of table {table.name!r} does not fit its orm.yaml "
                                 "type", fix="check the table's column types in orm.yaml")
        yield batch


def _typed(batch: pa.Table, table: Table, schema: pa.Schema) -> pa.Table:
    """``batch`` cast to the model's types; arrays stored as JSON text become lists."""
    for i, field in enumerate(schema):
        if pa.types.is_list(field.type) and not pa.types.is_list(batch.schema.field(i).type):
            values = arrow_array(table.column(field.name).portable, batch.column(i).to_pylist())
            batch = batch.set_column(i, field, values)
    return batch.cast(schema)


def _write_table(conn: Connection, sa_table: sa.Table, table: Table, path: Path,
                 fmt: str) -> int:
    """Write one table into ``path``; returns the number of rows."""
    schema = arrow_schema(table)
    rows = 0
    if fmt == "parquet":
        with pq.ParquetWriter(path, schema) as writer:
            for batch in _chunks(conn, sa_table, table):
                writer.write_table(batch)
                rows += batch.num_rows
        return rows
    writer_schema = _csv_safe(schema.empty_table()).schema
    with pacsv.CSVWriter(path, writer_schema) as csv_writer:
        for batch in _chunks(conn, sa_table, table):
            csv_writer.write_table(_csv_safe(batch))
            rows += batch.num_rows
    return rows


def dump_data(engine: Engine, model: OrmModel, config: Config, out: Path, fmt: str,
              force: bool = False, schema: str | None = None) -> list[DumpedTable]:
    """Write every generated and vocabulary table of the destination into ``out`` as
    ``<table>.csv`` or ``<table>.parquet``; all files or none (see ``atomic_folder``)."""
    if fmt not in FORMATS:
        raise SynthgateError(f"unknown format {fmt!r}", fix="use --format csv or parquet")
    names = dumped_tables(model, config)
    sa_tables = {t.name: t for t in orm_to_metadata(model, engine.dialect.name,
                                                    schema).tables.values()}
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        raise connection_error(exc, engine.url) from None
    done: list[DumpedTable] = []
    with conn, conn.begin():
        present = set(sa.inspect(conn).get_table_names(schema=schema))
        missing = [n for n in names if n not in present]
        if missing:
            raise SynthgateError(f"{len(missing)} table(s) of orm.yaml are not in the "
                                 f"destination: {', '.join(missing)}",
                                 where=mask_dsn(engine.url), fix="run create-tables first")
        with atomic_folder(out, force) as tmp:
            for name in names:
                started = time.perf_counter()
                rows = _write_table(conn, sa_tables[name], model.table(name),
                                    tmp / f"{name}.{fmt}", fmt)
                done.append(DumpedTable(name, Path(out) / f"{name}.{fmt}", rows,
                                        time.perf_counter() - started))
    return done


def create_data_files(model: OrmModel, config: Config, vocab_files: dict[str, Path],
                      out: Path, fmt: str, force: bool,
                      generate: Callable[[Engine], DataSummary]) -> tuple[DataSummary,
                                                                          list[DumpedTable]]:
    """Synthetic tables straight to files, no database given: the tables are made in a
    temporary DuckDB file (so keys and constraints are checked as in any destination), the
    vocabulary loaded and ``generate`` run on it, then every table dumped into ``out``."""
    from synthgate_shared.db import create_engine_for, parse_dsn

    from synthgate_builder.tables import create_tables
    from synthgate_builder.vocab import load_vocab

    if fmt not in FORMATS:
        raise SynthgateError(f"unknown format {fmt!r}", fix="use --format csv or parquet")
    refuse_folder(Path(out), force)  # before the work, not after it
    with tempfile.TemporaryDirectory(prefix="synthgate-data-") as work:
        engine = create_engine_for(parse_dsn(f"duckdb:///{work}/synthetic.duckdb"))
        try:
            create_tables(engine, model)
            load_vocab(engine, model, config, vocab_files)
            summary = generate(engine)
            dumped = dump_data(engine, model, config, out, fmt, force)
        finally:
            engine.dispose()
    return summary, dumped
