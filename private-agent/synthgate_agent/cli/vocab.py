"""Agent command: make-vocab (export the vocabulary tables into vocabulary files)."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgate_agent.cli.app import (
    AllowPrivilegedOption,
    ConfigOption,
    CsvDirOption,
    DsnOption,
    ForceOption,
    OrmOption,
    ParquetDirOption,
    SchemaOption,
    TimeoutOption,
    app,
)


@app.command("make-vocab")
def make_vocab(
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    config_file: Path = ConfigOption,
    orm_file: Path = OrmOption,
    out_dir: Path = typer.Option(Path("vocab"), "--out-dir",
                                 help="Folder for the <table>.yaml[.gz] files."),
    compress: bool = typer.Option(False, "--compress", help="Write gzip files (.yaml.gz)."),
    only: str | None = typer.Option(None, "--only", help="Export only this vocabulary table."),
    force: bool = ForceOption,
    timeout: float | None = TimeoutOption,
    allow_privileged_role: bool = AllowPrivilegedOption,
    csv_dir: Path | None = CsvDirOption,
    parquet_dir: Path | None = ParquetDirOption,
) -> None:
    """Export every table marked vocabulary_table: true, streamed, into vocab/<table>.yaml[.gz]."""
    from synthgate_shared.config import load_config
    from synthgate_shared.orm import load_orm

    from synthgate_agent.filesource import source_dsn_for
    from synthgate_agent.source import open_source
    from synthgate_agent.vocab import export_vocab

    config = load_config(config_file)
    model = load_orm(orm_file)
    with source_dsn_for(dsn, csv_dir, parquet_dir) as files:
        source = open_source(files.dsn, schema, timeout or config.statement_timeout,
                             allow_privileged_role)
        exports = export_vocab(source, model, config, out_dir, compress, only, force)
    if not exports:
        typer.echo(f"{config_file} marks no table as vocabulary_table: true; nothing to export")
    for export in exports:
        typer.echo(f"wrote {export.path} ({export.rows} rows in {export.seconds:.2f} s)")
