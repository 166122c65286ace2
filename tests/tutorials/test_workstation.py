"""The one ``synthgate`` program of a workstation (workstation/): every agent and builder
command under one name, the images keeping their two (issue 15)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from synthgate_agent.cli.app import app as agent_app
from synthgate_builder.cli.app import app as builder_app
from synthgate_workstation.cli import CLASHES, combined_commands, command_name, make_app
from typer.models import CommandInfo

ROOT = Path(__file__).resolve().parents[2]
SYNTHGATE = ROOT / ".venv" / "bin" / "synthgate"


def _names(infos: list[CommandInfo]) -> list[str]:
    return [command_name(c) for c in infos]


def test_every_command_of_both_programs_is_there_once() -> None:
    agent = _names(agent_app.registered_commands)
    builder = _names(builder_app.registered_commands)
    combined = _names(make_app().registered_commands)
    assert sorted(combined) == sorted(set(agent) | set(builder))
    assert len(combined) == len(set(combined))
    assert set(agent) & set(builder) == set(CLASHES) == {"review"}


def test_review_is_the_builders_which_also_takes_require_approval() -> None:
    review = next(c for c in make_app().registered_commands if command_name(c) == "review")
    assert review.callback is not None
    assert review.callback.__module__ == "synthgate_builder.cli.review"


def test_a_clash_with_no_rule_is_refused() -> None:
    def keygen() -> None:
        """A second keygen."""

    try:
        combined_commands(agent_app.registered_commands, [CommandInfo(callback=keygen)])
    except RuntimeError as exc:
        assert "keygen" in str(exc)
    else:
        raise AssertionError("the clash was not refused")


def test_the_program_runs_commands_of_both_sides_and_their_errors_name_it(
        tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    helped = subprocess.run([str(SYNTHGATE), "--help"], capture_output=True, text=True,
                            env=env, cwd=tmp_path, check=False)
    assert helped.returncode == 0
    for command in ("make-tables", "make-stats", "create-generators", "create-data",
                    "remove-vocab", "approve"):
        assert command in helped.stdout
    keys = subprocess.run([str(SYNTHGATE), "keygen", "--out", "agent"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, check=False)
    assert keys.returncode == 0, keys.stderr
    assert (tmp_path / "agent.pub").is_file()
    failed = subprocess.run([str(SYNTHGATE), "make-generators"], capture_output=True,
                            text=True, env=env, cwd=tmp_path, check=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith("synthgate: error: ") and "orm.yaml" in failed.stderr


def test_the_images_do_not_install_the_workstation_program() -> None:
    for dockerfile in (ROOT / "private-agent" / "Dockerfile",
                       ROOT / "public-builder" / "Dockerfile"):
        assert "workstation" not in dockerfile.read_text()
