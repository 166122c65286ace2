"""Default value generators: values for any ``orm.yaml`` column that obey the column.

How the populate engine uses it::

    import numpy as np
    from synthgate_builder.defaults import column_sampler, sample_unique_tuples, unique_tuples

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

Composite keys and unique constraints over several columns (values from any source, such as
foreign-key pools)::

    seen: set[tuple] = set()            # one set per constraint for the whole run
    rows = unique_tuples(lambda k: [actor_pool.draw(k), film_pool.draw(k)], n, existing=seen,
                         max_tries=config.max_unique_constraint_tries,
                         where="table film_actor, primary key (actor_id, film_id)")
    # rows: n tuples, distinct and not in ``seen`` before the call; ``seen`` now holds them too
    rows = sample_unique_tuples([sampler_a, sampler_b], n, rng, existing=seen, max_tries=50,
                                where="table t, unique (a, b)")   # the same, from samplers

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
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from synthgate_shared.checks import Fact, column_facts
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import Column, OrmModel, Table
from synthgate_shared.sqla import family
from synthgate_shared.types import INTEGER_RANGES, PortableType
from synthgate_shared.values import to_plain

Rng = np.random.Generator
Steps = npt.NDArray[np.int64]

_UTC = dt.UTC
_INT64_MAX = 2**63 - 1
_DEFAULT_NUMBERS = (0, 10_000)
_DATE_WINDOW = (dt.date(2000, 1, 1), dt.date(2025, 12, 31))
_TEXT_KEY_WIDTH = 8  # base-36 digits of generated text keys: 36**8 ~ 2.8e12 distinct keys
_KEY_ALPHABET = np.array([ord(c) for c in "0123456789abcdefghijklmnopqrstuvwxyz"],
                         dtype=np.uint32)
_FLOAT_KEYS = 10**6
_RANDOM_UNIQUE_TRIES = 20
_EXCLUDED_TRIES = 50

_WORDS = (
    "amber", "anchor", "apple", "arrow", "autumn", "badge", "basket", "beacon", "birch",
    "blossom", "bramble", "breeze", "bridge", "canyon", "cedar", "cinder", "clover", "comet",
    "copper", "coral", "cotton", "crane", "crystal", "dawn", "delta", "dune", "ember", "falcon",
    "fern", "field", "forest", "fossil", "garden", "glacier", "granite", "harbor", "hazel",
    "heron", "hollow", "island", "ivory", "jasmine", "juniper", "kettle", "lagoon", "lantern",
    "lark", "lemon", "linen", "maple", "marble", "meadow", "mist", "moss", "nectar", "oak",
    "ocean", "olive", "orchid", "otter", "pebble", "pepper", "pine", "plum", "prairie",
    "quartz", "quill", "raven", "reef", "ridge", "river", "robin", "saffron", "sage", "salt",
    "sand", "shadow", "silver", "slate", "sparrow", "spruce", "stone", "summit", "swan",
    "thistle", "thunder", "timber", "topaz", "tulip", "valley", "velvet", "violet", "walnut",
    "willow", "winter", "wren", "yarrow", "zephyr",
)
_WORD_ARRAY = np.array(_WORDS)
_CAPITAL_ARRAY = np.strings.capitalize(_WORD_ARRAY)
_SPACED_ARRAY = np.array([" " + w for w in _WORDS] + [""])  # last entry: no more words
_QUOTED_ARRAY = np.array([f"'{w}'" for w in _WORDS] + [""])


# --- value kinds ----------------------------------------------------------------------------

class _Kind:
    """How to draw one type's values; ``from_index`` maps distinct indices to distinct values."""

    capacity: int | None = None  # distinct values ``from_index`` can give; None: random
    excluded: frozenset[Any] = frozenset()  # values the checks forbid (``<>``)
    limits: tuple[Any, Any] | None = None  # least and greatest value type and checks allow

    def draw(self, n: int, rng: Rng) -> list[Any]:
        raise NotImplementedError

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        raise NotImplementedError


class _Unsupported(SynthgateError):
    """A type whose values cannot be made unique."""


def _no_value(where: str, why: str = "its checks allow no value") -> SynthgateError:
    return SynthgateError(why, where=where, fix="check the column's type and checks in orm.yaml")


class _Steps(_Kind):
    """Integers on a line (integers, decimal units, days, seconds) turned into values."""

    def __init__(self, low: int, high: int, hard_high: int, unique_base: int,
                 convert: Callable[[Steps], list[Any]], excluded: frozenset[Any]) -> None:
        self.low, self.high, self.base, self.convert = low, high, unique_base, convert
        self.capacity = hard_high - unique_base + 1
        self.excluded = excluded

    def draw(self, n: int, rng: Rng) -> list[Any]:
        return self.convert(rng.integers(self.low, self.high, n, dtype=np.int64, endpoint=True))

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        return self.convert(index + self.base)


class _Floats(_Kind):
    def __init__(self, low: float, high: float, hard_high: float,
                 excluded: frozenset[Any]) -> None:
        self.low, self.high, self.excluded = low, high, excluded
        self.step = min(1.0, (hard_high - low) / _FLOAT_KEYS)
        self.capacity = _FLOAT_KEYS + 1 if self.step > 0 else 1

    def draw(self, n: int, rng: Rng) -> list[Any]:
        values = np.clip(np.round(rng.uniform(self.low, self.high, n), 3), self.low, self.high)
        return list(values.tolist())

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        return list((self.low + index * self.step).tolist())


class _Choices(_Kind):
    def __init__(self, values: Sequence[Any]) -> None:
        self.values = np.empty(len(values), dtype=object)
        self.values[:] = list(values)
        self.capacity = len(values)

    def draw(self, n: int, rng: Rng) -> list[Any]:
        return list(self.values[rng.integers(0, len(self.values), n)].tolist())

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        return list(self.values[index].tolist())


def _text_keys(index: Steps, width: int, min_len: int) -> list[str]:
    """Distinct base-36 strings of ``width`` characters for distinct indices below 36**width.

    The digits of the index, least significant first, go through ``e_j = 5*d_j + 7*e_(j-1)
    + j + 3 (mod 36)``: a bijection (5 is invertible mod 36), so keys never repeat, and every
    digit changes from one index to the next, so keys do not look sequential.
    """
    keys = np.empty((len(index), width), dtype=np.uint32)
    rest = index.copy()
    previous = np.zeros(len(index), dtype=np.int64)
    for j in range(width):
        previous = (5 * (rest % 36) + 7 * previous + j + 3) % 36
        keys[:, j] = _KEY_ALPHABET[previous]
        rest //= 36
    out = keys.view(f"<U{width}").ravel()
    if min_len > width:
        out = np.strings.ljust(out, min_len, "0")
    return list(out.tolist())


def _phrases(n: int, rng: Rng, min_words: int, max_words: int) -> npt.NDArray[np.str_]:
    """``n`` phrases of min..max pseudo-words, the first capitalised."""
    out = _CAPITAL_ARRAY[rng.integers(0, len(_WORDS), n)]
    if max_words > 1:
        counts = rng.integers(min_words, max_words, n, endpoint=True)
        index = rng.integers(0, len(_WORDS), (n, max_words - 1))
        index[np.arange(1, max_words)[None, :] >= counts[:, None]] = len(_WORDS)
        for j in range(max_words - 1):
            out = np.strings.add(out, _SPACED_ARRAY[index[:, j]])
    return out


class _Texts(_Kind):
    def __init__(self, min_len: int, max_len: int | None, words: tuple[int, int],
                 sentence: bool, code: bool, excluded: frozenset[Any]) -> None:
        self.min_len, self.max_len, self.words = min_len, max_len, words
        self.sentence, self.code, self.excluded = sentence, code, excluded
        self.width = min(max_len or _TEXT_KEY_WIDTH, _TEXT_KEY_WIDTH)
        self.capacity = 36**self.width

    def draw(self, n: int, rng: Rng) -> list[Any]:
        if self.code and self.max_len:
            letters = rng.integers(ord("A"), ord("Z"), (n, self.max_len), dtype=np.uint32,
                                   endpoint=True)
            return list(letters.view(f"<U{self.max_len}").ravel().tolist())
        out = _phrases(n, rng, *self.words)
        if self.sentence:
            out = np.strings.add(out, ".")
        if self.max_len is not None:
            out = np.strings.rstrip(out.astype(f"<U{self.max_len}"))
        if self.min_len:
            out = np.strings.ljust(out, self.min_len, "x")
        return list(out.tolist())

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        return _text_keys(index, self.width, self.min_len)


class _Uuids(_Kind):
    def draw(self, n: int, rng: Rng) -> list[Any]:
        raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
        data = raw.tobytes()
        return [uuid.UUID(bytes=data[i:i + 16]) for i in range(0, 16 * n, 16)]

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        return self.draw(len(index), rng)


class _Bytes(_Kind):
    def draw(self, n: int, rng: Rng) -> list[Any]:
        ends = np.cumsum(rng.integers(8, 32, n, endpoint=True)).tolist()
        data = rng.bytes(ends[-1])
        return [data[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        return self.draw(len(index), rng)  # 8+ random bytes: practically never repeated


class _Json(_Kind):
    def draw(self, n: int, rng: Rng) -> list[Any]:
        names = _WORD_ARRAY[rng.integers(0, len(_WORDS), n)].tolist()
        values = rng.integers(0, 1000, n).tolist()
        return [{"name": a, "value": b} for a, b in zip(names, values, strict=True)]

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        raise _Unsupported("JSON values cannot be generated unique")


class _TsVectors(_Kind):
    def __init__(self, literal: bool) -> None:
        self.literal = literal

    def draw(self, n: int, rng: Rng) -> list[Any]:
        if not self.literal:
            return list(_phrases(n, rng, 2, 6).tolist())
        counts = rng.integers(2, 6, n, endpoint=True)
        index = rng.integers(0, len(_WORDS), (n, 6))
        index[np.arange(6)[None, :] >= counts[:, None]] = len(_WORDS)
        out = np.strings.add(_QUOTED_ARRAY[index[:, 0]], ":1")
        for j in range(1, 6):
            piece = np.strings.add(np.strings.add(" ", _QUOTED_ARRAY[index[:, j]]), f":{j + 1}")
            out = np.strings.add(out, np.where(index[:, j] == len(_WORDS), "", piece))
        return list(out.tolist())

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        raise _Unsupported("tsvector values cannot be generated unique")


def _json_safe(value: Any) -> Any:
    """An array as JSON data (arrays are JSON columns outside PostgreSQL)."""
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    plain = to_plain(value)
    if isinstance(plain, dt.date):
        return plain.isoformat()
    if isinstance(plain, decimal.Decimal):
        return str(plain)
    return plain.hex() if isinstance(plain, bytes) else plain


class _Arrays(_Kind):
    """Lists of 1..3 elements; choices are distinct within a list; ``[][]`` is 2 x 2."""

    def __init__(self, element: _Kind, dims: int, json_safe: bool) -> None:
        self.element, self.dims, self.json_safe = element, dims, json_safe

    def draw(self, n: int, rng: Rng) -> list[Any]:
        if self.dims > 1:
            size = 2**self.dims
            flat = np.empty(n * size, dtype=object)
            flat[:] = self.element.draw(n * size, rng)
            rows: list[Any] = flat.reshape((n,) + (2,) * self.dims).tolist()
        elif isinstance(self.element, _Choices):
            width = min(3, len(self.element.values))
            counts = rng.integers(1, width, n, endpoint=True).tolist()
            order = np.argsort(rng.random((n, len(self.element.values))), axis=1)[:, :width]
            picks = self.element.values[order].tolist()
            rows = [row[:c] for row, c in zip(picks, counts, strict=True)]
        else:
            ends = np.cumsum(rng.integers(1, 3, n, endpoint=True)).tolist()
            elements = self.element.draw(ends[-1], rng)
            rows = [elements[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
        return [_json_safe(r) for r in rows] if self.json_safe else rows

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        raise _Unsupported("array values cannot be generated unique")


# --- building a kind from the type and the facts --------------------------------------------

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


def _line_kind(line: _Line, facts: list[Fact], where: str) -> _Kind:
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
        choice = _Choices(line.convert(np.array(kept, dtype=np.int64)))
        choice.limits = (choice.values[0], choice.values[-1])
        return choice
    if low > high:
        raise _no_value(where)
    win_low, win_high = _window(low, high, line.window)
    base = line.unique_base
    if base is None or not low <= base <= high:
        base = win_low
    forbidden = frozenset(line.convert(np.array(excluded, dtype=np.int64)))
    kind = _Steps(win_low, win_high, high, base, line.convert, forbidden)
    first, last = line.convert(np.array([low, high], dtype=np.int64))
    kind.limits = (first, last)
    return kind


def _float_kind(ptype: PortableType, facts: list[Fact], where: str) -> _Kind:
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
        floats = _Choices(kept)
        floats.limits = (min(kept), max(kept))
        return floats
    if low > high:
        raise _no_value(where)
    win_low, win_high = _window(low, high, _DEFAULT_NUMBERS)
    spread = _Floats(float(win_low), float(win_high), high, frozenset(excluded))
    spread.limits = (low, high)
    return spread


def _allowed(values: Sequence[Any], facts: list[Fact], coerce: Callable[[Any], Any],
             where: str) -> _Choices:
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
    return _Choices(kept)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "t", "f"):
        return value.lower() in ("true", "t")
    if isinstance(value, decimal.Decimal) and value in (0, 1):
        return bool(value)
    raise ValueError(f"not a boolean: {value!r}")


def _text_kind(ptype: PortableType, facts: list[Fact], where: str, in_array: bool) -> _Kind:
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
    return _Texts(min_len, max_len, words, sentence, code, excluded)


def _kind(ptype: PortableType, facts: list[Fact], model: OrmModel, where: str,
          dialect: str, in_array: bool = False) -> _Kind:
    if ptype.is_array:
        element_facts = [Fact("in", v) for op, v in facts if op == "elements"]
        element = _kind(ptype.element, element_facts, model, where, dialect, in_array=True)
        return _Arrays(element, ptype.array_dims, json_safe=dialect != "postgresql")
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
        return _Uuids()
    if base == "bytea":
        return _Bytes()
    if base in ("json", "jsonb"):
        return _Json()
    return _TsVectors(literal=dialect == "postgresql")


# --- the public API ---------------------------------------------------------------------------

class ColumnSampler:
    """Draws values for one column; see the module docstring for how to use it."""

    def __init__(self, kind: _Kind, *, table: str, column: Column, nullable: bool,
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
        except _Unsupported as exc:
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


def unique_tuples(draw: Callable[[int], Sequence[Sequence[Any]]], n: int, *,
                  existing: set[tuple[Any, ...]], max_tries: int, where: str
                  ) -> list[tuple[Any, ...]]:
    """``n`` distinct tuples none of which was in ``existing``; ``existing`` gains them.

    ``draw(k)`` returns one sequence of ``k`` candidate values per column (from samplers,
    foreign-key pools, row generators...). Candidates already taken are drawn again, up to
    ``max_tries`` rounds; then ``SynthgateError`` names ``where`` (table and constraint).
    Values must compare like the ones in ``existing`` (read back with the same types).
    """
    rows: list[tuple[Any, ...]] = []
    for _ in range(max_tries):
        if len(rows) == n:
            break
        for row in zip(*draw(n - len(rows)), strict=True):
            if row not in existing:
                existing.add(row)
                rows.append(row)
    if len(rows) < n:
        raise SynthgateError(
            f"could make only {len(rows)} of {n} distinct value combinations after "
            f"{max_tries} tries",
            where=where,
            fix="lower num_rows_per_pass, or raise max-unique-constraint-tries in config.yaml",
        )
    return rows


def sample_unique_tuples(samplers: Sequence[ColumnSampler], n: int, rng: Rng, *,
                         existing: set[tuple[Any, ...]], max_tries: int, where: str
                         ) -> list[tuple[Any, ...]]:
    """``unique_tuples`` over the columns of ``samplers``; fails at once when the columns
    together cannot take ``n`` more distinct combinations."""
    capacities = [s.capacity for s in samplers]
    if all(c is not None for c in capacities):
        room = math.prod(c for c in capacities if c is not None) - len(existing)
        if room < n:
            raise SynthgateError(
                f"cannot make {n} unique value combinations: the columns allow only "
                f"{max(room, 0)} more",
                where=where, fix="lower num_rows_per_pass or the number of passes",
            )
    return unique_tuples(lambda k: [s.sample(k, rng) for s in samplers], n,
                         existing=existing, max_tries=max_tries, where=where)
