"""The vocabulary file format: ``vocab/<table>.yaml`` or ``vocab/<table>.yaml.gz``.

A vocabulary file is one YAML document a person can read, whose rows are one JSON object
per line so that it streams fast in both directions::

    # synthgate vocabulary table "country": every row of the source table, copied verbatim.
    # ...
    synthgate-vocab: 1
    table: country
    columns:
      country_id: integer
      country: text
    rows:
    - {"country_id":1,"country":"Afghanistan"}
    - {"country_id":2,"country":"Algeria"}
    row_count: 2

Values are encoded by ``synthgate_shared.values.encode_value`` (or by PostgreSQL's
``row_to_json`` with the same conventions) and decoded by the column types of ``orm.yaml``.
``row_count`` comes last, so a truncated file is detected. Gzip files have a deterministic
header (no name, no time). SqlSynthGen vocabulary files (a YAML list of row mappings) are
read too, through the safe YAML loader.

Both directions stream in chunks of complete lines (``RowLineSink`` for writers that produce
row lines themselves, ``VocabFile.row_chunks`` for readers that convert whole chunks), so
bulk paths never touch single rows in Python.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import re
import threading
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple, TextIO

from isal import igzip

from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import Table
from synthgate_shared.values import value_decoder, value_encoder
from synthgate_shared.yamlio import DEFAULT_YAML_LIMITS, dump_yaml, load_yaml_text

VOCAB_FORMAT_VERSION = 1
PLAIN_SUFFIX = ".yaml"
GZIP_SUFFIX = ".yaml.gz"
# ISA-L (python-isal) writes and reads plain gzip four to five times faster than zlib; its
# level 1 gives files about the size of zlib's level 6
GZIP_LEVEL = 1
READ_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_FORMAT_KEY = "synthgate-vocab"
_ROWS_LINE = "rows:"
_COUNT_KEY = "row_count:"
# Characters JSON leaves raw that YAML refuses (C1 controls, DEL, non-characters) or reads as
# line breaks (NEL, LS, PS): written as \\uXXXX escapes, which JSON and YAML both decode.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
# the same characters in UTF-8
_YAML_UNSAFE_UTF8 = re.compile(
    rb"\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xa8\xa9]|\xef\xbb\xbf|\xef\xbf[\xbe\xbf]")
_UNSAFE_BY_LEAD = tuple((lead, re.compile(pattern)) for lead, pattern in (
    (b"\xc2", rb"\xc2[\x80-\x9f]"), (b"\xe2", rb"\xe2\x80[\xa8\xa9]"),
    (b"\xef", rb"\xef(?:\xbb\xbf|\xbf[\xbe\xbf])")))


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _has_yaml_unsafe(block: bytes) -> bool:
    # one-byte tests run at memory speed (memchr); a regex search is ten times slower, so it
    # only runs when a lead byte of an unsafe character occurs
    if b"\x7f" in block:
        return True
    if block.isascii():
        return False
    return any(lead in block and pattern.search(block) for lead, pattern in _UNSAFE_BY_LEAD)


def _escape_utf8(match: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(match.group().decode("utf-8"))


def vocab_file_name(table: str, compress: bool) -> str:
    """``<table>.yaml.gz`` or ``<table>.yaml``."""
    return table + (GZIP_SUFFIX if compress else PLAIN_SUFFIX)


def find_vocab_file(folder: Path, table: str) -> Path | None:
    """The vocabulary file of ``table`` in ``folder`` (plain or gzip); None when there is none.

    Both kinds at once is ambiguous and a clear error.
    """
    found = [folder / vocab_file_name(table, c) for c in (False, True)]
    existing = [p for p in found if p.is_file()]
    if len(existing) > 1:
        raise SynthgateError(
            f"two vocabulary files for table {table!r}", where=str(folder),
            fix=f"keep only one of {existing[0].name} and {existing[1].name}",
        )
    return existing[0] if existing else None


class _Background:
    """Hands blocks to ``handle`` in a worker thread, in order; at most ``_QUEUED`` wait, so
    memory stays flat. An error in the worker is raised again in the thread that writes."""

    _QUEUED = 4

    def __init__(self, handle: Callable[[bytes], Any]) -> None:
        self._handle = handle
        self._queue: queue.Queue[bytes | None] = queue.Queue(self._QUEUED)
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._work, daemon=True)
        self._worker.start()

    def put(self, block: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(block)

    def _work(self) -> None:
        while (block := self._queue.get()) is not None:
            if self._error is None:  # after an error, keep draining so that writers never block
                try:
                    self._handle(block)
                except BaseException as exc:  # raised again in the writing thread
                    self._error = exc

    def join(self) -> None:
        """Wait until every block is handled; raise the worker's error if there was one."""
        self._queue.put(None)
        self._worker.join()
        if self._error is not None:
            raise self._error


class _BackgroundGzip(io.RawIOBase):
    """A deterministic gzip writer that compresses in a worker thread: ISA-L releases the GIL,
    so producing the data and compressing it run on two cores."""

    def __init__(self, binary: IO[bytes]) -> None:
        super().__init__()
        self._gz = igzip.GzipFile(filename="", mode="wb", fileobj=binary, mtime=0,
                                  compresslevel=GZIP_LEVEL)
        self._background = _Background(self._gz.write)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._background.put(bytes(data))
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._background.join()
        finally:
            super().close()
        self._gz.close()


@contextlib.contextmanager
def vocab_binary_writer(binary: IO[bytes], compress: bool) -> Iterator[IO[bytes]]:
    """A byte stream over ``binary``, gzip-compressed (deterministically, in a worker thread)
    if asked. ``binary`` stays open afterwards (it is usually a ``files.atomic_output``
    handle)."""
    if not compress:
        yield binary
        return
    with io.BufferedWriter(_BackgroundGzip(binary), buffer_size=READ_CHUNK) as out:
        yield typing.cast(IO[bytes], out)


@contextlib.contextmanager
def vocab_text_writer(binary: IO[bytes], compress: bool) -> Iterator[TextIO]:
    """A UTF-8 text stream over ``binary``, gzip-compressed (deterministically) if asked.

    ``binary`` stays open afterwards (it is usually a ``files.atomic_output`` handle).
    """
    with vocab_binary_writer(binary, compress) as out:
        text = io.TextIOWrapper(out, encoding="utf-8", newline="\n")
        try:
            yield text
        finally:
            text.flush()
            text.detach()


def vocab_header(table: Table) -> str:
    """All a vocabulary file of ``table`` holds before its first row (ends with ``rows:``)."""
    intro = (
        f"# synthgate vocabulary table {table.name!r}: every row of the source table, copied\n"
        "# verbatim. Written by `synthgate-agent make-vocab`; loaded by `synthgate-builder\n"
        "# create-vocab`. Each row is one JSON object on one line (this is still YAML).\n"
        "# Values are read by the column types below: decimals, dates, times and durations\n"
        "# are ISO text, bytes are base64 text.\n"
    )
    head = {
        _FORMAT_KEY: VOCAB_FORMAT_VERSION,
        "table": table.name,
        "columns": {c.name: c.type for c in table.columns},
    }
    return intro + dump_yaml(head) + _ROWS_LINE + "\n"


def vocab_footer(count: int) -> str:
    """The line after the last row: the row count, so that a truncated file is detected."""
    return f"{_COUNT_KEY} {count}\n"


class RowLineSink(io.RawIOBase):
    """A binary sink for row lines (``- {...}\\n``, UTF-8) written in pieces of any size, such
    as the output of PostgreSQL's ``COPY ... TO STDOUT``: passes whole lines on to ``out`` and
    escapes the characters YAML refuses. With ``convert``, the pieces are any lines and each
    block of whole lines becomes row lines through ``convert`` in a worker thread, so that
    receiving and converting run at the same time."""

    def __init__(self, out: IO[bytes], convert: Callable[[bytes], bytes] | None = None) -> None:
        """Write the lines into ``out`` (``finish`` must be called at the end)."""
        super().__init__()
        self._out = out
        self._rest = b""
        self._background = None if convert is None else \
            _Background(lambda block: self._emit(convert(block)))

    def writable(self) -> bool:
        """Always true."""
        return True

    def write(self, data: Any) -> int:
        """Take ``data`` (bytes-like); complete lines go on at once, a partial one waits."""
        data = bytes(data)
        end = data.rfind(b"\n") + 1
        if not end:
            self._rest += data
            return len(data)
        block = self._rest + data[:end] if self._rest else data[:end]
        self._rest = data[end:]
        if self._background is not None:
            self._background.put(block)
        else:
            self._emit(block)
        return len(data)

    def _emit(self, block: bytes) -> None:
        if _has_yaml_unsafe(block):
            block = _YAML_UNSAFE_UTF8.sub(_escape_utf8, block)
        self._out.write(block)

    def finish(self) -> None:
        """Wait for the last block and check that the last line was complete."""
        if self._background is not None:
            self._background.join()
        if self._rest:
            raise SynthgateError("the database sent an incomplete row line",
                                 fix="export the vocabulary again")


def write_vocab(handle: TextIO, table: Table, rows: Iterable[Sequence[Any]]) -> int:
    """Stream ``rows`` (driver values in the table's column order) into ``handle``.

    Returns the number of rows written; ``row_count`` is written last.
    """
    columns = table.column_names
    encoders = [(i, encode) for i, c in enumerate(table.columns)
                if (encode := value_encoder(c.portable)) is not None]
    # compact, like PostgreSQL's row_to_json: both writers give the same kind of line
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
    unsafe = _YAML_UNSAFE.search
    write = handle.write
    write(vocab_header(table))
    count = 0
    for row in rows:
        values = list(row)
        for i, encode in encoders:
            if values[i] is not None:
                values[i] = encode(values[i])
        line = dumps(dict(zip(columns, values, strict=True)))
        if not line.isascii() and unsafe(line):  # isascii is O(1): most lines skip the regex
            line = _YAML_UNSAFE.sub(_escape, line)
        write(f"- {line}\n")
        count += 1
    write(vocab_footer(count))
    return count


@dataclass(frozen=True)
class VocabLimits:
    """How large a vocabulary file may be once decompressed, and its longest line.

    ``max_bytes`` caps the decompressed size of each file; when it is None the cap is
    ``ratio`` times the file's size on disk, at least ``floor_bytes`` (gzip of JSON rows
    shrinks 5-20 times; a bomb, 1,000 times). Set by the builder's options, never by a bundle.
    """

    line_bytes: int = 64 << 20
    max_bytes: int | None = None
    ratio: int = 200
    floor_bytes: int = 64 << 20
    header_bytes: int = 4 << 20

    def cap(self, stored_bytes: int) -> int:
        """The decompressed size allowed for a file of ``stored_bytes`` on disk."""
        if self.max_bytes is not None:
            return self.max_bytes
        return max(self.floor_bytes, self.ratio * stored_bytes)


DEFAULT_VOCAB_LIMITS = VocabLimits()
_FIX_SIZE = ("if the bundle is trusted and the table really is that large, raise "
             "--max-vocab-size; else refuse the bundle")


class _Bounded(io.RawIOBase):
    """The decompressed bytes of a vocabulary file, refused once they pass ``limit``; with
    ``expected`` (the size a signed manifest records), any other size is refused."""

    def __init__(self, raw: IO[bytes], limit: int, expected: int | None, where: str) -> None:
        super().__init__()
        self._raw = raw
        self._limit = limit if expected is None else min(limit, expected)
        self._expected = expected
        self._where = where
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        count = self._raw.readinto(view[:min(len(view), self._limit - self.total + 1)])  # type: ignore[attr-defined]
        self.total += count
        if self.total > self._limit:
            if self._expected is not None and self._limit == self._expected:
                raise SynthgateError(
                    f"the file unpacks to more than the {self._expected} bytes its manifest "
                    "entry records", where=self._where, fix="the bundle was made wrongly or "
                    "altered before signing: refuse it")
            raise SynthgateError(
                f"refused vocabulary file: it unpacks to more than {self._limit} bytes",
                where=self._where, fix=_FIX_SIZE)
        if not count and self._expected is not None and self.total != self._expected:
            raise SynthgateError(
                f"the file unpacks to {self.total} bytes, its manifest entry records "
                f"{self._expected}", where=self._where,
                fix="the bundle was made wrongly or altered before signing: refuse it")
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


def _open_binary(path: Path, limits: VocabLimits = DEFAULT_VOCAB_LIMITS,
                 expected: int | None = None, label: str | None = None) -> IO[bytes]:
    """The decompressed bytes of ``path``, within ``limits`` (see ``_Bounded``); errors
    name ``label``, else the path."""
    where = label or str(path)
    try:
        with path.open("rb") as probe:
            compressed = probe.read(2) == _GZIP_MAGIC
            stored = os.fstat(probe.fileno()).st_size
    except FileNotFoundError:
        raise SynthgateError("vocabulary file not found", where=where) from None
    except IsADirectoryError:
        raise SynthgateError("a folder, not a vocabulary file", where=where) from None
    cap = limits.cap(stored)
    if expected is not None and expected > cap:
        raise SynthgateError(
            f"refused vocabulary file: its manifest entry says it unpacks to {expected} "
            f"bytes; the limit is {cap}", where=where, fix=_FIX_SIZE)
    raw = typing.cast(IO[bytes], igzip.open(path, "rb")) if compressed else path.open("rb")
    return io.BufferedReader(_Bounded(raw, cap, expected, where), READ_CHUNK)


class RowChunk(NamedTuple):
    """Whole lines of the rows section of a vocabulary file: their bytes (ending with a line
    break), the number of the first line, how many lines and how many rows (``- ...``)."""

    data: bytes
    first_line: int
    lines: int
    rows: int


def _is_blank_or_comment(line: bytes) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith(b"#")


class VocabFile:
    """A vocabulary file opened for reading: its ``columns`` and a stream of decoded ``rows``."""

    def __init__(self, path: Path, table: Table, limits: VocabLimits = DEFAULT_VOCAB_LIMITS,
                 expected_bytes: int | None = None, label: str | None = None) -> None:
        """Read the header of ``path`` and check its columns against ``table`` (rows are read
        only when iterated). Reading stays within ``limits``; ``expected_bytes`` is the
        decompressed size a signed manifest records, if it does. Errors name ``label``
        (such as ``bundle.tar.gz: vocab/x.yaml``), else the path."""
        self.path = Path(path)
        self.label = label or str(self.path)
        self.table = table
        self._limits = limits
        self._expected = expected_bytes
        self._streaming, file_columns = self._read_header()
        known = set(table.column_names)
        unknown = [c for c in file_columns if c not in known]
        if unknown:
            raise SynthgateError(
                f"column {unknown[0]!r} is not a column of table {table.name!r} in orm.yaml",
                where=self.label, fix="export the vocabulary again with make-vocab",
            )
        self._names = frozenset(file_columns)
        self.columns: list[str] = [c for c in table.column_names if c in self._names]
        self._decoders = [
            (i, decode) for i, name in enumerate(self.columns)
            if (decode := value_decoder(table.column(name).portable)) is not None
        ]

    def _open(self) -> IO[bytes]:
        return _open_binary(self.path, self._limits, self._expected, self.label)

    def _long_line(self, number: int) -> SynthgateError:
        return SynthgateError(
            f"refused vocabulary file: a line longer than {self._limits.line_bytes} bytes",
            where=f"{self.label}:{number}", fix=_FIX_SIZE.replace("--max-vocab-size",
                                                                 "--max-vocab-line"))

    def _header_lines(self, stream: IO[bytes]) -> tuple[list[bytes], bool]:
        """(the lines before ``rows:``, whether a ``rows:`` line ended them); reads at most
        ``header_bytes``, stopping early at a row item (a SqlSynthGen list)."""
        head: list[bytes] = []
        size = 0
        while size <= self._limits.header_bytes:
            line = stream.readline(self._limits.line_bytes + 1)
            if len(line) > self._limits.line_bytes:
                raise self._long_line(len(head) + 1)
            if not line or line.startswith(b"- "):
                return head, False
            if line.rstrip(b"\r\n") == _ROWS_LINE.encode():
                return head, True
            head.append(line)
            size += len(line)
        return head, False

    def _read_header(self) -> tuple[bool, list[str]]:
        """(whether this is the streaming format, the columns the file holds)."""
        with self._open() as stream:
            head, found = self._header_lines(stream)
        marked = any(line.startswith(_FORMAT_KEY.encode() + b":") for line in head)
        if marked and not found:
            raise SynthgateError(
                f"not a complete vocabulary file: no {_ROWS_LINE!r} line after the header",
                where=self.label, fix="export the vocabulary again")
        if not found:
            return False, self._fallback_columns()
        try:
            text = b"".join(head).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SynthgateError(f"the file is not UTF-8 ({exc.reason})",
                                 where=self.label) from None
        data = load_yaml_text(text, self.label)
        if not isinstance(data, dict) or _FORMAT_KEY not in data:
            return False, self._fallback_columns()
        if data[_FORMAT_KEY] != VOCAB_FORMAT_VERSION:
            raise SynthgateError(f"unsupported vocabulary format {data[_FORMAT_KEY]!r}",
                                 where=self.label)
        if data.get("table") != self.table.name:
            raise SynthgateError(
                f"the file holds table {data.get('table')!r}, not {self.table.name!r}",
                where=self.label,
            )
        columns = data.get("columns") or {}
        if not isinstance(columns, dict):
            raise SynthgateError("the header's columns are not a mapping", where=self.label,
                                 fix="export the vocabulary again")
        return True, [str(c) for c in columns]

    def _fallback_rows(self) -> list[dict[str, Any]]:
        """The rows of a file read as one YAML document (a list, or a mapping with ``rows``),
        within the YAML size limits."""
        limit = DEFAULT_YAML_LIMITS.document_bytes
        with self._open() as stream:
            raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise SynthgateError(
                f"refused vocabulary file: a plain YAML list larger than {limit} bytes",
                where=self.label, fix="export it again with `synthgate-agent make-vocab`, "
                "which streams")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SynthgateError(f"the file is not UTF-8 ({exc.reason})",
                                 where=self.label) from None
        data = load_yaml_text(text, self.label)
        if isinstance(data, dict):
            data = data.get("rows")
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise SynthgateError("not a vocabulary file (expected a list of row mappings)",
                                 where=self.label)
        return [{str(k): v for k, v in row.items()} for row in data]

    def _fallback_columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self._fallback_rows():
            seen.update(dict.fromkeys(row))
        return list(seen)

    def _where(self, number: int) -> str:
        """The place of a row: the line of a streaming file, else the row's position."""
        return f"{self.label}:{number}" if self._streaming else f"{self.label}: row {number}"

    def _values(self, mapping: dict[str, Any], number: int) -> tuple[Any, ...]:
        if mapping.keys() != self._names:
            extra = sorted(set(mapping) - self._names)
            if extra:
                raise SynthgateError(f"unknown column {extra[0]!r}", where=self._where(number))
            if self._streaming:
                missing = sorted(self._names - set(mapping))
                raise SynthgateError(f"the row has no column {missing[0]!r}",
                                     where=self._where(number))
            values = [mapping.get(c) for c in self.columns]  # SqlSynthGen rows may lack some
        else:
            values = list(map(mapping.__getitem__, self.columns))
        for i, decode in self._decoders:
            if values[i] is not None:
                try:
                    values[i] = decode(values[i])
                except (ValueError, TypeError, ArithmeticError, SynthgateError) as exc:
                    raise SynthgateError(
                        f"bad value {values[i]!r} for column {self.columns[i]!r} ({exc})",
                        where=self._where(number),
                    ) from None
        return tuple(values)

    @property
    def streaming(self) -> bool:
        """True for the format written by synthgate (one JSON row per line), which
        ``row_chunks`` reads; False for a SqlSynthGen file (a plain YAML list)."""
        return self._streaming

    def row_chunks(self, size: int = READ_CHUNK) -> Iterator[RowChunk]:
        """The rows section of a streaming file in chunks of whole lines of about ``size``
        bytes, for readers that convert many rows at once.

        Stops at ``row_count`` and checks it against the row lines seen: a truncated file,
        a missing row or a line after ``row_count`` is an error naming the file (or line).
        """
        seen = 0
        count: int | None = None
        with self._open() as stream:
            head, _ = self._header_lines(stream)
            number = len(head) + 2
            rest = b""
            while True:
                data = stream.read(size)
                if data:
                    data = rest + data
                    end = data.rfind(b"\n") + 1
                    if not end:  # a line longer than size: read on
                        if len(data) > self._limits.line_bytes:
                            raise self._long_line(number)
                        rest = data
                        continue
                    block, rest = data[:end], data[end:]
                elif rest:  # the last line has no line break
                    block, rest = rest + b"\n", b""
                else:
                    break
                if count is not None:
                    self._check_after_count(block, number)
                    number += block.count(b"\n")
                    continue
                block, tail = self._split_count(block, number)
                rows = block.count(b"\n- ") + block.startswith(b"- ")
                lines = block.count(b"\n")
                seen += rows
                if block:
                    yield RowChunk(block, number, lines, rows)
                number += lines
                if tail:
                    first, after = tail.split(b"\n", 1)
                    count = int(first[len(_COUNT_KEY):])
                    self._check_after_count(after, number + 1)
                    number += tail.count(b"\n")
        if count is None:
            raise SynthgateError("the file is truncated (no row_count at its end)",
                                 where=self.label, fix="export the vocabulary again")
        if count != seen:
            raise SynthgateError(f"row_count says {count} rows but the file holds {seen}",
                                 where=self.label, fix="export the vocabulary again")

    def _split_count(self, block: bytes, number: int) -> tuple[bytes, bytes]:
        """(the lines before the ``row_count`` line, that line and the lines after it)."""
        key = _COUNT_KEY.encode()
        at = 0 if block.startswith(key) else block.find(b"\n" + key) + 1
        if not at and not block.startswith(key):
            return block, b""
        first = block[at:].split(b"\n", 1)[0]
        if not first[len(key):].strip().isdigit():
            line = number + block.count(b"\n", 0, at)
            raise SynthgateError("unexpected line in a vocabulary file",
                                 where=f"{self.label}:{line}")
        return block[:at], block[at:]

    def _check_after_count(self, lines: bytes, number: int) -> None:
        """Only blank lines and comments may follow the ``row_count`` line."""
        for offset, line in enumerate(lines.split(b"\n")[:-1]):
            if not _is_blank_or_comment(line):
                raise SynthgateError("unexpected line in a vocabulary file",
                                     where=f"{self.label}:{number + offset}")

    def decode_chunk(self, chunk: RowChunk) -> Iterator[tuple[Any, ...]]:
        """The rows of one chunk, one JSON row at a time, decoded by their orm.yaml types
        (blank lines and comments are skipped; anything else is an error naming the line)."""
        try:
            text = chunk.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SynthgateError(f"the file is not UTF-8 ({exc.reason})",
                                 where=f"{self.label}:{chunk.first_line}") from None
        loads = json.loads
        # split("\n"), not splitlines(): U+2028 and friends are not line breaks here
        for number, line in enumerate(text.split("\n")[:-1], chunk.first_line):
            if line.startswith("- "):
                try:
                    mapping = loads(line[2:])
                except ValueError as exc:
                    raise SynthgateError(f"not a JSON row ({exc})",
                                         where=f"{self.label}:{number}") from None
                if not isinstance(mapping, dict):
                    raise SynthgateError("not a JSON row (expected an object)",
                                         where=f"{self.label}:{number}")
                yield self._values(mapping, number)
            elif line.strip() and not line.lstrip().startswith("#"):
                raise SynthgateError("unexpected line in a vocabulary file",
                                     where=f"{self.label}:{number}")

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """The rows as tuples in the order of ``columns``, decoded by their orm.yaml types.

        The streaming format is read chunk by chunk; a truncated or damaged file is an error
        naming the line.
        """
        if not self._streaming:
            for number, mapping in enumerate(self._fallback_rows(), 1):
                yield self._values(mapping, number)
            return
        for chunk in self.row_chunks():
            yield from self.decode_chunk(chunk)
