"""The ``synthgate-agent`` command line: one thin module per step of the data flow."""

from __future__ import annotations

import sys

from synthgate_shared.cli import run_app

from synthgate_agent.cli import (  # noqa: F401 - importing registers the commands
    bundle,
    config,
    stats,
    tables,
    vocab,
)
from synthgate_agent.cli.app import app


def main() -> None:
    """Entry point of ``synthgate-agent``."""
    sys.exit(run_app(app, "synthgate-agent"))
