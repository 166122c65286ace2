"""Builder commands: create-vocab and remove-vocab (the verbatim vocabulary tables)."""

from __future__ import annotations

from pathlib import Path

import typer
from synthgate_shared.db import mask_dsn

from synthgate_builder.cli.app import (
    BundleOption,
    ConfigOption,
    DsnOption,
    OrmOption,
    RequireApprovalOption,
    SchemaOption,
    StatsOption,
    TrustOption,
    VocabDirOption,
    YesOption,
    app,
    destination_engine,
)
from synthgate_builder.inputs import load_inputs
from synthgate_builder.vocab import load_vocab, remove_vocab


@app.command("create-vocab")
def create_vocab(
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    bundle: Path | None = BundleOption,
    trust: list[Path] | None = TrustOption,
    require_approval: list[Path] | None = RequireApprovalOption,
    config_file: Path = ConfigOption,
    orm_file: Path = OrmOption,
    stats_file: Path = StatsOption,
    vocab_dir: Path = VocabDirOption,
) -> None:
    """Load every vocabulary table from its <table>.yaml[.gz] file (parents first, one
    transaction, COPY on PostgreSQL), then move sequences past the loaded keys."""
    with load_inputs(bundle, trust or [], require_approval or [], config_file, orm_file,
                     stats_file, vocab_dir) as inputs:
        files = inputs.vocab_files
        loaded = load_vocab(destination_engine(dsn), inputs.orm, inputs.config, files, schema)
    for name, rows in loaded.items():
        typer.echo(f"loaded {name}: {rows} rows")
    if not loaded:
        typer.echo("the config marks no table as vocabulary_table: true; nothing to load")


@app.command("remove-vocab")
def remove_vocab_command(
    yes: bool = YesOption,
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    bundle: Path | None = BundleOption,
    trust: list[Path] | None = TrustOption,
    require_approval: list[Path] | None = RequireApprovalOption,
    config_file: Path = ConfigOption,
    orm_file: Path = OrmOption,
    stats_file: Path = StatsOption,
) -> None:
    """Delete every row of the vocabulary tables, children first (asks unless --yes)."""
    with load_inputs(bundle, trust or [], require_approval or [], config_file, orm_file,
                     stats_file, Path(".")) as inputs:
        engine = destination_engine(dsn)
        names = ", ".join(inputs.config.vocabulary_tables()) or "none"
        if not yes:
            typer.confirm(f"Delete every row of the vocabulary tables ({names}) in "
                          f"{mask_dsn(engine.url)}?", abort=True)
        removed = remove_vocab(engine, inputs.orm, inputs.config, schema)
    for name, rows in removed.items():
        typer.echo(f"removed {name}: {rows} rows")
