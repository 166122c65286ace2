"""Writing vocabulary files (``vocabfile`` describes the format and reads them): the header,
rows as one JSON object per line with YAML-unsafe characters escaped, the ``row_count``
footer, and gzip compression in a worker thread.

``write_vocab`` encodes driver rows in Python; ``RowLineSink`` takes whole row lines made
elsewhere (PostgreSQL's COPY output, converted a block at a time) and escapes them in bulk.
"""

from __future__ import annotations

import contextlib
import io
import json
import queue
import re
import threading
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, TextIO

from isal import igzip

from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import Table
from synthgate_shared.values import value_encoder
from synthgate_shared.vocabfile import (
    COUNT_KEY,
    FORMAT_KEY,
    GZIP_LEVEL,
    READ_CHUNK,
    ROWS_LINE,
    VOCAB_FORMAT_VERSION,
)
from synthgate_shared.yamlio import dump_yaml

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
        FORMAT_KEY: VOCAB_FORMAT_VERSION,
        "table": table.name,
        "columns": {c.name: c.type for c in table.columns},
    }
    return intro + dump_yaml(head) + ROWS_LINE + "\n"


def vocab_footer(count: int) -> str:
    """The line after the last row: the row count, so that a truncated file is detected."""
    return f"{COUNT_KEY} {count}\n"


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
