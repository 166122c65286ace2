"""Agent command ``make-stats``: run the src-stats queries of config.yaml -> src-stats.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from synthgate_agent.cli.app import (
    AllowPrivilegedOption,
    ConfigOption,
    CsvDirOption,
    DsnOption,
    ForceOption,
    ParquetDirOption,
    SchemaOption,
    StatsOption,
    TimeoutOption,
    app,
)

if TYPE_CHECKING:
    from synthgate_agent.stats import QueryRun


def _report(run: QueryRun) -> None:
    suppressed = f", {run.suppressed} suppressed" if run.suppressed else ""
    typer.echo(f"{run.name}: {run.rows} rows{suppressed}, {run.seconds:.2f} s")
    for warning in run.warnings:
        typer.echo(f"  warning: {warning}", err=True)


@app.command("make-stats")
def make_stats(
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    config_file: Path = ConfigOption,
    stats_file: Path = StatsOption,
    force: bool = ForceOption,
    timeout: float | None = TimeoutOption,
    allow_privileged_role: bool = AllowPrivilegedOption,
    csv_dir: Path | None = CsvDirOption,
    parquet_dir: Path | None = ParquetDirOption,
) -> None:
    """Run each src-stats query of the config read only and write src-stats.yaml.

    dp-query entries run through SmartNoise SQL; plain ones lose rows below min-count (7).
    """
    from synthgate_agent.filesource import source_dsn_for
    from synthgate_agent.stats import make_stats_file

    with source_dsn_for(dsn, csv_dir, parquet_dir) as files:
        data = make_stats_file(files.dsn, schema, config_file, stats_file, force, timeout,
                               _report, allow_privileged=allow_privileged_role)
    typer.echo(f"wrote {stats_file} ({len(data)} queries)")
