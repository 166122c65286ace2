"""create-vocab / remove-vocab: load the vocabulary tables verbatim, with the bulk path.

PostgreSQL gets ``COPY ... FROM STDIN`` fed by a stream read from the vocabulary file
(text format, so NULL and the empty string stay distinct); other databases get batched
multi-row inserts. Everything is one transaction; afterwards the sequences and identities
are moved past the largest loaded key so later inserts that rely on defaults do not collide.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from synthgate_shared.config import Config
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel
from synthgate_shared.sqla import family, orm_to_metadata, table_order
from synthgate_shared.types import PortableType
from synthgate_shared.vocabfile import VocabFile, find_vocab_file

INSERT_BATCH = 5_000
COPY_CHUNK = 1 << 16


def vocab_files_in(folder: Path, config: Config) -> dict[str, Path]:
    """The vocabulary file of each vocabulary table of ``config`` in ``folder``.

    A vocabulary table without a file is a clear error.
    """
    files: dict[str, Path] = {}
    for name in config.vocabulary_tables():
        path = find_vocab_file(Path(folder), name)
        if path is None:
            raise SynthgateError(
                f"no vocabulary file for table {name!r} ({name}.yaml or {name}.yaml.gz)",
                where=str(folder), fix="run make-vocab, or pass the right --vocab-dir",
            )
        files[name] = path
    return files


# --- PostgreSQL COPY text format ----------------------------------------------------------

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_FLOAT_TEXT = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}


def _float_text(value: float) -> str:
    text = repr(float(value))
    return _FLOAT_TEXT.get(text, text)


def _interval_text(value: Any) -> str:
    """A timedelta as PostgreSQL interval input that keeps the sign of every field."""
    sign = "-" if value.days < 0 else ""
    value = abs(value)
    return f"{sign}{value.days} days {sign}{value.seconds}.{value.microseconds:06d} seconds"


def _array_element(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(ptype: PortableType) -> Callable[[Any], str]:
    """How PostgreSQL reads a (non-NULL) value of ``ptype`` as text, before COPY escaping."""
    if ptype.is_array:
        element = _literal(ptype.element)

        def array(value: Any, dims: int = ptype.array_dims) -> str:
            if dims > 1:
                return "{" + ",".join(array(v, dims - 1) for v in value) + "}"
            return "{" + ",".join("NULL" if v is None else _array_element(element(v))
                                  for v in value) + "}"

        return array
    base = ptype.base
    if base == "boolean":
        return lambda v: "t" if v else "f"
    if base in ("real", "double"):
        return _float_text
    if base in ("date", "time", "timetz", "timestamp", "timestamptz"):
        return lambda v: v.isoformat()
    if base == "interval":
        return _interval_text
    if base in ("json", "jsonb"):
        return lambda v: json.dumps(v, ensure_ascii=False)
    if base == "bytea":
        return lambda v: "\\x" + bytes(v).hex()
    return str


def _copy_field(ptype: PortableType) -> Callable[[Any], str]:
    """A value as one field of COPY text format (NULL is handled by the caller)."""
    literal = _literal(ptype)
    safe = not ptype.is_array and ptype.base in (
        "smallint", "integer", "bigint", "boolean", "real", "double", "numeric", "date",
        "time", "timetz", "timestamp", "timestamptz", "interval", "uuid")
    if safe:
        return literal
    return lambda v: literal(v).translate(_COPY_ESCAPES)


class _TextStream:
    """A read-only file object over an iterator of text lines (what ``copy_expert`` reads)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._rest = ""

    def read(self, size: int = -1) -> str:
        parts = [self._rest]
        length = len(self._rest)
        while size < 0 or length < size:
            line = next(self._lines, None)
            if line is None:
                break
            parts.append(line)
            length += len(line)
        data = "".join(parts)
        if size < 0:
            self._rest = ""
            return data
        self._rest = data[size:]
        return data[:size]


def _copy_lines(vocab: VocabFile) -> Iterator[str]:
    fields = [_copy_field(vocab.table.column(c).portable) for c in vocab.columns]
    for row in vocab.rows():
        yield "\t".join("\\N" if v is None else f(v) for f, v in zip(fields, row, strict=True)) \
            + "\n"


def _copy(conn: sa.Connection, sa_table: sa.Table, vocab: VocabFile) -> int:
    preparer = conn.dialect.identifier_preparer
    columns = ", ".join(preparer.quote(c) for c in vocab.columns)
    sql = f"COPY {preparer.format_table(sa_table)} ({columns}) FROM STDIN"
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.copy_expert(sql, _TextStream(_copy_lines(vocab)), size=COPY_CHUNK)
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _batches(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _insert(conn: sa.Connection, sa_table: sa.Table, vocab: VocabFile) -> int:
    stmt = sa_table.insert()
    columns = vocab.columns
    count = 0
    for batch in _batches(vocab.rows(), INSERT_BATCH):
        conn.execute(stmt, [dict(zip(columns, row, strict=True)) for row in batch])
        count += len(batch)
    return count


# --- keys ---------------------------------------------------------------------------------

def advance_sequences(conn: sa.Connection, model: OrmModel, tables: Iterable[str],
                      schema: str | None) -> None:
    """Move each database-filled key of ``tables`` past its largest value, so inserts that
    rely on the default do not collide with loaded rows (PostgreSQL sequences and
    identities, MariaDB AUTO_INCREMENT; SQLite needs nothing)."""
    dest = family(conn.dialect.name)
    if dest == "sqlite":
        return
    preparer = conn.dialect.identifier_preparer
    for name in tables:
        qualified = (preparer.quote(schema) + "." if schema else "") + preparer.quote(name)
        for column in model.table(name).columns:
            if not column.autoincrement:
                continue
            col = preparer.quote(column.name)
            if dest == "postgresql":
                conn.execute(
                    sa.text(f"SELECT setval(seq, m) FROM (SELECT pg_get_serial_sequence("
                            f":t, :c) AS seq, (SELECT max({col}) FROM {qualified}) AS m) s "
                            "WHERE seq IS NOT NULL AND m IS NOT NULL"),
                    {"t": qualified, "c": column.name},
                )
            else:
                top = conn.execute(sa.text(f"SELECT max({col}) FROM {qualified}")).scalar()
                if top is not None:
                    conn.exec_driver_sql(f"ALTER TABLE {qualified} AUTO_INCREMENT = {int(top) + 1}")


# --- load and remove ----------------------------------------------------------------------

def _load_error(name: str, exc: Exception) -> SynthgateError:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if isinstance(exc, IntegrityError) or "duplicate key" in detail or "violates" in detail:
        return SynthgateError(
            f"cannot load vocabulary table {name!r} ({detail})", where="destination",
            fix="remove the rows already there with remove-vocab, then run create-vocab again",
        )
    return SynthgateError(f"cannot load vocabulary table {name!r} ({detail})",
                          where="destination")


def _sa_tables(engine: sa.Engine, model: OrmModel, schema: str | None) -> dict[str, sa.Table]:
    metadata = orm_to_metadata(model, engine.dialect.name, schema)
    return {t.name: t for t in metadata.tables.values()}


def _existing_tables(conn: sa.Connection, schema: str | None) -> set[str]:
    return set(sa.inspect(conn).get_table_names(schema=schema))


def load_vocab(engine: sa.Engine, model: OrmModel, config: Config,
               vocab_files: dict[str, Path], schema: str | None = None) -> dict[str, int]:
    """Load each vocabulary file into its table, parents first, in one transaction.

    Returns the rows loaded per table. Afterwards database-filled keys are advanced past
    the loaded values. A missing table, rows already present or a damaged file is a clear
    error, and nothing is kept.
    """
    for name in vocab_files:
        if name not in model.tables:
            raise SynthgateError(f"vocabulary table {name!r} is not a table of orm.yaml",
                                 where="config.yaml")
    names = [n for n in table_order(model) if n in vocab_files]
    sa_tables = _sa_tables(engine, model, schema)
    loaded: dict[str, int] = {}
    with engine.begin() as conn:
        existing = _existing_tables(conn, schema)
        for name in names:
            if name not in existing:
                raise SynthgateError(f"table {name!r} does not exist in the destination",
                                     fix="run create-tables first")
        bulk = _copy if family(engine.dialect.name) == "postgresql" else _insert
        dbapi_error = engine.dialect.loaded_dbapi.Error
        for name in names:
            vocab = VocabFile(vocab_files[name], model.table(name))
            try:
                loaded[name] = bulk(conn, sa_tables[name], vocab)
            except (DBAPIError, dbapi_error) as exc:
                raise _load_error(name, exc) from None
        advance_sequences(conn, model, names, schema)
    return loaded


def remove_vocab(engine: sa.Engine, model: OrmModel, config: Config,
                 schema: str | None = None) -> dict[str, int]:
    """Delete every row of the vocabulary tables (children first), in one transaction.

    Returns the rows deleted per table; tables that do not exist are skipped. Rows of other
    tables that still refer to them are a clear error (run remove-data first).
    """
    vocab = set(config.vocabulary_tables()) & set(model.tables)
    names = [n for n in reversed(table_order(model)) if n in vocab]
    sa_tables = _sa_tables(engine, model, schema)
    deleted: dict[str, int] = {}
    with engine.begin() as conn:
        existing = _existing_tables(conn, schema)
        for name in names:
            if name not in existing:
                continue
            try:
                deleted[name] = conn.execute(sa.delete(sa_tables[name])).rowcount
            except IntegrityError as exc:
                raise SynthgateError(
                    f"cannot delete the rows of vocabulary table {name!r}: rows of other "
                    "tables refer to them", where="destination",
                    fix="run remove-data first",
                ) from exc
    return deleted
