"""Builder command: verify (check a bundle and print what it holds)."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgate_builder.cli.app import app


@app.command()
def verify(
    bundle: Path = typer.Argument(..., metavar="BUNDLE", help="The bundle.tar.gz to check."),
    trust: list[Path] = typer.Option(..., "--trust", help="The agent's public key "
                                     "(repeatable)."),
    require_approval: list[Path] = typer.Option(
        [], "--require-approval", help="Refuse the bundle unless one of these reviewer keys "
        "approved it (repeatable)."),
) -> None:
    """Check a bundle's signature, hashes and structure (and approval when asked), then print
    its files, tables, queries, privacy budget and approvals."""
    from synthgate_shared.bundle import verify_bundle
    from synthgate_shared.review import bundle_summary
    from synthgate_shared.signing import load_public_keys

    verified = verify_bundle(bundle, load_public_keys(trust), load_public_keys(require_approval))
    typer.echo(bundle_summary(verified))
