"""Agent command ``make-tables``: the source schema -> ``orm.yaml``."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgate_agent.cli.app import (
    AllowPrivilegedOption,
    CsvDirOption,
    DsnOption,
    ForceOption,
    OrmOption,
    ParquetDirOption,
    SchemaOption,
    TimeoutOption,
    app,
)


@app.command("make-tables")
def make_tables(
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    orm_file: Path = OrmOption,
    force: bool = ForceOption,
    timeout: float | None = TimeoutOption,
    allow_privileged_role: bool = AllowPrivilegedOption,
    csv_dir: Path | None = CsvDirOption,
    parquet_dir: Path | None = ParquetDirOption,
) -> None:
    """Read the source schema (read only) into orm.yaml: tables, columns, portable types,
    keys and constraints. The file holds no data and no password."""
    from synthgate_shared.files import refuse_overwrite, write_text_atomic
    from synthgate_shared.orm import dump_orm

    from synthgate_agent.filesource import guess_comments, source_dsn_for
    from synthgate_agent.reflect import reflect_schema
    from synthgate_agent.source import (
        DEFAULT_TIMEOUT_S,
        check_readable,
        explain_denied,
        open_source,
        role_of,
    )

    refuse_overwrite(orm_file, force)
    with source_dsn_for(dsn, csv_dir, parquet_dir) as files:
        source = open_source(files.dsn, schema, timeout or DEFAULT_TIMEOUT_S,
                             allow_privileged_role)
        with explain_denied(source):
            model = reflect_schema(source)
        check_readable(source, list(model.tables), refuse=False)
        model.source = role_of(source, model.source)
    for line in files.guesses:
        typer.echo(f"warning: {line}", err=True)
    write_text_atomic(orm_file, guess_comments(files.guesses) + dump_orm(model))
    typer.echo(f"wrote {orm_file}: {len(model.tables)} tables, {len(model.enums)} enums, "
               f"{len(model.domains)} domains")
