"""generate-config: a first config.yaml that lists every table and loads as a valid config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from synthgate_agent.configgen import render_config
from synthgate_shared.config import load_config, load_config_text
from synthgate_shared.orm import Column, OrmModel, SourceFingerprint, Table


def _model() -> OrmModel:
    tables = {
        "actor": Table("actor", [Column("actor_id", "integer", False, True),
                                 Column("first_name", "varchar(45)", False)], ["actor_id"]),
        "odd: name #1": Table("odd: name #1", [Column("x", "text")]),
        "yes": Table("yes", [Column("id", "bigint", False)], ["id"]),
        "no_columns": Table("no_columns", []),
    }
    return OrmModel(SourceFingerprint("postgresql", "16", "public", len(tables)), tables)


def test_render_config_lists_every_table_with_defaults() -> None:
    text = render_config(_model())
    config = load_config_text(text)
    assert list(config.tables) == ["actor", "odd: name #1", "yes", "no_columns"]
    for table in config.tables.values():
        assert (table.ignore, table.vocabulary_table, table.num_rows_per_pass,
                table.row_generators) == (False, False, 1, [])
    assert config.src_stats == []
    data = yaml.safe_load(text)
    assert data["src-stats"] == []
    assert all(set(t) == {"ignore", "vocabulary_table", "num_rows_per_pass", "row_generators"}
               for t in data["tables"].values())


def test_render_config_comments_help_a_first_time_user() -> None:
    text = render_config(_model())
    assert "generic.person.first_name" in text
    assert "# columns: actor_id (integer, filled by the database), first_name (varchar(45))" \
        in text
    assert "query: SELECT" in text  # how to add a src-stats query


def test_render_config_of_an_empty_model_loads() -> None:
    model = OrmModel(SourceFingerprint("sqlite"))
    assert load_config_text(render_config(model)).tables == {}


@pytest.mark.postgres
def test_generate_config_on_pagila(pagila_url: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from synthgate_agent.cli import app
    from synthgate_shared.cli import run_app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SRC_DSN", pagila_url)
    assert run_app(app, "synthgate-agent", ["generate-config"]) == 0
    config = load_config(tmp_path / "config.yaml")
    for name in ("actor", "film", "category", "city", "country", "language", "payment",
                 "rental", "staff", "store"):
        assert name in config.tables
    assert not any(n.startswith("payment_p2022") for n in config.tables)  # folded partitions
    # an existing file is kept without --force, replaced with it
    before = (tmp_path / "config.yaml").read_text()
    assert run_app(app, "synthgate-agent", ["generate-config"]) == 1
    assert (tmp_path / "config.yaml").read_text() == before
    assert run_app(app, "synthgate-agent", ["generate-config", "--force",
                                            "--config-file", "other.yaml"]) == 0
    assert (tmp_path / "other.yaml").read_text() == before


# --- proposed statistics (issue 6) ----------------------------------------------------------

SMALL = [
    "CREATE TABLE owner (id INTEGER PRIMARY KEY, kind VARCHAR(5), born DATE, score DOUBLE "
    "PRECISION, note TEXT, email VARCHAR(80))",
    "CREATE TABLE pet (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES owner(id), "
    "status VARCHAR(8), weight NUMERIC(6,2))",
]


def _small_source(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for ddl in SMALL:
            conn.exec_driver_sql(ddl)
        conn.execute(sa.text("INSERT INTO owner VALUES (:i, :k, :b, :s, :n, :e)"), [
            {"i": i, "k": "ab"[i % 2], "b": f"2000-01-{1 + i % 28:02d}", "s": i * 1.5,
             "n": "note " + "x" * (i % 9), "e": f"person{i}@example.com"}
            for i in range(1, 121)])
        conn.execute(sa.text("INSERT INTO pet VALUES (:i, :o, :s, :w)"), [
            {"i": i, "o": None if i % 10 == 0 else 1 + i % 40, "s": ("ok", "ill")[i % 3 == 0],
             "w": i % 30 + 0.5} for i in range(1, 201)])
    engine.dispose()


@pytest.mark.parametrize("kind", ["mariadb", "sqlite"])
def test_proposals_run_on_mariadb_and_sqlite(kind: str, request: pytest.FixtureRequest,
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """generate-config proposes, make-stats runs every proposal, and the builder makes and
    reports a copy from them (into SQLite)."""
    from synthgate_agent.cli import app as agent
    from synthgate_builder.cli import app as builder
    from synthgate_shared.cli import run_app
    from synthgate_shared.yamlio import load_yaml_file

    url = request.getfixturevalue("maria_url") if kind == "mariadb" else \
        f"sqlite:///{tmp_path / 'src.db'}"
    _small_source(url)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SRC_DSN", url)
    monkeypatch.setenv("DST_DSN", f"sqlite:///{tmp_path / 'dst.db'}")
    for step in ("generate-config", "make-tables", "make-stats"):
        assert run_app(agent, "synthgate-agent", [step]) == 0, capsys.readouterr().err
    stats = load_yaml_file(tmp_path / "src-stats.yaml")
    assert stats["auto__owner__profile"]["results"][0]["n"] == 120
    assert stats["auto__pet__profile"]["results"][0]["owner_id__nonnull"] == 180
    assert stats["auto__owner__kind__freq"]["results"]
    builder_commands: list[list[str]] = [["create-generators"], ["create-tables"],
                                         ["create-data", "--scale", "1", "--seed", "1"],
                                         ["report"]]
    for command in builder_commands:
        assert run_app(builder, "synthgate-builder", command) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "pet: 200 rows" in out and "owner: 120 rows" in out
    report = (tmp_path / "report.md").read_text()
    assert "| pet | owner_id | 0 |" in report  # children per parent as in the source


def test_epsilon_without_bounds_names_the_column(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from synthgate_agent.cli import app as agent
    from synthgate_agent.privacy import check_budget
    from synthgate_shared.cli import run_app

    _small_source(pg_url)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SRC_DSN", pg_url)
    assert run_app(agent, "synthgate-agent", ["generate-config", "--epsilon", "1"]) == 1
    # the one error line (after the warning that the tests' superuser is allowed)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("synthgate-agent: error:")
    assert "column owner.born needs public bounds" in err and "--bounds-from" in err
    assert not (tmp_path / "config.yaml").exists()
    (tmp_path / "bounds.yaml").write_text(
        "bounds:\n  owner.born: {lower: 0, upper: 2.0e9}\n"
        "  owner.score: {lower: 0, upper: 500}\n")
    assert run_app(agent, "synthgate-agent", [
        "generate-config", "--epsilon", "1", "--delta", "1e-6",
        "--bounds-from", "bounds.yaml"]) == 0
    config = load_config(tmp_path / "config.yaml")
    assert config.privacy_budget is not None and config.privacy_budget.epsilon == 1
    assert config.bounds["owner.score"].upper == 500
    assert all(s.dp_query for s in config.src_stats)
    check_budget(config)  # the shares never add up to more than the budget


def test_measured_facts_are_comments_above_their_generators() -> None:
    """Each generator's deciding facts sit above it; a vocabulary candidate is a comment on
    its table (never switched on); the file still loads with the same generators."""
    from synthgate_agent.proposal import Proposal

    gens = [{"name": "generic.person.first_name", "columns_assigned": "first_name"},
            {"name": "synthgate.joint_categorical", "kwargs": {"stats": 'SRC_STATS["s"]'},
             "columns_assigned": ["a", "b"]}]
    proposal = Proposal(
        src_stats=[{"name": "s", "query": "SELECT a, b, count(*) AS n FROM actor GROUP BY a, b"}],
        row_generators={"actor": gens},
        notes={"actor": {"first_name": "known kind by name; 80% NULL",
                         "a,b": "a: 2 distinct value(s), all >= 7 rows; b: " + "x" * 120}},
        vocabulary_candidates={"yes": "vocabulary candidate: 5 rows, referred to by actor.id"})
    text = render_config(_model(), proposal)
    lines = text.splitlines()
    first = lines.index("    - name: generic.person.first_name")
    assert lines[first - 1] == "    # known kind by name; 80% NULL"
    joint = lines.index("    - name: synthgate.joint_categorical")
    assert lines[joint - 2].startswith("    # a: 2 distinct value(s), all >= 7 rows; b: ")
    assert "  # vocabulary candidate: 5 rows, referred to by actor.id" in text
    config = load_config_text(text)
    assert [g.name for g in config.tables["actor"].row_generators] == [g["name"] for g in gens]
    assert not config.tables["yes"].vocabulary_table


def test_a_proposed_vocabulary_table_is_switched_on_and_says_it_is_copied() -> None:
    from synthgate_agent.proposal import Proposal
    from synthgate_agent.propose_vocab import proposed_comment

    proposal = Proposal(vocabulary_tables={"yes": proposed_comment("5 rows, referred to by "
                                                                   "actor.id")})
    text = render_config(_model(), proposal)
    config = load_config_text(text)
    assert config.tables["yes"].vocabulary_table and not config.tables["actor"].vocabulary_table
    assert "# PROPOSED vocabulary table: 5 rows, referred to by actor.id. make-vocab copies" \
        " EVERY ROW" in text
    assert "without --propose-vocabulary" in text
