"""The agent's differentially private bounds and the builder's default values read CHECK
constraints and domain checks the same way (``synthgate_shared.checks``), on orm.yaml text
and on the check texts PostgreSQL, MariaDB and SQLite give back when tables are reflected."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from synthgate_agent.propose_dp import _schema_bounds
from synthgate_agent.reflect import reflect_schema
from synthgate_agent.source import open_source
from synthgate_builder.defaults import column_sampler
from synthgate_shared.checks import Fact, Range, check_facts, column_facts, numeric_range
from synthgate_shared.orm import OrmModel, Table, load_orm_text

Bounds = tuple[float, float] | None

# (check on column {x}, with {o} another column; the bounds both sides must read)
CASES: list[tuple[str, Bounds]] = [
    ("{x} BETWEEN 0 AND 100", (0, 100)),
    ("0 <= {x} AND {x} <= 100", (0, 100)),
    ("100 >= {x} AND -3 < {x}", (-3, 100)),
    ("{x} < 1e3 AND {x} >= 0", (0, 1000)),
    ("{x} >= 1e-3 AND {x} <= 2.5E+2", (0.001, 250)),
    ("{x} BETWEEN -10 AND -1", (-10, -1)),
    ("{x} >= -5.5 AND {x} <= 5.5", (-5.5, 5.5)),
    ("{x} <= CAST(50 AS DECIMAL(5,1)) AND {x} >= CAST(-2 AS DECIMAL(5,1))", (-2, 50)),
    ("{x} IN (1, 2, 3)", (1, 3)),
    ("{x} = 1 OR {x} = 7", (1, 7)),
    ("{x} > 0 AND {x} < 10 AND {x} <> 5", (0, 10)),
    ("{x} >= 2 AND {x} <= 8 AND {x} BETWEEN 3 AND 9", (3, 8)),
    ("(({x} >= 0)) AND (({x} <= 1))", (0, 1)),
    ("{x} BETWEEN 0 AND 1 AND {o} < 5", (0, 1)),
    ("{x} < 0 OR {x} > 10", None),
    ("{x} >= 0 OR {o} >= 0", None),
    ("{x} >= 0", None),
    ("{x} <= 7", None),
    ("abs({x}) < 5", None),
    ("{x} < {o}", None),
    ("NOT ({x} < 0)", None),
    ("{o} BETWEEN 0 AND 10", None),
]
NAMES = [f"c{i:02d}" for i in range(len(CASES))] + ["Mixed Case"]
QUOTED_CASE = ('{x} BETWEEN 1 AND 9', (1, 9))  # on the column named "Mixed Case"


def _agent(model: OrmModel, table: Table, name: str) -> Bounds:
    return _schema_bounds(table, table.column(name), model)


def _builder(model: OrmModel, table: Table, name: str) -> Bounds:
    """The builder's limits (open ends are one float past the constant); None when they are
    the type's own (SQLite gives ``double precision`` back as ``real``)."""
    limits = column_sampler(table.column(name), model, table).limits
    assert limits is not None
    biggest = float(np.finfo(np.float32).max)
    low, high = float(limits[0]), float(limits[1])
    if low <= -biggest or high >= biggest:
        return None
    return low, high


def _assert_agree(model: OrmModel, table: Table, name: str, expected: Bounds) -> None:
    agent, builder = _agent(model, table, name), _builder(model, table, name)
    if expected is None:
        assert agent is None and builder is None, name
        return
    assert agent == pytest.approx(expected), name
    assert builder == pytest.approx(agent), name


def _orm(dialect: str, checks: list[str], domain: str | None = None) -> OrmModel:
    columns = "".join(f"    - {{name: '{n}', type: double, nullable: false}}\n" for n in NAMES)
    quoted = "\n".join(f"    - {{sqltext: {c!r}}}" for c in checks)
    domains = f"domains:\n  d: {{type: double, nullable: false, checks: [{domain!r}]}}\n" \
        if domain else ""
    used = "    - {name: dv, type: double, nullable: false, domain: d}\n" if domain else ""
    return load_orm_text(
        f"synthgate-orm: 1\nsource: {{dialect: {dialect}, schema: s, table_count: 1}}\n"
        f"{domains}tables:\n  t:\n    columns:\n{columns}{used}"
        f"    - {{name: o, type: integer, nullable: false}}\n    checks:\n{quoted}\n")


def _check_texts(quote: str) -> list[str]:
    def q(name: str) -> str:
        return f"{quote}{name}{quote}"
    texts = [sql.format(x=q(n), o=q("o")) for n, (sql, _) in zip(NAMES, CASES, strict=False)]
    return [*texts, QUOTED_CASE[0].format(x=q("Mixed Case"))]


def _expected() -> list[tuple[str, Bounds]]:
    return [(n, b) for n, (_, b) in zip(NAMES, CASES, strict=False)] + [
        ("Mixed Case", QUOTED_CASE[1])]


@pytest.mark.parametrize(("name", "expected"), _expected())
def test_agree_on_orm_yaml(name: str, expected: Bounds) -> None:
    model = _orm("postgresql", _check_texts('"'))
    _assert_agree(model, model.tables["t"], name, expected)


@pytest.mark.parametrize(("check", "expected"), [
    ("((VALUE >= 1901) AND (VALUE <= 2155))", (1901, 2155)),
    ("VALUE BETWEEN -1.5 AND 1e2", (-1.5, 100)),
    ("0 < VALUE", None),
    ("(VALUE = ANY (ARRAY[(1)::double precision, (4)::double precision]))", (1, 4)),
])
def test_agree_on_domains(check: str, expected: Bounds) -> None:
    model = _orm("postgresql", ["c00 >= 0"], domain=check)
    _assert_agree(model, model.tables["t"], "dv", expected)


def test_typed_facts() -> None:
    assert check_facts("score < 1e3", "score", "postgresql") == [Fact("<", Decimal(1000))]
    assert check_facts("0 <= score", "score", "postgresql") == [(">=", 0)]
    assert numeric_range(check_facts("score > 0 AND score <= 1", "score", "sqlite")) == Range(
        Decimal(0), False, Decimal(1), True)
    assert numeric_range(check_facts("x > 5 AND x >= 5", "x", "sqlite")).lower_closed is False
    assert numeric_range([Fact("in", ["a", "b"])]) == Range()


def _create(url: str, quote: str, double: str) -> None:
    columns = ", ".join(f"{quote}{n}{quote} {double} NOT NULL" for n in NAMES)
    checks = ", ".join(f"CONSTRAINT ck_{i:02d} CHECK ({text})"
                       for i, text in enumerate(_check_texts(quote)))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE t ({columns}, {quote}o{quote} integer NOT NULL, {checks})")
    engine.dispose()


def _reflected(url: str) -> OrmModel:
    source = open_source(url, None)
    try:
        return reflect_schema(source)
    finally:
        source.engine.dispose()


def _check_reflected(url: str, quote: str, double: str) -> None:
    _create(url, quote, double)
    model = _reflected(url)
    table = model.tables["t"]
    assert len(table.checks) == len(NAMES)
    for name, expected in _expected():
        _assert_agree(model, table, name, expected)


def test_agree_as_reflected_from_postgresql(pg_url: str) -> None:
    _check_reflected(pg_url, '"', "double precision")


def test_agree_as_reflected_from_mariadb(maria_url: str) -> None:
    _check_reflected(maria_url, "`", "double")


def test_agree_as_reflected_from_sqlite(sqlite_url: str) -> None:
    _check_reflected(sqlite_url, '"', "double precision")


def test_postgresql_domain_as_reflected(pg_url_factory: Callable[[], str]) -> None:
    url = pg_url_factory()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE DOMAIN pct AS double precision "
                             "CHECK (VALUE BETWEEN 0 AND 1e2)")
        conn.exec_driver_sql("CREATE TABLE t (share pct NOT NULL)")
    engine.dispose()
    model = _reflected(url)
    table = model.tables["t"]
    _assert_agree(model, table, "share", (0, 100))
    facts: list[Any] = column_facts(table.column("share"), model, table)
    assert {f.op for f in facts} == {">=", "<="}
    assert not math.isnan(float(facts[0].value))
