"""Loading ``ssg.py``: check the file without running it, run it with the statistics of the
inputs the command verified, and return what ``create-data`` needs of it as a typed view.

The checks come first (``check_ssg_text``): the text digest (the file as create-generators
wrote it), the fingerprint of the ``config.yaml`` and ``orm.yaml`` its code was made of,
its tree (``ssgcheck``), and that the modules it imports are local files. Then the file runs
with ``SRC_STATS`` bound to the given statistics (``ssg_runtime.given_stats``), and each
name ``create-data`` reads is looked up: a missing one is an error naming it.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import linecache
import random
import types
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from mimesis import Generic
from synthgate_shared.config import Config
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import check_stat_references
from synthgate_shared.orm import OrmModel

from synthgate_builder.ssg_render import made_from, render_ssg
from synthgate_builder.ssg_runtime import (
    Distribution,
    UniqueDraws,
    distribution_available,
    giving_stats,
    indexed_rows,
    stats_results,
)
from synthgate_builder.ssgcheck import (
    check_ssg_tree,
    check_user_modules,
    expected_from_config,
    search_path,
    text_digest,
    user_modules_beside,
)

_FIX = "run create-generators --force (with the inputs you build from)"
RowFunction = Callable[[Any], dict[str, Any]]
StoryFunction = Callable[[Any], Iterator[Any]]


@dataclasses.dataclass(frozen=True)
class SsgInputs:
    """The inputs a command runs ``ssg.py`` with: its code must have been made from their
    config and schema, and it runs with their statistics. ``source`` names them in errors
    (the bundle, or the loose files)."""

    config: Config
    model: OrmModel
    src_stats: dict[str, Any]
    source: str = "the inputs given"


@dataclasses.dataclass(frozen=True)
class SsgModule:
    """What ``create-data`` runs of a loaded ``ssg.py``."""

    where: str
    inputs_fingerprint: str  # of the config.yaml part and orm.yaml the code was made of
    made_from: str  # what create-generators was given (MADE_FROM)
    generic: Generic
    src_stats: dict[str, Any]  # name -> results, of the inputs the file was loaded with
    table_generators: Mapping[str, RowFunction]
    distributions: Mapping[str, tuple[Distribution, ...]]  # availability checked
    tables_using_dst_db_conn: frozenset[str]
    story_generators: tuple[StoryFunction, ...]
    unique_draws: tuple[UniqueDraws, ...]

    def check_made_for(self, config: Config, model: OrmModel) -> None:
        """Refuse a file whose code was made from another config.yaml or orm.yaml."""
        if self.inputs_fingerprint != made_from(config, model):
            raise SynthgateError(
                "ssg.py was made from another config.yaml or orm.yaml: from those of "
                f"{self.made_from}, not of the ones given", where=self.where, fix=_FIX)

    def start(self, seed: int | None, max_unique_tries: int) -> None:
        """Start a run: seed every random source a generator may use (Python, NumPy and
        Mimesis) when ``seed`` is given, and forget the unique values of an earlier run."""
        if seed is not None:
            random.seed(seed)
            np.random.seed(seed % 2**32)
            # seed the generators, not the providers: Mimesis refuses unique=True on seeded
            # providers
            self.generic.random.seed(seed)
            for name in dir(self.generic):
                provider = getattr(self.generic, name, None)
                if provider is not None and hasattr(provider, "random"):
                    provider.random.seed(seed)
        for draws in self.unique_draws:
            draws.restart(max_unique_tries)


def _recorded(tree: ast.Module, name: str) -> Any:
    """The constant a top-level ``name = <constant>`` of ``tree`` holds (None if none)."""
    for stmt in tree.body:
        if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
                and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets)):
            return stmt.value.value
    return None


def check_ssg_text(text: str, where: str, inputs: SsgInputs) -> ast.Module:
    """Parse ``ssg.py`` text and check it without running it: its text digest, the config
    and schema its code was made of, its tree, and that the modules it imports are local
    files; returns the tree to run."""
    try:
        tree = ast.parse(text, where)
    except SyntaxError as exc:
        raise SynthgateError(f"ssg.py is not valid Python ({exc.msg}, line {exc.lineno})",
                             where=where, fix=_FIX) from None
    if _recorded(tree, "TEXT_DIGEST") != text_digest(text):
        raise SynthgateError("ssg.py was edited after create-generators (or made by an older "
                             "version)", where=where, fix=_FIX + "; keep your own code in "
                             "row_generators_module")
    if _recorded(tree, "INPUTS_FINGERPRINT") != made_from(inputs.config, inputs.model):
        raise SynthgateError(
            "ssg.py was made from another config.yaml or orm.yaml: from those of "
            f"{_recorded(tree, 'MADE_FROM') or 'unknown inputs'}, not of {inputs.source}",
            where=where, fix=_FIX)
    expected = expected_from_config(inputs.config)
    modules = check_ssg_tree(tree, expected, where)
    check_user_modules(modules, search_path(Path(where)))
    return tree


def _required(namespace: dict[str, Any], name: str, kind: type | tuple[type, ...],
              where: str) -> Any:
    """``namespace[name]``, which must be there and of ``kind``."""
    if name not in namespace:
        raise SynthgateError(f"ssg.py has no {name}", where=where, fix=_FIX)
    value = namespace[name]
    if not isinstance(value, kind):
        raise SynthgateError(f"ssg.py's {name} is a {type(value).__name__}", where=where,
                             fix=_FIX)
    return value


def _distributions(listed: dict[str, Any], model: OrmModel, results: dict[str, Any],
                   where: str) -> dict[str, tuple[Distribution, ...]]:
    """The built-ins per table, each with whether its statistic has rows (one trial call)."""
    out: dict[str, tuple[Distribution, ...]] = {}
    for table, dists in listed.items():
        if table not in model.tables or not all(isinstance(d, Distribution) for d in dists):
            raise SynthgateError(f"ssg.py's DISTRIBUTIONS do not fit table {table!r}",
                                 where=where, fix=_FIX)
        out[table] = tuple(dataclasses.replace(d, available=distribution_available(
            d, model.table(table), results.get(d.stat))) for d in dists)
    return out


def _view(module: types.ModuleType, where: str, model: OrmModel,
          results: dict[str, Any]) -> SsgModule:
    """The typed view of a module that ran: every name create-data reads, checked."""
    ns = vars(module)
    return SsgModule(
        where=where,
        inputs_fingerprint=_required(ns, "INPUTS_FINGERPRINT", str, where),
        made_from=_required(ns, "MADE_FROM", str, where),
        generic=_required(ns, "generic", Generic, where),
        src_stats=_required(ns, "SRC_STATS", dict, where),
        table_generators=dict(_required(ns, "TABLE_GENERATORS", dict, where)),
        distributions=_distributions(_required(ns, "DISTRIBUTIONS", dict, where), model,
                                     results, where),
        tables_using_dst_db_conn=frozenset(_required(ns, "TABLES_USING_DST_DB_CONN", list,
                                                     where)),
        story_generators=tuple(_required(ns, "STORY_GENERATORS", list, where)),
        unique_draws=tuple(_required(ns, "UNIQUE_DRAWS", list, where)),
    )


def _run(code: types.CodeType, name: str, where: str, inputs: SsgInputs) -> SsgModule:
    """Run checked code as module ``name`` with the statistics of ``inputs`` and view it."""
    results = stats_results(inputs.src_stats)
    check_stat_references(inputs.config, available=results)
    module = types.ModuleType(name)
    module.__file__ = where
    try:
        with giving_stats(indexed_rows(results)):
            exec(code, module.__dict__)
    except SynthgateError:
        raise
    except Exception as exc:
        raise SynthgateError(f"cannot load ssg.py ({type(exc).__name__}: {exc})",
                             where=where, fix=_FIX) from None
    view = _view(module, where, inputs.model, results)
    if len(view.story_generators) != len(inputs.config.story_generators):
        raise SynthgateError("ssg.py does not list the story generators of config.yaml",
                             where=where, fix=_FIX)
    return view


def load_ssg(path: Path, inputs: SsgInputs) -> SsgModule:
    """Check ``ssg.py`` at ``path`` against ``inputs`` (``check_ssg_text``), then run it
    under a private name with their statistics; its folder and the working directory are
    searched for the user's modules."""
    path = Path(path)
    if not path.is_file():
        raise SynthgateError("ssg.py not found", where=str(path),
                             fix="run create-generators first, or pass --ssg-file")
    tree = check_ssg_text(path.read_text(encoding="utf-8"), str(path), inputs)
    name = f"_synthgate_ssg_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    with user_modules_beside(path):
        return _run(compile(tree, str(path), "exec"), name, str(path), inputs)


def ssg_from_text(text: str, inputs: SsgInputs, name: str = "ssg") -> SsgModule:
    """Run rendered ``ssg.py`` text (no file) with the statistics of ``inputs``."""
    filename = f"<{name}>"
    # tracebacks and row_generator_error read the lines of the row functions from here
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    return _run(compile(text, filename, "exec"), name, filename, inputs)


def ssg_for(config: Config, model: OrmModel, src_stats: dict[str, Any]) -> SsgModule:
    """Render ``ssg.py`` for ``config`` and ``model`` and run it in memory with
    ``src_stats`` (create-data without a file; the tests). Each built-in is trial-called
    once, by the loader."""
    return ssg_from_text(render_ssg(config, model, src_stats, trial=False),
                         SsgInputs(config, model, src_stats))
