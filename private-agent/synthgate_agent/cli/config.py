"""Agent command: generate-config (a first, commented config.yaml with proposed statistics)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from synthgate_agent.cli.app import (
    AllowPrivilegedOption,
    CsvDirOption,
    DsnOption,
    ForceOption,
    ParquetDirOption,
    SchemaOption,
    TimeoutOption,
    app,
)

if TYPE_CHECKING:
    from synthgate_shared.config import Config
    from synthgate_shared.orm import OrmModel

    from synthgate_agent.proposal import Proposal
    from synthgate_agent.source import Source

BoundsFromOption = typer.Option(
    None, "--bounds-from", help="A YAML file whose bounds: section gives public bounds of "
    "numeric columns ({table.column: {lower: L, upper: U}}; dates in seconds since 1970) "
    "for --epsilon; it may be the previous config.yaml.")
ProposeVocabularyOption = typer.Option(
    False, "--propose-vocabulary/--no-propose-vocabulary", help="Mark small reference "
    "tables (referred to by foreign keys, no personal-looking column, at most 200 rows) "
    "vocabulary_table: true, copied verbatim by make-vocab; without it they are generated "
    "and named as vocabulary candidates in a comment.")


@app.command("generate-config")
def generate_config(
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    config_file: Path = typer.Option(Path("config.yaml"), "--config-file",
                                     help="Where to write the config."),
    epsilon: float | None = typer.Option(
        None, "--epsilon", help="Propose differentially private statistics (SmartNoise SQL) "
        "spending this epsilon in total, split evenly; numeric columns then need bounds."),
    delta: float | None = typer.Option(None, "--delta", help="Total delta with --epsilon "
                                       "(default 1e-5)."),
    bounds_from: Path | None = BoundsFromOption,
    vocabulary: list[str] | None = typer.Option(
        None, "--vocabulary", help="Mark this table vocabulary_table: true (copied verbatim, "
        "no statistics proposed); repeatable."),
    ignore: list[str] | None = typer.Option(
        None, "--ignore", help="Mark this table ignore: true; repeatable."),
    propose_vocabulary: bool = ProposeVocabularyOption,
    plain: bool = typer.Option(False, "--plain", help="Propose nothing: empty src-stats and "
                               "row_generators, as SqlSynthGen's starting config."),
    force: bool = ForceOption,
    timeout: float | None = TimeoutOption,
    allow_privileged_role: bool = AllowPrivilegedOption,
    csv_dir: Path | None = CsvDirOption,
    parquet_dir: Path | None = ParquetDirOption,
) -> None:
    """Write a first config.yaml listing every table of the source, with proposed aggregate
    statistics (src-stats) and generators that follow them, all commented and editable."""
    from synthgate_shared.config import load_config
    from synthgate_shared.files import refuse_overwrite, write_text_atomic

    from synthgate_agent.configgen import render_config
    from synthgate_agent.filesource import source_dsn_for
    from synthgate_agent.reflect import reflect_schema
    from synthgate_agent.source import (
        DEFAULT_TIMEOUT_S,
        check_readable,
        explain_denied,
        open_source,
    )

    bounds = load_config(bounds_from).bounds if bounds_from else {}
    refuse_overwrite(config_file, force)
    with source_dsn_for(dsn, csv_dir, parquet_dir) as files:
        source = open_source(files.dsn, schema, timeout or DEFAULT_TIMEOUT_S,
                             allow_privileged_role)
        with explain_denied(source):
            model = reflect_schema(source)
        check_readable(source, [t for t in model.tables if t not in set(ignore or [])])
        settings = _settings(model, bounds, vocabulary or [], ignore or [])
        proposal = None if plain else _proposal(source, model, settings, epsilon, delta,
                                                propose_vocabulary)
    write_text_atomic(config_file, render_config(model, proposal, bounds, settings))
    proposed = len(proposal.src_stats) if proposal else 0
    copied = sorted(proposal.vocabulary_tables) if proposal else []
    typer.echo(f"wrote {config_file} ({len(model.tables)} tables, {proposed} proposed "
               "statistics" + (f"; proposed vocabulary tables, copied verbatim by make-vocab: "
                               f"{', '.join(copied)}" if copied else "") + ")")


def _settings(model: OrmModel, bounds: Mapping[str, Any], vocabulary: list[str],
              ignore: list[str]) -> Config:
    """The config the proposal follows: the given bounds and the tables marked on the command
    line (their names as the source spells them)."""
    from synthgate_shared.config import config_from_data

    return config_from_data({"bounds": bounds, "tables": {
        **{model.table(t).name: {"vocabulary_table": True} for t in vocabulary},
        **{model.table(t).name: {"ignore": True} for t in ignore},
    }})


def _proposal(source: Source, model: OrmModel, settings: Config, epsilon: float | None,
              delta: float | None, propose_vocabulary: bool) -> Proposal:
    """The proposed statistics and generators. What the data holds decides the roles; not
    under --epsilon, whose bundle may carry nothing measured outside the privacy budget (the
    roles then come from the schema)."""
    from synthgate_agent.measure import measure
    from synthgate_agent.propose import propose

    facts = None if epsilon is not None else measure(source, model, settings)
    return propose(model, settings, epsilon, delta, facts, vocabulary=propose_vocabulary)
