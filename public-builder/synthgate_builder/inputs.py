"""The builder's inputs: from a verified bundle, or (SqlSynthGen style) from loose files.

Every builder command reads its inputs here::

    with load_inputs(bundle, trust, require_approval, config_file, orm_file, stats_file,
                     vocab_dir) as inputs:
        ... inputs.config, inputs.orm, inputs.stats, inputs.vocab_files ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from synthgate_shared.bundle import VOCAB_FOLDER, VerifiedBundle, verify_bundle
from synthgate_shared.config import Config, load_config, load_config_text
from synthgate_shared.errors import SynthgateError
from synthgate_shared.files import temp_folder
from synthgate_shared.orm import OrmModel, load_orm, load_orm_text
from synthgate_shared.signing import load_public_keys
from synthgate_shared.srcstats import stats_from_data
from synthgate_shared.yamlio import load_yaml_file, load_yaml_text


class BuilderInputs:
    """The config, schema model and source statistics a command works from.

    ``vocab_files`` (table -> file) is looked up on first use; from a bundle, the
    vocabulary files are then extracted (hash-checked) into a temporary folder that
    ``load_inputs`` removes when its block ends.
    """

    def __init__(self, config: Config, orm: OrmModel, stats: dict[str, Any], vocab_dir: Path,
                 bundle: VerifiedBundle | None = None, config_file: Path | None = None,
                 notes: Sequence[str] = (), files: str = "the files given") -> None:
        self.config = config
        self.orm = orm
        self.stats = stats
        self.bundle = bundle
        self._vocab_dir = vocab_dir
        # the loose config.yaml read (None from a bundle): user modules may sit next to it
        self.config_file = config_file
        self.notes = list(notes)
        self._files = files

    @property
    def source(self) -> str:
        """How messages name these inputs: the bundle, or the loose files read."""
        return f"bundle {self.bundle.path}" if self.bundle is not None else self._files

    @cached_property
    def vocab_files(self) -> dict[str, Path]:
        """The vocabulary file of each vocabulary table of the config; missing ones are errors."""
        if self.bundle is not None:
            self.bundle.extract(self._vocab_dir.parent, list(self.bundle.vocab_files.values()))
        from synthgate_builder.vocab import vocab_files_in

        return vocab_files_in(self._vocab_dir, self.config)

    @property
    def vocab_sizes(self) -> dict[str, int]:
        """Table -> the decompressed size of its vocabulary file, where a bundle's signed
        manifest records one (loose files record none)."""
        if self.bundle is None:
            return {}
        recorded = self.bundle.uncompressed_sizes
        return {table: recorded[rel] for table, rel in self.bundle.vocab_files.items()
                if rel in recorded}

    @property
    def vocab_labels(self) -> dict[str, str]:
        """Table -> how errors name its vocabulary file (``bundle.tar.gz: vocab/x.yaml``
        from a bundle; loose files by their path)."""
        if self.bundle is None:
            return {}
        return {table: f"{self.bundle.path}: {rel}"
                for table, rel in self.bundle.vocab_files.items()}


def _stats_file(path: Path, config: Config) -> dict[str, Any]:
    if not Path(path).exists() and not config.src_stats:
        return {}  # nothing to measure, so no file is needed (as in SqlSynthGen)
    return stats_from_data(load_yaml_file(path), str(path))


@contextlib.contextmanager
def load_inputs(
    bundle: Path | None, trust: Sequence[Path], require_approval: Sequence[Path],
    config_file: Path, orm_file: Path, stats_file: Path, vocab_dir: Path,
    config_optional: bool = False,
) -> Iterator[BuilderInputs]:
    """The inputs of a builder command, valid inside the ``with`` block.

    With ``bundle``: it must verify against the ``trust`` keys (and carry an approval by
    one of the ``require_approval`` keys when given); the file options are ignored.
    Without: ``config_file``, ``orm_file``, ``stats_file`` and ``vocab_dir`` are read, and
    ``require_approval`` is refused, since loose files carry no approval. With
    ``config_optional``, a missing ``config_file`` is read as an empty config (as SqlSynthGen
    does), with a note saying so.
    """
    if bundle is None:
        if require_approval:
            raise SynthgateError("--require-approval needs --bundle: loose files carry no "
                                 "approval", fix="pass the approved bundle with --bundle")
        notes: list[str] = []
        if config_optional and not Path(config_file).exists():
            config = Config()
            notes.append(f"{config_file} not found; running with an empty config (defaults "
                         "for every table)")
        else:
            config = load_config(config_file)
        yield BuilderInputs(config, load_orm(orm_file), _stats_file(stats_file, config),
                            Path(vocab_dir), config_file=Path(config_file), notes=notes,
                            files=f"{config_file} and {orm_file}")
        return
    verified = verify_bundle(Path(bundle), load_public_keys(trust),
                             load_public_keys(require_approval))
    stats_where = f"{bundle}: src-stats.yaml"
    config = load_config_text(verified.text("config.yaml"), f"{bundle}: config.yaml")
    orm = load_orm_text(verified.text("orm.yaml"), f"{bundle}: orm.yaml")
    stats = stats_from_data(load_yaml_text(verified.text("src-stats.yaml"), stats_where),
                            stats_where)
    with temp_folder("synthgate-bundle-") as tmp:
        yield BuilderInputs(config, orm, stats, tmp / VOCAB_FOLDER, verified)
