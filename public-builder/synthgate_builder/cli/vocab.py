"""Builder commands: create-vocab and remove-vocab (the verbatim vocabulary tables)."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.engine import Engine
from synthgate_shared.db import check_connection, create_engine_for, mask_dsn, parse_dsn

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
)
from synthgate_builder.inputs import load_inputs
from synthgate_builder.vocab import load_vocab, remove_vocab


def _destination(dsn: str) -> Engine:
    engine = create_engine_for(parse_dsn(dsn, "DST_DSN"))
    check_connection(engine)
    return engine


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
        loaded = load_vocab(_destination(dsn), inputs.orm, inputs.config, files, schema)
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
        engine = _destination(dsn)
        names = ", ".join(inputs.config.vocabulary_tables()) or "none"
        if not yes:
            typer.confirm(f"Delete every row of the vocabulary tables ({names}) in "
                          f"{mask_dsn(engine.url)}?", abort=True)
        removed = remove_vocab(engine, inputs.orm, inputs.config, schema)
    for name, rows in removed.items():
        typer.echo(f"removed {name}: {rows} rows")
