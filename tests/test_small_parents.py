"""Issue 11: children per parent where the parent table is small (every count of the children
statistic is then suppressed): the agent releases the children of each parent with at least
min-count of them (the others pooled), the builder gives each parent such a count.
End to end with the proposed config on PostgreSQL and SQLite sources (SQLite destination)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from synthgate_builder.dist_children import children_from_counts, distinct_pairs, source_parents
from synthgate_shared.db import create_engine_for, parse_dsn
from test_order_dates import _chain

LIMIT = 0.05
STATUS_ORDERS = (400, 300, 200, 80, 20)
CARRIER_ORDERS = (600, 300, 80, 10, 4, 3, 3, 0)  # 4, 3, 3: pooled (below min-count 7)
FILMS = 300
# (child table, foreign key column, parent table)
FKS = (("orders", "status_id", "status"), ("orders", "carrier_id", "carrier"),
       ("film", "language_id", "language"), ("employee", "boss_id", "employee"))
BOSSES = (None, 1, 1, 2, 2, 2, 1, 6)  # a self-reference, set at the end of the pass


def _schema(url: str) -> None:
    """5 statuses with 400/300/200/80/20 orders, 8 carriers of which three have fewer than
    min-count orders and one none, a 6-row language with all 300 films in language 1, and
    8 employees reporting to 3 of them, one to nobody (NULL)."""
    rng = np.random.default_rng(3)
    md = sa.MetaData()

    def vocabulary(name: str) -> sa.Table:
        return sa.Table(name, md, sa.Column("id", sa.Integer, primary_key=True,
                                            autoincrement=False),
                        sa.Column("name", sa.String(20), nullable=False))

    status, carrier, language = vocabulary("status"), vocabulary("carrier"), vocabulary("language")
    orders = sa.Table("orders", md, sa.Column("id", sa.Integer, primary_key=True,
                                              autoincrement=False),
                      sa.Column("status_id", sa.Integer, sa.ForeignKey("status.id"),
                                nullable=False),
                      sa.Column("carrier_id", sa.Integer, sa.ForeignKey("carrier.id"),
                                nullable=False))
    film = sa.Table("film", md, sa.Column("id", sa.Integer, primary_key=True,
                                          autoincrement=False),
                    sa.Column("language_id", sa.Integer, sa.ForeignKey("language.id"),
                              nullable=False))
    employee = sa.Table("employee", md, sa.Column("id", sa.Integer, primary_key=True,
                                                  autoincrement=False),
                        sa.Column("boss_id", sa.Integer, sa.ForeignKey("employee.id")))
    statuses = rng.permutation(np.repeat(np.arange(1, 6), STATUS_ORDERS)).tolist()
    carriers = rng.permutation(np.repeat(np.arange(1, 9), CARRIER_ORDERS)).tolist()
    engine = create_engine_for(parse_dsn(url))
    with engine.begin() as conn:
        md.create_all(conn)
        for table, n in ((status, 5), (carrier, 8), (language, 6)):
            conn.execute(table.insert(), [{"id": i, "name": f"{table.name} {i}"}
                                          for i in range(1, n + 1)])
        conn.execute(orders.insert(), [{"id": i + 1, "status_id": s, "carrier_id": c}
                                       for i, (s, c) in enumerate(zip(statuses, carriers,
                                                                      strict=True))])
        conn.execute(film.insert(), [{"id": i + 1, "language_id": 1} for i in range(FILMS)])
        conn.execute(employee.insert(), [{"id": i + 1, "boss_id": None} for i in range(8)])
        for i, boss in enumerate(BOSSES):
            conn.execute(employee.update().where(employee.c.id == i + 1).values(boss_id=boss))
    engine.dispose()


def _children(url: str, child: str, column: str, parent: str) -> Counter[int]:
    """How many parents have k children, by SQL."""
    engine = create_engine_for(parse_dsn(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                f"SELECT k, count(*) FROM (SELECT p.id, count(c.{column}) AS k FROM {parent} p "
                f"LEFT JOIN {child} c ON c.{column} = p.id GROUP BY p.id) t GROUP BY k")).all()
    finally:
        engine.dispose()
    return Counter({int(k): int(n) for k, n in rows})


def _tvd(a: Counter[int], b: Counter[int]) -> float:
    na, nb = sum(a.values()), sum(b.values())
    return 0.5 * sum(abs(a[k] / na - b[k] / nb) for k in set(a) | set(b))


@pytest.mark.parametrize("source", ["pg_url", "sqlite_url"])
def test_small_parents_keep_children_per_parent(source: str, request: pytest.FixtureRequest,
                                                tmp_path: Path) -> None:
    url = request.getfixturevalue(source)
    _schema(url)
    dst = f"sqlite:///{tmp_path / 'dst.db'}"
    _chain(url, dst, tmp_path)
    for child, column, parent in FKS:
        src, syn = _children(url, child, column, parent), _children(dst, child, column, parent)
        print(f"{child}.{column} -> {parent}: source {sorted(src.items())}, "
              f"synthetic {sorted(syn.items())}")
        if parent in ("status", "language"):  # the others have pooled parents
            assert _tvd(src, syn) <= LIMIT, (child, column, src, syn)
    syn = _children(dst, "orders", "carrier_id", "carrier")
    assert {k: syn[k] for k in CARRIER_ORDERS[:4]} == dict.fromkeys(CARRIER_ORDERS[:4], 1)
    assert syn[0] == 1 and sum(n for k, n in syn.items() if 0 < k < 7) == 3, syn
    engine = create_engine_for(parse_dsn(dst))
    with engine.connect() as conn:
        nulls = conn.execute(sa.text("SELECT count(*) FROM employee WHERE boss_id IS NULL"))
        assert nulls.scalar_one() == BOSSES.count(None)
        bosses = conn.execute(sa.text("SELECT count(DISTINCT boss_id) FROM employee"))
        assert bosses.scalar_one() == len({b for b in BOSSES if b is not None})
    engine.dispose()


def test_small_vocabulary_parents_keep_each_count(sqlite_url: str, tmp_path: Path) -> None:
    _schema(sqlite_url)
    dst = f"sqlite:///{tmp_path / 'dst.db'}"
    _chain(sqlite_url, dst, tmp_path, vocabulary=("status", "carrier", "language"))
    engine = create_engine_for(parse_dsn(dst))
    with engine.connect() as conn:
        per_status = dict(conn.execute(sa.text(
            "SELECT status_id, count(*) FROM orders GROUP BY status_id")).all())
        per_language = dict(conn.execute(sa.text(
            "SELECT language_id, count(*) FROM film GROUP BY language_id")).all())
    engine.dispose()
    assert per_status == dict(zip(range(1, 6), STATUS_ORDERS, strict=True))
    assert per_language == {1: FILMS}


def test_children_from_counts_resamples_the_multiset_and_pools() -> None:
    rows = [{"id": 1, "parents": 1, "children": 400}, {"id": 2, "parents": 1, "children": 100},
            {"id": None, "parents": 2, "children": 6}]
    keys = [(i,) for i in range(1, 5)]
    index = children_from_counts(keys, np.random.default_rng(0), rows, 506, ["id"],
                                 keyed=True)
    counts = Counter(index)
    assert counts[0] == 400 and counts[1] == 100
    assert counts[2] + counts[3] == 6 and 0 < min(counts[2], counts[3]) <= 5, counts
    # generated parents, scale 2: ten parents (the source's five, one with no child, twice)
    index = children_from_counts([(i,) for i in range(10)], np.random.default_rng(0), rows,
                                 1012, ["id"], keyed=False, source_parents=5)
    counts = Counter(index)
    assert len(index) == 1012 and sorted(counts.values())[-4:] == [100, 100, 400, 400]
    assert len(counts) == 8, counts


def test_children_from_counts_gives_a_suppressed_pool_what_is_left() -> None:
    # 58 customers with 7 invoices each released, the one with 6 suppressed (Chinook)
    rows = [{"id": i, "parents": 1, "children": 7} for i in range(1, 59)]
    shape = [{"n_children": 7, "n": 58}]
    for keyed in (True, False):
        index = children_from_counts([(i,) for i in range(1, 60)], np.random.default_rng(0),
                                     rows, 412, ["id"], keyed=keyed, source_parents=59,
                                     shape=shape)
        assert sorted(Counter(Counter(index).values()).items()) == [(6, 1), (7, 58)]


def test_distinct_pairs_keep_a_composite_key_of_two_foreign_keys() -> None:
    """playlist_track-like: one parent holds nearly every value of the other key; the pairs
    never repeat and each side keeps how often each of its values occurs."""
    rng = np.random.default_rng(3)
    first = [1] * 95 + [2] * 90 + [3] * 10 + [4] * 5
    second = [t % 100 for t in range(200)]
    rng.shuffle(second)
    order = distinct_pairs(first, second, rng)
    assert order is not None and sorted(order) == list(range(200))
    pairs = list(zip(first, [second[i] for i in order], strict=True))
    assert len(set(pairs)) == 200
    assert distinct_pairs(first[::-1], second, rng) is not None  # either side the wider
    assert distinct_pairs([1, 1, 1], [5, 5, 6], rng) is None  # (1, 5) must repeat


def test_source_parents_of_a_vocabulary_parent_come_from_its_parents_row() -> None:
    assert source_parents([{"n": 12}], [{"parents": 25}]) == 12
    assert source_parents(None, [{"parents": 25, "used": 24, "children": 3503}]) == 25
    assert source_parents(None, None) is None
