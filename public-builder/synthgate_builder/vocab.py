"""create-vocab / remove-vocab: load the vocabulary tables verbatim, with the bulk path.

PostgreSQL gets ``COPY ... FROM STDIN`` fed straight from the vocabulary file: whole chunks
of JSON row lines become COPY text by one regular expression and byte replacements, without
decoding single rows in Python (a chunk the expression cannot convert exactly, such as rows
with bytes or intervals, is decoded row by row). Other databases get batched multi-row
inserts through the DB-API. Everything is one transaction; afterwards the sequences and identities
are moved past the largest loaded key so later inserts that rely on defaults do not collide.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import re
import threading
from collections.abc import Generator, Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any, AnyStr, Generic

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from synthgate_shared.config import Config
from synthgate_shared.copytext import copy_in, copy_text_field
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel
from synthgate_shared.sqla import family, orm_to_metadata, table_order
from synthgate_shared.vocabfile import (
    DEFAULT_VOCAB_LIMITS,
    RowChunk,
    VocabFile,
    VocabLimits,
    find_vocab_file,
)

from synthgate_builder.sequences import advance_sequences

INSERT_BATCH = 5_000
VOCAB_COPY_CHUNK = 1 << 20
READ_AHEAD = 4
# vocabulary COPY: NULL is the bare JSON token, so converted chunks need no NULL rewriting
_NULL = "null"


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


# --- COPY streaming ----------------------------------------------------------------------

class CopyStream(Generic[AnyStr]):
    """A read-only file object over an iterator of text or byte pieces (what ``copy_expert``
    reads)."""

    def __init__(self, pieces: Iterator[AnyStr], empty: AnyStr | None = None) -> None:
        """Read from ``pieces``; ``empty`` is ``b""`` for byte pieces (text by default)."""
        self._pieces: Iterator[AnyStr] = pieces
        self._rest: AnyStr = empty if empty is not None else ""  # type: ignore[assignment]
        # what ``pieces`` raised: the driver reports it only as text inside its own error
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> AnyStr:
        """Up to ``size`` characters or bytes (all that is left when ``size`` is negative)."""
        parts = [self._rest]
        length = len(self._rest)
        while size < 0 or length < size:
            try:
                piece = next(self._pieces, None)
            except BaseException as exc:
                self.error = exc
                raise
            if piece is None:
                break
            parts.append(piece)
            length += len(piece)
        data = self._rest[:0].join(parts) if len(parts) > 1 else parts[0]
        if size < 0 or len(data) <= size:
            self._rest = data[:0]
            return data
        self._rest = data[size:]
        return data[:size]


_END = object()


def read_ahead(pieces: Iterator[AnyStr],
               depth: int = READ_AHEAD) -> Generator[AnyStr, None, None]:
    """The items of ``pieces``, produced by a worker thread up to ``depth`` ahead, so that
    making the next piece overlaps sending this one (drivers release the GIL while they send).
    An exception of the producer is raised here; leaving early stops the producer."""
    items: queue.Queue[Any] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for piece in pieces:
                if not put(piece):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    try:
        while (item := items.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


# --- vocabulary rows -> COPY text, a chunk at a time -----------------------------------------
# A vocabulary line is ``- {"k1":v1,"k2":v2}`` with the file's columns in order. Each JSON
# scalar is already PostgreSQL input text: numbers, true/false, ISO dates and times, decimals
# and UUIDs as strings. Inside strings the JSON escapes \" \\ \/ \b \f \n \r \t mean in COPY
# text what they mean in JSON, so a string's content passes unchanged; only \uXXXX differs
# (such chunks take the row-by-row path). Bare ``null`` is COPY's NULL marker here; a string
# whose content is ``null`` would collide with it, so such chunks take the row-by-row path too.
# One-dimensional arrays become PostgreSQL array literals by swapping the brackets, once the
# backslashes of their quoted elements are doubled for COPY.

_STRING = rb'[^"\\\x00-\x1f]*(?:\\.[^"\\\x00-\x1f]*)*'
# One pattern per kind of column: bare tokens in one group; values that may be quoted in two
# (the text inside the quotes, a bare token), of which findall gives "" for the one that did
# not match, so "%s%s" renders either.
_BARE = frozenset({"integer", "boolean"})
_PATTERNS = {
    "integer": rb'(-?[0-9]+|null)',
    "boolean": rb'(true|false|null)',
    "float": rb'(?:"([-A-Za-z]+)"|([-+.0-9eE]+|null))',
    "plain": rb'(?:"([-+.:0-9A-Za-z ]*)"|(null))',
    "string": rb'(?:"(' + _STRING + rb')"|(null))',
    "array": rb'(?:\[([^\[\]"\x00-\x1f]*(?:"' + _STRING + rb'"[^\[\]"\x00-\x1f]*)*)\]|(null))',
}
_KINDS = {
    "smallint": "integer", "integer": "integer", "bigint": "integer", "boolean": "boolean",
    "real": "float", "double": "float", "numeric": "plain", "date": "plain", "time": "plain",
    "timetz": "plain", "timestamp": "plain", "timestamptz": "plain", "uuid": "plain",
    "char": "string", "varchar": "string", "text": "string", "enum": "string",
    "tsvector": "string",
}
# array fields are rendered \x01inner\x02 (a NULL one \x01\x02null), then made {inner}
_ARRAY_BRACES = bytes.maketrans(b"\x01\x02", b"{}")
_ARRAY_WITH_BACKSLASH = re.compile(rb"\x01[^\x02]*\\")
_ARRAY_FIELD = re.compile(rb"\x01[^\x02]*\x02")
_ARRAY_ESCAPE = re.compile(rb'\\([\\"])')


def _double_array_backslashes(match: re.Match[bytes]) -> bytes:
    return _ARRAY_ESCAPE.sub(rb"\\\\\\\\\1", match.group())


def _not_null(text: str) -> str:
    return "nul\\l" if text == _NULL else text  # COPY reads \l as l, and it is no NULL marker


class ChunkConverter:
    """Converts whole chunks of vocabulary row lines into COPY text (NULL written ``null``):
    by one regular expression when the columns and the chunk allow it, else row by row."""

    def __init__(self, vocab: VocabFile) -> None:
        """Prepare the conversion of the rows of ``vocab``."""
        self.vocab = vocab
        ptypes = [vocab.table.column(c).portable for c in vocab.columns]
        self._fields = [copy_text_field(t) for t in ptypes]
        self._pattern: re.Pattern[bytes] | None = None
        self._arrays = any(t.is_array for t in ptypes)
        self._format = b""
        if ptypes and all(t.base in _KINDS and t.array_dims <= 1 for t in ptypes):
            parts, formats = [], []
            for i, (name, ptype) in enumerate(zip(vocab.columns, ptypes, strict=True)):
                key = json.dumps(name, ensure_ascii=False).encode()
                kind = "array" if ptype.is_array else _KINDS[ptype.base]
                parts.append(re.escape((b"{" if i == 0 else b",") + key + b":")
                             + _PATTERNS[kind])
                formats.append(b"\x01%s\x02%s" if ptype.is_array else
                               b"%s" if kind in _BARE else b"%s%s")
            self._pattern = re.compile(rb"^- " + b"".join(parts) + rb"\}$", re.MULTILINE)
            self._format = b"\t".join(formats) + b"\n"

    def convert(self, chunk: RowChunk) -> bytes:
        """The COPY text of the rows of ``chunk``."""
        fast = self._fast(chunk) if self._pattern is not None else None
        return fast if fast is not None else self.render(self.vocab.decode_chunk(chunk))

    def _fast(self, chunk: RowChunk) -> bytes | None:
        assert self._pattern is not None
        data = chunk.data
        if chunk.rows != chunk.lines or b"\\u" in data or b'"null"' in data:
            return None
        rows = self._pattern.findall(data)
        if len(rows) != chunk.rows or not rows:  # another layout (spaces, key order)
            return None
        flat = rows if isinstance(rows[0], bytes) else itertools.chain.from_iterable(rows)
        out = (self._format * len(rows)) % tuple(flat)
        if self._arrays:
            if b"\\" in out and _ARRAY_WITH_BACKSLASH.search(out):
                out = _ARRAY_FIELD.sub(_double_array_backslashes, out)
            out = out.replace(b"\x01\x02null", b"null").translate(_ARRAY_BRACES)
        return out

    def render(self, rows: Iterable[tuple[Any, ...]]) -> bytes:
        """Decoded rows as COPY text, one Python value at a time."""
        fields = self._fields
        return "".join(
            "\t".join(_NULL if v is None else _not_null(f(v))
                      for f, v in zip(fields, row, strict=True)) + "\n"
            for row in rows).encode()


def _copy_pieces(vocab: VocabFile) -> Iterator[bytes]:
    """The rows of ``vocab`` as COPY text, a chunk at a time."""
    converter = ChunkConverter(vocab)
    if not vocab.streaming:
        for batch in _batches(vocab.rows(), INSERT_BATCH):
            yield converter.render(batch)
        return
    for chunk in vocab.row_chunks():
        yield converter.convert(chunk)


def _copy(conn: sa.Connection, sa_table: sa.Table, vocab: VocabFile) -> int:
    preparer = conn.dialect.identifier_preparer
    columns = ", ".join(preparer.quote(c) for c in vocab.columns)
    sql = (f"COPY {preparer.format_table(sa_table)} ({columns}) FROM STDIN "
           f"WITH (NULL '{_NULL}')")
    raw = conn.connection.dbapi_connection
    assert raw is not None
    stream = CopyStream(read_ahead(_copy_pieces(vocab)), b"")
    try:
        return copy_in(raw, sql, stream, VOCAB_COPY_CHUNK)
    except Exception:
        if isinstance(stream.error, SynthgateError):  # the file's error, not the server's
            raise stream.error from None
        raise


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


# --- load and remove ----------------------------------------------------------------------

def _load_error(name: str, exc: Exception) -> SynthgateError:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if isinstance(exc, IntegrityError) or "duplicate key" in detail or "violates" in detail:
        return SynthgateError(
            f"cannot load vocabulary table {name!r} ({detail})", where="destination",
            fix="remove the rows already there with remove-vocab --with-data (which also "
            "removes the generated rows that refer to them), then run create-vocab again",
        )
    return SynthgateError(f"cannot load vocabulary table {name!r} ({detail})",
                          where="destination")


def _sa_tables(engine: sa.Engine, model: OrmModel, schema: str | None) -> dict[str, sa.Table]:
    metadata = orm_to_metadata(model, engine.dialect.name, schema)
    return {t.name: t for t in metadata.tables.values()}


def _existing_tables(conn: sa.Connection, schema: str | None) -> set[str]:
    return set(sa.inspect(conn).get_table_names(schema=schema))


def load_vocab(engine: sa.Engine, model: OrmModel, config: Config,
               vocab_files: dict[str, Path], schema: str | None = None,
               limits: VocabLimits = DEFAULT_VOCAB_LIMITS,
               sizes: Mapping[str, int] | None = None,
               labels: Mapping[str, str] | None = None) -> dict[str, int]:
    """Load each vocabulary file into its table, parents first, in one transaction.

    Files are read within ``limits``; ``sizes`` (table -> decompressed size a signed
    manifest records) bounds a file exactly; errors name a file by ``labels`` (table ->
    its place in the bundle) where given. Returns the rows loaded per table. Afterwards
    database-filled keys are advanced past the loaded values. A missing table, rows already
    present or a damaged file is a clear error, and nothing is kept.
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
        if engine.dialect.name == "duckdb":  # Arrow batches, imported only for DuckDB
            from synthgate_builder.duckdb_load import load_vocab_rows as bulk
        dbapi_error = engine.dialect.loaded_dbapi.Error
        for name in names:
            vocab = VocabFile(vocab_files[name], model.table(name), limits,
                              (sizes or {}).get(name), (labels or {}).get(name))
            try:
                loaded[name] = bulk(conn, sa_tables[name], vocab)
            except (DBAPIError, dbapi_error) as exc:
                raise _load_error(name, exc) from None
        advance_sequences(conn, model, names, schema)
    return loaded


def tables_referring_to(model: OrmModel, config: Config) -> set[str]:
    """The tables other than vocabulary tables whose rows refer to a vocabulary table of
    ``config``, directly or through other such tables (their rows go before the vocabulary's)."""
    vocab = set(config.vocabulary_tables())
    found: set[str] = set()
    while True:
        more = {name for name, table in model.tables.items()
                if name not in vocab | found
                and any(fk.ref_table in vocab | found for fk in table.foreign_keys)}
        if not more:
            return found
        found |= more


def remove_vocab(engine: sa.Engine, model: OrmModel, config: Config,
                 schema: str | None = None) -> dict[str, int]:
    """Delete every row of the vocabulary tables (children first), in one transaction.

    Returns the rows deleted per table; tables that do not exist are skipped. Rows of other
    tables that still refer to them are a clear error (``tables_referring_to`` names the
    tables whose data to remove first).
    """
    vocab = set(config.vocabulary_tables()) & set(model.tables)
    names = [n for n in reversed(table_order(model)) if n in vocab]
    sa_tables = _sa_tables(engine, model, schema)
    deleted: dict[str, int] = {}
    duckdb = engine.dialect.name == "duckdb"
    with engine.connect() if duckdb else engine.begin() as conn:
        existing = _existing_tables(conn, schema)
        if duckdb:
            conn.rollback()  # each table in a transaction of its own (delete_each_committed)
        for name in names:
            if name not in existing:
                continue
            try:
                with conn.begin() if duckdb else contextlib.nullcontext():
                    deleted[name] = conn.execute(sa.delete(sa_tables[name])).rowcount
            except IntegrityError as exc:
                raise SynthgateError(
                    f"cannot delete the rows of vocabulary table {name!r}: rows of other "
                    "tables refer to them", where="destination",
                    fix="run remove-vocab --with-data, which removes those rows first (as "
                    "remove-data would)",
                ) from exc
    return deleted
