"""Built-in distribution generators (issue 6): they reproduce their statistics."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np
import pytest
from synthgate_builder.distributions import (
    BUILTINS,
    StatsUnavailable,
    categorical,
    children_per_parent,
    gaussian_copula,
    joint_categorical,
    quantiles,
    text_length,
)
from synthgate_builder.report import ks_from_quantiles, total_variation
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import QUANTILE_PROBS
from synthgate_shared.srcstats import row_count

N = 10_000
PROBS = list(QUANTILE_PROBS)


def _rng(seed: int = 7) -> np.random.Generator:
    return np.random.default_rng(seed)


def _shares(values: list[Any]) -> dict[Any, float]:
    counts = Counter(values)
    return {k: v / len(values) for k, v in counts.items()}


def _empirical_quantiles(values: list[float]) -> list[float]:
    return [float(v) for v in np.quantile(np.array(values, dtype=float), PROBS)]


def _profile() -> list[dict[str, Any]]:
    rng = _rng(1)
    start = rng.normal(1.6e9, 3e6, 5000)
    end = start + rng.exponential(4 * 86400, 5000)
    amount = rng.gamma(2.0, 2.0, 5000)
    return [{
        "n": 5000, "amount__nonnull": 4500, "start__nonnull": 5000, "end__nonnull": 4000,
        "amount__q": _empirical_quantiles(list(amount)),
        "start__q": _empirical_quantiles(list(start)),
        "end__q": _empirical_quantiles(list(end)),
        "start__end__corr": float(np.corrcoef(start, end)[0, 1]),
        "note__nonnull": 5000, "note__len_q": [float(10 + i) for i in range(21)],
    }]


FREQ = [{"rating": "G", "n": 178}, {"rating": "PG", "n": 194}, {"rating": "R", "n": 195},
        {"rating": None, "n": 30}]


def test_categorical_reproduces_frequencies() -> None:
    out = categorical(N, _rng(), stats=FREQ, columns=["rating"])
    total = sum(r["n"] for r in FREQ)
    assert total_variation(_shares(out), {r["rating"]: r["n"] / total for r in FREQ}) < 0.01
    assert out == categorical(N, _rng(), stats=FREQ, columns="rating")
    assert out != categorical(N, _rng(8), stats=FREQ, columns="rating")


def test_joint_categorical_reproduces_joint_frequencies() -> None:
    stats = [{"a": x, "b": y, "n": 10 + 7 * i} for i, (x, y) in
             enumerate([(True, "x"), (True, "y"), (False, "x"), (False, "z")])]
    a, b = joint_categorical(N, _rng(), stats=stats, columns=["a", "b"])
    total = sum(r["n"] for r in stats)
    expected = {(r["a"], r["b"]): r["n"] / total for r in stats}
    assert total_variation(_shares(list(zip(a, b, strict=True))), expected) < 0.01


def test_quantiles_reproduce_marginal_and_types() -> None:
    stats = _profile()
    out = quantiles(N, _rng(), stats=stats, columns=["amount"], types=["numeric(6,2)"])
    values = [v for v in out if v is not None]
    assert abs(len(values) / N - 0.9) < 0.02
    src = (PROBS, stats[0]["amount__q"])
    assert ks_from_quantiles(src, (PROBS, _empirical_quantiles(values))) < 0.02
    assert all(round(v, 2) == v for v in values)
    ints = quantiles(100, _rng(), stats=stats, columns=["amount"], types=["smallint"])
    assert all(isinstance(v, int) for v in ints if v is not None)
    assert out == quantiles(N, _rng(), stats=stats, columns=["amount"], types=["numeric(6,2)"])


def test_quantiles_from_text_points_and_histogram() -> None:
    text = [{"n": 100, "x__nonnull": 100, "x__q": "1:0,50:10,99:20"}]
    values = quantiles(N, _rng(), stats=text, columns=["x"])
    assert abs(float(np.median(values)) - 10) < 0.5
    hist = [{"bin": 0, "n": 50}, {"bin": 1, "n": 50}, {"bin": None, "n": 100}]
    out = quantiles(N, _rng(), stats=hist, columns=["x"], lower=0, upper=100, bins=2)
    non_null = [v for v in out if v is not None]
    assert abs(len(non_null) / N - 0.5) < 0.02
    assert min(non_null) >= 0 and max(non_null) <= 100
    assert abs(float(np.median(non_null)) - 50) < 3


def test_gaussian_copula_keeps_marginals_and_order_of_dates() -> None:
    stats = _profile()
    start, end = gaussian_copula(N, _rng(), stats=stats, columns=["start", "end"],
                                 types=["timestamptz", "timestamptz"])
    assert all(isinstance(v, dt.datetime) and v.tzinfo for v in start)
    pairs = [(s, e) for s, e in zip(start, end, strict=True) if e is not None]
    assert abs(len(pairs) / N - 0.8) < 0.02
    after = sum(e >= s for s, e in pairs) / len(pairs)
    assert after > 0.8  # the source has end after start always; correlation keeps most
    epoch = [s.timestamp() for s in start]
    assert ks_from_quantiles((PROBS, stats[0]["start__q"]),
                             (PROBS, _empirical_quantiles(epoch))) < 0.03
    r = float(np.corrcoef([s.timestamp() for s, _ in pairs],
                          [e.timestamp() for _, e in pairs])[0, 1])
    assert abs(r - stats[0]["start__end__corr"]) < 0.05


def test_text_length_follows_lengths_and_limit() -> None:
    stats = _profile()
    out = text_length(N, _rng(), stats=stats, columns=["note"])
    lengths = [len(v) for v in out]
    assert ks_from_quantiles((PROBS, stats[0]["note__len_q"]),
                             (PROBS, _empirical_quantiles(lengths))) < 0.06
    short = text_length(500, _rng(), stats=stats, columns=["note"], types=["varchar(12)"])
    assert max(len(v) for v in short) <= 12
    assert all(not v.startswith(" ") for v in out)


def test_children_per_parent_reproduces_distribution() -> None:
    stats = [{"n_children": k, "n": n} for k, n in [(0, 100), (1, 300), (2, 400), (5, 200)]]
    parents = list(range(1000))
    children = children_per_parent(parents, _rng(), stats)
    per_parent = Counter(children)
    counts = Counter(per_parent.get(p, 0) for p in parents)
    expected = {r["n_children"]: r["n"] / 1000 for r in stats}
    assert total_variation({k: v / 1000 for k, v in counts.items()}, expected) < 0.005
    assert len(children) == 300 + 800 + 1000
    scaled = children_per_parent(parents, _rng(), stats, total=2000)
    assert len(scaled) == 2000
    assert set(scaled) <= set(parents)
    composite = children_per_parent([(1, "a"), (2, "b")], _rng(), stats)
    assert set(composite) <= {(1, "a"), (2, "b")}
    assert children == children_per_parent(parents, _rng(), stats)


@pytest.mark.parametrize(("name", "stats", "message"), [
    ("synthgate.categorical", [{"rating": "G"}], "count 'n'"),
    ("synthgate.categorical", {"rating": "G"}, "list of result rows"),
    ("synthgate.quantiles", [{"n": 3}], "'x__q'"),
    ("synthgate.quantiles", [{"n": 3, "x__q": [1, 2]}], "21 quantiles"),
    ("synthgate.joint_categorical", [{"a": 1, "n": 2}], "no column 'b'"),
])
def test_wrong_shaped_stats_are_clear_errors(name: str, stats: Any, message: str) -> None:
    columns = ["a", "b"] if name == "synthgate.joint_categorical" else ["x"]
    with pytest.raises(SynthgateError, match=message) as err:
        BUILTINS[name](5, _rng(), stats=stats, columns=columns, stat_name="auto__t__x__freq")
    assert name in str(err.value) and "auto__t__x__freq" in str(err.value)


def test_suppressed_statistics_ask_for_the_default() -> None:
    with pytest.raises(StatsUnavailable):
        categorical(5, _rng(), stats=[], columns=["x"])
    with pytest.raises(SynthgateError, match="n_children"):
        children_per_parent([1], _rng(), [{"k": 1, "n": 3}])
    assert row_count([{"n": 16044}]) == 16044
    assert row_count([]) is None


def test_children_per_parent_with_suppressed_counts_keeps_kept_shares() -> None:
    """600 parents with 12..46 children at the source, the rare counts suppressed: the
    kept counts keep their shares, the rest stay rare, and the total is exact."""
    rng = _rng(3)
    source = Counter(int(k) for k in np.clip(np.rint(rng.normal(27, 6, 600)), 12, 46))
    kept = [{"n_children": k, "n": n} for k, n in source.items() if n >= 7]
    total = sum(k * n for k, n in source.items())
    for scale in (1, 2):
        parents = list(range(600 * scale))
        children = children_per_parent(parents, _rng(), kept, total=total * scale,
                                       parents_total=600)
        assert len(children) == total * scale
        per_parent = Counter(Counter(children).get(p, 0) for p in parents)
        common = {k: n for k, n in per_parent.items() if n >= 7}
        expected = {r["n_children"]: r["n"] for r in kept}
        share = sum(expected.values())
        assert total_variation({k: n / sum(common.values()) for k, n in common.items()},
                               {k: n / share for k, n in expected.items()}) < 0.01
        rare = {k: n for k, n in per_parent.items() if k not in expected}
        assert all(n < 7 for n in rare.values())


def test_quantiles_write_numbers_and_dates_kept_in_text() -> None:
    """Numbers and dates of a text column come back as text in the source's format."""
    stats = _profile()
    money = quantiles(500, _rng(), stats=stats, columns=["amount"], types=["text"], places=2)
    assert all(isinstance(v, str) and len(v.split(".")[1]) == 2 for v in money if v)
    assert sum(v is None for v in money) == 50  # exactly the source's NULL share
    whole = quantiles(50, _rng(), stats=stats, columns=["amount"], types=["text"], places=0)
    assert all(v is None or v.isdigit() for v in whole)
    codes = quantiles(50, _rng(), stats=stats, columns=["amount"], types=["text"], places=0,
                      width=8)
    assert all(v is None or (v.isdigit() and len(v) == 8 and v.startswith("0")) for v in codes)
    days = quantiles(50, _rng(), stats=stats, columns=["start"], types=["varchar(10)"],
                     date_format="%Y-%m-%d")
    assert all(dt.date.fromisoformat(v).year == 2020 for v in days)
    stamps = quantiles(5, _rng(), stats=stats, columns=["start"], types=["text"],
                       date_format="%Y-%m-%dT%H:%M:%S")
    assert all(dt.datetime.fromisoformat(v) for v in stamps)
    with pytest.raises(SynthgateError, match="date_format"):
        quantiles(5, _rng(), stats=stats, columns=["start"], date_format="%s%%{0}")
    with pytest.raises(SynthgateError, match="places"):
        quantiles(5, _rng(), stats=stats, columns=["amount"], places="2")
    with pytest.raises(SynthgateError, match="width"):
        quantiles(5, _rng(), stats=stats, columns=["amount"], places=0, width=0)


def test_withheld_quantiles_of_a_small_table_ask_for_the_default() -> None:
    """A table below min-count rows releases its row count but not its quantiles (NULL):
    the column goes to its default generator, not to all-NULL values."""
    small = [{"n": 5, "x__nonnull": 5, "x__q": None}]
    with pytest.raises(StatsUnavailable, match="withheld"):
        quantiles(5, _rng(), stats=small, columns=["x"], types=["integer"])
    empty = [{"n": 5, "x__nonnull": 0, "x__q": None}]
    assert quantiles(5, _rng(), stats=empty, columns=["x"], types=["integer"]) == [None] * 5
