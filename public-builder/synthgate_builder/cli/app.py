"""The Typer application and the options shared by the builder's commands."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

app = typer.Typer(
    name="synthgate-builder",
    help="synthgate public builder: verify a bundle and build a synthetic database from it. "
    "Add --verbose to any command for a traceback on errors.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DsnOption = typer.Option(
    "", "--dsn", envvar="DST_DSN", show_default=False,
    help="Destination database URL (default: $DST_DSN or .env).",
)
SchemaOption = typer.Option(None, "--schema", envvar="DST_SCHEMA",
                            help="Destination schema (default: $DST_SCHEMA or the default).")
BundleOption = typer.Option(None, "--bundle", help="Read config, orm, stats and vocabulary "
                            "from this verified bundle.tar.gz.")
TrustOption = typer.Option(None, "--trust", help="The agent's public key (required with "
                           "--bundle).")
RequireApprovalOption = typer.Option(
    None, "--require-approval", help="Refuse the bundle unless this reviewer key approved it "
    "(repeatable).",
)
ConfigOption = typer.Option(Path("config.yaml"), "--config-file", help="config.yaml (without "
                            "--bundle).")
OrmOption = typer.Option(Path("orm.yaml"), "--orm-file", help="orm.yaml (without --bundle).")
StatsOption = typer.Option(Path("src-stats.yaml"), "--stats-file",
                           help="src-stats.yaml (without --bundle).")
VocabDirOption = typer.Option(Path("vocab"), "--vocab-dir", help="Folder of <table>.yaml[.gz] "
                              "vocabulary files (without --bundle).")
YesOption = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
ForceOption = typer.Option(False, "--force", help="Overwrite output files that exist.")


def destination_engine(dsn: str) -> Engine:
    """An engine for the destination DSN, checked to connect (one clear line when it cannot)."""
    # imported here, not at start-up: a command loads SQLAlchemy only when it connects
    from synthgate_shared.db import check_connection, create_engine_for, parse_dsn

    engine = create_engine_for(parse_dsn(dsn, "DST_DSN"))
    check_connection(engine)
    return engine


_INPUT_PARAMETERS = [
    ("bundle", Path | None, BundleOption),
    ("trust", list[Path] | None, TrustOption),
    ("require_approval", list[Path] | None, RequireApprovalOption),
    ("config_file", Path, ConfigOption),
    ("orm_file", Path, OrmOption),
    ("stats_file", Path, StatsOption),
]


def with_inputs(*, vocab: bool = False, config_optional: bool = True
                ) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command whose first parameter is ``inputs: BuilderInputs`` the input options every
    builder command shares (``--bundle/--trust/--require-approval``, or the loose files, and
    ``--vocab-dir`` when ``vocab``), and run it inside ``load_inputs`` (a missing config.yaml
    read as an empty one, as SqlSynthGen does, unless not ``config_optional``); the notes on
    the inputs are printed first."""
    shared = [*_INPUT_PARAMETERS, *([("vocab_dir", Path, VocabDirOption)] if vocab else [])]

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = list(inspect.signature(command, eval_str=True).parameters.values())[1:]
        params = own + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                          default=default, annotation=annotation)
                        for name, annotation, default in shared]

        @functools.wraps(command)
        def run(**kwargs: Any) -> None:
            from synthgate_builder.inputs import load_inputs

            given = {name: kwargs.pop(name) for name, _, _ in shared}
            with load_inputs(given["bundle"], given["trust"] or [],
                             given["require_approval"] or [], given["config_file"],
                             given["orm_file"], given["stats_file"],
                             given.get("vocab_dir", Path(".")),
                             config_optional=config_optional) as inputs:
                for note in inputs.notes:
                    typer.echo(f"note: {note}", err=True)
                command(inputs, **kwargs)

        # Typer reads the options from the signature and the type hints
        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}
        return run

    return decorate
