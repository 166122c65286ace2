"""make-vocab: export the vocabulary tables of the source into vocabulary files.

On PostgreSQL, ``COPY ... TO STDOUT`` streams the rows in large blocks. Tables of plain
types (integers, booleans, text, numerics, dates, timestamps, uuids) come as plain COPY
text, the cheapest output PostgreSQL has, which ``CopyTextConverter`` turns into row lines a
block at a time; tables with other types ask the server for each row's JSON line
(``row_to_json``, with casts that keep every value exact in the codec's conventions). Types
neither way writes exactly, and other databases, stream from a server-side cursor through
the Python codec. Memory stays flat however large the
table; the file appears under its final name only when complete.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from synthgate_shared.config import Config
from synthgate_shared.copytext import copy_text_value, utf8_client
from synthgate_shared.errors import SynthgateError
from synthgate_shared.files import atomic_output, refuse_overwrite
from synthgate_shared.orm import OrmModel, Table
from synthgate_shared.sqla import orm_to_metadata
from synthgate_shared.types import PortableType
from synthgate_shared.vocabfile import vocab_file_name
from synthgate_shared.vocabwrite import (
    RowLineSink,
    vocab_binary_writer,
    vocab_footer,
    vocab_header,
    vocab_text_writer,
    write_vocab,
)

from synthgate_agent.source import Source, check_readable, read_only

STREAM_BATCH = 10_000
COPY_BUFFER = 1 << 20
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


# types whose to_json text is already what the codec writes (json is not: its text may span
# lines; interval is not: the codec writes ISO durations)
_PG_JSON_AS_IS = frozenset(
    {"smallint", "integer", "bigint", "boolean", "char", "varchar", "text", "date", "time",
     "timetz", "timestamp", "timestamptz", "uuid", "enum", "tsvector"})
# types whose plain COPY text (DateStyle ISO) is the value the codec writes: bare JSON tokens
# (after coalesce(x::text, 'null')) and the contents of JSON strings
_COPY_BARE = frozenset({"smallint", "integer", "bigint", "boolean"})
_COPY_QUOTED = frozenset(
    {"numeric", "date", "time", "char", "varchar", "text", "enum", "tsvector", "uuid"})


def pg_json_expression(column: str, ptype: PortableType) -> str | None:
    """The SQL expression (over the quoted ``column``) whose ``to_json`` is the value the codec
    writes for ``ptype``; None when only the Python codec writes it exactly."""
    if ptype.is_array:
        if ptype.base == "numeric":
            return f"{column}::text[]"  # as strings: JSON numbers would lose trailing zeros
        return column if ptype.base in _PG_JSON_AS_IS else None
    if ptype.base in _PG_JSON_AS_IS or ptype.base == "jsonb":
        return column
    if ptype.base == "numeric":
        return f"{column}::text"
    if ptype.base in ("real", "double"):
        # to_json writes -0 for negative zero, which JSON readers take for the integer 0
        return (f"CASE WHEN {column} = 0 AND {column}::text LIKE '-%' THEN json '-0.0' "
                f"ELSE to_json({column}) END")
    if ptype.base == "bytea":
        return f"translate(encode({column}, 'base64'), E'\\n', '')"
    return None


def _copy_text_expression(column: str, ptype: PortableType) -> tuple[str, bool] | None:
    """(the SQL expression over the quoted ``column`` whose COPY text is the value's JSON
    token, or the inside of its JSON string; whether it is a string) or None."""
    if ptype.is_array:
        return None
    if ptype.base in _COPY_BARE:
        return f"coalesce({column}::text, 'null')", False
    if ptype.base in _COPY_QUOTED:
        return column, True
    if ptype.base == "timestamp":  # to_json writes ISO 8601 with a T, and BC its own way
        return (f"CASE WHEN isfinite({column}) AND {column} >= '0001-01-01' "
                f"THEN replace({column}::text, ' ', 'T') ELSE to_json({column}) #>> '{{}}' END",
                True)
    return None


def _pg_quote(name: str) -> str:
    """A quoted PostgreSQL identifier for a statement sent as it is (COPY takes no parameters,
    so a % stays single, unlike in SQLAlchemy's quoting for psycopg2)."""
    return '"' + name.replace('"', '""') + '"'


def _pg_table(sa_table: sa.Table) -> str:
    return ".".join(_pg_quote(part) for part in (sa_table.schema, sa_table.name) if part)


def _order_by(table: Table) -> str:
    return ", ".join(_pg_quote(c) for c in _order_columns(table))


def pg_json_lines_query(sa_table: sa.Table, table: Table) -> str | None:
    """A query giving each row of ``table`` as its vocabulary line (``- {...}``) in key order;
    None when a column needs the Python codec."""
    parts = []
    for column in table.columns:
        quoted = _pg_quote(column.name)
        expression = pg_json_expression(quoted, column.portable)
        if expression is None:
            return None
        parts.append(f"{expression} AS {quoted}")
    # r.* is the whole row even when a column is named r
    return (f"SELECT '- ' || row_to_json(r.*)::text FROM (SELECT {', '.join(parts)} "
            f"FROM {_pg_table(sa_table)} ORDER BY {_order_by(table)}) r")


# COPY text leaves these control characters raw (and writes \v for vertical tab); JSON
# wants them as \uXXXX, so a block holding one takes the row-by-row way
_RAW_CONTROLS = bytes(range(0x20)).replace(b"\t", b"").replace(b"\n", b"")


class CopyTextConverter:
    """Turns blocks of whole lines of PostgreSQL COPY text (the columns of
    ``pg_copy_text_query``) into vocabulary row lines: per block, by a few whole-block
    operations and one formatting of all its fields, never a Python step per row."""

    def __init__(self, names: Sequence[str], quoted: Sequence[bool]) -> None:
        """Prepare the lines of columns ``names`` (``quoted``: written as JSON strings)."""
        self._quoted = list(quoted)
        self._keys = [json.dumps(n, ensure_ascii=False) for n in names]
        pieces = [k.replace("%", "%%") + (':"%s"' if q else ":%s")
                  for k, q in zip(self._keys, quoted, strict=True)]
        self._template = ("- {" + ",".join(pieces) + "}\n").encode()
        self._columns = len(self._keys)
        self._strings = any(quoted)

    def __call__(self, block: bytes) -> bytes:
        """The row lines of ``block`` (whole COPY text lines)."""
        rows = block.count(b"\n")
        if not rows:
            return b""
        if len(block.translate(None, _RAW_CONTROLS)) != len(block) or b"\\v" in block:
            return self._lines_one_by_one(block)
        if self._strings and b'"' in block:
            block = block.replace(b'"', b'\\"')  # COPY already escapes \\ \n \r \t as JSON does
        fields = block[:-1].replace(b"\n", b"\t").split(b"\t")
        if len(fields) != rows * self._columns:
            raise SynthgateError("the database sent rows of an unexpected shape",
                                 fix="export the vocabulary again")
        lines = (self._template * rows) % tuple(fields)
        # only NULL is COPY's \N: a backslash in a value comes as \\
        return lines.replace(b'"\\N"', b"null") if b"\\N" in block else lines

    def _lines_one_by_one(self, block: bytes) -> bytes:
        """The row lines of ``block``, each value decoded from COPY text and JSON-encoded."""
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        lines = []
        for line in block.decode("utf-8").split("\n")[:-1]:
            values = []
            for key, quoted, field in zip(self._keys, self._quoted, line.split("\t"),
                                          strict=True):
                if field == "\\N":
                    text = "null"
                elif quoted:
                    text = dumps(copy_text_value(field))
                else:
                    text = field
                values.append(f"{key}:{text}")
            lines.append("- {" + ",".join(values) + "}\n")
        return "".join(lines).encode()


def pg_copy_text_query(sa_table: sa.Table, table: Table) -> tuple[str, CopyTextConverter] | None:
    """A query whose plain COPY text the returned converter turns into the vocabulary lines of
    ``table`` in key order (the cheapest export: PostgreSQL renders no JSON); None when a
    column type needs ``pg_json_lines_query``."""
    parts, quoted = [], []
    for column in table.columns:
        found = _copy_text_expression(_pg_quote(column.name), column.portable)
        if found is None:
            return None
        parts.append(found[0])
        quoted.append(found[1])
    query = f"SELECT {', '.join(parts)} FROM {_pg_table(sa_table)} ORDER BY {_order_by(table)}"
    return query, CopyTextConverter(table.column_names, quoted)


def _copy_lines(conn: sa.Connection, sql: str, out: IO[bytes], name: str,
                convert: Callable[[bytes], bytes] | None = None) -> int:
    """Stream the output of the COPY statement ``sql`` (through ``convert``) into ``out`` as
    row lines; returns the number of rows."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    sink = RowLineSink(out, convert)
    try:
        utf8_client(raw)
        with contextlib.closing(raw.cursor()) as cursor, \
                io.BufferedWriter(sink, buffer_size=COPY_BUFFER) as buffered:
            cursor.copy_expert(sql, buffered)
            rowcount = int(cursor.rowcount)
        sink.finish()
        return rowcount
    except conn.dialect.loaded_dbapi.Error as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        # one statement exports the whole table, so a large table can outlast the timeout
        fix = ("raise the statement timeout: make-vocab --timeout SECONDS, or "
               "statement-timeout in config.yaml") if "timeout" in detail else None
        raise SynthgateError(f"cannot export vocabulary table {name!r} ({detail})",
                             where="source", fix=fix) from None


def _pg_copy_statement(conn: sa.Connection, sa_table: sa.Table, table: Table
                       ) -> tuple[str, CopyTextConverter | None] | None:
    """The COPY statement that exports ``table`` from PostgreSQL and the converter its output
    needs (None: it already is row lines); None when its types need the Python codec."""
    plain = pg_copy_text_query(sa_table, table)
    if plain is not None:
        query, convert = plain
        conn.exec_driver_sql("SET LOCAL DateStyle TO ISO, YMD")  # the text to_json writes
        return f"COPY ({query}) TO STDOUT", convert
    lines = pg_json_lines_query(sa_table, table)
    if lines is None:
        return None
    # CSV with a quote and a delimiter that JSON never holds raw: each line comes out as is
    return (f"COPY ({lines}) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')",
            None)


def _write_table(conn: sa.Connection, sa_table: sa.Table, table: Table, raw: IO[bytes],
                 compress: bool) -> int:
    """Write the vocabulary file of ``table`` into ``raw``; returns the number of rows."""
    copy = None
    if conn.dialect.name == "postgresql":
        copy = _pg_copy_statement(conn, sa_table, table)
    if copy is None:
        with vocab_text_writer(raw, compress) as text:
            return write_vocab(text, table, _stream_rows(conn, sa_table, table))
    statement, convert = copy
    with vocab_binary_writer(raw, compress) as out:
        out.write(vocab_header(table).encode())
        count = _copy_lines(conn, statement, out, table.name, convert)
        out.write(vocab_footer(count).encode())
    return count


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
        check_readable(source, names)
        for name in names:
            started = time.perf_counter()
            table = model.table(name)
            with atomic_output(targets[name], "wb") as raw:
                count = _write_table(conn, sa_tables[name], table, raw, compress)
            stale[name].unlink(missing_ok=True)
            exports.append(VocabExport(name, targets[name], count,
                                       time.perf_counter() - started))
    return exports
