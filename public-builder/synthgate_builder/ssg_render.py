"""``ssg.py``: the readable Python module that ``create-data`` runs, rendered from ``config.yaml``
and ``orm.yaml`` (code only: the statistics come at run time, see ``ssg_runtime``).

Row generators follow SqlSynthGen: ``name`` is ``generic.<provider>.<method>`` (any Mimesis
provider), ``module.function`` or a plain function name of ``row_generators_module``; their
arguments are read by ``ssg_args``. Everything is checked while rendering, against the
statistics at hand, so a misspelt generator or argument fails before any row is written.

A Mimesis method given ``unique: true`` (``generic.person.email``) would make its values from
``uuid4``, which ``--seed`` does not reach: ``ssg.py`` calls it without ``unique``, from the
seeded ``generic``, through a ``UniqueDraws`` that draws again while a value repeats one
already made, so the same seed gives the same values.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import hashlib
import importlib
import inspect
import json
import keyword
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mimesis import Choice, Generic
from mimesis.locales import Locale
from synthgate_shared.config import Config, RowGenerator, StoryGenerator, TableConfig
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import check_stat_references
from synthgate_shared.files import refuse_overwrite, write_text_atomic
from synthgate_shared.orm import OrmModel, Table

from synthgate_builder.distributions import BUILTINS, CHILDREN
from synthgate_builder.ssg_args import (
    Ref,
    check_call,
    live_value,
    parse_value,
    refs,
    render_value,
)
from synthgate_builder.ssg_runtime import Distribution, distribution_available, stats_results
from synthgate_builder.ssgcheck import (
    RESERVED,
    RUNTIME_MODULE,
    TEXT_DIGEST_LINE,
    check_ssg_tree,
    check_user_module,
    expected_from_config,
    inputs_fingerprint,
    search_path,
    text_digest,
    user_modules_beside,
)

_PYTHON_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def config_fingerprint(config: Config) -> str:
    """A hash of the parts of the config that ``ssg.py`` is rendered from (not the row counts)."""
    data = {
        "locale": config.locale,
        "row_generators_module": config.row_generators_module,
        "story_generators_module": config.story_generators_module,
        "story_generators": [
            {"name": s.name, "args": s.args, "kwargs": s.kwargs} for s in config.story_generators
        ],
        "tables": {
            name: [g.model_dump() for g in t.row_generators]
            for name, t in sorted(config.tables.items())
            if not t.ignore and not t.vocabulary_table
        },
    }
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def made_from(config: Config, model: OrmModel) -> str:
    """The fingerprint ``ssg.py`` records of the inputs its code is made of: the parts of
    ``config.yaml`` it is rendered from and ``orm.yaml`` (not the statistics, which
    create-data reads from the inputs it verified)."""
    return inputs_fingerprint(config_fingerprint(config), model)


# --- resolving generator names ----------------------------------------------------------------

def _mimesis_names(generic: Generic) -> list[str]:
    names: list[str] = []
    for provider_name in dir(generic):
        provider = getattr(generic, provider_name)
        if callable(provider) and not inspect.isroutine(provider):
            names.append(f"generic.{provider_name}")
        for method in dir(provider):
            if not method.startswith("_") and inspect.isroutine(getattr(provider, method)):
                names.append(f"generic.{provider_name}.{method}")
    return names


def _import_user_module(name: str, key: str, search: list[Path]) -> types.ModuleType:
    check_user_module(name, key, search)
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise SynthgateError(
            f"cannot import module {name!r} named by {key} ({exc})",
            where="config.yaml",
            fix=f"put {name}.py in the working directory or next to ssg.py",
        ) from None


@dataclasses.dataclass
class _Resolver:
    """Resolves generator names to callables and checks calls, for one config."""

    config: Config
    src_stats: dict[str, Any]
    generic: Generic
    search: list[Path]
    modules: dict[str, types.ModuleType] = dataclasses.field(default_factory=dict)

    def module(self, name: str, key: str) -> types.ModuleType:
        if name not in self.modules:
            self.modules[name] = _import_user_module(name, key, self.search)
        return self.modules[name]

    def resolve(self, name: str, module_key: str, module_name: str | None,
                where: str) -> tuple[str, Callable[..., Any]]:
        """The Python expression and the callable for a generator ``name``."""
        name = name.strip()
        if name.startswith("generic."):
            return name, self._mimesis(name, where)
        module_part, _, func_name = name.rpartition(".")
        if not module_part:
            if module_name is None:
                raise SynthgateError(
                    f"generator {name!r} is not a Mimesis provider and no {module_key} is set",
                    where=where, fix=f"write generic.<provider>.<method>, or set {module_key}",
                )
            module_part = module_name
        elif module_part != module_name:
            known = ", ".join(m for m in (self.config.row_generators_module,
                                          self.config.story_generators_module) if m)
            if module_part not in (self.config.row_generators_module,
                                   self.config.story_generators_module):
                raise SynthgateError(
                    f"generator {name!r} names module {module_part!r}, which the config "
                    f"does not declare (declared: {known or 'none'})",
                    where=where, fix=f"set {module_key}: {module_part} in config.yaml",
                )
        module = self.module(module_part, module_key)
        func = getattr(module, func_name, None)
        if not callable(func):
            public = [n for n in dir(module) if not n.startswith("_")
                      and callable(getattr(module, n))]
            close = difflib.get_close_matches(func_name, public, n=1)
            raise SynthgateError(
                f"module {module_part} has no function {func_name!r}", where=where,
                fix=f"did you mean {module_part}.{close[0]}?" if close
                else f"define {func_name} in {module_part}.py",
            )
        return f"{module_part}.{func_name}", func

    def _mimesis(self, name: str, where: str) -> Callable[..., Any]:
        obj: Any = self.generic
        for part in name.split(".")[1:]:
            obj = getattr(obj, part, None) if _PYTHON_NAME.match(part) else None
            if obj is None or part.startswith("_"):
                break
        if obj is None or not callable(obj) or name.count(".") > 2:
            close = difflib.get_close_matches(name, _mimesis_names(self.generic), n=1, cutoff=0.5)
            raise SynthgateError(
                f"there is no Mimesis provider method {name!r}", where=where,
                fix=f"did you mean {close[0]}?" if close
                else "see https://mimesis.name/master/api.html for the providers",
            )
        return typing.cast(Callable[..., Any], obj)

    def without_unique(self, gen: RowGenerator, where: str) -> RowGenerator | None:
        """``gen`` without its ``unique`` argument when it is a Mimesis method given
        ``unique=True`` that means distinct values across calls (not ``choice``, whose
        ``unique`` means distinct items in one sequence); None otherwise."""
        if not gen.name.strip().startswith("generic."):
            return None
        func = self.resolve(gen.name, "row_generators_module", None, where)[1]
        try:
            params = list(inspect.signature(func).parameters)
        except (TypeError, ValueError):
            return None
        if isinstance(func, Choice) or "unique" not in params:
            return None
        at = params.index("unique")
        args, kwargs = list(gen.args), dict(gen.kwargs)
        if len(args) > at:  # given by position: the arguments after it go by name
            unique = args[at]
            kwargs.update(zip(params[at + 1:], args[at + 1:], strict=False))
            args = args[:at]
        else:
            unique = kwargs.pop("unique", None)
        if unique is not True:
            return None
        return gen.model_copy(update={"args": args, "kwargs": kwargs})

    def call_code(self, gen: RowGenerator | StoryGenerator, module_key: str,
                  module_name: str | None, where: str, callee: str | None = None) -> str:
        """Check one generator entry and render its call as Python source (a call of
        ``callee`` instead, with the same arguments, when given)."""
        code, func = self.resolve(gen.name, module_key, module_name, where)
        args = [parse_value(a) for a in gen.args]
        kwargs = {k: parse_value(v) for k, v in (gen.kwargs or {}).items()}
        for ref in refs([args, kwargs]):
            if ref.stat is not None and ref.stat not in self.src_stats:
                close = difflib.get_close_matches(ref.stat, list(self.src_stats), n=1)
                raise SynthgateError(
                    f"{gen.name} uses SRC_STATS[{ref.stat!r}], but src-stats has no "
                    f"{ref.stat!r} (it has: {', '.join(sorted(self.src_stats)) or 'nothing'})",
                    where=where,
                    fix=f"did you mean SRC_STATS[{close[0]!r}]?" if close
                    else "add the query to src-stats in config.yaml and run make-stats",
                )
        check_call(func, [live_value(a, self.generic, self.src_stats) for a in args],
                    {k: live_value(v, self.generic, self.src_stats) for k, v in kwargs.items()},
                    gen.name, where)
        parts = [render_value(a) for a in args]
        parts += [f"{k}={render_value(v)}" for k, v in kwargs.items()]
        return f"{callee or code}({', '.join(parts)})"


# --- rendering ------------------------------------------------------------------------------

def _python_name(table: str, taken: set[str]) -> str:
    """A Python name for ``table`` that no other name of the file takes."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", table)
    if (not base or base[0].isdigit() or base in taken or keyword.iskeyword(base)
            or base.startswith("__")):
        base = f"table_{base}"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _check_locale(locale: str) -> None:
    valid = [loc.value for loc in Locale]
    if locale not in valid:
        close = difflib.get_close_matches(locale, valid, n=1)
        raise SynthgateError(
            f"unknown Mimesis locale {locale!r}", where="config.yaml: locale",
            fix=f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(valid)}",
        )


def builtin_distribution(gen: RowGenerator, table: Table, src_stats: dict[str, Any],
                         where: str, trial: bool = True) -> Distribution:
    """Check a ``synthgate.*`` row generator against its statistic (with ``trial``, a trial
    call for one row, so a statistic of the wrong shape fails here) and return how
    ``ssg.py`` lists it. A statistic whose rows were all suppressed passes: the defaults
    fill its columns."""
    if gen.args:
        raise SynthgateError(f"{gen.name} takes keyword arguments only", where=where,
                             fix="move args to kwargs (stats: SRC_STATS[\"<name>\"])")
    kwargs = {k: parse_value(v) for k, v in gen.kwargs.items()}
    ref = kwargs.pop("stats", None)
    if not isinstance(ref, Ref) or ref.stat is None:
        raise SynthgateError(f"{gen.name} needs kwargs stats: SRC_STATS[\"<name>\"]",
                             where=where, fix="name the statistic it follows")
    if any(True for _ in refs(kwargs)):
        raise SynthgateError(f"{gen.name}: only stats may refer to SRC_STATS, generic or "
                             "dst_db_conn", where=where, fix="give the other kwargs as constants")
    if gen.name == CHILDREN and not any(list(fk.columns) == gen.columns
                                        for fk in table.foreign_keys):
        raise SynthgateError(
            f"{gen.name} assigns {', '.join(gen.columns)}, which is not a foreign key "
            f"of table {table.name}", where=where,
            fix="assign the columns of one foreign key, in its order")
    dist = Distribution(gen.name, tuple(gen.columns), ref.stat, kwargs)
    if trial:
        distribution_available(dist, table, src_stats.get(ref.stat))
    return dist


def _docstring(text: str) -> str:
    """``text`` as a Python string literal: triple-quoted when that is safe, else repr."""
    if text.isascii() and text.isprintable() and not any(c in text for c in '"\\'):
        return f'"""{text}"""'
    return repr(text)


def _table_function(table: str, fname: str, body: list[str], count: int) -> list[str]:
    lines = [f"def {fname}(dst_db_conn):",
             "    " + _docstring(f"Row generators of table {table} ({count} column(s); "
                                 "defaults fill the rest).")]
    if not body:
        return [*lines, "    return {}", "", ""]
    return [*lines, "    row = {}", *body, "    return row", "", ""]


def _partition_parent(name: str, model: OrmModel) -> tuple[str, bool] | None:
    """The table of ``model`` that partition ``name`` was folded into, and whether orm.yaml
    records it (else it is a guess from the name: the longest table name it extends with
    ``_``, as Pagila's payment_p2022_01 extends payment, for an orm.yaml that predates the
    record)."""
    recorded = next((t for t, table in model.tables.items() if name in table.partitions), None)
    if recorded is not None:
        return recorded, True
    prefixes = [t for t in model.tables if name.startswith(f"{t}_")]
    return (max(prefixes, key=len), False) if prefixes else None


def config_warnings(config: Config, model: OrmModel) -> list[str]:
    """Warnings for what config.yaml sets that synthgate accepts but does not act on: the
    SqlSynthGen keys it ignores, entries of partitions that orm.yaml folded into their
    parent, and ``ignore``-only entries of tables orm.yaml does not have. An entry with
    other settings of a table orm.yaml does not have is an error (a misspelt name)."""
    warnings = config.ignored_keys()
    for tname, tconf in config.tables.items():
        if tname in model.tables:
            continue
        where = f"config.yaml: tables.{tname}"
        parent = _partition_parent(tname, model)
        if parent is not None and parent[1]:
            warnings.append(f"{where}: {tname} is a partition that orm.yaml folded into table "
                            f"{parent[0]}; its rows are made as rows of {parent[0]}, so this "
                            f"entry is ignored (configure {parent[0]} instead)")
            continue
        guess = (f" (a partition of {parent[0]}? make-tables folds partitions into their "
                 f"parent, whose rows this entry does not change)") if parent else ""
        if not tconf.model_dump(exclude_defaults=True, exclude={"ignore"}):
            warnings.append(f"{where}: orm.yaml has no table {tname}{guess}; the entry has "
                            "nothing to act on and is ignored")
            continue
        close = difflib.get_close_matches(tname, list(model.tables), n=1)
        raise SynthgateError(
            f"config.yaml names table {tname!r}, which orm.yaml does not have{guess}",
            where=where,
            fix=f"did you mean {close[0]!r}?" if close else "remove it from config.yaml",
        )
    return warnings


@dataclasses.dataclass
class _Rendering:
    """The parts of ``ssg.py`` as they are rendered, table by table, then the stories."""

    config: Config
    resolver: _Resolver
    taken: set[str]
    trial: bool
    functions: list[str] = dataclasses.field(default_factory=list)
    table_entries: list[str] = dataclasses.field(default_factory=list)
    dist_entries: list[str] = dataclasses.field(default_factory=list)
    using_connection: set[str] = dataclasses.field(default_factory=set)
    unique_draws: dict[str, str] = dataclasses.field(default_factory=dict)  # name -> its call

    def table(self, name: str, table: Table, tconf: TableConfig) -> None:
        """The row function of ``table`` and its built-in distributions."""
        body: list[str] = []
        assigned: set[str] = set()
        dists: list[str] = []
        by_dist = 0
        for gen in tconf.row_generators:
            where = f"table {name}, column(s) {', '.join(gen.columns)}"
            _check_columns(name, table, gen.columns, assigned)
            if gen.name.strip() in BUILTINS:
                dist = builtin_distribution(gen, table, self.resolver.src_stats, where,
                                            self.trial)
                dists.append(f"        {dist!r},")
                by_dist += len(gen.columns)
                continue
            call = self._row_call(name, gen, where)
            if any(ref.code == "dst_db_conn" for ref in refs(parse_value([gen.args,
                                                                          gen.kwargs]))):
                self.using_connection.add(name)
            if len(gen.columns) == 1:
                body.append(f"    row[{gen.columns[0]!r}] = {call}")
            else:
                body.append(f"    row.update(assign_columns(\n        {call},\n"
                            f"        {name!r}, {gen.name!r}, {tuple(gen.columns)!r},\n    ))")
        fname = _python_name(name, self.taken)
        self.functions += _table_function(name, fname, body, len(assigned) - by_dist)
        self.table_entries.append(f"    {name!r}: {fname},")
        if dists:
            self.dist_entries += [f"    {name!r}: [", *dists, "    ],"]

    def _row_call(self, name: str, gen: RowGenerator, where: str) -> str:
        """The call of one row generator, through a ``UniqueDraws`` for ``unique: true``."""
        module = self.config.row_generators_module
        plain = self.resolver.without_unique(gen, where)
        if plain is None:
            return self.resolver.call_code(gen, "row_generators_module", module, where)
        draws = _python_name(f"unique_{name}_{'_'.join(gen.columns)}", self.taken)
        self.unique_draws[draws] = f"UniqueDraws({plain.name.strip()}, {where!r})"
        return self.resolver.call_code(plain, "row_generators_module", module, where,
                                       callee=draws)

    def stories(self) -> tuple[list[str], list[str]]:
        """The story functions and the entries of ``STORY_GENERATORS``."""
        stories: list[str] = []
        entries: list[str] = []
        for i, story in enumerate(self.config.story_generators):
            where = f"config.yaml: story_generators[{i}] ({story.name})"
            call = self.resolver.call_code(story, "story_generators_module",
                                           self.config.story_generators_module, where)
            fname = _python_name(f"story_{i}", self.taken)
            stories += [f"def {fname}(dst_db_conn):",
                        "    " + _docstring(f"Story generator {story.name.strip()} "
                                            f"({story.num_stories_per_pass} per pass in "
                                            "config.yaml)."), f"    return {call}", "", ""]
            entries.append(f"    {fname},")
        return stories, entries


def _check_columns(name: str, table: Table, columns: list[str], assigned: set[str]) -> None:
    """Refuse a column that ``table`` does not have or that another generator assigns."""
    for column in columns:
        if column not in table.column_names:
            close = difflib.get_close_matches(column, table.column_names, n=1)
            raise SynthgateError(
                f"columns_assigned names column {column!r}, which table {name} "
                "does not have", where=f"config.yaml: tables.{name}",
                fix=f"did you mean {close[0]!r}?" if close else None,
            )
        if column in assigned:
            raise SynthgateError(f"column {column!r} is assigned by two row generators",
                                 where=f"config.yaml: tables.{name}")
        assigned.add(column)


def _modules(config: Config) -> list[str]:
    """The user modules ``ssg.py`` imports, each once."""
    return [m for m in dict.fromkeys((config.row_generators_module,
                                      config.story_generators_module)) if m]


def _header(config: Config, model: OrmModel, source: str,
            unique_draws: dict[str, str]) -> list[str]:
    """The docstring, imports, fingerprints, ``generic``, ``SRC_STATS`` and unique draws."""
    keep = ", ".join(f"{k}: {m}" for k, m in (
        ("row_generators_module", config.row_generators_module),
        ("story_generators_module", config.story_generators_module)) if m)
    return [
        '"""Synthetic data generators, generated by `synthgate-builder create-generators`.',
        "",
        "Do not edit: `create-generators --force` rewrites this file from config.yaml.",
        "Keep your own code in your own modules"
        + (f" ({keep})" if keep else " (row_generators_module, story_generators_module)")
        + ",",
        "and name their functions in config.yaml; regenerating never touches them.",
        '"""',
        "",
        "import datetime  # noqa: F401 - constants may hold dates",
        "",
        "from mimesis import Generic",
        "",
        f"from {RUNTIME_MODULE} import (  # noqa: F401",
        "    Distribution, UniqueDraws, assign_columns, given_stats,",
        ")",
        "",
        *[f"import {m}  # noqa: E402" for m in _modules(config)],
        "",
        "# The config.yaml (the parts this file is rendered from) and orm.yaml it was made",
        "# from, and its own text: create-data refuses the file when either does not match.",
        f"INPUTS_FINGERPRINT = {made_from(config, model)!r}",
        f"MADE_FROM = {source!r}",
        f"{TEXT_DIGEST_LINE}''",
        "",
        f"generic = Generic(locale={config.locale!r})",
        "",
        "# Each src-stats query name -> its results (a list of rows), as in SqlSynthGen; a row",
        "# takes a column name or, in column order, an index (row['n'], row[0]). create-data",
        "# gives them from the src-stats.yaml it verified: this file holds no statistics.",
        "SRC_STATS = given_stats()",
        "",
        "# Mimesis generators given unique: true. Mimesis would make their values from uuid4,",
        "# which --seed does not reach, so these call them without unique (from the seeded",
        "# generic) and draw again while a value repeats one already made in the run.",
        *[f"{draws} = {declaration}" for draws, declaration in unique_draws.items()],
        f"UNIQUE_DRAWS = [{', '.join(unique_draws)}]",
        "",
        "",
    ]


def _footer(rendering: _Rendering, story_entries: list[str]) -> list[str]:
    """The tables of row functions, distributions, connection users and stories."""
    return [
        "# Table name -> its row generator function (tables not listed here are vocabulary",
        "# or ignored tables).",
        "TABLE_GENERATORS = {", *rendering.table_entries, "}",
        "",
        "# Built-in distributions (synthgate.*) per table: create-data calls each once per",
        "# batch of rows with SRC_STATS[stat], the columns and their types from orm.yaml",
        "# (children_per_parent picks foreign keys per parent). A statistic whose rows were",
        "# all suppressed leaves its columns to the default generators.",
        "DISTRIBUTIONS = {", *rendering.dist_entries, "}",
        "",
        "# Tables whose row generators are given dst_db_conn: create-data finishes the bulk",
        "# load in flight before it calls them, so they see every row inserted so far.",
        f"TABLES_USING_DST_DB_CONN = {sorted(rendering.using_connection)!r}",
        "",
        "# Story generators, in the order of story_generators in config.yaml.",
        "STORY_GENERATORS = [", *story_entries, "]",
        "",
    ]


def _with_digest(text: str, config: Config) -> str:
    """``text`` parsed and checked as create-data will check it, with its text digest."""
    try:
        tree = ast.parse(text, "ssg.py")
    except SyntaxError as exc:  # a constant that does not round-trip through repr
        raise SynthgateError(f"the rendered ssg.py is not valid Python ({exc.msg}, line "
                             f"{exc.lineno})", fix="report this as a bug") from None
    check_ssg_tree(tree, expected_from_config(config), "rendered ssg.py")
    return text.replace(f"{TEXT_DIGEST_LINE}''", f"{TEXT_DIGEST_LINE}{text_digest(text)!r}")


def render_ssg(config: Config, model: OrmModel, src_stats: dict[str, Any],
               search: list[Path] | None = None, source: str = "the inputs given",
               trial: bool = True) -> str:
    """Render ``ssg.py`` for ``config`` and ``model``; every generator name, argument and
    ``SRC_STATS`` reference is checked first against ``src_stats``, and errors name the
    table and column. User modules must be files of ``search`` (default: the working
    directory; see ``ssgcheck``). ``source`` says in the file what it was made from. Every
    string from the inputs is written with ``repr``, and the rendered tree is checked to
    hold only what the renderer writes. ``trial=False`` leaves the trial calls of the
    built-ins to the loader (``ssg_for`` loads the text at once with the same statistics)."""
    _check_locale(config.locale)
    stats = stats_results(src_stats)
    check_stat_references(config, available=stats)
    resolver = _Resolver(config, stats, Generic(locale=Locale(config.locale)),
                         search if search is not None else search_path(None))
    config_warnings(config, model)
    rendering = _Rendering(config, resolver, set(RESERVED) | {
        m.split(".")[0] for m in _modules(config)}, trial)
    for name, table in model.tables.items():
        tconf = config.table(name)
        if not tconf.ignore and not tconf.vocabulary_table:
            rendering.table(name, table, tconf)
    stories, story_entries = rendering.stories()
    text = "\n".join([*_header(config, model, source, rendering.unique_draws),
                      *rendering.functions, *stories, *_footer(rendering, story_entries)])
    return _with_digest(text, config)


def validate_ssg(config: Config, model: OrmModel, src_stats: dict[str, Any],
                 beside: Path) -> str:
    """``render_ssg`` without writing, the user's modules imported next to ``beside`` and
    from the working directory, as ``write_ssg`` imports them next to its output."""
    with user_modules_beside(beside):
        return render_ssg(config, model, src_stats, search_path(beside))


def write_ssg(config: Config, model: OrmModel, src_stats: dict[str, Any], out: Path,
              force: bool = False, source: str = "the inputs given") -> str:
    """Render ``ssg.py`` and write it to ``out`` atomically (refusing to overwrite without
    ``force``); the user's modules are looked up next to ``out`` and in the working
    directory. Returns the text written."""
    out = Path(out)
    refuse_overwrite(out, force)
    with user_modules_beside(out):
        text = render_ssg(config, model, src_stats, search_path(out), source)
    write_text_atomic(out, text)
    return text
