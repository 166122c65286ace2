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
    - {"country_id": 1, "country": "Afghanistan"}
    - {"country_id": 2, "country": "Algeria"}
    row_count: 2

Values are encoded by ``synthgate_shared.values.encode_value`` and decoded by the column
types of ``orm.yaml``. ``row_count`` comes last, so a truncated file is detected. Gzip
files have a deterministic header (no name, no time). SqlSynthGen vocabulary files (a YAML
list of row mappings) are read too, through the safe YAML loader.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TextIO

from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import Table
from synthgate_shared.values import value_decoder, value_encoder
from synthgate_shared.yamlio import dump_yaml, load_yaml_text

VOCAB_FORMAT_VERSION = 1
PLAIN_SUFFIX = ".yaml"
GZIP_SUFFIX = ".yaml.gz"
# level 6 (zlib's default) compresses nearly as well as 9 at a fraction of the time
GZIP_LEVEL = 6
_GZIP_MAGIC = b"\x1f\x8b"
_FORMAT_KEY = "synthgate-vocab"
_ROWS_LINE = "rows:"
_COUNT_KEY = "row_count:"
# Characters JSON leaves raw that YAML refuses (C1 controls, DEL, non-characters) or reads as
# line breaks (NEL, LS, PS): written as \\uXXXX escapes, which JSON and YAML both decode.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


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


@contextlib.contextmanager
def vocab_text_writer(binary: IO[bytes], compress: bool) -> Iterator[TextIO]:
    """A UTF-8 text stream over ``binary``, gzip-compressed (deterministically) if asked.

    ``binary`` stays open afterwards (it is usually a ``files.atomic_output`` handle).
    """
    gz = gzip.GzipFile(filename="", mode="wb", fileobj=binary, mtime=0,
                       compresslevel=GZIP_LEVEL) if compress else None
    text = io.TextIOWrapper(gz or binary, encoding="utf-8", newline="\n")
    try:
        yield text
    finally:
        text.flush()
        text.detach()
        if gz is not None:
            gz.close()


def _header(table: Table) -> str:
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


def write_vocab(handle: TextIO, table: Table, rows: Iterable[Sequence[Any]]) -> int:
    """Stream ``rows`` (driver values in the table's column order) into ``handle``.

    Returns the number of rows written; ``row_count`` is written last.
    """
    columns = table.column_names
    encoders = [(i, encode) for i, c in enumerate(table.columns)
                if (encode := value_encoder(c.portable)) is not None]
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    unsafe = _YAML_UNSAFE.search
    write = handle.write
    write(_header(table))
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
    write(f"{_COUNT_KEY} {count}\n")
    return count


def _open_text(path: Path) -> TextIO:
    try:
        with path.open("rb") as probe:
            compressed = probe.read(2) == _GZIP_MAGIC
    except FileNotFoundError:
        raise SynthgateError("vocabulary file not found", where=str(path)) from None
    if compressed:
        return gzip.open(path, "rt", encoding="utf-8", newline="\n")
    return path.open(encoding="utf-8", newline="\n")


class VocabFile:
    """A vocabulary file opened for reading: its ``columns`` and a stream of decoded ``rows``."""

    def __init__(self, path: Path, table: Table) -> None:
        """Read the header of ``path`` and check its columns against ``table`` (rows are read
        only when iterated)."""
        self.path = Path(path)
        self.table = table
        self._streaming, file_columns = self._read_header()
        known = set(table.column_names)
        unknown = [c for c in file_columns if c not in known]
        if unknown:
            raise SynthgateError(
                f"column {unknown[0]!r} is not a column of table {table.name!r} in orm.yaml",
                where=str(self.path), fix="export the vocabulary again with make-vocab",
            )
        self._names = frozenset(file_columns)
        self.columns: list[str] = [c for c in table.column_names if c in self._names]
        self._decoders = [
            (i, decode) for i, name in enumerate(self.columns)
            if (decode := value_decoder(table.column(name).portable)) is not None
        ]

    def _read_header(self) -> tuple[bool, list[str]]:
        """(whether this is the streaming format, the columns the file holds)."""
        with _open_text(self.path) as text:
            head: list[str] = []
            for line in text:
                if line.rstrip("\n") == _ROWS_LINE:
                    break
                head.append(line)
            else:
                return False, self._fallback_columns()
        data = load_yaml_text("".join(head), str(self.path))
        if not isinstance(data, dict) or _FORMAT_KEY not in data:
            return False, self._fallback_columns()
        if data[_FORMAT_KEY] != VOCAB_FORMAT_VERSION:
            raise SynthgateError(f"unsupported vocabulary format {data[_FORMAT_KEY]!r}",
                                 where=str(self.path))
        if data.get("table") != self.table.name:
            raise SynthgateError(
                f"the file holds table {data.get('table')!r}, not {self.table.name!r}",
                where=str(self.path),
            )
        return True, [str(c) for c in data.get("columns") or {}]

    def _fallback_rows(self) -> list[dict[str, Any]]:
        """The rows of a file read as one YAML document (a list, or a mapping with ``rows``)."""
        with _open_text(self.path) as text:
            data = load_yaml_text(text.read(), str(self.path))
        if isinstance(data, dict):
            data = data.get("rows")
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise SynthgateError("not a vocabulary file (expected a list of row mappings)",
                                 where=str(self.path))
        return [{str(k): v for k, v in row.items()} for row in data]

    def _fallback_columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self._fallback_rows():
            seen.update(dict.fromkeys(row))
        return list(seen)

    def _where(self, number: int) -> str:
        """The place of a row: the line of a streaming file, else the row's position."""
        return f"{self.path}:{number}" if self._streaming else f"{self.path}: row {number}"

    def _values(self, mapping: dict[str, Any], number: int) -> tuple[Any, ...]:
        if mapping.keys() != self._names:
            extra = sorted(set(mapping) - self._names)
            if extra:
                raise SynthgateError(f"unknown column {extra[0]!r}", where=self._where(number))
            if self._streaming:
                missing = sorted(self._names - set(mapping))
                raise SynthgateError(f"the row has no column {missing[0]!r}",
                                     where=self._where(number))
        values = [mapping.get(c) for c in self.columns]
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

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """The rows as tuples in the order of ``columns``, decoded by their orm.yaml types.

        The streaming format is read line by line; a truncated or damaged file is an error
        naming the line.
        """
        if not self._streaming:
            for number, mapping in enumerate(self._fallback_rows(), 1):
                yield self._values(mapping, number)
            return
        loads = json.loads
        seen = 0
        count: int | None = None
        with _open_text(self.path) as text:
            number = 0
            for line in text:
                number += 1
                if line.rstrip("\n") == _ROWS_LINE:
                    break
            for line in text:
                number += 1
                if line.startswith("- ") and count is None:
                    try:
                        mapping = loads(line[2:])
                    except ValueError as exc:
                        raise SynthgateError(f"not a JSON row ({exc})",
                                             where=f"{self.path}:{number}") from None
                    seen += 1
                    yield self._values(mapping, number)
                elif line.startswith(_COUNT_KEY) and count is None:
                    count = int(line[len(_COUNT_KEY):])
                elif line.strip() and not line.lstrip().startswith("#"):
                    raise SynthgateError("unexpected line in a vocabulary file",
                                         where=f"{self.path}:{number}")
        if count is None:
            raise SynthgateError("the file is truncated (no row_count at its end)",
                                 where=str(self.path), fix="export the vocabulary again")
        if count != seen:
            raise SynthgateError(f"row_count says {count} rows but the file holds {seen}",
                                 where=str(self.path), fix="export the vocabulary again")
