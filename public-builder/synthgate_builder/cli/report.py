"""Builder command ``report``: fidelity of the synthetic database against src-stats.yaml."""

from __future__ import annotations

from pathlib import Path

import typer
from synthgate_shared.cli import finite_number
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import THRESHOLDS

from synthgate_builder.cli.app import (
    DsnOption,
    SchemaOption,
    app,
    with_inputs,
)
from synthgate_builder.inputs import BuilderInputs


@app.command("report")
@with_inputs()
def report_command(
    inputs: BuilderInputs,
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    out_dir: Path = typer.Option(Path("."), "--out-dir", help="Where report.html and "
                                 "report.md are written."),
    scale: float = typer.Option(1.0, "--scale",
                                callback=finite_number(minimum=0, inclusive=False),
                                help="The --scale of create-data: row counts "
                                "are compared with this many times the source's."),
    fail_under: list[str] = typer.Option(
        [], "--fail-under", help="KEY=VALUE: exit non-zero when the figure is above VALUE "
        f"(KEY: {', '.join(THRESHOLDS)}); repeatable."),
    run_record: Path | None = typer.Option(
        None, "--run-record", help="The file create-data --run-record wrote: its seed and "
        "time go into the report's header."),
) -> None:
    """Compare the synthetic database with the source statistics of src-stats.yaml (no access
    to the source): distances per column, children per parent, correlations, keys."""
    from rich.console import Console
    from rich.table import Table
    from synthgate_shared.db import create_engine_for, mask_dsn, parse_dsn

    from synthgate_builder.report import parse_thresholds, run_report
    from synthgate_builder.runrecord import read_run_record, report_facts

    thresholds = parse_thresholds(fail_under)
    ignored = {n for n, t in inputs.config.tables.items() if t.ignore}
    record = read_run_record(run_record) if run_record is not None else None
    engine = create_engine_for(parse_dsn(dsn, "DST_DSN"))
    facts = report_facts(inputs, mask_dsn(engine.url), scale, record)
    report, problems = run_report(engine, schema, inputs.orm, inputs.stats, out_dir,
                                  thresholds, ignored, scale, inputs.config.vocabulary_tables(),
                                  facts)
    table = Table(title="synthgate fidelity report")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in report.summary().items():
        table.add_row(THRESHOLDS[key], "n/a" if value is None else f"{value:.4g}")
    console = Console()
    console.print(table)
    console.print(f"{len(report.metrics)} comparisons, {len(report.skipped)} statistics not "
                  f"compared; wrote {out_dir / 'report.html'} and {out_dir / 'report.md'}")
    if problems:
        raise SynthgateError("fidelity below the --fail-under thresholds: " + "; ".join(problems))
