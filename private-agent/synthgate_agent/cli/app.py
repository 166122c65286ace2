"""The Typer application and the options shared by the agent's commands."""

from __future__ import annotations

from pathlib import Path

import typer
from synthgate_shared.cli import finite_number

app = typer.Typer(
    name="synthgate-agent",
    help="synthgate private agent: read a source database (read only) into a signed, "
    "reviewable bundle. Add --verbose to any command for a traceback on errors.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DsnOption = typer.Option(
    "", "--dsn", envvar="SRC_DSN", show_default=False,
    help="Source database URL (default: $SRC_DSN or .env). The password is never written.",
)
SchemaOption = typer.Option(
    None, "--schema", envvar="SRC_SCHEMA", help="Source schema (default: $SRC_SCHEMA or the "
    "database's default schema).",
)
ConfigOption = typer.Option(Path("config.yaml"), "--config-file", help="The config.yaml to use.")
OrmOption = typer.Option(Path("orm.yaml"), "--orm-file", help="The orm.yaml to use.")
StatsOption = typer.Option(Path("src-stats.yaml"), "--stats-file", help="The src-stats.yaml.")
ForceOption = typer.Option(False, "--force", help="Overwrite output files that exist.")
TimeoutOption = typer.Option(
    None, "--timeout", callback=finite_number(minimum=0, inclusive=False),
    help="Statement timeout in seconds (default: config statement-timeout, "
    "or 300).",
)
AllowPrivilegedOption = typer.Option(
    False, "--allow-privileged-role", envvar="SYNTHGATE_ALLOW_PRIVILEGED_ROLE",
    help="Accept a source role that may do more than read (a superuser, file or program "
    "access, write grants); refused otherwise. A warning says what it may do.",
)
CsvDirOption = typer.Option(
    None, "--csv-dir", help="Read a folder of CSV files instead of a database: one table per "
    "file, keys guessed from the names and the data (confirm them in orm.yaml).",
)
ParquetDirOption = typer.Option(
    None, "--parquet-dir", help="Read a folder of Parquet files instead of a database (as "
    "--csv-dir).",
)
