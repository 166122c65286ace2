"""Builder command: review (the same report as the agent's)."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgate_builder.cli.app import ForceOption, app


@app.command()
def review(
    bundle: Path = typer.Argument(..., metavar="BUNDLE", help="The bundle.tar.gz."),
    trust: list[Path] = typer.Option(..., "--trust", help="The agent's public key "
                                     "(repeatable)."),
    require_approval: list[Path] = typer.Option(
        [], "--require-approval", help="Refuse the bundle unless one of these reviewer keys "
        "approved it; their approvals are checked (repeatable)."),
    out_dir: Path = typer.Option(Path("."), "--out-dir", help="Where to write the report."),
    force: bool = ForceOption,
) -> None:
    """Verify a bundle and write review.html and review.md."""
    from synthgate_shared.review import review_bundle

    html_path, md_path = review_bundle(bundle, trust, out_dir, require_approval, force)
    typer.echo(f"wrote {html_path} and {md_path}")
