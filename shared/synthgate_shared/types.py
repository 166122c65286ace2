"""Portable column types: the small type language of ``orm.yaml``.

A portable type is a string such as ``integer``, ``varchar(45)``, ``numeric(5,2)``,
``timestamptz``, ``enum:mpaa_rating`` or ``text[]``. The base names are:

========================  ==========================================================
``smallint`` ``integer``  integers of 2, 4 and 8 bytes
``bigint``
``boolean``
``real`` ``double``       floating point of 4 and 8 bytes
``numeric[(p[,s])]``      exact decimal with optional precision and scale
``char(n)``               fixed-length text
``varchar[(n)]``          text with an optional maximum length
``text``                  unbounded text
``date`` ``time``         calendar date, time of day without / with time zone
``timetz``
``timestamp``             date and time without / with time zone
``timestamptz``
``interval``              a duration
``uuid`` ``json``
``jsonb`` ``bytea``       ``bytea`` is any binary string (BLOB on other databases)
``tsvector``              PostgreSQL full-text document
``enum:<name>``           one of the values listed under ``enums:`` in ``orm.yaml``
``<type>[]``              an array of ``<type>`` (``[][]`` for two dimensions)
========================  ==========================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from synthgate_shared.errors import SynthgateError

BASE_TYPES = frozenset(
    {
        "smallint", "integer", "bigint", "boolean", "real", "double", "numeric", "char",
        "varchar", "text", "date", "time", "timetz", "timestamp", "timestamptz", "interval",
        "uuid", "json", "jsonb", "bytea", "tsvector",
    }
)
INTEGER_TYPES = frozenset({"smallint", "integer", "bigint"})
INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
TEXT_TYPES = frozenset({"char", "varchar", "text"})
TEMPORAL_TYPES = frozenset({"date", "time", "timetz", "timestamp", "timestamptz"})

_PATTERN = re.compile(
    r"^(?:enum:(?P<enum>[A-Za-z_][\w$.-]*)|(?P<base>[a-z]+)(?:\((?P<args>\d+(?:\s*,\s*\d+)?)\))?)"
    r"(?P<array>(?:\[\])*)$"
)


@dataclass(frozen=True)
class PortableType:
    """A parsed portable type: base name, numeric parameters, enum name, array depth."""

    base: str
    params: tuple[int, ...] = ()
    enum: str | None = None
    array_dims: int = 0

    @property
    def is_array(self) -> bool:
        """True for ``<type>[]``."""
        return self.array_dims > 0

    @property
    def element(self) -> PortableType:
        """The type of one element (the type itself when it is not an array)."""
        return PortableType(self.base, self.params, self.enum, 0)

    @property
    def length(self) -> int | None:
        """Maximum length of ``char(n)``/``varchar(n)``, else None."""
        return self.params[0] if self.base in ("char", "varchar") and self.params else None

    def render(self) -> str:
        """The canonical string form of this type."""
        head = f"enum:{self.enum}" if self.enum else self.base
        if self.params:
            head += "(" + ",".join(str(p) for p in self.params) + ")"
        return head + "[]" * self.array_dims


def parse_type(text: str) -> PortableType:
    """Parse a portable type string; an unknown type raises a clear error."""
    match = _PATTERN.match(text.strip())
    if not match:
        raise SynthgateError(f"unknown portable type {text!r}", fix="see synthgate_shared.types")
    dims = len(match["array"]) // 2
    if match["enum"]:
        return PortableType("enum", (), match["enum"], dims)
    base = match["base"]
    if base not in BASE_TYPES:
        raise SynthgateError(f"unknown portable type {text!r}", fix="see synthgate_shared.types")
    params = tuple(int(p) for p in match["args"].split(",")) if match["args"] else ()
    return PortableType(base, params, None, dims)
