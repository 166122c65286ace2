"""PostgreSQL's COPY text format both ways, and the UTF-8 guard of every COPY connection.

Writing (create-data, create-vocab)::

    render = copy_text_column(ptype)          # a column of driver values -> COPY fields
    fields = render([1, None, 3])              # ["1", "\\N", "3"]
    field = copy_text_field(ptype)(value)      # one non-NULL value -> one field

Reading (make-vocab)::

    copy_text_value(r"a\\tb")                  # "a<TAB>b": what a non-NULL field stands for

COPY moves bytes in the connection's client encoding: ``utf8_client(raw)`` before every COPY
makes sure that is UTF-8 (engines made by ``db.create_engine_for`` connect in UTF-8).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from synthgate_shared.errors import SynthgateError
from synthgate_shared.types import PortableType

NULL_FIELD = "\\N"  # COPY text's NULL marker unless the statement names another

_ENCODE = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_SPECIAL = ("\\", "\n", "\r", "\t")
_SAFE_TYPES = frozenset((
    "smallint", "integer", "bigint", "boolean", "real", "double", "numeric", "date", "time",
    "timetz", "timestamp", "timestamptz", "interval", "uuid"))
_FLOAT_TEXT = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}
_DECODE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPED = re.compile(r"\\(.)")
_UTF8 = "UTF8"


# --- writing ---------------------------------------------------------------------------------

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


def _array_literal(ptype: PortableType) -> Callable[[Any], str]:
    element = _literal(ptype.element)

    def array(value: Any, dims: int = ptype.array_dims) -> str:
        if dims > 1:
            return "{" + ",".join(array(v, dims - 1) for v in value) + "}"
        return "{" + ",".join("NULL" if v is None else _array_element(element(v))
                              for v in value) + "}"

    return array


def _literal(ptype: PortableType) -> Callable[[Any], str]:
    """How PostgreSQL reads a (non-NULL) value of ``ptype`` as text, before COPY escaping."""
    if ptype.is_array:
        return _array_literal(ptype)
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


def _escape_free(ptype: PortableType) -> bool:
    """Whether the text of every value of ``ptype`` is free of the characters COPY escapes."""
    return not ptype.is_array and ptype.base in _SAFE_TYPES


def copy_text_field(ptype: PortableType) -> Callable[[Any], str]:
    """A function rendering a (non-NULL) driver value of ``ptype`` as one field of COPY text
    format (NULL is the caller's)."""
    literal = _literal(ptype)
    if _escape_free(ptype):
        return literal
    return lambda v: literal(v).translate(_ENCODE)


def copy_text_column(ptype: PortableType) -> Callable[[list[Any]], list[str]]:
    """A function rendering a whole column of driver values of ``ptype`` as COPY text fields,
    None as ``\\N``: the same fields as ``copy_text_field``, made a column at a time (the
    escaping only runs when the column holds a character that needs it)."""
    literal = _literal(ptype)
    safe = _escape_free(ptype)

    def column(values: list[Any]) -> list[str]:
        present = [v for v in values if v is not None] if None in values else values
        texts = list(map(literal, present))
        if not safe:
            joined = "".join(texts)
            if any(c in joined for c in _SPECIAL):
                texts = [t.translate(_ENCODE) for t in texts]
        if present is values:
            return texts
        rest = iter(texts)
        return [NULL_FIELD if v is None else next(rest) for v in values]

    return column


# --- reading ---------------------------------------------------------------------------------

def copy_text_value(field: str) -> str:
    """The value a (non-NULL) field of COPY text stands for."""
    return _ESCAPED.sub(lambda m: _DECODE.get(m.group(1), m.group(1)), field)


# --- the connection ----------------------------------------------------------------------------

def utf8_client(raw: Any) -> None:
    """Make sure the psycopg2 connection ``raw`` talks UTF-8 (COPY sends and reads bytes in
    the client encoding). A connection outside a transaction is switched (and stays so);
    inside one it cannot be (psycopg2 would roll the transaction back), so that is an error.
    ``db.create_engine_for`` connects in UTF-8 from the start."""
    if raw.encoding == _UTF8:
        return
    if raw.get_transaction_status() != TRANSACTION_STATUS_IDLE:
        raise SynthgateError(
            f"the PostgreSQL connection's client encoding is {raw.encoding}, not UTF-8",
            fix="connect with client_encoding=utf8 (PGCLIENTENCODING=UTF8)")
    raw.set_client_encoding(_UTF8)


def copy_in(raw: Any, sql: str, data: Any, size: int) -> int:
    """Run ``COPY ... FROM STDIN`` of the file object ``data`` on the psycopg2 connection
    ``raw`` in UTF-8, ``size`` bytes at a time (the driver lets other threads run while the
    server reads); returns the number of rows."""
    utf8_client(raw)
    cursor = raw.cursor()
    try:
        cursor.copy_expert(sql, data, size=size)
        return int(cursor.rowcount)
    finally:
        cursor.close()
