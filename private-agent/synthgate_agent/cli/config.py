"""Agent command: generate-config (a first, commented config.yaml listing every table)."""

from __future__ import annotations

from pathlib import Path

import typer
from synthgate_shared.files import refuse_overwrite, write_text_atomic

from synthgate_agent.cli.app import DsnOption, ForceOption, SchemaOption, TimeoutOption, app
from synthgate_agent.configgen import render_config
from synthgate_agent.reflect import reflect_schema
from synthgate_agent.source import DEFAULT_TIMEOUT_S, open_source


@app.command("generate-config")
def generate_config(
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    config_file: Path = typer.Option(Path("config.yaml"), "--config-file",
                                     help="Where to write the config."),
    force: bool = ForceOption,
    timeout: float | None = TimeoutOption,
) -> None:
    """Write a first config.yaml listing every table of the source, with comments."""
    refuse_overwrite(config_file, force)
    source = open_source(dsn, schema, timeout or DEFAULT_TIMEOUT_S)
    model = reflect_schema(source)
    write_text_atomic(config_file, render_config(model))
    typer.echo(f"wrote {config_file} ({len(model.tables)} tables)")
