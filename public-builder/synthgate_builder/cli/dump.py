"""Builder command ``dump-data``: the destination's tables -> a folder of CSV or Parquet."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgate_builder.cli.app import DsnOption, SchemaOption, app, destination_engine, with_inputs
from synthgate_builder.inputs import BuilderInputs


@app.command("dump-data")
@with_inputs()
def dump_data_command(
    inputs: BuilderInputs,
    fmt: str = typer.Option(..., "--format", help="csv or parquet (Parquet columns get the "
                            "types of orm.yaml)."),
    out: Path = typer.Option(..., "--out", help="The folder to write <table>.csv|parquet into "
                             "(must not exist, or be empty)."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty output folder."),
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
) -> None:
    """Write every generated and vocabulary table of the destination into one file each,
    streamed in chunks; the folder appears only when every file is complete."""
    from synthgate_builder.dump import dump_data

    dumped = dump_data(destination_engine(dsn), inputs.orm, inputs.config, out, fmt.lower(),
                       force, schema)
    for table in dumped:
        typer.echo(f"wrote {table.path} ({table.rows} rows in {table.seconds:.2f} s)")
    typer.echo(f"wrote {len(dumped)} tables into {out}")
