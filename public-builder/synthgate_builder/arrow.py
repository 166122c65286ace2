"""Columns of driver values -> Arrow arrays typed by the portable types of ``orm.yaml``.

Used by the DuckDB bulk path (a batch goes in as one Arrow table) and by ``dump-data``
(Parquet files with the column types of ``orm.yaml``). Types Arrow has no plain counterpart
for (JSON, intervals, full-text vectors, UUIDs) are written as text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from synthgate_shared.orm import Table
from synthgate_shared.types import PortableType

_PLAIN: dict[str, pa.DataType] = {
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
    "real": pa.float32(),
    "double": pa.float64(),
    "char": pa.string(),
    "varchar": pa.string(),
    "text": pa.string(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timetz": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "bytea": pa.binary(),
}
_MAX_DECIMAL128 = 38


def arrow_type(ptype: PortableType) -> pa.DataType:
    """The Arrow type that holds the values of ``ptype`` (text for what has no counterpart)."""
    if ptype.is_array:
        inner = arrow_type(PortableType(ptype.base, ptype.params, ptype.enum,
                                        ptype.array_dims - 1))
        return pa.list_(inner)
    if ptype.base == "numeric":
        precision = ptype.params[0] if ptype.params else _MAX_DECIMAL128
        scale = ptype.params[1] if len(ptype.params) > 1 else (0 if ptype.params else 9)
        if precision > _MAX_DECIMAL128:
            return pa.decimal256(precision, scale)
        return pa.decimal128(precision, max(scale, 0))
    return _PLAIN.get(ptype.base, pa.string())


def arrow_schema(table: Table, columns: Sequence[str] | None = None) -> pa.Schema:
    """The Arrow schema of ``table`` (or of the named ``columns`` of it, in that order)."""
    names = list(columns) if columns is not None else table.column_names
    return pa.schema([pa.field(n, arrow_type(table.column(n).portable),
                               nullable=table.column(n).nullable) for n in names])


def _as_text(value: Any) -> Any:
    """A value of a type written as text: JSON as JSON text, the others by ``str``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list, bool, int, float)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def arrow_array(ptype: PortableType, values: Sequence[Any]) -> pa.Array:
    """``values`` (driver values of ``ptype``, None for NULL) as one typed Arrow array."""
    atype = arrow_type(ptype)
    if ptype.is_array:  # destinations other than PostgreSQL keep arrays as JSON text
        values = [json.loads(v) if isinstance(v, str) else v for v in values]
    elif atype == pa.string() and ptype.base not in ("char", "varchar", "text"):
        values = [_as_text(v) for v in values]
    elif ptype.base == "numeric" and not ptype.is_array and any(
            isinstance(v, float) for v in values):
        # generators draw decimals as floats: round them to the column's scale, as INSERT does
        return pa.array(values, type=pa.float64()).cast(atype)
    return pa.array(values, type=atype, from_pandas=False)


def arrow_batch(table: Table, columns: Sequence[str],
                values: Sequence[Sequence[Any]]) -> pa.Table | None:
    """The rows given column by column as an Arrow table; None when a value does not fit its
    column's Arrow type (the caller then takes its row-by-row path)."""
    try:
        arrays = [arrow_array(table.column(c).portable, v) for c, v in zip(columns, values,
                                                                            strict=True)]
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None
    return pa.Table.from_arrays(arrays, schema=arrow_schema(table, columns))
