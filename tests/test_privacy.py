"""Differential privacy in make-stats: checks before anything runs, noise scale, the budget."""

from __future__ import annotations

import copy
import statistics
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from synthgate_agent.privacy import is_dp, validate_privacy
from synthgate_agent.source import Source, open_source
from synthgate_agent.stats import make_src_stats, make_stats_file
from synthgate_shared.config import Config, config_from_data
from synthgate_shared.errors import SynthgateError
from synthgate_shared.srcstats import privacy_summary, privacy_totals

PEOPLE = 5000


def _dp_stat(**changes: Any) -> dict[str, Any]:
    stat: dict[str, Any] = {
        "name": "dp_people",
        "query": "SELECT id, age, region FROM person",
        "dp-query": "SELECT COUNT(*) AS n, AVG(age) AS mean_age FROM query_result",
        "epsilon": 1.0,
        "delta": 1e-5,
        "snsql-metadata": {
            "max_ids": 1,
            "id": {"type": "int", "private_id": True},
            "age": {"type": "int", "lower": 0, "upper": 100},
            "region": {"type": "string"},
        },
    }
    for key, value in changes.items():
        if value is _DROP:
            del stat[key]
        else:
            stat[key] = value
    return stat


_DROP = object()


def _meta(**columns: Any) -> dict[str, Any]:
    meta = copy.deepcopy(_dp_stat()["snsql-metadata"])
    for key, value in columns.items():
        if value is _DROP:
            del meta[key]
        else:
            meta[key] = value
    return meta


def _config(*stats: dict[str, Any], **top: Any) -> Config:
    return config_from_data({"src-stats": list(stats), **top})


@pytest.fixture
def people_url(pg_url: str) -> str:
    """A PostgreSQL table ``person`` of 5000 people, one row each (ages 0..89, 70% north)."""
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE person AS SELECT g AS id, mod(g * 37, 90) AS age, "
            "CASE WHEN mod(g, 10) < 7 THEN 'north' ELSE 'south' END AS region, "
            "mod(g, 13) * 1.25 AS spend FROM generate_series(1, 5000) AS g")
    engine.dispose()
    return pg_url


@pytest.fixture
def people(people_url: str) -> Iterator[Source]:
    source = open_source(people_url, timeout_s=60)
    yield source
    source.engine.dispose()


# --- noise --------------------------------------------------------------------------------------

def test_dp_count_and_mean_are_noisy_within_scale(people: Source) -> None:
    true_mean = statistics.mean((i * 37) % 90 for i in range(1, PEOPLE + 1))
    config = _config(_dp_stat())
    runs = [make_src_stats(people, config)["dp_people"] for _ in range(5)]
    counts = [r["results"][0]["n"] for r in runs]
    means = [r["results"][0]["mean_age"] for r in runs]
    # epsilon 1 over 5000 people: the noise is a few units, far below a few hundred
    assert all(abs(c - PEOPLE) < 300 for c in counts), counts
    assert all(abs(m - true_mean) < 5 for m in means), means
    assert len({*means}) > 1  # noise, not the exact answer five times
    assert any(m != pytest.approx(true_mean, abs=1e-9) for m in means)
    assert 0 < statistics.pstdev([*counts, PEOPLE]) < 100
    entry = runs[0]
    assert (entry["epsilon"], entry["delta"]) == (1.0, 1e-5)
    assert entry["dp-query"].startswith("SELECT COUNT(*)")
    assert "suppressed_rows" not in entry and "min_count" not in entry


def test_smaller_epsilon_gives_more_noise(people: Source) -> None:
    def spread(epsilon: float) -> float:
        config = _config(_dp_stat(epsilon=epsilon))
        errors = [make_src_stats(people, config)["dp_people"]["results"][0]["n"] - PEOPLE
                  for _ in range(6)]
        return statistics.mean(abs(e) for e in errors)

    assert spread(0.05) > spread(5.0)


def test_two_runs_differ_but_budget_is_the_same(people_url: str, tmp_path: Path) -> None:
    url = people_url
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump({"src-stats": [
        _dp_stat(),
        _dp_stat(name="by_region", epsilon=0.5, delta=1e-6,
                 **{"dp-query": "SELECT region, COUNT(*) AS n FROM query_result "
                                "GROUP BY region"}),
    ]}))
    first = make_stats_file(url, None, config_path, tmp_path / "a.yaml", False, None)
    second = make_stats_file(url, None, config_path, tmp_path / "b.yaml", False, None)
    assert first["dp_people"]["results"] != second["dp_people"]["results"]
    regions = {r["region"]: r["n"] for r in first["by_region"]["results"]}
    assert abs(regions["north"] - 3500) < 300 and abs(regions["south"] - 1500) < 300
    assert privacy_summary(first) == {
        "composition": "basic",
        "queries": [{"name": "dp_people", "epsilon": 1.0, "delta": 1e-5},
                    {"name": "by_region", "epsilon": 0.5, "delta": 1e-6}],
        "total": {"epsilon": 1.5, "delta": 1.1e-5},
    }
    for data in (first, second):
        assert [(e["epsilon"], e["delta"]) for e in data.values()] == [(1.0, 1e-5), (0.5, 1e-6)]


def test_censored_dp_result_gives_a_warning(people: Source) -> None:
    stat = _dp_stat(epsilon=0.01, delta=1e-12, **{
        "snsql-metadata": _meta(max_ids=50),
        "dp-query": "SELECT region, COUNT(*) AS n FROM query_result GROUP BY region"})
    entry = make_src_stats(people, _config(stat))["dp_people"]
    assert entry["results"] == []
    assert "withheld" in entry["warnings"][0]


def test_decimal_source_column_and_use_asyncio(people: Source) -> None:
    stats = [_dp_stat(name=f"spend_{i}", query="SELECT id, spend FROM person",
                      **{"dp-query": "SELECT SUM(spend) AS total FROM query_result",
                         "snsql-metadata": {"id": {"type": "int", "private_id": True},
                                            "spend": {"type": "float", "lower": 0,
                                                      "upper": 20}}})
             for i in range(3)]
    data = make_src_stats(people, _config(*stats, **{"use-asyncio": True}))
    true_total = sum((g % 13) * 1.25 for g in range(1, PEOPLE + 1))
    totals = [e["results"][0]["total"] for e in data.values()]
    assert list(data) == ["spend_0", "spend_1", "spend_2"]
    assert all(isinstance(t, float) and abs(t - true_total) < 0.05 * true_total for t in totals)


# --- the privacy budget ------------------------------------------------------------------------

def test_budget_cap_stops_the_run_before_any_query(people: Source, tmp_path: Path) -> None:
    # the first query would fail loudly if it ran; the budget error must come instead
    stats = [{"name": "would_fail", "query": "SELECT * FROM no_such_table"},
             _dp_stat(name="a", epsilon=0.6), _dp_stat(name="b", epsilon=0.6)]
    config = _config(*stats, **{"privacy-budget": {"epsilon": 1.0, "delta": 0.001}})
    with pytest.raises(SynthgateError) as err:
        make_src_stats(people, config)
    message = str(err.value)
    assert "privacy budget exceeded" in message and "total epsilon 1.2" in message
    assert "budget's 1.0" in message and "no query was run" in message
    # through the file step: no connection is even attempted, no file written
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump({"src-stats": stats, "privacy-budget": {
        "epsilon": 1.0, "delta": 0.001}}))
    out = tmp_path / "src-stats.yaml"
    with pytest.raises(SynthgateError, match="privacy budget exceeded"):
        make_stats_file("postgresql://nobody@127.0.0.1:1/none", None, config_path, out, False,
                        None)
    assert not out.exists()


def test_budget_delta_and_exact_sums() -> None:
    stats = [_dp_stat(name=n, epsilon=e, delta=d) for n, e, d in
             (("a", 0.1, 1e-6), ("b", 0.2, 1e-6), ("c", 0.7, 0.0))]
    validate_privacy(_config(*stats, **{"privacy-budget": {"epsilon": 1.0, "delta": 2e-6}}))
    with pytest.raises(SynthgateError, match=r"total delta 0\.000002 exceeds.*1e-06"):
        validate_privacy(_config(*stats, **{"privacy-budget": {"epsilon": 1.0,
                                                                "delta": 1e-6}}))
    config = _config(*stats, {"name": "plain", "query": "SELECT 1"})
    dp = [s for s in config.src_stats if is_dp(s)]
    assert privacy_totals((s.epsilon, s.delta) for s in dp) == (1, Decimal("0.000002"))
    assert [s.name for s in dp] == ["a", "b", "c"]


def test_budget_values_are_checked() -> None:
    with pytest.raises(SynthgateError, match=r"privacy-budget\.epsilon"):
        _config(**{"privacy-budget": {"epsilon": 0}})


# --- every invalid DP parameter: one clear error naming query and key --------------------------

INVALID = [
    ({"epsilon": 0}, "epsilon", "greater than 0"),
    ({"epsilon": -1.5}, "epsilon", "greater than 0"),
    ({"epsilon": _DROP}, "epsilon", "missing"),
    ({"delta": 1}, "delta", "below 1"),
    ({"delta": -0.1}, "delta", "at least 0"),
    ({"delta": _DROP}, "delta", "missing"),
    ({"snsql-metadata": _DROP}, "snsql-metadata", "missing"),
    ({"snsql-metadata": {}}, "snsql-metadata", "describes no column"),
    ({"snsql-metadata": _meta(age="int")}, "snsql-metadata.age", "must be a mapping"),
    ({"snsql-metadata": _meta(age={"lower": 0, "upper": 9})}, "snsql-metadata.age.type",
     "has no `type`"),
    ({"snsql-metadata": _meta(age={"type": "integer", "lower": 0, "upper": 9})},
     "snsql-metadata.age.type", "unknown type 'integer'"),
    ({"snsql-metadata": _meta(id={"type": "int", "privat_id": True})},
     "snsql-metadata.id.privat_id", "did you mean 'private_id'"),
    ({"snsql-metadata": _meta(age={"type": "int", "lower": 0})}, "snsql-metadata.age.upper",
     "needs both lower and upper"),
    ({"snsql-metadata": _meta(age={"type": "float", "upper": 5})}, "snsql-metadata.age.lower",
     "needs both lower and upper"),
    ({"snsql-metadata": _meta(age={"type": "int", "lower": 9, "upper": 9})},
     "snsql-metadata.age.lower", "must be below upper"),
    ({"snsql-metadata": _meta(age={"type": "int", "lower": "0", "upper": 9})},
     "snsql-metadata.age.lower", "must be a number"),
    ({"snsql-metadata": _meta(region={"type": "string", "lower": 0})},
     "snsql-metadata.region.lower", "only apply to int and float"),
    ({"snsql-metadata": _meta(id={"type": "string"})}, "snsql-metadata",
     "no column has `private_id: true`"),
    ({"snsql-metadata": _meta(id={"type": "int", "private_id": "yes"})},
     "snsql-metadata.id.private_id", "must be true or false"),
    ({"snsql-metadata": _meta(max_ids=0)}, "snsql-metadata.max_ids", "at least 1"),
    ({"snsql-metadata": _meta(max_ids="many")}, "snsql-metadata.max_ids", "must be an integer"),
    ({"snsql-metadata": _meta(row_privacy=1)}, "snsql-metadata.row_privacy",
     "must be true or false"),
    ({"snsql-metadata": {"": {"": {"query_result": _meta()}}}}, "snsql-metadata",
     "not a collection/schema/table nesting"),
    ({"dp-query": "SELECT COUNT(*) AS n, AVG(salary) AS s FROM query_result"}, "dp-query",
     "'salary', which is not in snsql-metadata"),
    ({"dp-query": "SELECT COUNT(*) FROM query_result a JOIN query_result b ON a.id = b.id"},
     "dp-query", "cannot run a join"),
    ({"dp-query": "SELECT COUNT(*) FROM (SELECT id FROM query_result) AS s"}, "dp-query",
     "cannot run a subquery"),
    ({"dp-query": "SELECT COUNT(*) FROM person"}, "dp-query", "not person"),
    ({"dp-query": "SELECT COUNT(*) FROM query_result UNION SELECT 1"}, "dp-query",
     "single SELECT"),
    ({"dp-query": "SELEC COUNT(*) FROM query_result"}, "dp-query", "not valid SQL"),
    ({"dp-query": _DROP}, "epsilon", "without a dp-query"),
    ({"min-count": 5}, "min-count", "applies to plain queries only"),
]


@pytest.mark.parametrize(("changes", "key", "fragment"), INVALID,
                         ids=[f"{k}-{f[:24]}" for _, k, f in INVALID])
def test_invalid_dp_entry(changes: dict[str, Any], key: str, fragment: str) -> None:
    config = _config({"name": "plain", "query": "SELECT 1"}, _dp_stat(**changes))
    with pytest.raises(SynthgateError) as err:
        validate_privacy(config)
    message = str(err.value)
    assert message.startswith("src-stats query 'dp_people': ")
    assert f": {key}: " in message or f": {key} " in message, message
    assert fragment in message
    assert "\n" not in message


def test_row_privacy_needs_no_private_id() -> None:
    meta = _meta(row_privacy=True, id={"type": "int", "lower": 0, "upper": 10_000})
    validate_privacy(_config(_dp_stat(**{"snsql-metadata": meta})))


def test_invalid_entry_stops_before_connecting(tmp_path: Path) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump({"src-stats": [_dp_stat(epsilon=0)]}))
    with pytest.raises(SynthgateError, match="'dp_people': epsilon"):
        make_stats_file("postgresql://nobody@127.0.0.1:1/none", None, config_path,
                        tmp_path / "out.yaml", False, None)


def test_metadata_column_missing_from_query(people: Source) -> None:
    stat = _dp_stat(query="SELECT id, age FROM person")
    with pytest.raises(SynthgateError, match=r"'dp_people': snsql-metadata\.region: this "
                       "column is not in the result of `query`"):
        make_src_stats(people, _config(stat))


def test_dp_query_smartnoise_refuses(people: Source) -> None:
    stat = _dp_stat(**{"dp-query": "SELECT age FROM query_result"})
    with pytest.raises(SynthgateError) as err:
        make_src_stats(people, _config(stat))
    message = str(err.value)
    assert "'dp_people': dp-query: SmartNoise SQL cannot run it" in message
    assert "move the join or subquery into `query`" in message


def test_numeric_metadata_on_text_column(people: Source) -> None:
    meta = _meta(region={"type": "float", "lower": 0, "upper": 1})
    with pytest.raises(SynthgateError, match=r"snsql-metadata\.region: declared float"):
        make_src_stats(people, _config(_dp_stat(**{"snsql-metadata": meta})))
