"""Builder commands that make ssg.py: create-generators and validate-config."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgate_builder.cli.app import ForceOption, app, with_inputs
from synthgate_builder.inputs import BuilderInputs


def _warn(inputs: BuilderInputs) -> None:
    """Print the notes on the inputs and the config's warnings, one line each, on stderr."""
    from synthgate_builder.ssg_render import config_warnings

    for note in inputs.notes:
        typer.echo(f"note: {note}", err=True)
    for warning in config_warnings(inputs.config, inputs.orm):
        typer.echo(f"warning: {warning}", err=True)


@app.command("create-generators")
@with_inputs(config_optional=True)
def create_generators(
    inputs: BuilderInputs,
    force: bool = ForceOption,
    out: Path = typer.Option(Path("ssg.py"), "--out", help="Where to write the module."),
) -> None:
    """Write ssg.py: one row generator function per table from config.yaml, and the story
    generators (SRC_STATS is read by create-data from the inputs it verifies). Checks every
    generator name and argument against src-stats.yaml."""
    from synthgate_builder.ssg_render import write_ssg

    _warn(inputs)
    write_ssg(inputs.config, inputs.orm, inputs.stats, out, force, inputs.source)
    tables = sum(1 for t in inputs.orm.tables
                 if not inputs.config.table(t).ignore
                 and not inputs.config.table(t).vocabulary_table)
    stories = len(inputs.config.story_generators)
    typer.echo(f"wrote {out}: {tables} table generators, {stories} story generators")


# SqlSynthGen's older name of the command (its tutorials use it); hidden from --help
app.command("make-generators", hidden=True,
            help="Alias of create-generators (SqlSynthGen's name).")(create_generators)


@app.command("validate-config")
@with_inputs(config_optional=True)
def validate_config(inputs: BuilderInputs) -> None:
    """Check config.yaml against orm.yaml and src-stats.yaml without writing anything: keys,
    tables, columns, generator names and arguments, SRC_STATS references, statistics."""
    from synthgate_builder.ssg_render import validate_ssg

    _warn(inputs)
    # the user's modules are imported next to config.yaml and from the working directory
    validate_ssg(inputs.config, inputs.orm, inputs.stats,
                 inputs.config_file or Path("config.yaml"))
    generators = sum(len(inputs.config.table(t).row_generators) for t in inputs.orm.tables)
    typer.echo(f"config is valid: {len(inputs.orm.tables)} tables, {generators} row generators, "
               f"{len(inputs.stats)} statistics")
