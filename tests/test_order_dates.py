"""Issue 11: dependent dates (within a table and across foreign keys) and children counts whose
every row was suppressed, end to end with the proposed config, on PostgreSQL, MariaDB and
SQLite sources (SQLite destination), and on Pagila (PostgreSQL destination)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from conftest import _new_name, _pg_create, _pg_drop
from synthgate_agent.cli import app as agent
from synthgate_builder.cli import app as builder
from synthgate_builder.dist_children import children_from_share
from synthgate_builder.dist_order import date_order
from synthgate_builder.parents import ParentAttributes
from synthgate_shared.cli import run_app
from synthgate_shared.config import load_config
from synthgate_shared.db import create_engine_for, parse_dsn
from synthgate_shared.fidelity import QUANTILE_PROBS

LIMIT = 0.02


def _chain(src: str, dst: str, work: Path, vocabulary: tuple[str, ...] = ()) -> None:
    """generate-config -> make-tables -> make-stats -> create-generators -> create-tables ->
    create-data --scale 1 --seed 1, the proposed config unedited (``vocabulary`` tables
    marked by generate-config, exported by make-vocab and loaded by create-vocab)."""
    files = {"config": ["--config-file", str(work / "config.yaml")],
             "orm": ["--orm-file", str(work / "orm.yaml")],
             "stats": ["--stats-file", str(work / "src-stats.yaml")]}

    def agent_run(*args: str) -> None:
        assert run_app(agent, "synthgate-agent", [*args, "--dsn", src]) == 0, args

    def builder_run(*args: str) -> None:
        assert run_app(builder, "synthgate-builder", list(args)) == 0, args

    agent_run("generate-config", *files["config"],
              *[x for t in vocabulary for x in ("--vocabulary", t)])
    agent_run("make-tables", *files["orm"])
    agent_run("make-stats", *files["config"], *files["stats"])
    every = [*files["config"], *files["orm"], *files["stats"]]
    builder_run("create-generators", "--out", str(work / "ssg.py"), *every)
    builder_run("create-tables", "--dsn", dst, *files["orm"])
    if load_config(work / "config.yaml").vocabulary_tables():  # named or proposed
        vocab = ["--vocab-dir", str(work / "vocab")]
        agent_run("make-vocab", *files["config"], *files["orm"], "--out-dir", str(work / "vocab"))
        builder_run("create-vocab", "--dsn", dst, *every, *vocab)
    builder_run("create-data", "--dsn", dst, "--scale", "1", "--seed", "1",
                "--ssg-file", str(work / "ssg.py"), *every)


def _one(url: str, sql: str) -> Any:
    engine = create_engine_for(parse_dsn(url))
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar_one()
    finally:
        engine.dispose()


def _share(url: str, table: str, b: str, a: str, join: str = "") -> float:
    """The share of rows with b >= a among those where both are known, by SQL."""
    value = _one(url, f"SELECT avg(CASE WHEN {b} >= {a} THEN 1.0 ELSE 0.0 END) FROM {table} "
                 f"{join} WHERE {b} IS NOT NULL AND {a} IS NOT NULL")
    return float(value)


def _own_schema(url: str) -> None:
    """accounts opened before their transactions; orders shipped after they were ordered
    (3% before: a measured share, not a rule); 59 customers served by 3 of 8 employees, who
    report to 2 of them (a self-reference, set at the end of the pass)."""
    rng = np.random.default_rng(7)
    md = sa.MetaData()
    account = sa.Table("account", md, sa.Column("id", sa.Integer, primary_key=True,
                                                autoincrement=False),
                       sa.Column("opened", sa.Date, nullable=False))
    trans = sa.Table("trans", md, sa.Column("id", sa.Integer, primary_key=True,
                                            autoincrement=False),
                     sa.Column("account_id", sa.Integer, sa.ForeignKey("account.id"),
                               nullable=False),
                     sa.Column("booked", sa.Date, nullable=False),
                     sa.Column("amount", sa.Integer, nullable=False))
    orders = sa.Table("orders", md, sa.Column("id", sa.Integer, primary_key=True,
                                              autoincrement=False),
                      sa.Column("ordered", sa.DateTime, nullable=False),
                      sa.Column("shipped", sa.DateTime))
    employee = sa.Table("employee", md, sa.Column("id", sa.Integer, primary_key=True,
                                                  autoincrement=False),
                        sa.Column("title", sa.String(30)),
                        sa.Column("boss_id", sa.Integer, sa.ForeignKey("employee.id")))
    customer = sa.Table("customer", md, sa.Column("id", sa.Integer, primary_key=True,
                                                  autoincrement=False),
                        sa.Column("rep_id", sa.Integer, sa.ForeignKey("employee.id"),
                                  nullable=False))
    start = dt.date(1993, 1, 1)
    opened = [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 1500, 300)]
    owners = rng.integers(0, 300, 3000)
    booked = [opened[o] + dt.timedelta(days=int(d))
              for o, d in zip(owners, rng.exponential(200, 3000), strict=True)]
    t0 = dt.datetime(2020, 1, 1)
    ordered = [t0 + dt.timedelta(seconds=float(s)) for s in rng.uniform(0, 3e7, 2000)]
    gaps = np.where(rng.random(2000) < 0.03, -rng.uniform(3600, 86400, 2000),
                    rng.uniform(3600, 10 * 86400, 2000))
    shipped = [None if rng.random() < 0.1 else o + dt.timedelta(seconds=float(g))
               for o, g in zip(ordered, gaps, strict=True)]
    reps = [3] * 21 + [4] * 20 + [5] * 18
    engine = create_engine_for(parse_dsn(url))
    with engine.begin() as conn:
        md.create_all(conn)
        conn.execute(account.insert(), [{"id": i + 1, "opened": d} for i, d in enumerate(opened)])
        conn.execute(trans.insert(), [{"id": i + 1, "account_id": int(o) + 1, "booked": b,
                                       "amount": int(a)} for i, (o, b, a) in enumerate(
            zip(owners, booked, rng.integers(1, 500, 3000), strict=True))])
        conn.execute(orders.insert(), [{"id": i + 1, "ordered": o, "shipped": s}
                                       for i, (o, s) in enumerate(zip(ordered, shipped,
                                                                      strict=True))])
        conn.execute(employee.insert(), [{"id": i, "title": "staff", "boss_id": b} for i, b in
                                         zip(range(1, 9), [None, 1, 1, 2, 2, 2, 1, 2],
                                             strict=True)])
        conn.execute(customer.insert(), [{"id": i + 1, "rep_id": r} for i, r in enumerate(reps)])
    engine.dispose()


def test_own_schema_keeps_date_order_and_used_parents(any_db_url: str, tmp_path: Path) -> None:
    _own_schema(any_db_url)
    dst = f"sqlite:///{tmp_path / 'dst.db'}"
    _chain(any_db_url, dst, tmp_path)
    config = (tmp_path / "config.yaml").read_text()
    assert "synthgate.date_order" in config and "auto__customer__rep_id__parents" in config
    join = "JOIN account ON account.id = trans.account_id"
    cases = [("orders", "shipped", "ordered", ""), ("trans", "booked", "opened", join)]
    for table, b, a, on in cases:
        src, syn = _share(any_db_url, table, b, a, on), _share(dst, table, b, a, on)
        print(f"{table}: {b} >= {a}: source {src:.4f}, synthetic {syn:.4f}")
        assert abs(src - syn) <= LIMIT, (table, src, syn)
    assert _share(any_db_url, "trans", "booked", "opened", join) == 1.0
    nulls = [_one(url, "SELECT avg(CASE WHEN shipped IS NULL THEN 1.0 ELSE 0.0 END) FROM orders")
             for url in (any_db_url, dst)]
    assert abs(float(nulls[0]) - float(nulls[1])) <= LIMIT, nulls
    # every children-per-parent count of customer.rep_id is suppressed (5, 1, 1, 1 employees)
    used = _one(dst, "SELECT count(DISTINCT rep_id) FROM customer")
    assert used == 3, used
    assert _one(dst, "SELECT count(*) FROM customer") == 59
    assert _one(dst, "SELECT count(DISTINCT boss_id) FROM employee") == 2


def test_dates_follow_a_vocabulary_parent(sqlite_url: str, tmp_path: Path) -> None:
    """The parent's dates of rows loaded by create-vocab are read from the destination."""
    _own_schema(sqlite_url)
    dst = f"sqlite:///{tmp_path / 'dst.db'}"
    _chain(sqlite_url, dst, tmp_path, vocabulary=("account",))
    join = "JOIN account ON account.id = trans.account_id"
    assert _one(dst, "SELECT count(*) FROM account") == 300
    assert _share(dst, "trans", "booked", "opened", join) == 1.0


def test_many_date_columns_are_paired_with_a_cap() -> None:
    """Eight date columns: neighbours only (7 pairs), then the parent's date, at most 16."""
    from synthgate_agent.propose import propose
    from synthgate_agent.propose_order import MAX_ORDER_PAIRS
    from synthgate_shared.config import Config
    from synthgate_shared.orm import orm_from_data

    dates = [{"name": f"d{i}", "type": "timestamp"} for i in range(8)]
    model = orm_from_data({"source": {"dialect": "sqlite"}, "tables": {
        "parent": {"columns": [{"name": "id", "type": "integer", "nullable": False},
                               {"name": "born", "type": "date"}], "primary_key": ["id"]},
        "child": {"columns": [{"name": "id", "type": "integer", "nullable": False},
                              {"name": "parent_id", "type": "integer"}, *dates],
                  "primary_key": ["id"],
                  "foreign_keys": [{"columns": ["parent_id"], "ref_table": "parent",
                                    "ref_columns": ["id"]}]}}})
    proposal = propose(model, Config())
    gens = {g["name"]: g for g in proposal.row_generators["child"]}
    order = gens["synthgate.date_order"]
    pairs = order["kwargs"]["pairs"]
    assert pairs[:7] == [[f"d{i + 1}", f"d{i}"] for i in range(7)]
    assert ["d0", "parent_id__born"] in pairs and len(pairs) <= MAX_ORDER_PAIRS
    assert order["kwargs"]["parents"] == {"parent_id__born": {"fk": ["parent_id"],
                                                              "column": "born"}}
    assert "synthgate.gaussian_copula" not in gens  # the dates left the copula
    stat = next(e for e in proposal.src_stats if e["name"] == "auto__child__order")
    assert "neighbouring columns" in stat["comments"][0]
    assert any(e["name"] == "auto__child__parent_id__parents" for e in proposal.src_stats)


@pytest.fixture(scope="module")
def pagila_built(pagila_url: str, tmp_path_factory: pytest.TempPathFactory,
                 request: pytest.FixtureRequest) -> str:
    work = tmp_path_factory.mktemp("order")
    name = _new_name("sgtest")
    dst = _pg_create(name)
    request.addfinalizer(lambda: _pg_drop(name))
    _chain(pagila_url, dst, work)
    return dst


@pytest.mark.slow
@pytest.mark.parametrize(("table", "b", "a", "join"), [
    ("rental", "return_date", "rental_date", ""),
    ("rental", "last_update", "rental_date", ""),
    ("payment", "payment_date", "rental.rental_date",
     "JOIN rental ON rental.rental_id = payment.rental_id"),
    ("payment", "payment_date", "rental.return_date",
     "JOIN rental ON rental.rental_id = payment.rental_id"),
    ("rental", "rental_date", "customer.create_date",
     "JOIN customer ON customer.customer_id = rental.customer_id"),
])
def test_pagila_date_order(pagila_url: str, pagila_built: str, table: str, b: str, a: str,
                           join: str) -> None:
    src = _share(pagila_url, table, f"{table}.{b}", a, join)
    syn = _share(pagila_built, table, f"{table}.{b}", a, join)
    print(f"{table}.{b} >= {a}: source {src:.4f}, synthetic {syn:.4f}")
    assert abs(src - syn) <= LIMIT


# --- the pieces on their own -------------------------------------------------------------------

def _quantiles(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.quantile(values, QUANTILE_PROBS)]


def test_date_order_keeps_measured_shares() -> None:
    """b = a + d with d negative in 6% of the source's rows: the made share is 0.94."""
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 1e7, 5000)
    d = np.where(rng.random(5000) < 0.06, -rng.uniform(1, 1e5, 5000), rng.uniform(1, 1e6, 5000))
    row = {"n": 5000, "a__nonnull": 5000, "b__nonnull": 5000, "a__q": _quantiles(a),
           "b__q": _quantiles(a + d), "b__a__both": 5000, "b__a__ge": int((d >= 0).sum()),
           "b__a__le": int((d <= 0).sum()), "b__a__dq": _quantiles(d)}
    made_a, made_b = date_order(4000, np.random.default_rng(1), stats=[row], columns=["a", "b"],
                                types=["timestamp", "timestamp"], pairs=[["b", "a"]])
    share = np.mean([y >= x for x, y in zip(made_a, made_b, strict=True)])
    assert abs(share - float((d >= 0).mean())) <= 0.005, share


def test_date_order_follows_a_parent_date() -> None:
    """A child's date made from its parent's (``given``) is never before it (share 1)."""
    rng = np.random.default_rng(4)
    parent = rng.uniform(0, 1e8, 3000)
    d = rng.exponential(1e6, 3000)
    row = {"n": 3000, "c__nonnull": 3000, "fk__p__nonnull": 3000, "c__q": _quantiles(parent + d),
           "c__fk__p__both": 3000, "c__fk__p__ge": 3000, "c__fk__p__le": 0,
           "c__fk__p__dq": _quantiles(d)}
    given = [dt.date(1970, 1, 1) + dt.timedelta(days=int(v // 86400))
             for v in rng.uniform(0, 1e8, 1000)]
    (made,) = date_order(1000, np.random.default_rng(2), stats=[row], columns=["c"],
                         types=["date"], pairs=[["c", "fk__p"]], given={"fk__p": given})
    assert all(m >= p for m, p in zip(made, given, strict=True))


def test_children_from_share_uses_only_the_share_of_parents() -> None:
    keys = children_from_share(list(range(8)), np.random.default_rng(0),
                               [{"parents": 8, "used": 3, "children": 59}], 59)
    assert len(keys) == 59 and len(set(keys)) == 3


def test_parent_attributes_follow_the_pool_and_find_keys() -> None:
    store = ParentAttributes(["id"], ["opened"])
    store.add([[1, 2, None]], {"opened": ["a", "b", "c"]})
    store.add([list(range(3, 2000))], {"opened": [str(i) for i in range(3, 2000)]})
    assert len(store) == 1999
    found = store.lookup([[2, None, 1500, 99999]])
    assert found["opened"] == ["b", None, "1500", None]
    assert store.at(np.array([0, -1]))["opened"] == ["a", None]
