"""``synthgate``: every command of ``synthgate-agent`` and ``synthgate-builder`` in one
program, for a workstation that holds both sides (the Docker images keep the two programs,
so that the private side never carries the builder nor the public side the agent).

A tutorial written for SqlSynthGen or datafaker runs with only its program name changed:
``synthgate make-tables``, ``synthgate create-generators``, ``synthgate create-data``...

Both programs have a ``review`` command; here it is the builder's, which writes the same
report as the agent's and also takes ``--require-approval``. No other name is in both.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import typer
from synthgate_agent.cli.app import app as agent_app
from synthgate_builder.cli.app import app as builder_app
from synthgate_shared.cli import run_app
from typer.main import get_command_name
from typer.models import CommandInfo

PROG = "synthgate"
# a command both programs have -> the program whose command `synthgate` runs
CLASHES = {"review": "builder"}


def command_name(info: CommandInfo) -> str:
    """The name a registered Typer command is called by."""
    if info.name:
        return info.name
    assert info.callback is not None
    return get_command_name(info.callback.__name__)


def combined_commands(agent: Iterable[CommandInfo], builder: Iterable[CommandInfo]
                      ) -> list[CommandInfo]:
    """The agent's commands, then the builder's, each name once (``CLASHES`` decides which
    program's command a shared name runs; a clash not listed there is an error)."""
    sides = {"agent": list(agent), "builder": list(builder)}
    names = {side: {command_name(c) for c in infos} for side, infos in sides.items()}
    shared = names["agent"] & names["builder"]
    unresolved = shared - set(CLASHES)
    if unresolved:
        raise RuntimeError(f"commands in both programs with no rule: {sorted(unresolved)}")
    return [info for side, infos in sides.items() for info in infos
            if command_name(info) not in shared or CLASHES[command_name(info)] == side]


def make_app() -> typer.Typer:
    """The ``synthgate`` Typer app."""
    app = typer.Typer(
        name=PROG,
        help="synthgate on a workstation: every synthgate-agent and synthgate-builder "
        "command in one program. Add --verbose to any command for a traceback on errors.",
        no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    app.registered_commands = combined_commands(agent_app.registered_commands,
                                                builder_app.registered_commands)
    return app


def main() -> None:
    """Entry point of ``synthgate``."""
    sys.exit(run_app(make_app(), PROG))
