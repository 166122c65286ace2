"""Packing the agent's outputs into the signed bundle that crosses the air gap."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from synthgate_shared.bundle import VOCAB_FOLDER, creation_time, write_signed_bundle
from synthgate_shared.config import load_config
from synthgate_shared.errors import SynthgateError
from synthgate_shared.files import refuse_overwrite
from synthgate_shared.orm import load_orm
from synthgate_shared.signing import load_private_key
from synthgate_shared.srcstats import privacy_summary, stats_from_data
from synthgate_shared.vocabfile import find_vocab_file
from synthgate_shared.yamlio import load_yaml_file

from synthgate_agent import __version__


def pack_bundle(
    out_path: Path, key_path: Path, config_file: Path, orm_file: Path, stats_file: Path,
    vocab_dir: Path, *, force: bool = False, created_at: datetime | None = None,
) -> Path:
    """Write ``out_path``: config, orm, source statistics and the vocabulary files of the
    tables the config names, with a manifest signed by the key at ``key_path``.

    Every input is validated first; a vocabulary table without its file is an error naming
    it. The creation time is ``created_at``, else ``SOURCE_DATE_EPOCH``, else the newest
    input's modification time, so the same inputs give the same bytes. The role
    ``make-tables`` read the source as (orm.yaml) goes into the manifest's ``source_role``.
    """
    refuse_overwrite(Path(out_path), force)
    private_key = load_private_key(key_path)
    config = load_config(config_file)
    orm = load_orm(orm_file)
    stats = stats_from_data(load_yaml_file(stats_file), str(stats_file))
    files = {"config.yaml": Path(config_file), "orm.yaml": Path(orm_file),
             "src-stats.yaml": Path(stats_file)}
    for table in config.vocabulary_tables():
        found = find_vocab_file(Path(vocab_dir), table)
        if found is None:
            raise SynthgateError(
                f"vocabulary table {table!r} has no file {table}.yaml[.gz]",
                where=str(vocab_dir), fix="run `synthgate-agent make-vocab` first",
            )
        files[f"{VOCAB_FOLDER}/{found.name}"] = found
    source = asdict(orm.source)
    role = {"name": source.pop("role"), "privileged": source.pop("privileged_role")}
    return write_signed_bundle(
        Path(out_path), files, private_key, agent_version=__version__,
        created_at=creation_time(list(files.values()), created_at),
        source=source, privacy=privacy_summary(stats, str(stats_file)),
        source_role=role if role["name"] is not None else None,
    )
