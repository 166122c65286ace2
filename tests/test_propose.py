"""Proposed statistics (issue 6): aggregate, runnable on Pagila, small counts suppressed, DP."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlglot
from sqlglot import exp
from synthgate_agent.propose import propose
from synthgate_agent.reflect import reflect_schema
from synthgate_agent.source import Source, open_source
from synthgate_agent.stats import make_src_stats
from synthgate_shared.config import Config, config_from_data
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import check_stat_references, parse_stat_name
from synthgate_shared.orm import OrmModel

VOCAB = ("category", "city", "country", "language")


@pytest.fixture(scope="module")
def pagila(pagila_url: str) -> tuple[Source, OrmModel]:
    source = open_source(pagila_url)
    return source, reflect_schema(source)


def _config(extra: dict[str, Any] | None = None) -> Config:
    data: dict[str, Any] = {"tables": {t: {"vocabulary_table": True} for t in VOCAB}}
    data.update(extra or {})
    return config_from_data(data)


def _with_proposal(config: Config, src_stats: list[dict[str, Any]],
                   generators: dict[str, list[dict[str, Any]]]) -> Config:
    data = config.model_dump(by_alias=True, exclude_defaults=True)
    data["src-stats"] = src_stats
    for table, gens in generators.items():
        data.setdefault("tables", {}).setdefault(table, {})["row_generators"] = gens
    return config_from_data(data)


def _is_aggregate(sql: str) -> bool:
    tree = sqlglot.parse_one(sql, read="postgres")
    return tree.find(exp.AggFunc) is not None or tree.find(exp.Group) is not None


def test_proposals_are_aggregate_and_run_on_pagila(pagila: tuple[Source, OrmModel]) -> None:
    source, model = pagila
    config = _config()
    proposal = propose(model, config)
    names = [s["name"] for s in proposal.src_stats]
    assert len(names) == len(set(names))
    assert all(n.startswith("auto__") for n in names)
    for entry in proposal.src_stats:
        assert _is_aggregate(entry["query"]), entry["name"]
        assert "dp-query" not in entry
    tables = {parse_stat_name(n, model.tables).table for n in names}  # type: ignore[union-attr]
    assert not tables & set(VOCAB)
    assert {"rental", "payment", "customer", "film"} <= tables
    assert "auto__rental__customer_id__children" in names
    assert "auto__payment__rental_id__children" in names
    assert "auto__film__rating__freq" in names

    full = _with_proposal(config, proposal.src_stats, proposal.row_generators)
    check_stat_references(full)
    started = time.monotonic()
    data = make_src_stats(source, full)
    print(f"make-stats of {len(names)} proposed queries on Pagila: "
          f"{time.monotonic() - started:.2f} s")
    assert set(data) == set(names)
    for entry in data.values():
        if entry.get("count_column"):
            assert all(r[entry["count_column"]] >= entry["min_count"] for r in entry["results"])
    # rental.customer_id: 599 customers with 12..46 rentals; rare counts were suppressed
    children = data["auto__rental__customer_id__children"]
    assert children["suppressed_rows"] > 0
    assert sum(r["n"] for r in children["results"]) < 599
    profile = data["auto__rental__profile"]["results"][0]
    assert profile["n"] == 16044
    assert len(profile["rental_date__q"]) == 21
    assert -1 <= profile["rental_date__return_date__corr"] <= 1
    rating = {r["rating"]: r["n"] for r in data["auto__film__rating__freq"]["results"]}
    assert sum(rating.values()) == 1000


def test_known_kinds_get_mimesis_and_no_query(pagila: tuple[Source, OrmModel]) -> None:
    _, model = pagila
    proposal = propose(model, _config())
    customer = {g["columns_assigned"]: g["name"] for g in proposal.row_generators["customer"]
                if isinstance(g["columns_assigned"], str)}
    assert customer["first_name"] == "generic.person.first_name"
    assert customer["last_name"] == "generic.person.last_name"
    assert customer["email"] == "generic.person.email"
    assert all("kwargs" not in g for g in proposal.row_generators["customer"]
               if g["name"].startswith("generic."))
    # no value of theirs is read: only their NULLs are counted (the builder keeps that share)
    email_reads = [s["query"].replace('count("email") AS "email__nonnull"', "")
                   for s in proposal.src_stats]
    assert not any("email" in q for q in email_reads)
    assert 'count("email") AS "email__nonnull"' in " ".join(s["query"] for s in proposal.src_stats)
    film = {str(g["columns_assigned"]): g["name"] for g in proposal.row_generators["film"]}
    assert film["description"] == "synthgate.text_length"
    rental = [g for g in proposal.row_generators["rental"] if g["name"] ==
              "synthgate.date_order"]  # dates that keep their order (propose_order)
    assert "rental_date" in rental[0]["columns_assigned"]
    assert "return_date" in rental[0]["columns_assigned"]


def test_ignored_tables_get_nothing(pagila: tuple[Source, OrmModel]) -> None:
    _, model = pagila
    proposal = propose(model, _config({"tables": {"rental": {"ignore": True}}}))
    assert "rental" not in proposal.row_generators
    assert not any(s["name"].startswith("auto__rental__") for s in proposal.src_stats)
    # the FK from payment into the ignored rental gets no children statistic either
    assert "auto__payment__rental_id__children" not in {s["name"] for s in proposal.src_stats}


def test_epsilon_needs_bounds_for_numeric_columns(pagila: tuple[Source, OrmModel]) -> None:
    _, model = pagila
    with pytest.raises(SynthgateError, match=r"bounds") as err:
        propose(model, _config(), epsilon=1.0)
    assert "." in str(err.value).split("column ")[1].split()[0]  # names table.column


def test_epsilon_splits_the_budget(pagila: tuple[Source, OrmModel]) -> None:
    _, model = pagila
    bounds: dict[str, dict[str, float]] = {}
    # find every column that asks for a bound, give it one, until the proposal goes through
    for _ in range(100):
        try:
            proposal = propose(model, _config({"bounds": bounds}), epsilon=2.0, delta=1e-5)
            break
        except SynthgateError as exc:
            key = str(exc).split("column ")[1].split()[0]
            bounds[key] = {"lower": 0, "upper": 2e9}
    else:
        pytest.fail("bounds never satisfied")
    dp = [s for s in proposal.src_stats if "dp-query" in s]
    assert dp and len(dp) == len(proposal.src_stats)
    assert sum(s["epsilon"] for s in dp) == pytest.approx(2.0)
    assert sum(s["delta"] for s in dp) == pytest.approx(1e-5)
    assert len({s["epsilon"] for s in dp}) == 1
    hist = next(s for s in dp if s["name"] == "auto__film__length__histogram")
    assert hist["snsql-metadata"]["bin"] == {"type": "int", "lower": 0, "upper": 19,
                                             "nullable": True}
    assert hist["snsql-metadata"]["film_id"]["private_id"] is True
    # film.length is smallint: its bound comes from the type, not from the data
    gen = next(g for g in proposal.row_generators["film"] if g["columns_assigned"] == "length")
    assert gen["kwargs"]["lower"] == -32768
    config = _with_proposal(_config({"bounds": bounds}), proposal.src_stats,
                            proposal.row_generators)
    assert config.stat("auto__film__length__histogram") is not None


def test_split_budget_passes_the_budget_check() -> None:
    """Seven shares of delta 1e-5 add up to no more than 1e-5 as make-stats adds them (the
    numbers as written in config.yaml), not only in binary floating point."""
    from synthgate_agent.privacy import validate_privacy
    from synthgate_shared.orm import Column, ForeignKey, SourceFingerprint, Table

    person = Table("person", [Column("id", "integer", False), Column("kind", "varchar(5)"),
                              Column("age", "integer"), Column("note", "text")], ["id"])
    visit = Table("visit", [Column("id", "integer", False), Column("person_id", "integer"),
                            Column("status", "varchar(4)")], ["id"],
                  foreign_keys=[ForeignKey(["person_id"], "person", ["id"])])
    model = OrmModel(SourceFingerprint("sqlite"), {"person": person, "visit": visit})
    bounds = {"bounds": {"person.age": {"lower": 0, "upper": 120}}}
    proposal = propose(model, config_from_data(bounds), epsilon=1.0, delta=1e-5)
    assert len(proposal.src_stats) == 7
    config = _with_proposal(config_from_data({**bounds, "privacy-budget": {
        "epsilon": 1.0, "delta": 1e-5}}), proposal.src_stats, proposal.row_generators)
    validate_privacy(config)


def test_removed_statistic_still_referenced_names_both(pagila: tuple[Source, OrmModel]) -> None:
    _, model = pagila
    proposal = propose(model, _config())
    kept = [s for s in proposal.src_stats if s["name"] != "auto__film__rating__freq"]
    config = _with_proposal(_config(), kept, proposal.row_generators)
    with pytest.raises(SynthgateError, match=r"auto__film__rating__freq") as err:
        check_stat_references(config)
    assert "film.rating" in str(err.value)


def test_other_dialects_quote_and_run(sqlite_url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE owner (id INTEGER PRIMARY KEY, kind VARCHAR(5), "
                             "born DATE, score REAL, note TEXT)")
        conn.exec_driver_sql("CREATE TABLE pet (id INTEGER PRIMARY KEY, owner_id INTEGER "
                             "REFERENCES owner(id), status VARCHAR(8))")
        for i in range(1, 201):
            conn.exec_driver_sql(
                f"INSERT INTO owner VALUES ({i}, '{'ab'[i % 2]}', '2000-01-{1 + i % 28:02d}', "
                f"{i * 1.5}, 'note {'x' * (i % 9)}')")
            conn.exec_driver_sql(f"INSERT INTO pet VALUES ({i}, {1 + i % 50}, 'ok')")
    source = open_source(sqlite_url)
    model = reflect_schema(source)
    proposal = propose(model, config_from_data({}))
    config = _with_proposal(config_from_data({}), proposal.src_stats, proposal.row_generators)
    data = make_src_stats(source, config)
    profile = data["auto__owner__profile"]["results"][0]
    assert profile["n"] == 200
    assert profile["born__score__moments"].count(",") == 5
    assert isinstance(profile["score__q"], str) and profile["score__q"].startswith("1:")
    children = sorted(data["auto__pet__owner_id__children"]["results"],
                      key=lambda r: r["n_children"])
    assert children == [{"n_children": 0, "n": 150}, {"n_children": 4, "n": 50}]


def test_not_null_columns_are_counted_as_rows() -> None:
    """count(*) spares reading a NOT NULL column from every row; its __nonnull stays."""
    from synthgate_shared.orm import Column, SourceFingerprint, Table

    table = Table("t", [Column("id", "integer", False, True), Column("a", "integer", False),
                        Column("b", "integer")], ["id"])
    model = OrmModel(SourceFingerprint("postgresql", "15", "public", 1), {"t": table})
    profile = propose(model, config_from_data({})).src_stats[0]
    assert profile["name"] == "auto__t__profile"
    assert 'count(*) AS "a__nonnull"' in profile["query"]
    assert 'count("b") AS "b__nonnull"' in profile["query"]


def test_postgresql_profile_samples_large_tables_and_counts_exactly(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy as sa
    from synthgate_agent import propose_sql

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE owner (id integer PRIMARY KEY, score integer, note text); "
            "INSERT INTO owner SELECT i, CASE WHEN mod(i, 10) = 0 THEN NULL ELSE i END, "
            "repeat('x', mod(i, 30)) FROM generate_series(1, 20000) AS i; "
            "CREATE TABLE pet (id integer PRIMARY KEY, owner_id integer REFERENCES owner, "
            "weight real); "
            "INSERT INTO pet SELECT i, CASE WHEN mod(i, 7) = 0 THEN NULL ELSE 1 + mod(i, 100) END, "
            "i * 0.5 FROM generate_series(1, 700) AS i; ANALYZE")
    engine.dispose()
    monkeypatch.setattr(propose_sql, "SAMPLE_ROWS", 2000)  # owner is large, pet small
    source = open_source(pg_url)
    model = reflect_schema(source)
    proposal = propose(model, config_from_data({}))
    profile_sql = next(s["query"] for s in proposal.src_stats
                       if s["name"] == "auto__owner__profile")
    assert "TABLESAMPLE BERNOULLI" in profile_sql and _is_aggregate(profile_sql)
    config = _with_proposal(config_from_data({}), proposal.src_stats, proposal.row_generators)
    data = make_src_stats(source, config)
    again = make_src_stats(source, config)
    assert all(again[k]["results"] == v["results"] for k, v in data.items())  # REPEATABLE
    owner = data["auto__owner__profile"]["results"][0]
    assert (owner["n"], owner["score__nonnull"], owner["note__nonnull"]) == (20000, 18000, 20000)
    # a sample of about 2,000 rows: each quantile within a few percent of the exact one
    for p, value in zip((0.01, 0.05, 0.1), owner["score__q"][:3], strict=True):
        assert abs(value - p * 20000) < 0.03 * 20000
    assert abs(owner["score__q"][10] - 10000) < 0.03 * 20000
    # pet is below SAMPLE_ROWS: its quantiles are those of every row
    pet = data["auto__pet__profile"]["results"][0]
    with source.engine.connect() as conn:
        exact = conn.exec_driver_sql(
            "SELECT percentile_cont(ARRAY[0.01, 0.5, 0.99]) WITHIN GROUP (ORDER BY weight) "
            "FROM pet").scalar_one()
    assert [pet["weight__q"][0], pet["weight__q"][10], pet["weight__q"][20]] == exact
    assert (pet["n"], pet["owner_id__nonnull"]) == (700, 600)
    # children per parent: NULL keys count for no parent, owners without pets count as 0
    children = {r["n_children"]: r["n"] for r in data["auto__pet__owner_id__children"]["results"]}
    assert children == {0: 19900, 6: 100}
    source.engine.dispose()


def test_dp_children_query_gives_one_row_per_parent(pagila: tuple[Source, OrmModel]) -> None:
    source, model = pagila
    bounds: dict[str, dict[str, float]] = {}
    for _ in range(100):  # give every column that asks for a bound one
        try:
            proposal = propose(model, _config({"bounds": bounds}), epsilon=2.0)
            break
        except SynthgateError as exc:
            bounds[str(exc).split("column ")[1].split()[0]] = {"lower": 0, "upper": 2e9}
    entry = next(s for s in proposal.src_stats
                 if s["name"] == "auto__rental__customer_id__children")
    with source.engine.connect() as conn:
        rows = conn.exec_driver_sql(entry["query"]).fetchall()
    assert len(rows) == 599  # every customer, once
    assert sum(r[-1] for r in rows) == 16044  # every rental (at most 100 per customer)
    data = make_src_stats(source, _with_proposal(_config(), [entry], {}))
    result = data[entry["name"]]
    assert all(set(r) == {"n_children", "n"} for r in result["results"]), result
