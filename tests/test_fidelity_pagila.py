"""Issue 6 acceptance on Pagila: the proposed config, unedited, end to end through the CLIs.

generate-config -> make-tables -> make-stats -> create-generators -> create-tables ->
create-data --scale 1 --seed 1 -> report, then the figures the issue asks for.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import _new_name, _pg_create, _pg_drop
from synthgate_agent.cli import app as agent
from synthgate_builder.cli import app as builder
from synthgate_builder.report import build_report
from synthgate_shared.cli import run_app
from synthgate_shared.config import load_config
from synthgate_shared.fidelity import parse_stat_name
from synthgate_shared.orm import load_orm
from synthgate_shared.yamlio import load_yaml_file

SCALE = 1.0
LIMIT = 0.05


@pytest.fixture(scope="module")
def built(pagila_url: str, tmp_path_factory: pytest.TempPathFactory,
          request: pytest.FixtureRequest) -> dict[str, Any]:
    """Run the whole chain once; the tests below read what it made."""
    work = tmp_path_factory.mktemp("fidelity")
    name = _new_name("sgtest")
    dst = _pg_create(name)
    request.addfinalizer(lambda: _pg_drop(name))

    def agent_run(*args: str) -> None:
        assert run_app(agent, "synthgate-agent", [*args, "--dsn", pagila_url]) == 0, args

    def builder_run(*args: str) -> None:
        assert run_app(builder, "synthgate-builder", list(args)) == 0, args

    def files(*names: str) -> list[str]:
        flags = {"config": "--config-file", "orm": "--orm-file", "stats": "--stats-file"}
        paths = {"config": "config.yaml", "orm": "orm.yaml", "stats": "src-stats.yaml"}
        return [x for n in names for x in (flags[n], str(work / paths[n]))]

    agent_run("generate-config", *files("config"))
    agent_run("make-tables", "--orm-file", str(work / "orm.yaml"))
    started = time.monotonic()
    agent_run("make-stats", *files("config", "stats"))
    make_stats_s = time.monotonic() - started
    config = load_config(work / "config.yaml")
    builder_run("create-generators", "--out", str(work / "ssg.py"),
                *files("config", "orm", "stats"))
    builder_run("create-tables", "--dsn", dst, *files("orm"))
    if config.vocabulary_tables():  # proposed: small reference tables, copied verbatim
        agent_run("make-vocab", *files("config", "orm"), "--out-dir", str(work / "vocab"))
        builder_run("create-vocab", "--dsn", dst, *files("config", "orm", "stats"),
                    "--vocab-dir", str(work / "vocab"))
    builder_run("create-data", "--dsn", dst, "--scale", str(SCALE), "--seed", "1",
                "--ssg-file", str(work / "ssg.py"), *files("config", "orm", "stats"))
    builder_run("report", "--dsn", dst, "--scale", str(SCALE), "--out-dir", str(work / "out"),
                *files("config", "orm", "stats"))
    model = load_orm(work / "orm.yaml")
    stats = load_yaml_file(work / "src-stats.yaml")
    report = build_report(sa.create_engine(dst), None, model, stats, scale=SCALE)
    print(f"\nmake-stats of {len(config.src_stats)} proposed queries on Pagila: "
          f"{make_stats_s:.2f} s")
    print((work / "out" / "report.md").read_text())
    return {"work": work, "dst": dst, "model": model, "stats": stats, "report": report,
            "config": config}


def _values(built: dict[str, Any], kind: str) -> dict[str, float]:
    return {f"{m.table}.{m.subject}": m.value for m in built["report"].metrics
            if m.kind == kind}


@pytest.mark.slow
def test_keys_and_row_counts(built: dict[str, Any]) -> None:
    assert set(_values(built, "fk").values()) == {0}
    assert set(_values(built, "unique").values()) == {0}
    rows = _values(built, "rows")
    assert len(rows) >= 10
    assert max(rows.values()) <= 0.01, rows


@pytest.mark.slow
def test_distances_meet_the_targets(built: dict[str, Any]) -> None:
    tvd, ks = _values(built, "tvd"), _values(built, "ks")
    assert tvd and ks
    assert statistics.median(tvd.values()) <= LIMIT, tvd
    assert statistics.median(ks.values()) <= LIMIT, ks
    children = _values(built, "children")
    assert children["rental.customer_id"] <= LIMIT
    assert children["payment.rental_id"] <= LIMIT
    summary = built["report"].summary()
    assert summary["tvd"] == statistics.median(tvd.values())  # what `report` prints


@pytest.mark.slow
def test_no_rare_text_value_leaves(built: dict[str, Any], pagila_url: str) -> None:
    """Every text value in src-stats.yaml occurs at least min-count times in its source column."""
    model, stats, config = built["model"], built["stats"], built["config"]
    engine = sa.create_engine(pagila_url)
    checked = 0
    with engine.connect() as conn:
        for name, entry in stats.items():
            parsed = parse_stat_name(name, model.tables)
            if parsed is None or config.table(parsed.table).vocabulary_table:
                continue
            for row in entry["results"]:
                for column, value in row.items():
                    if not isinstance(value, str) or column not in model.tables[
                            parsed.table].column_names:
                        continue
                    count = conn.execute(sa.text(
                        f'SELECT count(*) FROM "{parsed.table}" WHERE "{column}"::text = :v'),
                        {"v": value}).scalar_one()
                    assert count >= config.min_count, (name, column, value, count)
                    checked += 1
    engine.dispose()
    assert checked > 0


@pytest.mark.slow
def test_removed_statistic_is_one_clear_error(built: dict[str, Any], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A reviewer deletes a proposed statistic but leaves its generator: create-generators
    and make-stats refuse, naming the generator and the statistic."""
    work: Path = built["work"]
    text = (work / "config.yaml").read_text()
    start = text.index("- name: auto__film__rating__freq")
    end = text.index("- name: ", start + 1)
    (tmp_path / "config.yaml").write_text(text[:start] + text[end:])
    args = ["--config-file", str(tmp_path / "config.yaml"), "--orm-file",
            str(work / "orm.yaml"), "--stats-file", str(work / "src-stats.yaml")]
    capsys.readouterr()
    assert run_app(builder, "synthgate-builder", ["create-generators", "--out",
                                                  str(tmp_path / "ssg.py"), *args]) == 0
    # the statistic is still in src-stats.yaml; only a new make-stats drops it
    assert run_app(agent, "synthgate-agent", [
        "make-stats", "--dsn", "sqlite://", "--config-file", str(tmp_path / "config.yaml"),
        "--stats-file", str(tmp_path / "src-stats.yaml")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "synthgate.categorical" in err and "auto__film__rating__freq" in err
    stats = load_yaml_file(work / "src-stats.yaml")
    del stats["auto__film__rating__freq"]
    from synthgate_agent.stats import render_src_stats

    (tmp_path / "src-stats.yaml").write_text(render_src_stats(stats))
    args[-1] = str(tmp_path / "src-stats.yaml")
    assert run_app(builder, "synthgate-builder", ["create-generators", "--force", "--out",
                                                  str(tmp_path / "ssg.py"), *args]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "film.rating" in err and "auto__film__rating__freq" in err
