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

Both directions stream in chunks of complete lines (``vocabwrite.RowLineSink`` for writers
that produce row lines themselves, ``VocabFile.row_chunks`` for readers that convert whole
chunks), so bulk paths never touch single rows in Python. This module names and reads the
files; ``vocabwrite`` writes them.
"""

from __future__ import annotations

import io
import json
import os
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

from isal import igzip

from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import Table
from synthgate_shared.values import value_decoder
from synthgate_shared.yamlio import DEFAULT_YAML_LIMITS, load_yaml_text

VOCAB_FORMAT_VERSION = 1
PLAIN_SUFFIX = ".yaml"
GZIP_SUFFIX = ".yaml.gz"
# ISA-L (python-isal) writes and reads plain gzip four to five times faster than zlib; its
# level 1 gives files about the size of zlib's level 6
GZIP_LEVEL = 1
READ_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
FORMAT_KEY = "synthgate-vocab"
ROWS_LINE = "rows:"
COUNT_KEY = "row_count:"
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
            if line.rstrip(b"\r\n") == ROWS_LINE.encode():
                return head, True
            head.append(line)
            size += len(line)
        return head, False

    def _read_header(self) -> tuple[bool, list[str]]:
        """(whether this is the streaming format, the columns the file holds)."""
        with self._open() as stream:
            head, found = self._header_lines(stream)
        marked = any(line.startswith(FORMAT_KEY.encode() + b":") for line in head)
        if marked and not found:
            raise SynthgateError(
                f"not a complete vocabulary file: no {ROWS_LINE!r} line after the header",
                where=self.label, fix="export the vocabulary again")
        if not found:
            return False, self._fallback_columns()
        try:
            text = b"".join(head).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SynthgateError(f"the file is not UTF-8 ({exc.reason})",
                                 where=self.label) from None
        data = load_yaml_text(text, self.label)
        if not isinstance(data, dict) or FORMAT_KEY not in data:
            return False, self._fallback_columns()
        if data[FORMAT_KEY] != VOCAB_FORMAT_VERSION:
            raise SynthgateError(f"unsupported vocabulary format {data[FORMAT_KEY]!r}",
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
                    count = int(first[len(COUNT_KEY):])
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
        key = COUNT_KEY.encode()
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
