"""The ``synthgate-builder`` command line: one thin module per step of the data flow."""

from __future__ import annotations

import sys

from synthgate_shared.cli import run_app

# isort: off
# Importing a module registers its commands; --help lists them in this order, the data flow's.
from synthgate_builder.cli import verify, review, ssg, tables, vocab, data, report, dump  # noqa: F401
# isort: on
from synthgate_builder.cli.app import app


def main() -> None:
    """Entry point of ``synthgate-builder``."""
    sys.exit(run_app(app, "synthgate-builder"))
