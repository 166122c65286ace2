"""Database values as plain, readable YAML data (and back).

``to_plain`` turns what a DB driver returns into values PyYAML's safe dumper writes
faithfully and readably: decimals stay exact, dates and timestamps stay YAML
timestamps, bytes become ``!!binary``, arrays become lists.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
import uuid
from typing import Any


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


def decimal_to_plain(value: decimal.Decimal) -> int | float | str:
    """An int when integral, a float when that is exact, else the decimal's text."""
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    return as_float if decimal.Decimal(repr(as_float)) == value.normalize() else str(value)


def to_plain(value: Any) -> Any:
    """Convert one driver value (recursively) into data the YAML safe dumper writes faithfully."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return decimal_to_plain(value)
    if isinstance(value, dt.datetime | dt.date):
        return value
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return interval_to_iso(value)
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if isinstance(value, bytes):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_plain(value.value)
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    return str(value)
