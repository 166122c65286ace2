"""Database values as plain, readable YAML data (and back).

``to_plain`` turns what a DB driver returns into values PyYAML's safe dumper writes
faithfully and readably: decimals stay exact, dates and timestamps stay YAML
timestamps, bytes become ``!!binary``, arrays become lists.

``encode_value`` / ``value_decoder`` are the exact codec of vocabulary rows: driver
values <-> JSON values, decoded by the column's portable type.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import math
import operator
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from synthgate_shared.errors import SynthgateError
from synthgate_shared.types import PortableType


def interval_to_iso(value: dt.timedelta) -> str:
    """An ISO 8601 duration such as ``P1DT2H3M4.5S`` (exact to the microsecond)."""
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    days, seconds, micros = value.days, value.seconds, value.microseconds
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = f"{sign}P{days}DT{hours}H{minutes}M{secs}"
    if micros:
        out += f".{micros:06d}".rstrip("0")
    return out + "S"


def decimal_to_plain(value: decimal.Decimal) -> int | float | decimal.Decimal | str:
    """An int when integral, a float when that is exact, else the Decimal itself.

    ``yamlio.dump_yaml`` writes a Decimal as an unquoted number with all its digits, so
    the file stays exact and every value of a numeric column reads back as a number.
    """
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    return as_float if decimal.Decimal(repr(as_float)) == value.normalize() else value


_CONVERTED = (float, decimal.Decimal, dt.time, dt.timedelta, memoryview, bytearray, uuid.UUID)


def _scalar_to_plain(value: Any) -> Any:
    """A float, Decimal, time, interval, byte buffer or UUID as plain YAML-safe data."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return decimal_to_plain(value)
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return interval_to_iso(value)
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return str(value)  # a UUID


def to_plain(value: Any) -> Any:
    """Convert one driver value (recursively) into data the YAML safe dumper writes faithfully."""
    if value is None or isinstance(value, bool | int | str | bytes | dt.datetime | dt.date):
        return value
    if isinstance(value, _CONVERTED):
        return _scalar_to_plain(value)
    if isinstance(value, enum.Enum):
        return to_plain(value.value)
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    return str(value)


# --- the vocabulary row codec -------------------------------------------------------------
# Vocabulary rows travel as JSON values (one JSON object per line of a vocabulary file) and
# must come back exactly: ``encode_value`` makes a driver value JSON-compatible without losing
# anything, ``value_decoder`` turns it back into the driver value for the column's portable
# type. The decoders are lenient: they also accept the native YAML values of SqlSynthGen
# vocabulary files (dates, timestamps, bytes already decoded by the YAML loader).

_ISO_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<secs>\d+)(?:\.(?P<frac>\d{1,6}))?S)?)?$"
)


def iso_to_interval(text: str) -> dt.timedelta:
    """The inverse of ``interval_to_iso`` (days, hours, minutes, seconds; exact microseconds)."""
    match = _ISO_DURATION.match(text.strip())
    if not match or text.strip() in ("P", "-P", "PT", "-PT"):
        raise SynthgateError(f"not an ISO 8601 duration: {text!r}",
                             fix="write durations like P1DT2H3M4.5S")
    value = dt.timedelta(
        days=int(match["days"] or 0), hours=int(match["hours"] or 0),
        minutes=int(match["minutes"] or 0), seconds=int(match["secs"] or 0),
        microseconds=int((match["frac"] or "").ljust(6, "0")),
    )
    return -value if match["sign"] else value


def _encode_float(value: float) -> float | str:
    value = float(value)  # some drivers give DOUBLE columns as Decimal of the float's repr
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _encode_bytes(value: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


def _encode_list(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    return [encode_value(v) for v in value]


def _identity(value: Any) -> Any:
    return value


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    type(None): _identity, bool: _identity, int: _identity, str: _identity, dict: _identity,
    float: _encode_float,
    decimal.Decimal: str,
    # datetime before date: the subclass fallback below takes the first match
    dt.datetime: dt.datetime.isoformat, dt.date: dt.date.isoformat, dt.time: dt.time.isoformat,
    dt.timedelta: interval_to_iso,
    bytes: _encode_bytes, bytearray: _encode_bytes, memoryview: _encode_bytes,
    uuid.UUID: str,
    list: _encode_list, tuple: _encode_list,
}


def encode_value(value: Any) -> Any:
    """A driver value as a JSON-compatible value that ``value_decoder`` turns back exactly.

    Decimals become their text, dates and times ISO 8601 text (time-zone offsets kept),
    durations ISO 8601 durations, bytes base64 text, UUIDs text, arrays lists, NaN and
    infinities the strings ``NaN``/``Infinity``/``-Infinity``; JSON documents stay as they are.
    """
    encoder = _ENCODERS.get(type(value))
    if encoder is not None:
        return encoder(value)
    for kind, fallback in _ENCODERS.items():  # subclasses (driver time zones, IntEnum, ...)
        if kind is not type(None) and isinstance(value, kind):
            return fallback(value)
    if isinstance(value, enum.Enum):
        return encode_value(value.value)
    return str(value)


_isoformat = operator.methodcaller("isoformat")
_JSON_NATIVE = frozenset(
    {"smallint", "integer", "bigint", "boolean", "char", "varchar", "text", "tsvector", "enum",
     "json", "jsonb"}
)


def value_encoder(ptype: PortableType) -> Callable[[Any], Any] | None:
    """``encode_value`` specialised for the (non-NULL) values of a column of ``ptype``; None
    when the driver values are already JSON values (integers, text, booleans, JSON, and
    arrays of those), so the hot loop of an export skips them."""
    if ptype.base in _JSON_NATIVE:
        return None
    if ptype.is_array:
        return encode_value
    if ptype.base == "numeric":
        return str
    if ptype.base in ("date", "time", "timetz", "timestamp", "timestamptz"):
        return _isoformat
    if ptype.base in ("real", "double"):
        return _encode_float
    return encode_value


def _to_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, decimal.Decimal):
        return value
    return decimal.Decimal(repr(value) if isinstance(value, float) else str(value))


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _to_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return dt.datetime.fromisoformat(value)


def _to_time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, dt.timedelta):  # MySQL drivers return TIME as a duration
        return (dt.datetime.min + value).time()
    return dt.time.fromisoformat(value)


def _to_interval(value: Any) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int | float):
        return dt.timedelta(seconds=value)
    return iso_to_interval(value)


def _to_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return base64.b64decode(value, validate=True)


def _to_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else bool(value)


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "numeric": _to_decimal, "real": float, "double": float, "boolean": _to_bool,
    "date": _to_date, "timestamp": _to_datetime, "timestamptz": _to_datetime,
    "time": _to_time, "timetz": _to_time, "interval": _to_interval, "uuid": _to_uuid,
    "bytea": _to_bytes,
}


def _array_decoder(element: Callable[[Any], Any], dims: int) -> Callable[[Any], Any]:
    def decode(value: Any) -> Any:
        if value is None:
            return None
        if dims > 1:
            inner = _array_decoder(element, dims - 1)
            return [inner(v) for v in value]
        return [None if v is None else element(v) for v in value]

    return decode


def value_decoder(ptype: PortableType) -> Callable[[Any], Any] | None:
    """A function turning an encoded (or native YAML) value back into the driver value of
    ``ptype``; None when the value needs no decoding. The function never sees SQL NULL."""
    element = _DECODERS.get(ptype.base)
    if not ptype.is_array:
        return element
    return _array_decoder(element or _identity, ptype.array_dims)


def leaves(value: Any) -> Iterator[Any]:
    """The values inside an argument that are neither lists nor dicts (nested ones too)."""
    if isinstance(value, list):
        for v in value:
            yield from leaves(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    else:
        yield value
