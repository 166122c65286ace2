"""Helpers of the security tests: crafted bundles signed with the agent's key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from synthgate_builder.cli import app
from synthgate_shared.bundle import write_signed_bundle
from synthgate_shared.cli import run_app
from synthgate_shared.signing import generate_keypair, load_private_key
from synthgate_shared.yamlio import dump_yaml


class Builder:
    """A working folder with the agent's keys; signs bundles and runs builder commands."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.capsys = capsys
        self.key, self.pub = generate_keypair(root / "keys" / "agent")
        self.count = 0

    def bundle(self, config: dict[str, Any] | str, orm: dict[str, Any],
               stats: dict[str, Any] | None = None) -> Path:
        """A bundle of these documents, signed with the agent's key, content unchecked."""
        self.count += 1
        folder = self.root / f"in{self.count}"
        folder.mkdir()
        docs = {"config.yaml": config if isinstance(config, str) else dump_yaml(config),
                "orm.yaml": dump_yaml(orm), "src-stats.yaml": dump_yaml(stats or {})}
        for name, text in docs.items():
            (folder / name).write_text(text)
        return write_signed_bundle(
            self.root / f"bundle{self.count}.tar.gz",
            {name: folder / name for name in docs}, load_private_key(self.key),
            agent_version="test", created_at=datetime(2026, 1, 1, tzinfo=UTC),
            source={"dialect": "sqlite"}, privacy={})

    def run(self, *argv: str | Path, bundle: Path | None = None) -> tuple[int, str]:
        """Exit code and stderr of one builder command on ``bundle``."""
        extra = ["--bundle", str(bundle), "--trust", str(self.pub)] if bundle else []
        code = run_app(app, "synthgate-builder", [*map(str, argv), *extra])
        return code, self.capsys.readouterr().err


def make_builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> Builder:
    """A ``Builder`` working in ``tmp_path`` (also the working directory), with no
    operator allow-list of modules."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("SYNTHGATE_ALLOW_MODULES", raising=False)
    return Builder(tmp_path, capsys)
