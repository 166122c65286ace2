"""How to draw default values of one type: each ``Kind`` draws random values (``draw``) and
maps distinct indices to distinct values (``from_index``, for unique columns). ``defaults``
builds the kind of a column from its type and checks."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from synthgate_shared.errors import SynthgateError
from synthgate_shared.values import to_plain

Rng = np.random.Generator
Steps = npt.NDArray[np.int64]

_TEXT_KEY_WIDTH = 8  # base-36 digits of generated text keys: 36**8 ~ 2.8e12 distinct keys
_KEY_ALPHABET = np.array([ord(c) for c in "0123456789abcdefghijklmnopqrstuvwxyz"],
                         dtype=np.uint32)
_FLOAT_KEYS = 10**6

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


class Kind:
    """How to draw one type's values; ``from_index`` maps distinct indices to distinct values."""

    capacity: int | None = None  # distinct values ``from_index`` can give; None: random
    excluded: frozenset[Any] = frozenset()  # values the checks forbid (``<>``)
    limits: tuple[Any, Any] | None = None  # least and greatest value type and checks allow

    def draw(self, n: int, rng: Rng) -> list[Any]:
        """``n`` random values."""
        raise NotImplementedError

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        """The distinct values at positions ``index`` of the kind's sequence."""
        raise NotImplementedError


class Unsupported(SynthgateError):
    """A type whose values cannot be made unique."""


class StepKind(Kind):
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


class FloatKind(Kind):
    """Floats drawn uniformly in a window; distinct ones on a grid from the lower bound."""

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


class ChoiceKind(Kind):
    """One of a fixed list of values (enum labels, ``IN`` lists, booleans...)."""

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


class TextKind(Kind):
    """Pseudo-word phrases (or letter codes) within length limits; base-36 keys when unique."""

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


class UuidKind(Kind):
    """Random version 4 UUIDs."""

    def draw(self, n: int, rng: Rng) -> list[Any]:
        raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
        data = raw.tobytes()
        return [uuid.UUID(bytes=data[i:i + 16]) for i in range(0, 16 * n, 16)]

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        return self.draw(len(index), rng)


class BytesKind(Kind):
    """Random byte strings of 8..32 bytes."""

    def draw(self, n: int, rng: Rng) -> list[Any]:
        ends = np.cumsum(rng.integers(8, 32, n, endpoint=True)).tolist()
        data = rng.bytes(ends[-1])
        return [data[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        return self.draw(len(index), rng)  # 8+ random bytes: practically never repeated


class JsonKind(Kind):
    """Small JSON objects ``{"name": word, "value": number}``."""

    def draw(self, n: int, rng: Rng) -> list[Any]:
        names = _WORD_ARRAY[rng.integers(0, len(_WORDS), n)].tolist()
        values = rng.integers(0, 1000, n).tolist()
        return [{"name": a, "value": b} for a, b in zip(names, values, strict=True)]

    def from_index(self, index: Steps, rng: Rng) -> list[Any]:
        raise Unsupported("JSON values cannot be generated unique")


class TsVectorKind(Kind):
    """Text search vectors: PostgreSQL literals, or plain phrases elsewhere."""

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
        raise Unsupported("tsvector values cannot be generated unique")


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


class ArrayKind(Kind):
    """Lists of 1..3 elements; choices are distinct within a list; ``[][]`` is 2 x 2."""

    def __init__(self, element: Kind, dims: int, json_safe: bool) -> None:
        self.element, self.dims, self.json_safe = element, dims, json_safe

    def draw(self, n: int, rng: Rng) -> list[Any]:
        if self.dims > 1:
            size = 2**self.dims
            flat = np.empty(n * size, dtype=object)
            flat[:] = self.element.draw(n * size, rng)
            rows: list[Any] = flat.reshape((n,) + (2,) * self.dims).tolist()
        elif isinstance(self.element, ChoiceKind):
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
        raise Unsupported("array values cannot be generated unique")
