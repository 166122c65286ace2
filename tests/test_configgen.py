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
