"""The ``synthgate-builder`` command line: one thin module per step of the data flow."""

from __future__ import annotations

import sys

from synthgate_shared.cli import run_app

from synthgate_builder.cli import (  # noqa: F401 - importing registers the commands
    data,
    generators,
    report,
    review,
    tables,
    verify,
    vocab,
)
from synthgate_builder.cli.app import app


def main() -> None:
    """Entry point of ``synthgate-builder``."""
    sys.exit(run_app(app, "synthgate-builder"))
