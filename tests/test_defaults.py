"""Default value generators: every portable type, the checks they obey, unique values, and a
round trip through real PostgreSQL, MariaDB and SQLite tables."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from synthgate_builder.defaults import (
    ColumnSampler,
    column_sampler,
)
from synthgate_shared.checks import column_facts
from synthgate_shared.db import create_engine_for, parse_dsn
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import CheckConstraint, Column, OrmModel, Table, load_orm_text
from synthgate_shared.sqla import orm_to_metadata

# Distinct tuples over several columns, from any draw or from samplers: helpers of these
# tests (no builder code calls them), kept to check the samplers' unique values together.

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


def sample_unique_tuples(samplers: Sequence[ColumnSampler], n: int, rng: np.random.Generator, *,
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


ORM = """
synthgate-orm: 1
source: {dialect: postgresql, schema: public, table_count: 1}
enums:
  mpaa_rating: [G, PG, PG-13, R, NC-17]
  pair: [left, right]
domains:
  year: {type: integer, nullable: true, checks: ['((VALUE >= 1901) AND (VALUE <= 2155))']}
tables:
  everything:
    columns:
    - {name: code, type: varchar(12), nullable: false}
    - {name: n_int, type: integer, nullable: false}
    - {name: n_small, type: smallint, nullable: false}
    - {name: n_small2, type: smallint, nullable: false}
    - {name: n_big, type: bigint, nullable: false}
    - {name: released, type: integer, domain: year}
    - {name: price, type: 'numeric(4,2)', nullable: false}
    - {name: cost, type: 'numeric(5,2)', nullable: false}
    - {name: amount, type: numeric, nullable: false}
    - {name: ratio, type: real, nullable: false}
    - {name: score, type: double, nullable: false}
    - {name: flag, type: boolean, nullable: false}
    - {name: country, type: char(2), nullable: false}
    - {name: title, type: varchar(30), nullable: false}
    - {name: label, type: varchar, nullable: false}
    - {name: body, type: text, nullable: false}
    - {name: born, type: date, nullable: false}
    - {name: at_time, type: time, nullable: false}
    - {name: at_timetz, type: timetz, nullable: false}
    - {name: created, type: timestamp, nullable: false}
    - {name: updated, type: timestamptz, nullable: false}
    - {name: span, type: interval, nullable: false}
    - {name: ident, type: uuid, nullable: false}
    - {name: doc, type: jsonb, nullable: false}
    - {name: blob, type: bytea, nullable: false}
    - {name: fulltext, type: tsvector, nullable: false}
    - {name: rating, type: 'enum:mpaa_rating', nullable: false}
    - {name: features, type: 'text[]', nullable: false}
    - {name: scores, type: 'integer[]', nullable: false}
    - {name: status, type: varchar(10), nullable: false}
    - {name: short, type: varchar(5), nullable: false}
    - {name: side, type: 'enum:pair'}
    primary_key: [code]
    unique:
    - {name: everything_n_int_key, columns: [n_int]}
    - {name: everything_ident_key, columns: [ident]}
    - {name: everything_pair_key, columns: [n_small, n_small2]}
    checks:
    - {name: small_range, sqltext: '((n_small >= 1) AND (n_small <= 20))'}
    - {name: small2_range, sqltext: 'n_small2 BETWEEN 1 AND 20'}
    - {name: price_check, sqltext: '(price >= (0)::numeric)'}
    - {name: born_check, sqltext: "(born >= '2001-01-01'::date)"}
    - {name: rating_check, sqltext: "((rating)::text = ANY ((ARRAY['G'::character varying,
        'PG'::character varying, 'R'::character varying])::text[]))"}
    - {name: features_check, sqltext: "(features <@ ARRAY['Trailers'::text,
        'Commentaries'::text, 'Deleted Scenes'::text, 'Behind the Scenes'::text])"}
    - {name: status_check, sqltext: "status IN ('open', 'closed', 'on hold')"}
    - {name: short_check, sqltext: 'char_length(short) >= 3'}
    - {name: cost_check, sqltext: 'cost > 100 AND 500 >= cost AND cost <> 250'}
"""

UNIQUE = ("code", "n_int", "ident")
PAIR = ("n_small", "n_small2")
FEATURES = {"Trailers", "Commentaries", "Deleted Scenes", "Behind the Scenes"}


@pytest.fixture(scope="module")
def model() -> OrmModel:
    return load_orm_text(ORM)


@pytest.fixture(scope="module")
def table(model: OrmModel) -> Table:
    return model.tables["everything"]


def sampler(model: OrmModel, name: str, dialect: str = "postgresql") -> ColumnSampler:
    table = model.tables["everything"]
    return column_sampler(table.column(name), model, table, dialect=dialect)


def values(model: OrmModel, name: str, n: int = 500, seed: int = 7,
           dialect: str = "postgresql") -> list[Any]:
    return sampler(model, name, dialect).sample(n, np.random.default_rng(seed))


def single(type_: str, *checks: str, dialect: str = "postgresql", source: str = "postgresql",
           name: str = "x", enums: dict[str, list[str]] | None = None) -> ColumnSampler:
    """A sampler for one column ``x`` of a one-column table with ``checks``."""
    model = load_orm_text(ORM)
    model.source.dialect = source
    model.enums.update(enums or {})
    table = Table("t", [Column(name, type_, nullable=False)],
                  checks=[CheckConstraint(c) for c in checks])
    return column_sampler(table.columns[0], model, table, dialect=dialect)


def draw(s: ColumnSampler, n: int = 500, seed: int = 1) -> list[Any]:
    return s.sample(n, np.random.default_rng(seed))


# --- every type --------------------------------------------------------------------------------

def test_integers_stay_in_their_ranges(model: OrmModel) -> None:
    for name in ("n_int", "n_big"):
        got = values(model, name)
        assert all(type(v) is int and 0 <= v <= 10_000 for v in got)
        assert len(set(got)) > 100
    assert all(1 <= v <= 20 for v in values(model, "n_small"))
    assert all(1 <= v <= 20 for v in values(model, "n_small2"))
    assert all(-(2**15) <= v < 2**15 for v in draw(single("smallint", "x > 30000")))


def test_year_domain_is_obeyed(model: OrmModel) -> None:
    got = values(model, "released")
    assert all(1901 <= v <= 2155 for v in got)
    assert min(got) < 1950 and max(got) > 2100


def test_numeric_precision_and_scale(model: OrmModel) -> None:
    for v in values(model, "price"):
        assert isinstance(v, decimal.Decimal)
        assert v.as_tuple().exponent == -2 and decimal.Decimal(0) <= v < 100
    costs = values(model, "cost")
    assert all(decimal.Decimal(100) < v <= 500 and v != 250 for v in costs)
    assert all(v.as_tuple().exponent == -2 for v in values(model, "amount"))
    assert all(v.as_tuple().exponent == 0 for v in draw(single("numeric(3)")))
    assert all(abs(v) < 10 for v in draw(single("numeric(3,2)", "x < 0")))


def test_floats(model: OrmModel) -> None:
    for name in ("ratio", "score"):
        assert all(isinstance(v, float) and 0 <= v <= 10_000 for v in values(model, name))
    assert all(0 < v < 1 for v in draw(single("double", "x > 0 AND x < 1")))


def test_text_lengths(model: OrmModel) -> None:
    titles = values(model, "title")
    assert all(isinstance(v, str) and 1 <= len(v) <= 30 and v == v.strip() for v in titles)
    assert all(re.fullmatch(r"[A-Z]{2}", v) for v in values(model, "country"))
    labels = values(model, "label")
    assert all(1 <= len(v.split()) <= 3 for v in labels)
    bodies = values(model, "body")
    assert all(v.endswith(".") and 3 <= len(v.split()) <= 8 for v in bodies)
    assert all(3 <= len(v) <= 5 for v in values(model, "short"))
    assert Counter(values(model, "status")).keys() == {"open", "closed", "on hold"}
    assert all(len(v) == 1 for v in draw(single("varchar(1)")))


def test_temporal_types(model: OrmModel) -> None:
    born = values(model, "born")
    assert all(type(v) is dt.date and dt.date(2001, 1, 1) <= v <= dt.date(2025, 12, 31)
               for v in born)
    assert all(type(v) is dt.time and v.tzinfo is None for v in values(model, "at_time"))
    assert all(v.tzinfo is dt.UTC for v in values(model, "at_timetz"))
    created = values(model, "created")
    assert all(type(v) is dt.datetime and v.tzinfo is None
               and dt.datetime(2000, 1, 1) <= v < dt.datetime(2026, 1, 1) for v in created)
    updated = values(model, "updated")
    assert all(v.tzinfo is dt.UTC and v.year >= 2000 for v in updated)
    spans = values(model, "span")
    assert all(dt.timedelta(minutes=1) <= v <= dt.timedelta(days=30) for v in spans)
    late = draw(single("date", "x > '2030-06-01'"))
    assert all(v > dt.date(2030, 6, 1) for v in late)


def test_uuid_json_bytes_tsvector(model: OrmModel) -> None:
    idents = values(model, "ident")
    assert all(isinstance(v, uuid.UUID) and v.version == 4 for v in idents)
    assert len(set(idents)) == len(idents)
    assert all(isinstance(v, dict) and v for v in values(model, "doc"))
    assert all(isinstance(v, bytes) and 8 <= len(v) <= 32 for v in values(model, "blob"))
    literal = re.compile(r"'[a-z]+':1( '[a-z]+':\d)+")
    assert all(literal.fullmatch(v) for v in values(model, "fulltext"))
    plain = values(model, "fulltext", dialect="sqlite")
    assert all(re.fullmatch(r"[A-Z][a-z]+( [a-z]+)+", v) for v in plain)


def test_enums_and_booleans(model: OrmModel) -> None:
    assert set(values(model, "rating")) == {"G", "PG", "R"}  # the check narrows the enum
    assert set(values(model, "flag")) == {True, False}
    assert all(type(v) is bool for v in values(model, "flag"))
    assert set(draw(single("boolean", "x = true"))) == {True}
    assert set(draw(single("enum:pair", "x <> 'left'"))) == {"right"}


def test_arrays(model: OrmModel) -> None:
    features = values(model, "features")
    assert all(1 <= len(v) <= 3 and set(v) <= FEATURES and len(set(v)) == len(v)
               for v in features)
    scores = values(model, "scores")
    assert all(isinstance(v, list) and all(isinstance(x, int) for x in v) for v in scores)
    words = draw(single("text[]"))
    assert all(1 <= len(x.split()) <= 2 for v in words for x in v)
    grid = draw(single("integer[][]"))
    assert all(len(v) == 2 and all(len(row) == 2 for row in v) for v in grid)
    dates = draw(single("date[]", dialect="mysql"))
    assert all(isinstance(x, str) and dt.date.fromisoformat(x) for v in dates for x in v)


def test_nulls_only_when_asked_and_allowed(model: OrmModel, table: Table) -> None:
    assert None not in values(model, "side")
    rng = np.random.default_rng(3)
    nullable = column_sampler(table.column("side"), model, table, null_fraction=0.5)
    got = nullable.sample(400, rng)
    assert 100 < got.count(None) < 300
    strict = column_sampler(table.column("title"), model, table, null_fraction=0.5)
    assert None not in strict.sample(400, rng)


# --- checks -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("sql", "facts"), [
    ("x BETWEEN 1 AND 5", [(">=", 1), ("<=", 5)]),
    ("0 < x", [(">", 0)]),
    ("(x >= (-5.5)::numeric)", [(">=", decimal.Decimal("-5.5"))]),
    ("x IN ('a', 'b')", [("in", ["a", "b"])]),
    ("((x)::text = ANY ((ARRAY['a'::character varying])::text[]))", [("in", ["a"])]),
    ("(x = 'a' OR x = 'b')", [("in", ["a", "b"])]),
    ("x <> 0 AND length(x) <= 3", [("<>", 0), ("len<=", 3)]),
    ("x <@ ARRAY['a'::text]", [("elements", ["a"])]),
    ("x > y", []),
    ("x > 0 OR y > 0", []),
    ("y > 3", []),
    ("lower(x) = 'a'", []),
    ("this is not sql ((", []),
])
def test_understood_checks(sql: str, facts: list[tuple[str, Any]]) -> None:
    model = load_orm_text(ORM)
    table = Table("t", [Column("x", "integer"), Column("y", "integer")],
                  checks=[CheckConstraint(sql)])
    assert column_facts(table.columns[0], model, table) == facts


def test_mariadb_checks_are_read_in_their_dialect() -> None:
    s = single("integer", "(`x` between 10 and 12)", source="mariadb")
    assert set(draw(s)) == {10, 11, 12}


def test_windows_follow_one_sided_checks() -> None:
    assert all(20_000 < v <= 30_000 for v in draw(single("integer", "x > 20000")))
    assert all(-10_005 <= v < -5 for v in draw(single("integer", "x < -5")))
    assert set(draw(single("integer", "x BETWEEN 0 AND 1 AND x <> 0"))) == {1}


def test_checks_that_allow_nothing_are_clear_errors() -> None:
    with pytest.raises(SynthgateError, match="table t, column x: its checks allow no value"):
        single("integer", "x > 5 AND x < 3")
    with pytest.raises(SynthgateError, match="allow no value"):
        single("smallint", "x > 40000")
    with pytest.raises(SynthgateError, match="length limits"):
        single("varchar(2)", "length(x) >= 3")


# --- unique values ------------------------------------------------------------------------------

def test_unique_integers_continue_across_calls(model: OrmModel) -> None:
    s = sampler(model, "n_int")
    rng = np.random.default_rng(1)
    assert s.sample_unique(5, rng) == [1, 2, 3, 4, 5]
    assert s.sample_unique(3, rng) == [6, 7, 8]
    assert s.sample_unique(3, rng, start=100) == [101, 102, 103]
    assert s.sample_unique(4, rng, exclude={105, 106}) == [104, 107, 108, 109]
    assert sampler(model, "released").sample_unique(2, rng) == [1901, 1902]


@pytest.mark.parametrize("name", ["code", "title", "country", "body", "short", "born", "created",
                                  "ident", "price", "blob", "ratio", "at_time", "span"])
def test_unique_values_are_distinct_across_passes(model: OrmModel, name: str) -> None:
    s = sampler(model, name)
    rng = np.random.default_rng(2)
    got = s.sample_unique(300, rng) + s.sample_unique(300, rng)
    assert len(set(got)) == 600
    again = sampler(model, name).sample(50, rng)  # still valid column values
    assert {type(v) for v in got} == {type(v) for v in again}


def test_unique_text_fits_the_column() -> None:
    keys = single("varchar(3)").sample_unique(5000, np.random.default_rng(1))
    assert len(set(keys)) == 5000 and all(len(k) == 3 for k in keys)
    padded = single("varchar(20)", "length(x) >= 12").sample_unique(10, np.random.default_rng(1))
    assert all(len(k) == 12 for k in padded)


@pytest.mark.parametrize(("type_", "checks", "n", "why"), [
    ("boolean", (), 3, "allows only 2 more distinct values"),
    ("varchar(1)", (), 1000, "allows only 36 more"),
    ("enum:pair", (), 5, "allows only 2 more"),
    ("smallint", ("x BETWEEN 1 AND 20",), 21, "allows only 20 more"),
    ("jsonb", (), 2, "JSON values cannot be generated unique"),
    ("text[]", (), 2, "array values cannot be generated unique"),
])
def test_impossible_uniqueness_names_table_and_column(type_: str, checks: tuple[str, ...],
                                                      n: int, why: str) -> None:
    s = single(type_, *checks)
    with pytest.raises(SynthgateError, match=f"table t, column x: .*{why}"):
        s.sample_unique(n, np.random.default_rng(1))


def test_unique_after_previous_passes_runs_out() -> None:
    s = single("enum:pair")
    rng = np.random.default_rng(1)
    assert s.sample_unique(1, rng) == ["left"]
    with pytest.raises(SynthgateError, match=r"only 1 more distinct values \(1 already used\)"):
        s.sample_unique(2, rng)


def test_unique_tuples_from_pools() -> None:
    rng = np.random.default_rng(4)
    pool_a, pool_b = np.arange(1, 11), np.arange(100, 105)
    seen: set[tuple[Any, ...]] = {(1, 100)}

    def pick(k: int) -> list[list[int]]:
        return [rng.choice(pool_a, k).tolist(), rng.choice(pool_b, k).tolist()]

    rows = unique_tuples(pick, 40, existing=seen, max_tries=200, where="table ab, key (a, b)")
    assert len(set(rows)) == 40 and (1, 100) not in rows and len(seen) == 41
    with pytest.raises(SynthgateError, match=r"table ab, key \(a, b\): could make only 9 of 10"):
        unique_tuples(pick, 10, existing=seen, max_tries=500, where="table ab, key (a, b)")


def test_sample_unique_tuples(model: OrmModel) -> None:
    pair = [sampler(model, "n_small"), sampler(model, "n_small2")]
    rng = np.random.default_rng(5)
    seen: set[tuple[Any, ...]] = set()
    rows = sample_unique_tuples(pair, 300, rng, existing=seen, max_tries=100, where="w")
    assert len(set(rows)) == 300 and all(1 <= a <= 20 and 1 <= b <= 20 for a, b in rows)
    with pytest.raises(SynthgateError, match="the columns allow only 100 more"):
        sample_unique_tuples(pair, 101, rng, existing=seen, max_tries=100, where="w")
    flags = [single("boolean"), single("boolean")]
    assert len(sample_unique_tuples(flags, 4, rng, existing=set(), max_tries=100, where="w")) == 4


# --- determinism and speed ----------------------------------------------------------------------

def test_same_seed_same_values(model: OrmModel, table: Table) -> None:
    def everything(seed: int) -> list[list[Any]]:
        rng = np.random.default_rng(seed)
        return [column_sampler(c, model, table).sample(50, rng) for c in table.columns]

    assert everything(11) == everything(11)
    assert everything(11) != everything(12)


def test_sampling_speed(model: OrmModel) -> None:
    rng = np.random.default_rng(1)
    for name in ("n_int", "title", "body", "price", "created", "updated", "born", "ident"):
        s = sampler(model, name)
        started = time.perf_counter()
        got = s.sample(100_000, rng)
        elapsed = time.perf_counter() - started
        assert len(got) == 100_000
        print(f"\n100,000 {s.column.type} values: {elapsed:.3f} s", end="")
    started = time.perf_counter()
    sampler(model, "code").sample_unique(100_000, rng)
    print(f"\n100,000 unique varchar(12) keys: {time.perf_counter() - started:.3f} s")


# --- real databases -------------------------------------------------------------------------------

def test_databases_accept_the_values(any_db_url: str, model: OrmModel, table: Table) -> None:
    engine = create_engine_for(parse_dsn(any_db_url))
    dialect = engine.dialect.name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # checks another dialect cannot take are left out
        metadata = orm_to_metadata(model, dialect)
    metadata.create_all(engine)
    sa_table = metadata.tables["everything"]
    rng = np.random.default_rng(2024)
    samplers = {c.name: column_sampler(c, model, table, dialect=dialect) for c in table.columns}
    columns: dict[str, list[Any]] = {}
    for name, s in samplers.items():
        if name in UNIQUE:
            columns[name] = s.sample_unique(200, rng)
        elif name not in PAIR:
            columns[name] = s.sample(200, rng)
    pairs = sample_unique_tuples([samplers[n] for n in PAIR], 200, rng, existing=set(),
                                 max_tries=50, where="everything_pair_key")
    columns["n_small"], columns["n_small2"] = (list(c) for c in zip(*pairs, strict=True))
    rows = [dict(zip(columns, vals, strict=True)) for vals in zip(*columns.values(), strict=True)]
    with engine.begin() as conn:
        conn.execute(sa_table.insert(), rows)
    with engine.connect() as conn:
        back = conn.execute(sa.select(sa_table).order_by(sa_table.c.code)).mappings().all()
    engine.dispose()
    assert len(back) == 200
    for name in UNIQUE:
        assert len({r[name] for r in back}) == 200
    expected = sorted(rows, key=lambda r: r["code"])
    exact = ["code", "n_int", "n_small", "n_big", "released", "flag", "country", "title",
             "body", "born", "rating", "status", "short", "ident", "blob", "features", "doc"]
    if dialect != "sqlite":
        exact += ["price", "cost", "created"]
    for name in exact:
        assert [r[name] for r in back] == [e[name] for e in expected], name
