"""The ``synthgate-agent`` command line: one thin module per step of the data flow.

A command imports its step's modules when it runs, so that start-up (which counts in every
command's time, make-stats' above all) loads Typer and no database or SQL library.
"""

from __future__ import annotations

import sys

from synthgate_shared.cli import run_app

# isort: off
# Importing a module registers its commands; --help lists them in this order, the data flow's.
from synthgate_agent.cli import tables, config, stats, vocab, bundle  # noqa: F401
# isort: on
from synthgate_agent.cli.app import app


def main() -> None:
    """Entry point of ``synthgate-agent``."""
    sys.exit(run_app(app, "synthgate-agent"))
