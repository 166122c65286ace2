"""The contract between proposed statistics (agent), built-in generators and the report (builder).

Proposed statistics are named ``auto__<table>__<part>__...__<kind>``; the kinds are
``profile``, ``freq``, ``joint``, ``children`` and ``histogram`` (see
``synthgate_agent.propose``), ``order`` (dates that follow one another), ``parents`` (the
share of parents with any child) and ``per_parent`` (the children of each parent of a small
parent table; see ``synthgate_agent.propose_order``). Quantiles on
PostgreSQL are arrays aligned with ``QUANTILE_PROBS``; on other databases they are text
``"percent:value,..."``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from synthgate_shared import srcstats
from synthgate_shared.config import Config
from synthgate_shared.errors import SynthgateError

PREFIX = "auto__"
KINDS = ("profile", "freq", "joint", "children", "histogram", "order", "parents",
         "per_parent")
QUANTILE_PROBS: tuple[float, ...] = (0.01, *(round(0.05 * i, 2) for i in range(1, 20)), 0.99)
# How dates kept in text are written (the measured pattern -> strftime format): the agent
# proposes one of these as ``date_format`` of ``synthgate.quantiles``; the builder accepts
# only these.
TEXT_DATE_FORMATS: dict[str, str] = {"date": "%Y-%m-%d", "datetime": "%Y-%m-%d %H:%M:%S",
                                     "datetime_t": "%Y-%m-%dT%H:%M:%S"}
_REFERENCE = re.compile(r"""SRC_STATS\[\s*(['"])(?P<name>.+?)\1\s*\]""")


# the figures of the fidelity report (builder `report`), by their --fail-under key
THRESHOLDS = {
    "tvd": "median TVD (categorical)",
    "ks": "median KS (numeric, dates)",
    "children": "max children-per-parent distance",
    "nulls": "max null-fraction difference",
    "corr": "max correlation difference",
    "rows": "max row-count deviation",
    "fk": "foreign-key violations",
    "unique": "duplicate keys",
}


@dataclass(frozen=True)
class StatName:
    """A parsed proposed-statistic name."""

    table: str
    kind: str
    columns: tuple[str, ...]


def stat_name(table: str, *parts: str) -> str:
    """The name of a proposed statistic: ``auto__<table>__<part>__...``."""
    return PREFIX + "__".join((table, *parts))


def parse_stat_name(name: str, tables: Iterable[str]) -> StatName | None:
    """Split ``auto__<table>__<cols>__<kind>`` using the known table names; None if not one."""
    if not name.startswith(PREFIX):
        return None
    rest = name[len(PREFIX):]
    for table in sorted(tables, key=len, reverse=True):
        if rest.startswith(table + "__"):
            parts = rest[len(table) + 2:].split("__")
            if parts[-1] in KINDS:
                return StatName(table, parts[-1], tuple(parts[:-1]))
    return None


def parse_quantiles(value: Any, where: str) -> tuple[list[float], list[float]]:
    """(probabilities, values) of a quantile statistic: a list aligned with ``QUANTILE_PROBS``
    or a ``"percent:value,..."`` text. Missing points (None) are dropped."""
    if isinstance(value, str):
        points: list[tuple[float, float]] = []
        for item in value.split(","):
            left, sep, right = item.partition(":")
            try:
                points.append((float(left) / 100.0, float(right)))
            except ValueError:
                raise SynthgateError(f"quantile entry {item!r} is not 'percent:value'",
                                     where=where) from None
            if not sep:
                raise SynthgateError(f"quantile entry {item!r} is not 'percent:value'",
                                     where=where)
        points.sort()
    elif isinstance(value, list | tuple):
        if len(value) != len(QUANTILE_PROBS):
            raise SynthgateError(
                f"expected {len(QUANTILE_PROBS)} quantiles, found {len(value)}", where=where)
        points = [(p, float(v)) for p, v in zip(QUANTILE_PROBS, value, strict=True)
                  if v is not None]
    else:
        raise SynthgateError(f"expected a list of quantiles, found {type(value).__name__}",
                             where=where)
    return [p for p, _ in points], [v for _, v in points]


def pair_correlation(row: dict[str, Any], a: str, b: str) -> float | None:
    """The correlation of columns ``a`` and ``b`` from a profile row (``corr`` or
    ``moments``), or None when the profile does not have it or it is undefined."""
    value = row.get(srcstats.correlation(a, b), row.get(srcstats.correlation(b, a)))
    if value is not None:
        return float(value)
    moments = row.get(srcstats.moments(a, b))
    if moments is None:
        return None
    try:
        n, sa, sb, saa, sbb, sab = (float(x) for x in str(moments).split(","))
    except ValueError:
        return None
    var = (n * saa - sa * sa) * (n * sbb - sb * sb)
    if n < 2 or var <= 0:
        return None
    return (n * sab - sa * sb) / math.sqrt(var)


def referenced_stats(kwargs: Any) -> list[str]:
    """Names ``SRC_STATS["name"]`` refers to anywhere inside a generator's args or kwargs."""
    if isinstance(kwargs, str):
        return [m["name"] for m in _REFERENCE.finditer(kwargs)]
    if isinstance(kwargs, dict):
        return [n for v in kwargs.values() for n in referenced_stats(v)]
    if isinstance(kwargs, Sequence):
        return [n for v in kwargs for n in referenced_stats(v)]
    return []


def check_stat_references(config: Config, available: Iterable[str] | None = None) -> None:
    """Refuse a generator that refers to a statistic that is not there (a reviewer removed
    it from ``src-stats``, or it is missing from ``available``); the error names both."""
    names = set(available) if available is not None else {s.name for s in config.src_stats}
    for table, settings in config.tables.items():
        if settings.ignore:
            continue
        for gen in settings.row_generators:
            for ref in referenced_stats([gen.args, gen.kwargs]):
                if ref not in names:
                    close = difflib.get_close_matches(ref, sorted(names), n=1)
                    hint = f"did you mean {close[0]!r}? otherwise p" if close else "p"
                    raise SynthgateError(
                        f"generator {gen.name} of {table}.{','.join(gen.columns)} refers to "
                        f"statistic {ref!r}, which is not in src-stats",
                        where="config.yaml",
                        fix=f"{hint}ut the statistic {ref!r} back, or remove that generator")
