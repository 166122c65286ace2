"""Builder commands: create-data and remove-data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from synthgate_shared.cli import finite_number

from synthgate_builder.cli.app import (
    DsnOption,
    SchemaOption,
    YesOption,
    app,
    with_inputs,
)
from synthgate_builder.inputs import BuilderInputs

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from synthgate_builder.populate import DataSummary


@app.command("create-data")
@with_inputs(vocab=True)
def create_data_command(
    inputs: BuilderInputs,
    num_passes: int = typer.Option(1, "--num-passes", min=1, help="Passes to run; each adds "
                                   "num_rows_per_pass rows per table in one transaction."),
    scale: float | None = typer.Option(
        None, "--scale", callback=finite_number(minimum=0, inclusive=False),
        help="Make round(F x the source's row count) rows per table in each "
        "pass instead of num_rows_per_pass (counts from src-stats.yaml). Use it with one pass "
        "(the default) to get children per parent as in the source."),
    seed: int | None = typer.Option(None, "--seed", help="Seed: the same seed gives the same "
                                    "rows."),
    ssg_file: Path = typer.Option(Path("ssg.py"), "--ssg-file", help="The generator module "
                                  "written by create-generators."),
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    dst_dir: Path | None = typer.Option(
        None, "--dst-dir", help="No database: write every table (vocabulary too) into this "
        "folder as files instead (built in a temporary DuckDB file, keys checked there)."),
    fmt: str = typer.Option("parquet", "--format", help="With --dst-dir: parquet or csv."),
    force: bool = typer.Option(False, "--force", help="With --dst-dir: replace a non-empty "
                               "folder."),
    run_record: Path | None = typer.Option(
        None, "--run-record", help="Write what was made (bundle, destination, scale, seed, "
        "time; no secret) into this JSON file, for report --run-record."),
) -> None:
    """Fill the destination's tables with synthetic rows (not the vocabulary tables)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from synthgate_shared.db import create_engine_for, mask_dsn, parse_dsn

    from synthgate_builder.populate import create_data
    from synthgate_builder.ssg_load import SsgInputs, load_ssg

    # checked against the inputs in use before any line of it runs, then run with their
    # statistics (those of the verified bundle, or of the files given)
    ssg = load_ssg(ssg_file, SsgInputs(inputs.config, inputs.orm, inputs.stats, inputs.source))

    def generate(engine: Engine) -> DataSummary:
        with Progress(
                TextColumn("create-data"), BarColumn(), MofNCompleteColumn(),
                TextColumn("passes"), TimeElapsedColumn(), console=Console(stderr=True),
                transient=True) as progress:
            task = progress.add_task("passes", total=num_passes)
            return create_data(engine, inputs.orm, inputs.config, ssg, num_passes, seed,
                               schema, scale=scale,
                               progress=lambda done: progress.update(task, completed=done))

    if dst_dir is not None:
        from synthgate_builder.dump import create_data_files

        summary, dumped = create_data_files(inputs.orm, inputs.config, inputs.vocab_files,
                                            dst_dir, fmt.lower(), force, generate)
        where = f"{len(dumped)} files in {dst_dir}"
    else:
        engine = create_engine_for(parse_dsn(dsn, "DST_DSN"))
        summary = generate(engine)
        where = mask_dsn(engine.url)
    _report(inputs, summary, where, run_record, scale, seed)


def _report(inputs: BuilderInputs, summary: DataSummary, where: str, run_record: Path | None,
            scale: float | None, seed: int | None) -> None:
    """Write the run record (with --run-record), then print create-data's notes (on
    stderr), rows per table and totals."""
    if run_record is not None:
        from synthgate_builder.runrecord import write_run_record

        write_run_record(run_record, inputs, where, scale, seed, summary.passes, summary.total)
    for note in summary.notes:
        typer.echo(f"note: {note}", err=True)
    for name, rows in summary.rows.items():
        typer.echo(f"{name}: {rows} rows")
    typer.echo(f"{summary.total} rows in {summary.passes} pass(es), {summary.seconds:.1f} s "
               f"({summary.rows_per_second:,.0f} rows/s) into {where}")


@app.command("remove-data")
@with_inputs()
def remove_data_command(
    inputs: BuilderInputs,
    yes: bool = YesOption,
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
) -> None:
    """Delete every row of the generated tables (vocabulary tables are kept), children
    first. Asks first unless --yes."""
    from synthgate_shared.db import create_engine_for, mask_dsn, parse_dsn

    from synthgate_builder.populate import remove_data

    engine = create_engine_for(parse_dsn(dsn, "DST_DSN"))
    if not yes:
        typer.confirm(f"Delete the rows of the generated tables in {mask_dsn(engine.url)}?",
                      abort=True)
    deleted = remove_data(engine, inputs.orm, inputs.config, schema)
    typer.echo(f"deleted {sum(deleted.values())} rows from {len(deleted)} tables")
