"""The checks of each column type for ``fit``: a ``Kind`` takes the non-NULL values of a
batch and returns them fitted, or raises ``Misfit`` for the first value that cannot be made
to fit (``fit.ColumnFit`` turns that into one line naming the generator). ``kind_of`` builds
the kind of a column from its portable type and the facts its checks state."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import math
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from synthgate_shared.checks import Fact
from synthgate_shared.orm import OrmModel
from synthgate_shared.types import INTEGER_RANGES, PortableType

Rng = np.random.Generator

_SHOWN = 60  # characters of a value's repr in an error
_INTEGER_TEXT = re.compile(r"\s*[+-]?\d+\s*")
_TRUE = frozenset({"t", "true", "y", "yes", "on", "1"})
_FALSE = frozenset({"f", "false", "n", "no", "off", "0"})
_REAL_MAX = float(np.finfo(np.float32).max)
_CUT_KEEPS = 2 / 3  # a cut at a space must keep this share of the length


class Misfit(Exception):
    """A value that does not fit: ``why`` follows the value in the message
    (``for an integer column``), ``fix`` says what the generator should return."""

    def __init__(self, value: Any, why: str, fix: str) -> None:
        super().__init__(why)
        self.value, self.why, self.fix = value, why, fix


def shown(value: Any) -> str:
    """A value's repr for an error message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def with_article(text: str) -> str:
    """``a``/``an`` and ``text``: ``an integer column``."""
    return ("an " if text[:1] in "aeio" else "a ") + text


class _Kind:
    """How the values of one column type are checked: ``fit`` takes the non-NULL values of
    a batch and returns them fitted (the same list when nothing changed)."""

    def __init__(self, column: str) -> None:
        self.column = column  # ``an integer column``: the end of a message

    def fit(self, values: list[Any], lenient: bool, rng: Rng) -> list[Any]:
        """The non-NULL ``values`` fitted; fixes made only when ``lenient``."""
        raise NotImplementedError


def _wrong(value: Any, column: str, fix: str) -> Misfit:
    """A value of the wrong Python type for ``column``."""
    return Misfit(value, f"({with_article(type(value).__name__)}) for {column}", fix)


# --- ordered values: numbers, dates, timestamps ------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Line:
    """How one ordered type reads values and check constants: ``convert`` one value (or
    raise), ``constant`` for a check's constant, ``above``/``below`` the smallest value
    after / largest before a constant (an exclusive bound), ``plain`` the types that need
    no conversion, ``rounding`` of a whole list (numeric scale)."""

    convert: Callable[[Any], Any]
    constant: Callable[[Any], Any]
    above: Callable[[Any], Any]
    below: Callable[[Any], Any]
    plain: frozenset[type]
    rounding: Callable[[list[Any]], list[Any]] | None = None


class _Ordered(_Kind):
    """Values with a range (from the type and the checks), an ``IN`` list, excluded ones."""

    def __init__(self, column: str, line: _Line, low: Any, high: Any,
                 facts: list[Fact]) -> None:
        super().__init__(column)
        self.line = line
        self.allowed: list[Any] | None = None
        self.excluded: set[Any] = set()
        for op, value in facts:
            if op == "in":
                found = [c for c in map(self._constant, value) if c is not None]
                self.allowed = found if self.allowed is None else [
                    a for a in self.allowed if a in found]
                continue
            c = self._constant(value)
            if c is None:
                continue  # a constant this type cannot read: leave that check alone
            if op in (">", ">="):
                c = line.above(c) if op == ">" else c
                low = c if low is None else max(low, c)
            elif op in ("<", "<="):
                c = line.below(c) if op == "<" else c
                high = c if high is None else min(high, c)
            elif op == "<>":
                self.excluded.add(c)
        self.low, self.high = low, high
        if self.allowed is not None:
            self.allowed = sorted({a for a in self.allowed if self._inside(a)
                                   and a not in self.excluded})
            self.allowed_set = set(self.allowed)

    def _constant(self, value: Any) -> Any:
        """A check's constant in this type; None when the type cannot read it."""
        try:
            return self.line.constant(value)
        except (ValueError, TypeError, ArithmeticError, Misfit):
            return None

    def _inside(self, v: Any) -> bool:
        return (self.low is None or v >= self.low) and (self.high is None or v <= self.high)

    def _range(self) -> str:
        if self.low is not None and self.high is not None:
            return f"from {self.low} to {self.high}"
        return f"at least {self.low}" if self.low is not None else f"at most {self.high}"

    def fit(self, values: list[Any], lenient: bool, rng: Rng) -> list[Any]:
        line = self.line
        if not set(map(type, values)) <= line.plain:
            values = [line.convert(v) for v in values]
        if line.rounding is not None:
            values = line.rounding(values)
        try:
            if self.allowed is not None:
                return self._in_list(values, lenient)
            if (self.low is not None and min(values) < self.low) or (
                    self.high is not None and max(values) > self.high):
                if not lenient or not self._inside(self._clamp(values[0])):  # or no value fits
                    bad = next(v for v in values if not self._inside(v))
                    raise Misfit(bad, f"for {self.column}, which holds values "
                                  f"{self._range()}", f"return values {self._range()}")
                values = [self._clamp(v) for v in values]
            if self.excluded and not self.excluded.isdisjoint(values):
                bad = next(v for v in values if v in self.excluded)
                if not lenient or any(self._nudged(x) is None for x in self.excluded):
                    raise Misfit(bad, f"for {self.column}, whose checks exclude it",
                                  "return another value")
                values = [self._nudged(v) if v in self.excluded else v for v in values]
        except TypeError:  # values that do not compare (naive and aware datetimes)
            return values
        return values

    def _clamp(self, v: Any) -> Any:
        if self.low is not None and v < self.low:
            return self.low
        return self.high if self.high is not None and v > self.high else v

    def _nudged(self, v: Any) -> Any:
        """The next value above ``v`` (or below it) that the checks allow; None if none."""
        for step in (self.line.above, self.line.below):
            near = step(v)
            while near in self.excluded:
                near = step(near)
            if self._inside(near):
                return near
        return None

    def _in_list(self, values: list[Any], lenient: bool) -> list[Any]:
        assert self.allowed is not None
        allowed = self.allowed_set
        if all(v in allowed for v in values):
            return values
        shown = ", ".join(map(str, self.allowed[:8])) + (", ..." if len(self.allowed) > 8
                                                          else "")
        if not lenient or not self.allowed:
            bad = next(v for v in values if v not in allowed)
            raise Misfit(bad, f"for {self.column}, whose checks allow only {shown or 'none'}",
                          f"return one of {shown}" if shown else "check the column's checks")
        ordered = np.array(self.allowed, dtype=object)
        return [v if v in allowed else self._nearest(ordered, v) for v in values]

    @staticmethod
    def _nearest(ordered: np.ndarray, v: Any) -> Any:
        at = int(np.searchsorted(ordered, v))
        candidates = [ordered[i] for i in (at - 1, at) if 0 <= i < len(ordered)]
        try:
            return min(candidates, key=lambda c: abs(c - v))
        except TypeError:
            return candidates[0]


def _number_of(value: Any, column: str, fix: str) -> Any:
    """A value as a Python int, float or Decimal (numeric text too); else a misfit."""
    if isinstance(value, bool | np.bool_):
        raise _wrong(value, column, fix)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, str):
        try:
            return decimal.Decimal(value.strip())
        except decimal.InvalidOperation:
            raise Misfit(value, f"for {column} (not a number)", fix) from None
    raise _wrong(value, column, fix)


def _finite(value: Any, column: str, fix: str) -> Any:
    if (isinstance(value, float) and not math.isfinite(value)) or (
            isinstance(value, decimal.Decimal) and not value.is_finite()):
        raise Misfit(value, f"for {column} (not a finite number)", fix)
    return value


def _integer_line(column: str) -> _Line:
    fix = "return an int (a float is rounded, a string of digits is read)"

    def convert(value: Any) -> int:
        if isinstance(value, str) and not _INTEGER_TEXT.fullmatch(value):
            raise Misfit(value, f"for {column} (not a whole number)", fix)
        number = _finite(_number_of(value, column, fix), column, fix)
        if isinstance(number, float):
            return round(number)  # half to even, as PostgreSQL's float-to-integer cast
        if isinstance(number, decimal.Decimal):
            return int(number.to_integral_value(decimal.ROUND_HALF_UP))
        return int(number)

    def constant(value: Any) -> int:
        number = decimal.Decimal(str(value))
        if number != number.to_integral_value():
            raise ValueError("not a whole number")
        return int(number)

    return _Line(convert, constant, lambda c: c + 1, lambda c: c - 1, frozenset({int}))


def _numeric_line(column: str, scale: int | None) -> _Line:
    fix = "return a number (int, float, Decimal or numeric text)"
    unit = decimal.Decimal(1).scaleb(-scale) if scale is not None else decimal.Decimal("1e-6")

    def convert(value: Any) -> Any:
        return _finite(_number_of(value, column, fix), column, fix)

    def rounding(values: list[Any]) -> list[Any]:
        assert scale is not None
        kinds = set(map(type, values))
        if kinds == {float}:
            array = np.array(values)
            rounded = np.round(array, scale)
            return values if np.array_equal(array, rounded) else rounded.tolist()
        if kinds <= {int}:
            return values
        return [round(v, scale) if type(v) is float
                else v.quantize(unit, decimal.ROUND_HALF_UP)
                if type(v) is decimal.Decimal and int(v.as_tuple().exponent) < -scale
                else v for v in values]

    return _Line(convert, lambda v: decimal.Decimal(str(v)), lambda c: c + unit,
                 lambda c: c - unit, frozenset({int, float, decimal.Decimal}),
                 rounding if scale is not None else None)


def _float_line(column: str, finite: bool) -> _Line:
    fix = "return a number"

    def convert(value: Any) -> float:
        number = _number_of(value, column, fix)
        if finite:
            _finite(number, column, fix + " (this database holds no NaN or infinity)")
        return float(number)

    return _Line(convert, lambda v: float(decimal.Decimal(str(v))),
                 lambda c: math.nextafter(c, math.inf), lambda c: math.nextafter(c, -math.inf),
                 frozenset() if finite else frozenset({float, int}))


def _date_line(column: str) -> _Line:
    fix = "return a datetime.date or an ISO 8601 date string"

    def convert(value: Any) -> dt.date:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, np.datetime64):
            return _item(value.astype("datetime64[D]").item(), column, value, fix)
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                try:
                    return dt.datetime.fromisoformat(value.strip()).date()
                except ValueError:
                    raise Misfit(value, f"for {column} (not a date)", fix) from None
        raise _wrong(value, column, fix)

    day = dt.timedelta(days=1)
    return _Line(convert, convert, lambda c: c + day, lambda c: c - day, frozenset({dt.date}))


def _item(item: Any, column: str, value: Any, fix: str) -> Any:
    """A NumPy datetime's ``item()``: a date or datetime, or a misfit (NaT, out of range)."""
    if not isinstance(item, dt.date):
        raise Misfit(value, f"for {column} (not a date Python can hold)", fix)
    return item


def _timestamp_line(column: str) -> _Line:
    fix = "return a datetime.datetime or an ISO 8601 timestamp string"

    def convert(value: Any) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, dt.date):
            return dt.datetime.combine(value, dt.time())
        if isinstance(value, np.datetime64):
            item = _item(value.astype("datetime64[us]").item(), column, value, fix)
            return item if isinstance(item, dt.datetime) else dt.datetime.combine(item,
                                                                                   dt.time())
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value.strip())
            except ValueError:
                raise Misfit(value, f"for {column} (not a timestamp)", fix) from None
        raise _wrong(value, column, fix)

    micro = dt.timedelta(microseconds=1)
    return _Line(convert, convert, lambda c: c + micro, lambda c: c - micro,
                 frozenset({dt.datetime}))


# --- other kinds ------------------------------------------------------------------------------

class _Texts(_Kind):
    """Strings within a length, without NUL characters, in an ``IN`` list when checked."""

    def __init__(self, column: str, ptype: PortableType, facts: list[Fact],
                 listed: str = "whose checks allow only") -> None:
        super().__init__(column)
        self.min_len, self.max_len = 0, ptype.length
        self.listed = listed
        for op, value in facts:
            if not isinstance(value, decimal.Decimal):
                continue
            if op in ("len>", "len>=", "len="):
                self.min_len = max(self.min_len, math.floor(value) + 1 if op == "len>"
                                   else math.ceil(value))
            if op in ("len<", "len<=", "len="):
                bound = math.ceil(value) - 1 if op == "len<" else math.floor(value)
                self.max_len = bound if self.max_len is None else min(self.max_len, bound)
        lists = [[str(v) for v in value] for op, value in facts if op == "in"]
        excluded = {str(v) for op, v in facts if op == "<>"}
        self.allowed: list[str] | None = None
        if lists:
            self.allowed = [v for v in lists[0] if all(v in other for other in lists[1:])
                            and v not in excluded]
        self.excluded = excluded

    def fit(self, values: list[Any], lenient: bool, rng: Rng) -> list[Any]:
        if not set(map(type, values)) <= {str}:
            values = [self._text(v) for v in values]
        if self.max_len is not None and max(map(len, values)) > self.max_len:
            values = [self._shorten(v, lenient) if len(v) > self.max_len else v
                      for v in values]
        if self.min_len and min(map(len, values)) < self.min_len:
            bad = next(v for v in values if len(v) < self.min_len)
            if not lenient:
                raise Misfit(bad, f"({len(bad)} characters) for {self.column}, whose checks "
                              f"need at least {self.min_len}",
                              f"return at least {self.min_len} characters")
            values = [v.ljust(self.min_len, "x") for v in values]
        if "\x00" in "".join(values):
            if not lenient:
                bad = next(v for v in values if "\x00" in v)
                raise Misfit(bad, f"for {self.column} (a NUL character)",
                              "return text without NUL characters")
            values = [v.replace("\x00", "") for v in values]
        if self.allowed is not None or self.excluded:
            values = self._choices(values, lenient, rng)
        return values

    def _text(self, value: Any) -> str:
        if isinstance(value, str):
            return str(value)
        if isinstance(value, bool | np.bool_) or not isinstance(
                value, int | float | decimal.Decimal | dt.date | dt.time | uuid.UUID
                | np.integer | np.floating):
            raise _wrong(value, self.column, "return a str")
        return str(value)

    def _shorten(self, value: str, lenient: bool) -> str:
        assert self.max_len is not None
        limit = self.max_len
        stripped = value.rstrip(" ")  # the database drops spaces beyond the length too
        if len(stripped) <= limit:
            return stripped
        if not lenient:
            raise Misfit(value, f"({len(value)} characters) for {self.column}, "
                          f"which holds {limit} characters",
                          f"return at most {limit} characters, or cut the value in the "
                          "generator")
        head = value[:limit]
        if value[limit] != " ":
            space = head.rfind(" ")
            if space >= limit * _CUT_KEEPS:
                head = head[:space]
        return head.rstrip(" ")

    def _choices(self, values: list[str], lenient: bool, rng: Rng) -> list[str]:
        allowed = set(self.allowed) if self.allowed is not None else None
        bad = [i for i, v in enumerate(values)
               if v in self.excluded or (allowed is not None and v not in allowed)]
        if not bad:
            return values
        shown = ", ".join(map(repr, (self.allowed or [])[:8]))
        if not lenient or not self.allowed:
            why = f"{self.listed} {shown}" if self.allowed else "whose checks exclude it"
            raise Misfit(values[bad[0]], f"for {self.column}, {why}",
                          f"return one of {shown}" if self.allowed else "return another value")
        values = list(values)
        for i, pick in zip(bad, rng.integers(0, len(self.allowed), len(bad)).tolist(),
                           strict=True):
            values[i] = self.allowed[pick]
        return values


class _Labels(_Texts):
    """Enum labels (narrowed by the checks); other strings are drawn again or refused."""

    def __init__(self, column: str, labels: Sequence[str], facts: list[Fact]) -> None:
        super().__init__(column, PortableType("text"), [*facts, Fact("in", list(labels))],
                         listed="whose labels are")


class _Booleans(_Kind):
    def fit(self, values: list[Any], lenient: bool, rng: Rng) -> list[Any]:
        if set(map(type, values)) <= {bool}:
            return values
        return [self._one(v) for v in values]

    def _one(self, value: Any) -> bool:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, int | np.integer) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _wrong(value, self.column, "return a bool")


class _Typed(_Kind):
    """Values that must be of given Python types (``convert`` turns text into them)."""

    def __init__(self, column: str, types: tuple[type, ...], fix: str,
                 convert: Callable[[str], Any] | None = None) -> None:
        super().__init__(column)
        self.types, self.fix, self.convert = types, fix, convert

    def fit(self, values: list[Any], lenient: bool, rng: Rng) -> list[Any]:
        if all(isinstance(v, self.types) for v in values):
            return values
        return [v if isinstance(v, self.types) else self._one(v) for v in values]

    def _one(self, value: Any) -> Any:
        if self.convert is not None and isinstance(value, str):
            try:
                return self.convert(value)
            except ValueError:
                raise Misfit(value, f"for {self.column} (does not parse)", self.fix) from None
        raise _wrong(value, self.column, self.fix)


def _numeric_limit(ptype: PortableType) -> decimal.Decimal | None:
    """The largest magnitude a ``numeric(p,s)`` holds (None: unconstrained)."""
    precision = ptype.params[0] if ptype.params else None
    if precision is None:
        return None
    scale = ptype.params[1] if len(ptype.params) > 1 else 0
    return decimal.Decimal(10) ** (precision - scale) - decimal.Decimal(1).scaleb(-scale)


def _ordered_kind(ptype: PortableType, facts: list[Fact], column: str,
                  dialect: str) -> _Kind | None:
    """The range checks of numbers, dates and timestamps (None: another type)."""
    base = ptype.base
    if base in INTEGER_RANGES:
        low, high = INTEGER_RANGES[base]
        return _Ordered(column, _integer_line(column), low, high, facts)
    if base == "numeric":
        precision = ptype.params[0] if ptype.params else None
        scale = ptype.params[1] if len(ptype.params) > 1 else (0 if precision else None)
        limit = _numeric_limit(ptype)
        return _Ordered(column, _numeric_line(column, scale), -limit if limit else None, limit,
                        facts)
    if base in ("real", "double"):
        bound = _REAL_MAX if base == "real" else None
        return _Ordered(column, _float_line(column, finite=dialect == "mysql"),
                        -bound if bound else None, bound, facts)
    if base == "date":
        return _Ordered(column, _date_line(column), None, None, facts)
    if base == "timestamp":
        return _Ordered(column, _timestamp_line(column), None, None, facts)
    if base == "timestamptz":  # naive and aware values do not compare: no range checks
        return _Ordered(column, _timestamp_line(column), None, None, [])
    return None


def _typed_kind(base: str, column: str, dialect: str) -> _Kind:
    """The type check of times, intervals, UUIDs, bytes, JSON and text search vectors."""
    if base in ("time", "timetz"):
        return _Typed(column, (dt.time,), "return a datetime.time or an ISO 8601 time",
                      lambda s: dt.time.fromisoformat(s.strip()))
    if base == "interval":
        return _Typed(column, (dt.timedelta, str) if dialect == "postgresql"
                      else (dt.timedelta,), "return a datetime.timedelta")
    if base == "uuid":
        return _Typed(column, (uuid.UUID,), "return a uuid.UUID or its text",
                      lambda s: uuid.UUID(s.strip()))
    if base == "bytea":
        return _Typed(column, (bytes, bytearray, memoryview), "return bytes")
    if base in ("json", "jsonb"):
        return _Typed(column, (dict, list, str, int, float, bool),
                      "return JSON data (dict, list, str, number, bool)")
    return _Typed(column, (str,), "return a str")  # tsvector


def kind_of(ptype: PortableType, facts: list[Fact], model: OrmModel, column: str,
          dialect: str) -> _Kind | None:
    """How values of ``ptype`` are checked (None: arrays, whose elements are not)."""
    if ptype.is_array:
        return None
    if ptype.enum is not None:
        return _Labels(column, model.enums.get(ptype.enum, []), facts)
    ordered = _ordered_kind(ptype, facts, column, dialect)
    if ordered is not None:
        return ordered
    if ptype.base in ("char", "varchar", "text"):
        return _Texts(column, ptype, facts)
    if ptype.base == "boolean":
        return _Booleans(column)
    return _typed_kind(ptype.base, column, dialect)
