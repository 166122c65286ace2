"""Agent commands: keygen, bundle, review, approve."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgate_agent.cli.app import ConfigOption, ForceOption, OrmOption, StatsOption, app


@app.command()
def keygen(
    out: Path = typer.Option(Path("agent"), "--out", help="Key file name without suffix: "
                             "writes <out>.pem (private, mode 0600) and <out>.pub."),
    force: bool = ForceOption,
) -> None:
    """Make an Ed25519 key pair for signing bundles (or approving them, as a reviewer)."""
    from synthgate_shared.signing import generate_keypair

    private_path, public_path = generate_keypair(out, force)
    typer.echo(f"wrote {private_path} (private, keep it secret) and {public_path} (public)")


@app.command()
def bundle(
    key: Path = typer.Option(..., "--key", help="The agent's private key (agent.pem)."),
    out: Path = typer.Option(Path("bundle.tar.gz"), "--out", help="The bundle to write."),
    config_file: Path = ConfigOption,
    orm_file: Path = OrmOption,
    stats_file: Path = StatsOption,
    vocab_dir: Path = typer.Option(Path("vocab"), "--vocab-dir",
                                   help="Folder of the <table>.yaml[.gz] vocabulary files."),
    force: bool = ForceOption,
) -> None:
    """Pack config.yaml, orm.yaml, src-stats.yaml and the vocabulary files into a signed
    bundle.tar.gz (the same inputs give the same bytes; SOURCE_DATE_EPOCH sets its time)."""
    from synthgate_agent.bundle import pack_bundle

    path = pack_bundle(out, key, config_file, orm_file, stats_file, vocab_dir, force=force)
    typer.echo(f"wrote {path} ({path.stat().st_size} bytes)")


@app.command()
def review(
    bundle_path: Path = typer.Argument(..., metavar="BUNDLE", help="The bundle.tar.gz."),
    trust: list[Path] = typer.Option(..., "--trust", help="The agent's public key (repeatable)."),
    out_dir: Path = typer.Option(Path("."), "--out-dir", help="Where to write the report."),
    force: bool = ForceOption,
) -> None:
    """Verify a bundle and write review.html and review.md for the reviewer."""
    from synthgate_shared.review import review_bundle

    html_path, md_path = review_bundle(bundle_path, trust, out_dir, force=force)
    typer.echo(f"wrote {html_path} and {md_path}")


@app.command()
def approve(
    bundle_path: Path = typer.Argument(..., metavar="BUNDLE", help="The bundle.tar.gz."),
    key: Path = typer.Option(..., "--key", help="The reviewer's private key (reviewer.pem)."),
) -> None:
    """Countersign a reviewed bundle's manifest (adds approvals/<key id>.sig, nothing else)."""
    from synthgate_shared.bundle import add_approval
    from synthgate_shared.signing import load_private_key

    member = add_approval(bundle_path, load_private_key(key))
    typer.echo(f"approved {bundle_path}: added {member}")
