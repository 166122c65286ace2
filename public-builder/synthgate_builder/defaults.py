"""Default value generators: values for any ``orm.yaml`` column that obey the column.

How the populate engine uses it::

    import numpy as np
    from synthgate_builder.defaults import column_sampler

    rng = np.random.default_rng(seed)
    sampler = column_sampler(column, model, table, dialect=engine.dialect.name)
    values = sampler.sample(1000, rng)       # driver-ready values; never None if NOT NULL
    keys = sampler.sample_unique(1000, rng)  # distinct values; the next call goes on after them
    keys = sampler.sample_unique(500, rng, exclude=keys_in_table)  # also skip these values

Keep one sampler per column for the whole run: ``sample_unique`` remembers where it stopped,
so successive passes never repeat a value. After a restart pass ``start=`` (the position in
the column's sequence of distinct values, e.g. the number of rows already generated) and/or
``exclude=`` (the keys read back from the table). Values that cannot be unique raise a
``SynthgateError`` naming the table, the column and why (a unique boolean asked for 3 rows).

What the values obey: ``varchar(n)``/``char(n)`` lengths, ``numeric(p,s)`` precision and scale
(``Decimal``, ``|value| < 10**(p-s)``), integer type ranges, enum values, and the domain and
table checks that can be understood (comparisons with constants, ``BETWEEN``, ``IN``,
``= ANY (ARRAY[...])``, ``=``/``OR`` lists, ``<>``, ``length(col)`` bounds, ``array <@ ARRAY[...]``,
joined by ``AND``; ``synthgate_shared.checks.column_facts`` shows what was understood); other
checks are left alone and the column's normal range applies.
Default ranges: numbers 0..10,000 (clipped to the type and the checks), dates and timestamps
2000..2025, times over the whole day, intervals 1 minute..30 days, text of pseudo-words from a
fixed vocabulary; no None unless ``column_sampler(..., null_fraction=)`` asks for some on a
nullable column. ``timestamptz``/``timetz`` values are UTC-aware on PostgreSQL (naive UTC
elsewhere: MariaDB and SQLite keep no zone). Arrays hold 1..3 elements
(native lists on PostgreSQL, JSON-safe lists elsewhere); ``tsvector`` is a PostgreSQL literal
such as ``'amber':1 'river':2`` on PostgreSQL and plain text elsewhere.

Every batch is drawn with NumPy; only the final conversion to driver objects (dates, decimals,
UUIDs) touches each value in Python. The same generator state gives the same values.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from synthgate_shared.checks import Fact, column_facts
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import Column, OrmModel, Table
from synthgate_shared.sqla import family
from synthgate_shared.types import INTEGER_RANGES, PortableType

from synthgate_builder.default_kinds import (
    ArrayKind,
    BytesKind,
    ChoiceKind,
    FloatKind,
    JsonKind,
    Kind,
    Rng,
    StepKind,
    Steps,
    TextKind,
    TsVectorKind,
    Unsupported,
    UuidKind,
)

_UTC = dt.UTC
_INT64_MAX = 2**63 - 1
_DEFAULT_NUMBERS = (0, 10_000)
_DATE_WINDOW = (dt.date(2000, 1, 1), dt.date(2025, 12, 31))
_RANDOM_UNIQUE_TRIES = 20
_EXCLUDED_TRIES = 50



# --- building a kind from the type and the facts --------------------------------------------

def _no_value(where: str, why: str = "its checks allow no value") -> SynthgateError:
    return SynthgateError(why, where=where, fix="check the column's type and checks in orm.yaml")


def _decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    return decimal.Decimal(str(value))


def _epoch_days(value: Any) -> decimal.Decimal:
    return decimal.Decimal((dt.date.fromisoformat(str(value)[:10]) - dt.date(1970, 1, 1)).days)


def _epoch_seconds(value: Any) -> decimal.Decimal:
    moment = dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    return _decimal((moment - dt.datetime(1970, 1, 1, tzinfo=_UTC)).total_seconds())


def _day_seconds(value: Any) -> decimal.Decimal:
    moment = dt.time.fromisoformat(str(value))
    return _decimal(moment.hour * 3600 + moment.minute * 60 + moment.second
                    + moment.microsecond / 1e6)


def _no_constant(value: Any) -> decimal.Decimal:
    raise ValueError("constants of this type are not understood")


def _dates(steps: Steps) -> list[Any]:
    return list((np.datetime64("1970-01-01", "D") + steps).tolist())


def _timestamps(steps: Steps) -> list[Any]:
    return list((np.datetime64("1970-01-01T00:00:00", "s") + steps).tolist())


def _aware_timestamps(steps: Steps) -> list[Any]:
    return list(map(functools.partial(dt.datetime.fromtimestamp, tz=_UTC), steps.tolist()))


def _times(steps: Steps, tz: dt.tzinfo | None = None) -> list[Any]:
    hours, minutes, seconds = steps // 3600, steps // 60 % 60, steps % 60
    return list(map(functools.partial(dt.time, tzinfo=tz), hours.tolist(), minutes.tolist(),
                    seconds.tolist()))


def _intervals(steps: Steps) -> list[Any]:
    return list(steps.astype("timedelta64[s]").tolist())


def _decimals(scale: int) -> Callable[[Steps], list[Any]]:
    def convert(steps: Steps) -> list[Any]:
        return [decimal.Decimal(f"{u}e-{scale}") for u in steps.tolist()]
    return convert


def _integers(steps: Steps) -> list[Any]:
    return list(steps.tolist())


@dataclass(frozen=True)
class _Line:
    """A type whose values are integer steps: how constants and values map to steps."""

    to_steps: Callable[[Any], decimal.Decimal]
    convert: Callable[[Steps], list[Any]]
    type_low: int
    type_high: int
    window: tuple[int, int]
    unique_base: int | None = None  # where unique values start when the range allows it


def _days(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def _line_for(ptype: PortableType, dialect: str) -> _Line | None:
    base = ptype.base
    day_window = (_days(_DATE_WINDOW[0]), _days(_DATE_WINDOW[1]))
    second_window = (day_window[0] * 86400, day_window[1] * 86400 + 86399)
    if base in INTEGER_RANGES:
        low, high = INTEGER_RANGES[base]
        return _Line(_decimal, _integers, low, high, _DEFAULT_NUMBERS, unique_base=1)
    if base == "numeric":
        precision = ptype.params[0] if ptype.params else None
        scale = ptype.params[1] if len(ptype.params) > 1 else (0 if precision else 2)
        limit = min(10**precision - 1, _INT64_MAX) if precision else 10**17
        window = (_DEFAULT_NUMBERS[0] * 10**scale, _DEFAULT_NUMBERS[1] * 10**scale)
        return _Line(lambda v: _decimal(v).scaleb(scale), _decimals(scale), -limit, limit,
                     window)
    if base == "date":
        return _Line(_epoch_days, _dates, _days(dt.date(1, 1, 1)), _days(dt.date(9999, 12, 31)),
                     day_window)
    if base in ("timestamp", "timestamptz"):
        aware = base == "timestamptz" and dialect == "postgresql"
        return _Line(_epoch_seconds, _aware_timestamps if aware else _timestamps,
                     _days(dt.date(1900, 1, 1)) * 86400, _days(dt.date(9999, 12, 31)) * 86400,
                     second_window)
    if base in ("time", "timetz"):
        tz = _UTC if base == "timetz" and dialect == "postgresql" else None
        return _Line(_day_seconds, functools.partial(_times, tz=tz), 0, 86399, (0, 86399))
    if base == "interval":
        return _Line(_no_constant, _intervals, 0, 100 * 366 * 86400, (60, 30 * 86400))
    return None


def _window(low: int | float, high: int | float, default: tuple[float, float]
            ) -> tuple[Any, Any]:
    """The default window moved inside [low, high] (keeping its width where it can)."""
    width = default[1] - default[0]
    if default[1] < low:
        return low, min(high, low + width)
    if default[0] > high:
        return max(low, high - width), high
    return max(low, default[0]), min(high, default[1])


def _line_kind(line: _Line, facts: list[Fact], where: str) -> Kind:
    low, high = line.type_low, line.type_high
    choices: list[int] | None = None
    excluded: list[int] = []
    for op, value in facts:
        try:
            if op == "in":
                steps = [line.to_steps(v) for v in value]
                whole = [int(s) for s in steps if s == s.to_integral_value()]
                choices = whole if choices is None else [c for c in choices if c in whole]
            elif op in (">", ">="):
                x = line.to_steps(value)
                low = max(low, math.floor(x) + 1 if op == ">" else math.ceil(x))
            elif op in ("<", "<="):
                x = line.to_steps(value)
                high = min(high, math.ceil(x) - 1 if op == "<" else math.floor(x))
            elif op == "<>":
                x = line.to_steps(value)
                if x == x.to_integral_value():
                    excluded.append(int(x))
        except (ValueError, TypeError, ArithmeticError):
            continue  # a constant this type cannot read: leave that check alone
    if choices is not None:
        kept = sorted({c for c in choices if low <= c <= high and c not in excluded})
        if not kept:
            raise _no_value(where)
        choice = ChoiceKind(line.convert(np.array(kept, dtype=np.int64)))
        choice.limits = (choice.values[0], choice.values[-1])
        return choice
    if low > high:
        raise _no_value(where)
    win_low, win_high = _window(low, high, line.window)
    base = line.unique_base
    if base is None or not low <= base <= high:
        base = win_low
    forbidden = frozenset(line.convert(np.array(excluded, dtype=np.int64)))
    kind = StepKind(win_low, win_high, high, base, line.convert, forbidden)
    first, last = line.convert(np.array([low, high], dtype=np.int64))
    kind.limits = (first, last)
    return kind


def _float_kind(ptype: PortableType, facts: list[Fact], where: str) -> Kind:
    limit = float(np.finfo(np.float32 if ptype.base == "real" else np.float64).max)
    low, high = -limit, limit
    choices: list[float] | None = None
    excluded: set[float] = set()
    for op, value in facts:
        try:
            if op == "in":
                found = [float(_decimal(v)) for v in value]
                choices = found if choices is None else [c for c in choices if c in found]
            elif op in (">", ">="):
                x = float(_decimal(value))
                low = max(low, math.nextafter(x, math.inf) if op == ">" else x)
            elif op in ("<", "<="):
                x = float(_decimal(value))
                high = min(high, math.nextafter(x, -math.inf) if op == "<" else x)
            elif op == "<>":
                excluded.add(float(_decimal(value)))
        except (ValueError, TypeError, ArithmeticError):
            continue
    if choices is not None:
        kept = [c for c in dict.fromkeys(choices) if low <= c <= high and c not in excluded]
        if not kept:
            raise _no_value(where)
        floats = ChoiceKind(kept)
        floats.limits = (min(kept), max(kept))
        return floats
    if low > high:
        raise _no_value(where)
    win_low, win_high = _window(low, high, _DEFAULT_NUMBERS)
    spread = FloatKind(float(win_low), float(win_high), high, frozenset(excluded))
    spread.limits = (low, high)
    return spread


def _allowed(values: Sequence[Any], facts: list[Fact], coerce: Callable[[Any], Any],
             where: str) -> ChoiceKind:
    """``values`` narrowed by the ``in`` and ``<>`` facts (read with ``coerce``)."""
    kept = list(values)
    for op, value in facts:
        try:
            if op == "in":
                allowed = [coerce(v) for v in value]
                kept = [k for k in kept if k in allowed]
            elif op == "<>":
                kept = [k for k in kept if k != coerce(value)]
        except (ValueError, TypeError, ArithmeticError):
            continue
    if not kept:
        raise _no_value(where)
    return ChoiceKind(kept)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "t", "f"):
        return value.lower() in ("true", "t")
    if isinstance(value, decimal.Decimal) and value in (0, 1):
        return bool(value)
    raise ValueError(f"not a boolean: {value!r}")


def _text_kind(ptype: PortableType, facts: list[Fact], where: str, in_array: bool) -> Kind:
    min_len, max_len = 0, ptype.length
    for op, value in facts:
        if not isinstance(value, decimal.Decimal):
            continue
        if op in ("len>", "len>=", "len="):
            min_len = max(min_len, math.floor(value) + 1 if op == "len>" else math.ceil(value))
        if op in ("len<", "len<=", "len="):
            bound = math.ceil(value) - 1 if op == "len<" else math.floor(value)
            max_len = bound if max_len is None else min(max_len, bound)
    if max_len is not None and max_len < max(min_len, 1):
        raise _no_value(where, "its length limits allow no value")
    excluded = frozenset(str(v) for op, v in facts if op == "<>")
    lists = [v for op, v in facts if op == "in"]
    if lists:
        fits = [str(v) for v in lists[0]
                if min_len <= len(str(v)) <= (max_len or len(str(v)))]
        return _allowed(fits, facts, str, where)
    if in_array:
        words, sentence = (1, 2), False
    elif ptype.base == "text":
        words, sentence = (3, 8), True
    elif max_len is None:
        words, sentence = (1, 3), False
    else:
        words, sentence = (1, max(1, min(6, max_len // 7))), False
    code = ptype.base == "char" and max_len is not None and max_len <= 4
    return TextKind(min_len, max_len, words, sentence, code, excluded)


def _kind(ptype: PortableType, facts: list[Fact], model: OrmModel, where: str,
          dialect: str, in_array: bool = False) -> Kind:
    if ptype.is_array:
        element_facts = [Fact("in", v) for op, v in facts if op == "elements"]
        element = _kind(ptype.element, element_facts, model, where, dialect, in_array=True)
        return ArrayKind(element, ptype.array_dims, json_safe=dialect != "postgresql")
    base = ptype.base
    if ptype.enum is not None:
        if ptype.enum not in model.enums:
            raise SynthgateError(f"enum {ptype.enum!r} is not listed under 'enums'",
                                 where="orm.yaml")
        return _allowed(model.enums[ptype.enum], facts, str, where)
    if base == "boolean":
        return _allowed([False, True], facts, _to_bool, where)
    line = _line_for(ptype, dialect)
    if line is not None:
        return _line_kind(line, facts, where)
    if base in ("real", "double"):
        return _float_kind(ptype, facts, where)
    if base in ("char", "varchar", "text"):
        return _text_kind(ptype, facts, where, in_array)
    if base == "uuid":
        return UuidKind()
    if base == "bytea":
        return BytesKind()
    if base in ("json", "jsonb"):
        return JsonKind()
    return TsVectorKind(literal=dialect == "postgresql")


# --- the public API ---------------------------------------------------------------------------

class ColumnSampler:
    """Draws values for one column; see the module docstring for how to use it."""

    def __init__(self, kind: Kind, *, table: str, column: Column, nullable: bool,
                 null_fraction: float) -> None:
        self._kind = kind
        self.table = table
        self.column = column
        self.nullable = nullable
        self.null_fraction = null_fraction if nullable else 0.0
        self._next = 0

    @property
    def where(self) -> str:
        """``table t, column c``: the place named in errors."""
        return f"table {self.table}, column {self.column.name}"

    @property
    def limits(self) -> tuple[Any, Any] | None:
        """The least and greatest value the column's type and checks allow (numbers, dates
        and times; None for other types)."""
        return self._kind.limits

    @property
    def capacity(self) -> int | None:
        """How many distinct values the column can take (None: practically unlimited)."""
        return self._kind.capacity

    def sample(self, n: int, rng: Rng) -> list[Any]:
        """``n`` values that obey the column (None only for a nullable column with a
        ``null_fraction``); deterministic for the same generator state."""
        if n == 0:
            return []
        values = self._kind.draw(n, rng)
        forbidden = self._kind.excluded
        for _ in range(_EXCLUDED_TRIES if forbidden else 0):
            bad = [i for i, v in enumerate(values) if v in forbidden]
            if not bad:
                break
            for i, v in zip(bad, self._kind.draw(len(bad), rng), strict=True):
                values[i] = v
        if self.null_fraction > 0:
            for i in np.flatnonzero(rng.random(n) < self.null_fraction).tolist():
                values[i] = None
        return values

    def sample_unique(self, n: int, rng: Rng, *, exclude: Collection[Any] | None = None,
                      start: int | None = None) -> list[Any]:
        """``n`` distinct values, none in ``exclude``, never None.

        Values come from the column's sequence of distinct values (sequential integers from 1,
        scrambled base-36 text keys, dates day by day, enum values in order...) starting at
        ``start``, or where the previous call stopped; random types (uuid, bytea) are drawn
        and de-duplicated. Raises ``SynthgateError`` when the column cannot hold that many.
        """
        position = self._next if start is None else start
        skip = set(exclude or ()) | set(self._kind.excluded)
        out: list[Any] = []
        seen: set[Any] = set()
        capacity = self._kind.capacity
        tries = 0
        try:
            while len(out) < n:
                need = n - len(out)
                if capacity is not None and position + need > capacity:
                    raise self._too_few(n, capacity, position)
                if capacity is None:
                    tries += 1
                    if tries > _RANDOM_UNIQUE_TRIES:
                        raise self._too_few(n, len(out), 0)
                values = self._kind.from_index(
                    np.arange(position, position + need, dtype=np.int64), rng)
                position += need
                if capacity is None or skip:
                    values = [v for v in values if v not in skip and v not in seen]
                    seen.update(values)
                out.extend(values)
        except Unsupported as exc:
            raise SynthgateError(
                f"cannot generate unique values: {exc.what}", where=self.where,
                fix="drop the unique constraint or give the column a row generator",
            ) from None
        self._next = position
        return out

    def _too_few(self, n: int, capacity: int, position: int) -> SynthgateError:
        left = max(capacity - position, 0)
        used = f" ({position} already used)" if position else ""
        return SynthgateError(
            f"cannot make {n} unique values: type {self.column.type} with its checks allows "
            f"only {left} more distinct values{used}",
            where=self.where,
            fix="lower num_rows_per_pass or the number of passes, or widen the column",
        )


def column_nullable(column: Column, model: OrmModel) -> bool:
    """Whether the column may hold NULL (its domain too, when it has one)."""
    domain = model.domains.get(column.domain) if column.domain else None
    return column.nullable and (domain is None or domain.nullable)


def column_sampler(column: Column, model: OrmModel, table: Table, *,
                   dialect: str = "postgresql", null_fraction: float = 0.0) -> ColumnSampler:
    """A sampler of default values for ``column`` of ``table``, ready for the driver of
    ``dialect`` (``postgresql``, ``mysql``/``mariadb``, ``sqlite``).

    The values obey the column's type, length, precision, enum, domain and understood checks.
    ``null_fraction`` (default 0) of the values are None when the column is nullable.
    A check that allows no value at all raises ``SynthgateError``.
    """
    where = f"table {table.name}, column {column.name}"
    nullable = column_nullable(column, model)
    kind = _kind(column.portable, column_facts(column, model, table), model, where,
                 family(dialect))
    return ColumnSampler(kind, table=table.name, column=column, nullable=nullable,
                         null_fraction=null_fraction)
