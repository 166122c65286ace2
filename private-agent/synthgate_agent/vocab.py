"""make-vocab: export the vocabulary tables of the source, row by row, into vocabulary files.

Rows stream from a server-side cursor straight into the (gzip) writer, so memory stays
flat however large the table; the file appears under its final name only when complete.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from synthgate_shared.config import Config
from synthgate_shared.errors import SynthgateError
from synthgate_shared.files import atomic_output, refuse_overwrite
from synthgate_shared.orm import OrmModel, Table
from synthgate_shared.sqla import orm_to_metadata
from synthgate_shared.vocabfile import vocab_file_name, vocab_text_writer, write_vocab

from synthgate_agent.source import Source, read_only

STREAM_BATCH = 10_000
# types a database cannot sort by (PostgreSQL json); left out of the fallback ordering
_UNORDERABLE = frozenset({"json", "jsonb"})


@dataclass(frozen=True)
class VocabExport:
    """One written vocabulary file: its table, path, row count and the seconds it took."""

    table: str
    path: Path
    rows: int
    seconds: float


def _nearest(name: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else None


def select_vocab_tables(model: OrmModel, config: Config, only: str | None) -> list[str]:
    """The vocabulary tables to export (all, or ``only``), each checked against ``orm.yaml``."""
    names = config.vocabulary_tables()
    if only is not None:
        if only not in names:
            fix = (f"set vocabulary_table: true for {only!r} in config.yaml"
                   if only in config.tables or only in model.tables
                   else _nearest(only, names) or f"vocabulary tables: {', '.join(names) or 'none'}")
            raise SynthgateError(f"{only!r} is not a vocabulary table", where="--only", fix=fix)
        names = [only]
    for name in names:
        if name not in model.tables:
            raise SynthgateError(
                f"vocabulary table {name!r} does not exist in orm.yaml", where="config.yaml",
                fix=_nearest(name, model.tables) or "check the table name, or run make-tables",
            )
    return names


def _order_columns(table: Table) -> list[str]:
    """Columns that give the export a deterministic order: the primary key, else the first
    unique constraint, else every sortable column."""
    if table.primary_key:
        return list(table.primary_key)
    if table.unique:
        return list(table.unique[0].columns)
    return [c.name for c in table.columns if c.portable.base not in _UNORDERABLE]


def _stream_rows(conn: sa.Connection, sa_table: sa.Table, table: Table) -> Iterator[Sequence[Any]]:
    """The rows of ``table`` in key order, fetched through a server-side cursor."""
    stmt = sa.select(*(sa_table.c[name] for name in table.column_names)).order_by(
        *(sa_table.c[name] for name in _order_columns(table))
    )
    result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(stmt)
    for batch in result.partitions():
        yield from batch


def _check_in_source(conn: sa.Connection, source: Source, names: list[str]) -> None:
    inspector = sa.inspect(conn)
    existing = inspector.get_table_names(schema=source.schema)
    for name in names:
        if name not in existing:
            raise SynthgateError(
                f"vocabulary table {name!r} does not exist in the source",
                where=f"schema {source.schema}" if source.schema else "source database",
                fix=_nearest(name, existing) or "run make-tables again and check config.yaml",
            )


def export_vocab(source: Source, model: OrmModel, config: Config, out_dir: Path,
                 compress: bool, only: str | None, force: bool) -> list[VocabExport]:
    """Export every vocabulary table (or only ``only``) into ``out_dir/<table>.yaml[.gz]``.

    Checks everything (tables, existing outputs) before writing anything. Each file is
    written to a temporary name and renamed when complete, so an interrupt leaves no file.
    With ``force`` an existing file is replaced and the other kind (plain or gzip) removed.
    """
    names = select_vocab_tables(model, config, only)
    out_dir = Path(out_dir)
    targets = {name: out_dir / vocab_file_name(name, compress) for name in names}
    stale = {name: out_dir / vocab_file_name(name, not compress) for name in names}
    for name in names:
        refuse_overwrite(targets[name], force)
        refuse_overwrite(stale[name], force)
    metadata = orm_to_metadata(model, source.dialect, source.schema)
    sa_tables = {t.name: t for t in metadata.tables.values()}
    exports: list[VocabExport] = []
    with read_only(source) as conn:
        _check_in_source(conn, source, names)
        for name in names:
            started = time.perf_counter()
            table = model.table(name)
            with atomic_output(targets[name], "wb") as raw, \
                    vocab_text_writer(raw, compress) as text:
                count = write_vocab(text, table, _stream_rows(conn, sa_tables[name], table))
            stale[name].unlink(missing_ok=True)
            exports.append(VocabExport(name, targets[name], count,
                                       time.perf_counter() - started))
    return exports
