"""Issue 11 acceptance on databases of several styles: Pagila, Chinook, bank and shop.

For each, the zero-config flow runs once through the CLIs (tests/fidelity_eval.run_flow:
generate-config with no edits ... create-data --scale 1 --seed 1) and the independent
evaluation (tests/fidelity_eval.py) compares source and copy directly. One test per database
and threshold; the thresholds today's code misses are marked xfail in KNOWN (remove a line
when its fix is merged). The evaluation itself is checked first on hand-made tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fidelity_eval as fe
import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import PG_ADMIN, _new_name, _pg_create, _pg_drop

# One worker runs them all (--dist loadgroup), so each database's flow runs once.
pytestmark = pytest.mark.xdist_group("fidelity_any_db")

# (database, check) -> why it fails on today's code. Checks not listed are expected to pass.
KNOWN: dict[tuple[str, str], str] = {
    ("pagila", "tvd_worst"): "language (6 rows: every count below min-count; copied verbatim "
                             "with generate-config --propose-vocabulary), "
                             "payment.staff_id (payment is partitioned: its keys are not "
                             "reflected, so 2 of 1500 staff drawn at random count as values), "
                             "film.special_features (arrays get no role), staff.password "
                             "(personal kinds are never released as categories)",
    ("chinook", "tvd_worst"): "employee (8 rows): every value count is below min-count; "
                              "customer.country: the countries with >= min-count rows hold "
                              "36% of the customers",
    ("chinook", "date_order"): "employee (8 rows): the 7 (employee, manager) date pairs give "
                               "order counts below min-count, which are withheld",
    ("bank", "children"): "district (77 parents): 21 districts have fewer than min-count "
                          "children, pooled (TVD 0.052)",
    ("shop", "tvd_worst"): "customer.first_name: personal kinds are never released "
                           "as categories",
}
CRASHES: dict[str, str] = {}
SEEDS = range(1, 21)


@dataclass
class Built:
    """One database's flow and evaluation (error: why the flow stopped)."""

    name: str
    source: str
    destination: str
    work: Path
    seconds: dict[str, float]
    table: pd.DataFrame | None
    error: str | None


@pytest.fixture(scope="module", params=fe.DATASETS)
def built(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """Load the dataset named by the parameter, run the zero-config flow into a new database,
    evaluate it; both databases are dropped at the end of the module."""
    name: str = request.param
    source_db, destination_db = _new_name(f"sgfid_{name}"), _new_name("sgtest")
    source = fe.load_dataset(name, PG_ADMIN, source_db)
    destination = _pg_create(destination_db)
    work = tmp_path_factory.mktemp(f"fidelity_{name}")
    try:
        flow = fe.run_flow(source, destination, work)
        table = fe.evaluate(source, destination)
        print(f"\n{name}: " + ", ".join(f"{k} {v:.2f} s" for k, v in flow.seconds.items()))
        print(fe.summary(table).to_string(index=False))
        yield Built(name, source, destination, work, flow.seconds, table, None)
    except fe.FlowFailed as error:
        yield Built(name, source, destination, work, {}, None, str(error))
    finally:
        _pg_drop(destination_db)
        _pg_drop(source_db)


def _expect_failure(request: pytest.FixtureRequest, name: str, check: str | None) -> None:
    """Mark the running test xfail (not strict) when today's code is known to miss it."""
    why = CRASHES.get(name) or (KNOWN.get((name, check)) if check else None)
    if why:
        request.node.add_marker(pytest.mark.xfail(strict=False, reason=why))


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("which", fe.CHECKS, ids=[c.name for c in fe.CHECKS])
def test_threshold(built: Built, which: fe.Check, request: pytest.FixtureRequest) -> None:
    """The copy meets the issue-11 threshold ``which`` on this database."""
    _expect_failure(request, built.name, which.name)
    assert built.error is None, built.error
    assert built.table is not None
    assert fe.check(built.table, which) is None, fe.check(built.table, which)


@pytest.mark.slow
@pytest.mark.postgres
def test_create_data_with_20_seeds(built: Built, request: pytest.FixtureRequest) -> None:
    """create-data succeeds with 20 seeds, reusing the flow's ssg.py (tables made anew)."""
    _expect_failure(request, built.name, None)
    assert built.error is None, built.error
    for seed in SEEDS:
        fe.reset_destination(built.work, built.destination)
        fe.create_data(built.work, built.destination, seed)


# --- the evaluation itself, on hand-made tables ----------------------------------------------

def _model() -> dict[str, sa.Table]:
    meta = sa.MetaData()
    parent = sa.Table("parent", meta, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("opened", sa.Date))
    child = sa.Table("child", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent.id")),
                     sa.Column("kind", sa.Text), sa.Column("size", sa.Text),
                     sa.Column("day", sa.Date), sa.Column("later", sa.Date))
    return {"parent": parent, "child": child}


def _db(parents: list[tuple[int, dt.date]],
        children: list[tuple[int, int | None, str | None, str, dt.date, dt.date]]) -> fe.Database:
    def frame(rows: list[tuple[object, ...]], names: list[str]) -> fe.Frame:
        return fe.Frame(len(rows), {n: [r[i] for r in rows] for i, n in enumerate(names)})

    return fe.Database(_model(), {
        "parent": frame(list(parents), ["id", "opened"]),
        "child": frame(list(children), ["id", "parent_id", "kind", "size", "day", "later"])})


D = dt.date(2020, 1, 1)


def _day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


SOURCE = _db([(1, D), (2, D), (3, D), (4, D)],
             [(1, 1, "A", "36", _day(1), _day(2)), (2, 1, "A", "38", _day(2), _day(3)),
              (3, 2, "B", "40", _day(3), _day(4)), (4, 2, None, "40", _day(4), _day(5)),
              (5, 2, "A", "36", _day(5), _day(6)), (6, 1, "B", "38", _day(6), _day(7))])


def _by(table: pd.DataFrame, kind: str, subject: str) -> float:
    rows = table[(table["kind"] == kind) & (table["subject"] == subject)]
    assert len(rows) == 1, (kind, subject, table)
    return float(rows["value"].iloc[0])


def test_a_database_compared_with_itself_is_perfect() -> None:
    table = fe.compare(SOURCE, SOURCE)
    assert set(table["kind"]) == {"rows", "null", "tvd", "tvd_sparse", "ks", "children",
                                  "children_ks", "date_order", "fk_invalid"}
    assert table["value"].max() == 0
    assert fe.failures(table) == []


def test_each_measure_sees_its_defect() -> None:
    # kind: a new value, no NULL; size: "x" is not a number; row 3: `later` before `day` and
    # a parent that does not exist; row 4: a day before its parent's.
    synthetic = _db([(1, D), (2, D), (3, D), (4, D)],
                    [(1, 1, "A", "36", _day(1), _day(2)), (2, 1, "C", "38", _day(2), _day(3)),
                     (3, 9, "B", "x", _day(3), _day(1)), (4, 2, "B", "40", _day(-1), _day(5)),
                     (5, 2, "A", "36", _day(5), _day(6)), (6, 1, "B", "38", _day(6), _day(7))])
    table = fe.compare(SOURCE, synthetic)
    assert _by(table, "null", "kind") == pytest.approx(1 / 6)
    assert _by(table, "tvd", "kind") == pytest.approx(4 / 15)  # {A: .6, B: .4} vs {A, C, B/2}
    assert _by(table, "ks", "size") == pytest.approx(1 / 6)  # "x" counts as +infinity
    assert _by(table, "date_order", "day<=later") == pytest.approx(1 / 6)
    assert _by(table, "date_order", "parent_id->parent:day>=parent.opened") == pytest.approx(0.2)
    assert _by(table, "fk_invalid", "parent_id->parent") == pytest.approx(1 / 6)
    # children per parent: source 3, 3, 0, 0; synthetic 3, 2, 0, 0 (parent 9 does not exist)
    assert _by(table, "children", "parent_id->parent") == pytest.approx(0.25)
    assert set(table.loc[table["kind"] == "rows", "value"]) == {0}
    assert {line.split()[1] for line in fe.failures(table)} == {"tvd", "ks", "null",
                                                                 "children", "date_order",
                                                                 "fk_invalid"}


def test_a_missing_table_counts_as_empty() -> None:
    table = fe.compare(SOURCE, fe.Database(_model(), {"parent": SOURCE.frames["parent"]}))
    assert table[(table["kind"] == "rows") & (table["table"] == "child")]["value"].item() == 1
    summary = fe.summary(table)
    assert summary.set_index("kind").loc["rows", "worst_at"] == "child"
