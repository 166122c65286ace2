"""Roles from what the data holds (issue 11): measured facts, the roles they give, the config
comments, NULL shares for every column and table sizes kept, on a schema written for each case
(text categories, numbers and dates kept in text, a 5-row reference table, 80%-NULL company/fax
columns, e-mail values under a plain name)."""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from synthgate_agent.measure import measure
from synthgate_agent.propose import propose
from synthgate_agent.reflect import reflect_schema
from synthgate_agent.source import open_source
from synthgate_shared.config import Config, load_config
from synthgate_shared.yamlio import load_yaml_file

ROWS = 400
CASES = [
    "CREATE TABLE kind_ref (kind_id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)",
    "CREATE TABLE holder (holder_id INTEGER PRIMARY KEY, kind_id INTEGER NOT NULL "
    "REFERENCES kind_ref (kind_id), type VARCHAR(100) NOT NULL, frequency TEXT NOT NULL, "
    "amount_text VARCHAR(20), count_text TEXT NOT NULL, opened_text VARCHAR(10) NOT NULL, "
    "company VARCHAR(80), fax VARCHAR(24), contact TEXT NOT NULL, remark TEXT, "
    "code_text VARCHAR(8) NOT NULL)",
]


def _load_cases(url: str) -> None:
    rnd = random.Random(11)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for ddl in CASES:
            conn.exec_driver_sql(ddl)
        conn.execute(sa.text("INSERT INTO kind_ref VALUES (:i, :l)"),
                     [{"i": i, "l": f"kind number {i}"} for i in range(1, 6)])
        rows: list[dict[str, Any]] = []
        for i in range(1, ROWS + 1):
            day = dt.date(1995, 1, 1) + dt.timedelta(days=rnd.randrange(1500))
            rows.append({
                "i": i, "k": rnd.choice([1, 1, 2, 3, 4, 5]),
                "t": "OWNER" if i % 4 else "DISPONENT",
                "f": rnd.choice(["POPLATEK MESICNE", "POPLATEK TYDNE", "POPLATEK PO OBRATU"]),
                "a": None if i % 10 == 0 else f"{rnd.uniform(10, 5000):.2f}",
                "c": str(rnd.randrange(1, 900)), "o": day.isoformat(),
                "co": None if i % 5 else f"Company {rnd.randrange(10**6)} Ltd",
                "fx": None if i % 5 != 1 else f"+1 555 {rnd.randrange(10**7):07d}",
                "ct": f"user{i}@example.org",
                "r": None if i % 3 == 0 else " ".join(
                    rnd.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(
                        rnd.randrange(1, 6))) + f" {i}",
                "cd": f"{rnd.randrange(100000):05d}",
            })
        conn.execute(sa.text("INSERT INTO holder VALUES (:i, :k, :t, :f, :a, :c, :o, :co, :fx, "
                             ":ct, :r, :cd)"), rows)
    engine.dispose()


def _facts_and_proposal(url: str) -> tuple[Any, Any]:
    source = open_source(url)
    model = reflect_schema(source)
    facts = measure(source, model, Config())
    source.engine.dispose()
    return facts, propose(model, Config(), facts=facts, vocabulary=True)


def test_facts_and_roles_on_every_dialect(any_db_url: str) -> None:
    """The same facts on PostgreSQL, MariaDB and SQLite, and the roles they give."""
    _load_cases(any_db_url)
    facts, proposal = _facts_and_proposal(any_db_url)
    holder = facts["holder"]
    assert holder.rows == ROWS and not holder.sampled
    f = holder.columns
    assert (f["type"].distinct, f["type"].frequent, f["type"].frequent_share) == (2, 2, 1.0)
    assert f["frequency"].distinct == 3 and f["frequency"].top_share == 1.0
    assert f["amount_text"].nonnull == ROWS - ROWS // 10
    assert f["amount_text"].shares["number"] == 1.0 and f["amount_text"].places == 2
    assert f["count_text"].shares["number"] == 1.0 and not f["count_text"].places
    assert f["opened_text"].shares["date"] == 1.0
    assert f["contact"].shares["email"] == 1.0
    assert f["company"].nonnull == ROWS // 5 and f["company"].frequent == 0
    assert f["remark"].shares["number"] == 0.0 and f["remark"].frequent_share is not None
    assert f["code_text"].shares["digits"] == 1.0 and f["code_text"].shares["number"] < 0.99
    assert facts["kind_ref"].rows == 5
    gens = {g["columns_assigned"] if isinstance(g["columns_assigned"], str)
            else ",".join(g["columns_assigned"]): g for g in proposal.row_generators["holder"]}
    assert gens["type,frequency"]["name"] == "synthgate.joint_categorical"
    assert gens["amount_text"]["name"] == "synthgate.quantiles"
    assert gens["amount_text"]["kwargs"]["places"] == 2
    assert gens["count_text"]["kwargs"]["places"] == 0
    assert "width" not in gens["count_text"]["kwargs"]
    assert gens["code_text"]["kwargs"] == {"stats": 'SRC_STATS["auto__holder__profile"]',
                                           "places": 0, "width": 5}
    assert gens["opened_text"]["kwargs"]["date_format"] == "%Y-%m-%d"
    assert gens["company"]["name"] == "generic.finance.company"
    assert gens["fax"]["name"] == "generic.person.telephone"
    assert gens["contact"]["name"] == "generic.person.email"  # by its values
    assert gens["remark"]["name"] == "synthgate.text_length"
    notes = proposal.notes["holder"]
    assert notes["type,frequency"].startswith("type: 2 distinct value(s), all >= 7 rows")
    assert "text holding numbers with up to 2 decimal places" in notes["amount_text"]
    # kind_ref (5 rows, referred to, nothing personal) is copied verbatim when asked: no statistics
    assert proposal.vocabulary_tables["kind_ref"].startswith("PROPOSED vocabulary table: 5 rows")
    assert "kind_ref" not in proposal.row_generators
    assert "holder" not in proposal.vocabulary_candidates | proposal.vocabulary_tables
    kept = propose(reflect_schema(open_source(any_db_url)), Config(), facts=facts,
                   vocabulary=False)
    assert "kind_ref" in kept.vocabulary_candidates and not kept.vocabulary_tables


def test_postgresql_large_tables_are_measured_on_a_sample(pg_url: str) -> None:
    """Above SAMPLE_ROWS rows (by the planner's estimate) the column facts come from a
    repeatable sample; the row count stays exact."""
    import synthgate_agent.measure as m

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE big AS SELECT g AS id, mod(g, 3)::text AS k "
                             "FROM generate_series(1, 30000) g")
        conn.exec_driver_sql("ANALYZE big")
    engine.dispose()
    source = open_source(pg_url)
    model = reflect_schema(source)
    old = m.SAMPLE_ROWS
    m.SAMPLE_ROWS = 3000
    try:
        first = measure(source, model, Config())["big"]
        again = measure(source, model, Config())["big"]
    finally:
        m.SAMPLE_ROWS = old
        source.engine.dispose()
    assert first.rows == 30000 and first.sampled and 2000 < first.measured < 4000
    assert first == again  # repeatable
    assert first.columns["k"].distinct == 3 and first.columns["k"].frequent == 3


def _chain(src: str, dst: str, work: Path) -> dict[str, Any]:
    from synthgate_agent.cli import app as agent
    from synthgate_builder.cli import app as builder
    from synthgate_shared.cli import run_app

    def files(*names: str) -> list[str]:
        flags = {"config": "--config-file", "orm": "--orm-file", "stats": "--stats-file"}
        paths = {"config": "config.yaml", "orm": "orm.yaml", "stats": "src-stats.yaml"}
        return [x for n in names for x in (flags[n], str(work / paths[n]))]

    # the 5-row kind_ref generated (not copied), so that its size is seen to be kept
    for args in (["generate-config", "--no-propose-vocabulary", *files("config")],
                 ["make-tables", *files("orm")],
                 ["make-stats", *files("config", "stats")]):
        assert run_app(agent, "synthgate-agent", [*args, "--dsn", src]) == 0, args
    for args in (["create-generators", "--out", str(work / "ssg.py"),
                  *files("config", "orm", "stats")],
                 ["create-tables", "--dsn", dst, *files("orm")],
                 ["create-data", "--dsn", dst, "--scale", "1", "--seed", "1", "--ssg-file",
                  str(work / "ssg.py"), *files("config", "orm", "stats")]):
        assert run_app(builder, "synthgate-builder", args) == 0, args
    return load_yaml_file(work / "src-stats.yaml")


def test_copy_keeps_categories_text_formats_nulls_and_sizes(
        pg_url_factory: Any, tmp_path: Path) -> None:
    """End to end on PostgreSQL with the proposed config, unedited."""
    src, dst = pg_url_factory(), pg_url_factory()
    _load_cases(src)
    stats = _chain(src, dst, tmp_path)
    text = (tmp_path / "config.yaml").read_text()
    assert "# type: 2 distinct value(s), all >= 7 rows" in text
    assert "# vocabulary candidate: 5 rows, referred to by holder.kind_id" in text
    assert stats["auto__kind_ref__profile"]["results"][0]["n"] == 5  # not suppressed
    engine = sa.create_engine(dst)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM kind_ref").scalar() == 5
        assert conn.exec_driver_sql("SELECT count(*) FROM holder").scalar() == ROWS
        types = dict(conn.exec_driver_sql("SELECT type, count(*) FROM holder GROUP BY type").all())
        assert types == {"OWNER": 300, "DISPONENT": 100}
        freq = dict(conn.exec_driver_sql(
            "SELECT frequency, count(*) FROM holder GROUP BY frequency").all())
        assert set(freq) == {"POPLATEK MESICNE", "POPLATEK TYDNE", "POPLATEK PO OBRATU"}
        row = conn.exec_driver_sql(
            "SELECT count(amount_text), count(company), count(fax), count(remark), "
            "count(*) FROM holder").one()
        assert row == (ROWS - ROWS // 10, ROWS // 5, ROWS // 5, ROWS - ROWS // 3, ROWS)
        amounts = [r[0] for r in conn.exec_driver_sql(
            "SELECT amount_text FROM holder WHERE amount_text IS NOT NULL")]
        assert all(re.fullmatch(r"\d+\.\d\d", a) for a in amounts), amounts[:5]
        assert min(map(float, amounts)) >= 10 and max(map(float, amounts)) <= 5000
        counts = [r[0] for r in conn.exec_driver_sql("SELECT count_text FROM holder")]
        assert all(re.fullmatch(r"\d+", c) for c in counts)
        dates = [r[0] for r in conn.exec_driver_sql("SELECT opened_text FROM holder")]
        assert all(dt.date.fromisoformat(d).year in range(1995, 2000) for d in dates)
        contacts = [r[0] for r in conn.exec_driver_sql("SELECT contact FROM holder LIMIT 20")]
        assert all("@" in c for c in contacts)
    engine.dispose()


def test_null_share_for_a_user_generator_and_null_share_false(pg_url_factory: Any,
                                                               tmp_path: Path) -> None:
    """A user's row generator that always returns a value gets the source's NULL share;
    `null-share: false` on a row generator keeps every value it returns."""
    import yaml
    from synthgate_builder.cli import app as builder
    from synthgate_shared.cli import run_app

    src, dst = pg_url_factory(), pg_url_factory()
    _load_cases(src)
    _chain(src, dst, tmp_path)
    data = yaml.safe_load((tmp_path / "config.yaml").read_text())
    data["row_generators_module"] = "my_gens"
    for gen in data["tables"]["holder"]["row_generators"]:
        if gen["columns_assigned"] == "company":
            gen["null-share"] = False
        if gen["columns_assigned"] == "remark":
            gen.clear()
            gen.update({"name": "my_gens.remark", "columns_assigned": "remark"})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "my_gens.py").write_text("def remark():\n    return 'always a value'\n")
    assert load_config(tmp_path / "config.yaml").tables["holder"].row_generators
    files = ["--config-file", str(tmp_path / "config.yaml"), "--orm-file",
             str(tmp_path / "orm.yaml"), "--stats-file", str(tmp_path / "src-stats.yaml")]
    assert run_app(builder, "synthgate-builder", ["create-generators", "--force", "--out",
                                                  str(tmp_path / "ssg.py"), *files]) == 0
    assert run_app(builder, "synthgate-builder", ["remove-data", "--yes", "--dsn", dst,
                                                  *files]) == 0
    made = []
    for _ in range(2):  # the same --seed, the same NULLs
        assert run_app(builder, "synthgate-builder", [
            "create-data", "--dsn", dst, "--scale", "1", "--seed", "3", "--ssg-file",
            str(tmp_path / "ssg.py"), *files]) == 0
        engine = sa.create_engine(dst)
        with engine.connect() as conn:
            assert conn.exec_driver_sql(
                "SELECT count(company), count(fax), count(remark) FROM holder").one() == (
                ROWS, ROWS // 5, ROWS - ROWS // 3)
            made.append(conn.exec_driver_sql(
                "SELECT holder_id, remark IS NULL FROM holder ORDER BY 1").all())
        engine.dispose()
        assert run_app(builder, "synthgate-builder", ["remove-data", "--yes", "--dsn", dst,
                                                      *files]) == 0
    assert made[0] == made[1]


def test_vocabulary_proposed_only_where_every_parent_is_copied_too(tmp_path: Path) -> None:
    """store-like tables (small, referred to, but pointing at a generated table) stay
    candidates; leaf reference tables and those pointing only at them are copied."""
    url = f"sqlite:///{tmp_path / 'ref.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for ddl in ("CREATE TABLE country (id INTEGER PRIMARY KEY, label TEXT)",
                    "CREATE TABLE city (id INTEGER PRIMARY KEY, country_id INTEGER "
                    "REFERENCES country (id), label TEXT)",
                    "CREATE TABLE big (id INTEGER PRIMARY KEY, city_id INTEGER "
                    "REFERENCES city (id), store_id INTEGER REFERENCES store (id))",
                    "CREATE TABLE store (id INTEGER PRIMARY KEY, big_id INTEGER "
                    "REFERENCES big (id))"):
            conn.exec_driver_sql(ddl)
        conn.exec_driver_sql("INSERT INTO country VALUES (1, 'a'), (2, 'b')")
        conn.exec_driver_sql("INSERT INTO city VALUES (1, 1, 'x'), (2, 2, 'y')")
        conn.exec_driver_sql("INSERT INTO store VALUES (1, NULL)")
        conn.execute(sa.text("INSERT INTO big VALUES (:i, 1, 1)"),
                     [{"i": i} for i in range(1, 302)])
    engine.dispose()
    _, proposal = _facts_and_proposal(url)
    assert set(proposal.vocabulary_tables) == {"country", "city"}
    assert set(proposal.vocabulary_candidates) == {"store"}
    assert "big" in proposal.row_generators and "city" not in proposal.row_generators


def test_a_type_with_no_portable_equivalent_is_left_to_the_defaults(pg_url: str) -> None:
    """A PostgreSQL ``point`` (written as text in the copy, no equality operator) is neither
    measured nor proposed: generate-config does not stop on it."""
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE spot (id INTEGER PRIMARY KEY, at point, "
                             "label TEXT)")
        conn.exec_driver_sql("INSERT INTO spot SELECT g, point(g, g), 'a' FROM "
                             "generate_series(1, 20) g")
    engine.dispose()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reflect warns that point is written as text
        facts, proposal = _facts_and_proposal(pg_url)
    assert facts["spot"].opaque == {"at"} and "at" not in facts["spot"].columns
    assigned = [g["columns_assigned"] for g in proposal.row_generators["spot"]]
    assert "label" in assigned and "at" not in assigned
