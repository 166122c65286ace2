"""``ssg.py``: the readable Python module that ``create-data`` runs, rendered from ``config.yaml``.

Row generators follow SqlSynthGen: ``name`` is ``generic.<provider>.<method>`` (any Mimesis
provider), ``module.function`` or a plain function name of ``row_generators_module``;
``args``/``kwargs`` are constants, except the strings ``generic``, ``dst_db_conn`` and
``SRC_STATS["name"]``, which are references, and quoted Python strings such as
``'"@@##@@@@"'``, which are string constants. Everything is checked while rendering, so a
misspelt generator or argument fails before any row is written.

A Mimesis method given ``unique: true`` (``generic.person.email``) would make its values from
``uuid4``, which ``--seed`` does not reach: ``ssg.py`` calls it without ``unique``, from the
seeded ``generic``, through a ``UniqueDraws`` that draws again while a value repeats one
already made, so the same seed gives the same values.

This module also holds the helpers that a rendered ``ssg.py`` imports at run time.
"""

from __future__ import annotations

import ast
import collections.abc
import contextlib
import dataclasses
import difflib
import enum
import hashlib
import importlib
import inspect
import json
import keyword
import linecache
import math
import pprint
import re
import sys
import textwrap
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from mimesis import Choice, Generic
from mimesis.locales import Locale
from synthgate_shared.config import Config, RowGenerator, StoryGenerator
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import check_stat_references
from synthgate_shared.files import refuse_overwrite, write_text_atomic
from synthgate_shared.orm import OrmModel, Table

from synthgate_builder import compat
from synthgate_builder.distributions import (
    BUILTINS,
    CHILDREN,
    StatsUnavailable,
    children_per_parent,
    run_builtin,
)
from synthgate_builder.ssgcheck import (
    TEXT_DIGEST_LINE,
    Expected,
    callee_code,
    check_ssg_tree,
    check_user_module,
    check_user_modules,
    expected_from_config,
    inputs_fingerprint,
    search_path,
    text_digest,
)

_SRC_STATS_REF = re.compile(r"""^SRC_STATS\[\s*(?P<q>["'])(?P<name>[^"']+)(?P=q)\s*\]$""")
_PYTHON_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --- run-time helpers used by ssg.py -------------------------------------------------------

def assign_columns(value: Any, table: str, generator: str,
                   columns: tuple[str, ...]) -> dict[str, Any]:
    """Map a row generator's return value onto ``columns``; a wrong count is a clear error."""
    if len(columns) == 1:
        return {columns[0]: value}
    if not isinstance(value, tuple | list) or len(value) != len(columns):
        got = f"{len(value)} values" if isinstance(value, tuple | list) else "one value"
        raise SynthgateError(
            f"row generator {generator} returned {got} for the {len(columns)} columns "
            f"({', '.join(columns)}) of columns_assigned",
            where=f"table {table}",
            fix="return a tuple with one value per column, in the order of columns_assigned",
        )
    return dict(zip(columns, value, strict=True))


class StatsRow(dict[str, Any]):
    """A result row of ``SRC_STATS``: a dict by column name that also takes an integer index
    in column order, as SqlSynthGen's rows did (``row["n"]`` and ``row[0]``)."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int) and not isinstance(key, bool) and key not in self:
            values = list(self.values())
            if -len(values) <= key < len(values):
                return values[key]
            raise IndexError(f"row index {key} is out of range: the row has {len(values)} "
                             f"column(s) ({', '.join(map(str, self))})")
        return super().__getitem__(key)


def indexed_rows(src_stats: dict[str, Any]) -> dict[str, Any]:
    """``SRC_STATS`` with each result row (a mapping) as a ``StatsRow``."""
    return {name: [StatsRow(r) if isinstance(r, dict) else r for r in rows]
            if isinstance(rows, list) else rows for name, rows in src_stats.items()}


class UniqueDraws:
    """A Mimesis method that config.yaml gives ``unique: true``, called without it (so its
    values come from the seeded ``generic``): a value that repeats one made before in the run
    is drawn again, up to ``max_tries`` times in a row. The values made are kept as 64-bit
    hashes (two values with the same hash only cost a draw)."""

    def __init__(self, method: Callable[..., Any], where: str,
                 max_tries: int = Config().max_unique_constraint_tries) -> None:
        self.method = method
        self.where = where
        self.max_tries = max_tries
        self.made: set[int] = set()

    def restart(self, max_tries: int) -> None:
        """Start a run: forget the values made and allow ``max_tries`` draws per value."""
        self.made.clear()
        self.max_tries = max_tries

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for _ in range(self.max_tries):
            value = self.method(*args, **kwargs)
            key = hash(value)
            if key not in self.made:
                self.made.add(key)
                return value
        name = getattr(self.method, "__qualname__", repr(self.method))
        raise SynthgateError(
            f"{name} with unique: true repeated a value {self.max_tries} times in a row "
            f"(after {len(self.made)} distinct values)", where=self.where,
            fix="give it more values to draw from (e.g. more domains), lower "
            "num_rows_per_pass, or raise max-unique-constraint-tries")


@dataclasses.dataclass(frozen=True)
class Distribution:
    """A built-in ``synthgate.*`` generator of a table as ``ssg.py`` lists it: ``create-data``
    calls it once per batch of rows with ``SRC_STATS[stat]``, the columns and their types."""

    name: str
    columns: tuple[str, ...]
    stat: str
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)


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


# --- argument values --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Ref:
    """A reference in a generator argument: ``generic``, ``dst_db_conn`` or ``SRC_STATS[...]``."""

    code: str
    stat: str | None = None
    # compat hook: the value a SqlSynthGen/datafaker reference has while checking
    live: Callable[[dict[str, Any]], Any] | None = dataclasses.field(default=None, compare=False)


class _DstDbConn:
    """Stands in for the destination connection while arguments are checked."""


_Extra = Callable[[str], "compat.Parsed | None"] | None


def _parse_value(value: Any, extra: _Extra = None) -> Any:
    """Turn a config argument into constants and ``_Ref`` objects (``extra``: the
    SqlSynthGen/datafaker references of ``compat.References``)."""
    if isinstance(value, str):
        text = value.strip()
        found = extra(text) if extra is not None else None  # compat hook
        if found is not None:
            return _Ref(*found)
        if text in ("generic", "dst_db_conn"):
            return _Ref(text)
        match = _SRC_STATS_REF.match(text)
        if match:
            return _Ref(f"SRC_STATS[{match['name']!r}]", match["name"])
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            try:
                literal = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return value
            if isinstance(literal, str):
                return literal
        return value
    if isinstance(value, list):
        return [_parse_value(v, extra) for v in value]
    if isinstance(value, dict):
        return {k: _parse_value(v, extra) for k, v in value.items()}
    return value


def _render_value(value: Any) -> str:
    if isinstance(value, _Ref):
        return value.code
    if isinstance(value, list):
        return "[" + ", ".join(_render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_render_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _refs(value: Any) -> Iterator[_Ref]:
    if isinstance(value, _Ref):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _refs(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _refs(v)


def _live_value(value: Any, generic: Generic, src_stats: dict[str, Any]) -> Any:
    """The value an argument has at run time (a stand-in for the connection)."""
    if isinstance(value, _Ref):
        if value.live is not None:  # compat hook
            return value.live(src_stats)
        if value.stat is not None:
            return src_stats.get(value.stat)
        return generic if value.code == "generic" else _DstDbConn()
    if isinstance(value, list):
        return [_live_value(v, generic, src_stats) for v in value]
    if isinstance(value, dict):
        return {k: _live_value(v, generic, src_stats) for k, v in value.items()}
    return value


def _matches(value: Any, hint: Any) -> bool:
    """Whether a constant fits a type hint; unknown hints accept anything."""
    if hint is Any or hint is inspect.Parameter.empty or isinstance(
            value, _DstDbConn | compat.TableStandIn):
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return isinstance(value, hint)
    if origin in (list, tuple, collections.abc.Sequence, typing.Sequence):
        if isinstance(value, str) or not isinstance(value, list | tuple):
            return False
        args = typing.get_args(hint)
        return not args or all(_matches(v, args[0]) for v in value)
    return True


def _describe_hint(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _check_call(func: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
                what: str, where: str) -> None:
    """Bind arguments to ``func``'s signature and check constants against its type hints."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise SynthgateError(f"{what}: the arguments do not fit {signature} ({exc})",
                             where=where, fix="correct args/kwargs in config.yaml") from None
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable annotations in user code: nothing to check
        return
    for name, value in bound.arguments.items():
        hint = hints.get(name)
        kind = signature.parameters[name].kind
        if hint is None or kind in (inspect.Parameter.VAR_POSITIONAL,
                                    inspect.Parameter.VAR_KEYWORD):
            continue
        if not _matches(value, hint):
            raise SynthgateError(
                f"{what}: argument {name}={value!r} should be {_describe_hint(hint)}",
                where=where, fix="correct args/kwargs in config.yaml",
            )


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
    references: compat.References | None = None
    modules: dict[str, types.ModuleType] = dataclasses.field(default_factory=dict)

    def module(self, name: str, key: str) -> types.ModuleType:
        if name not in self.modules:
            self.modules[name] = _import_user_module(name, key, self.search)
        return self.modules[name]

    def resolve(self, name: str, module_key: str, module_name: str | None,
                where: str) -> tuple[str, Callable[..., Any]]:
        """The Python expression and the callable for a generator ``name``."""
        name = name.strip()
        found = compat.resolve_generator(name, where)  # compat hook
        if found is not None:
            return name, found
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

    def extra(self, where: str) -> _Extra:
        """The compat hook of ``_parse_value`` for arguments checked at ``where``."""
        refs = self.references
        return None if refs is None else (lambda text: refs.parse(text, where))

    def call_code(self, gen: RowGenerator | StoryGenerator, module_key: str,
                  module_name: str | None, where: str, callee: str | None = None) -> str:
        """Check one generator entry and render its call as Python source (a call of
        ``callee`` instead, with the same arguments, when given)."""
        code, func = self.resolve(gen.name, module_key, module_name, where)
        extra = self.extra(where)
        args = [_parse_value(a, extra) for a in gen.args]
        kwargs = {k: _parse_value(v, extra) for k, v in (gen.kwargs or {}).items()}
        for ref in _refs([args, kwargs]):
            if ref.stat is not None and ref.stat not in self.src_stats:
                close = difflib.get_close_matches(ref.stat, list(self.src_stats), n=1)
                raise SynthgateError(
                    f"{gen.name} uses SRC_STATS[{ref.stat!r}], but src-stats has no "
                    f"{ref.stat!r} (it has: {', '.join(sorted(self.src_stats)) or 'nothing'})",
                    where=where,
                    fix=f"did you mean SRC_STATS[{close[0]!r}]?" if close
                    else "add the query to src-stats in config.yaml and run make-stats",
                )
        _check_call(func, [_live_value(a, self.generic, self.src_stats) for a in args],
                    {k: _live_value(v, self.generic, self.src_stats) for k, v in kwargs.items()},
                    gen.name, where)
        parts = [_render_value(a) for a in args]
        parts += [f"{k}={_render_value(v)}" for k, v in kwargs.items()]
        return f"{callee or code}({', '.join(parts)})"


# --- rendering ------------------------------------------------------------------------------

def _python_name(table: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", table)
    if (not base or base[0].isdigit() or base in taken or keyword.iskeyword(base)
            or base.startswith("__")):
        base = f"table_{base}"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def stats_results(src_stats: dict[str, Any]) -> dict[str, Any]:
    """``SRC_STATS`` as SqlSynthGen has it: each src-stats name -> its results list."""
    out: dict[str, Any] = {}
    for name, entry in (src_stats or {}).items():
        out[str(name)] = entry.get("results", []) if isinstance(entry, dict) else entry
    return out


def _check_locale(locale: str) -> None:
    valid = [loc.value for loc in Locale]
    if locale not in valid:
        close = difflib.get_close_matches(locale, valid, n=1)
        raise SynthgateError(
            f"unknown Mimesis locale {locale!r}", where="config.yaml: locale",
            fix=f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(valid)}",
        )


def builtin_distribution(gen: RowGenerator, table: Table, src_stats: dict[str, Any],
                         where: str) -> Distribution:
    """Check a ``synthgate.*`` row generator against its statistic (a trial call for one
    row, so a statistic of the wrong shape fails here) and return how ``ssg.py`` lists it.
    A statistic whose rows were all suppressed passes: the defaults fill its columns."""
    if gen.args:
        raise SynthgateError(f"{gen.name} takes keyword arguments only", where=where,
                             fix="move args to kwargs (stats: SRC_STATS[\"<name>\"])")
    kwargs = {k: _parse_value(v) for k, v in gen.kwargs.items()}
    ref = kwargs.pop("stats", None)
    if not isinstance(ref, _Ref) or ref.stat is None:
        raise SynthgateError(f"{gen.name} needs kwargs stats: SRC_STATS[\"<name>\"]",
                             where=where, fix="name the statistic it follows")
    if any(True for _ in _refs(kwargs)):
        raise SynthgateError(f"{gen.name}: only stats may refer to SRC_STATS, generic or "
                             "dst_db_conn", where=where, fix="give the other kwargs as constants")
    dist = Distribution(gen.name, tuple(gen.columns), ref.stat, kwargs)
    stats = src_stats.get(ref.stat)
    rng = np.random.default_rng(0)
    try:
        if gen.name == CHILDREN:
            if not any(list(fk.columns) == gen.columns for fk in table.foreign_keys):
                raise SynthgateError(
                    f"{gen.name} assigns {', '.join(gen.columns)}, which is not a foreign key "
                    f"of table {table.name}", where=where,
                    fix="assign the columns of one foreign key, in its order")
            children_per_parent([], rng, stats, stat_name=ref.stat)
        else:
            run_builtin(gen.name, 1, rng, stats=stats, columns=gen.columns,
                        types=[table.column(c).type for c in gen.columns], stat_name=ref.stat,
                        **kwargs)
    except StatsUnavailable:
        pass
    except TypeError as exc:
        raise SynthgateError(f"{gen.name}: the kwargs do not fit ({exc})", where=where,
                             fix="correct kwargs in config.yaml") from None
    return dist


class _Literals(pprint.PrettyPrinter):
    """``pprint`` that writes NaN and infinities as ``float('nan')`` (``nan`` is no literal)."""

    def format(self, obj: object, context: dict[int, int], maxlevels: int,
               level: int) -> tuple[str, bool, bool]:
        if isinstance(obj, float) and not math.isfinite(obj):
            return f"float({repr(obj)!r})", True, False
        return super().format(obj, context, maxlevels, level)


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


def validate_ssg(config: Config, model: OrmModel, src_stats: dict[str, Any],
                 beside: Path) -> str:
    """``render_ssg`` without writing, the user's modules imported next to ``beside`` and
    from the working directory, as ``write_ssg`` imports them next to its output."""
    with _user_modules_beside(beside):
        return render_ssg(config, model, src_stats, search_path(beside))


def render_ssg(config: Config, model: OrmModel, src_stats: dict[str, Any],
               search: list[Path] | None = None) -> str:
    """Render ``ssg.py`` for ``config`` and ``model``; every generator name, argument and
    ``SRC_STATS`` reference is checked first, and errors name the table and column. User
    modules must be files of ``search`` (default: the working directory; see ``ssgcheck``).
    Every string from the inputs is written with ``repr``, and the rendered tree is checked
    to hold only what the renderer writes."""
    _check_locale(config.locale)
    stats = stats_results(src_stats)
    check_stat_references(config, available=stats)
    resolver = _Resolver(config, stats, Generic(locale=Locale(config.locale)),
                         search if search is not None else search_path(None),
                         compat.References(model))
    config_warnings(config, model)

    functions: list[str] = []
    table_entries: list[str] = []
    dist_entries: list[str] = []
    using_connection: list[str] = []
    unique_draws: dict[str, str] = {}  # ssg.py name -> the generator it calls
    taken = {"generic", "dst_db_conn", "SRC_STATS", "TABLE_GENERATORS", "STORY_GENERATORS",
             "DISTRIBUTIONS", "Distribution", "assign_columns", "datetime", "Generic",
             "UniqueDraws", "UNIQUE_DRAWS", "INPUTS_FINGERPRINT", "TEXT_DIGEST",
             "dist_gen", *compat.RUNTIME_HELPERS,
             *(m.split(".")[0] for m in (config.row_generators_module,
                                         config.story_generators_module) if m)}
    for name, table in model.tables.items():
        tconf = config.table(name)
        if tconf.ignore or tconf.vocabulary_table:
            continue
        body: list[str] = []
        assigned: set[str] = set()
        dists: list[str] = []
        by_dist = 0
        for gen in tconf.row_generators:
            columns = gen.columns
            where = f"table {name}, column(s) {', '.join(columns)}"
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
            if gen.name.strip() in BUILTINS:
                dists.append(f"        {builtin_distribution(gen, table, stats, where)!r},")
                by_dist += len(columns)
                continue
            plain = resolver.without_unique(gen, where)
            if plain is None:
                call = resolver.call_code(gen, "row_generators_module",
                                          config.row_generators_module, where)
            else:
                draws = _python_name(f"unique_{name}_{'_'.join(columns)}", taken)
                unique_draws[draws] = f"UniqueDraws({plain.name.strip()}, {where!r})"
                call = resolver.call_code(plain, "row_generators_module",
                                          config.row_generators_module, where, callee=draws)
            if any("dst_db_conn" in ref.code for ref in _refs(
                    _parse_value([gen.args, gen.kwargs], resolver.extra(where)))):
                using_connection.append(name)
            if len(columns) == 1:
                body.append(f"    row[{columns[0]!r}] = {call}")
            else:
                body.append(f"    row.update(assign_columns(\n        {call},\n"
                            f"        {name!r}, {gen.name!r}, {tuple(columns)!r},\n    ))")
        fname = _python_name(name, taken)
        functions += _table_function(name, fname, body, len(assigned) - by_dist)
        table_entries.append(f"    {name!r}: {fname},")
        if dists:
            dist_entries += [f"    {name!r}: [", *dists, "    ],"]

    stories: list[str] = []
    story_entries: list[str] = []
    for i, story in enumerate(config.story_generators):
        where = f"config.yaml: story_generators[{i}] ({story.name})"
        call = resolver.call_code(story, "story_generators_module",
                                  config.story_generators_module, where)
        fname = _python_name(f"story_{i}", taken)
        stories += [f"def {fname}(dst_db_conn):",
                    "    " + _docstring(f"Story generator {story.name.strip()} "
                                        f"({story.num_stories_per_pass} per pass in "
                                        "config.yaml)."), f"    return {call}", "", ""]
        story_entries.append(f"    {fname},")

    modules = [m for m in dict.fromkeys((config.row_generators_module,
                                         config.story_generators_module)) if m]
    keep = ", ".join(f"{k}: {m}" for k, m in (
        ("row_generators_module", config.row_generators_module),
        ("story_generators_module", config.story_generators_module)) if m)
    header = [
        '"""Synthetic data generators, generated by `synthgate-builder create-generators`.',
        "",
        "Do not edit: `create-generators --force` rewrites this file from config.yaml.",
        "Keep your own code in your own modules"
        + (f" ({keep})" if keep else " (row_generators_module, story_generators_module)")
        + ",",
        "and name their functions in config.yaml; regenerating never touches them.",
        '"""',
        "",
        "import datetime  # noqa: F401 - SRC_STATS may hold dates",
        "",
        "from mimesis import Generic",
        "",
        "from synthgate_builder.generators import (  # noqa: F401",
        "    Distribution, UniqueDraws, assign_columns, indexed_rows,",
        ")",
        "",
        *[f"import {m}  # noqa: E402" for m in modules],
        "",
        f"CONFIG_FINGERPRINT = {config_fingerprint(config)!r}",
        "# config.yaml, orm.yaml and src-stats.yaml this file was made from, and its own text:",
        "# create-data refuses the file when either does not match.",
        "INPUTS_FINGERPRINT = "
        f"{inputs_fingerprint(config_fingerprint(config), model, src_stats)!r}",
        f"{TEXT_DIGEST_LINE}''",
        "",
        f"generic = Generic(locale={config.locale!r})",
        "",
        *compat.header_lines(config, "\n".join([*functions, *stories])),  # compat hook
        "# Each src-stats query name -> its results (a list of rows), as in SqlSynthGen;",
        "# a row takes a column name or, in column order, an index (row['n'], row[0]).",
        "SRC_STATS = indexed_rows(" + _Literals(width=96, sort_dicts=False).pformat(stats) + ")",
        "",
        "# Mimesis generators given unique: true. Mimesis would make their values from uuid4,",
        "# which --seed does not reach, so these call them without unique (from the seeded",
        "# generic) and draw again while a value repeats one already made in the run.",
        *[f"{draws} = {declaration}" for draws, declaration in unique_draws.items()],
        f"UNIQUE_DRAWS = [{', '.join(unique_draws)}]",
        "",
        "",
    ]
    footer = [
        "# Table name -> its row generator function (tables not listed here are vocabulary",
        "# or ignored tables).",
        "TABLE_GENERATORS = {", *table_entries, "}",
        "",
        "# Built-in distributions (synthgate.*) per table: create-data calls each once per",
        "# batch of rows with SRC_STATS[stat], the columns and their types from orm.yaml",
        "# (children_per_parent picks foreign keys per parent). A statistic whose rows were",
        "# all suppressed leaves its columns to the default generators.",
        "DISTRIBUTIONS = {", *dist_entries, "}",
        "",
        "# Tables whose row generators are given dst_db_conn: create-data finishes the bulk",
        "# load in flight before it calls them, so they see every row inserted so far.",
        f"TABLES_USING_DST_DB_CONN = {sorted(set(using_connection))!r}",
        "",
        "# Story generators, in the order of story_generators in config.yaml.",
        "STORY_GENERATORS = [", *story_entries, "]",
        "",
    ]
    text = "\n".join([*header, *functions, *stories, *footer])
    try:
        tree = ast.parse(text, "ssg.py")
    except SyntaxError as exc:  # a constant that does not round-trip through repr
        raise SynthgateError(f"the rendered ssg.py is not valid Python ({exc.msg}, line "
                             f"{exc.lineno})", fix="report this as a bug") from None
    check_ssg_tree(tree, expected_from_config(config), "rendered ssg.py")
    return text.replace(f"{TEXT_DIGEST_LINE}''", f"{TEXT_DIGEST_LINE}{text_digest(text)!r}")


@dataclasses.dataclass(frozen=True)
class SsgInputs:
    """The inputs a command runs ``ssg.py`` with: the file must have been made from them."""

    config: Config
    model: OrmModel
    src_stats: dict[str, Any]


def _recorded(tree: ast.Module, name: str) -> Any:
    """The constant a top-level ``name = <constant>`` of ``tree`` holds (None if none)."""
    for stmt in tree.body:
        if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
                and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets)):
            return stmt.value.value
    return None


def check_ssg_text(text: str, where: str, inputs: SsgInputs | None = None) -> ast.Module:
    """Parse ``ssg.py`` text and check it without running it: its text digest, the inputs
    it was made from (when ``inputs`` is given), its tree, and that the modules it imports
    are local files; returns the tree to run."""
    fix = "run create-generators --force (with the inputs you build from)"
    try:
        tree = ast.parse(text, where)
    except SyntaxError as exc:
        raise SynthgateError(f"ssg.py is not valid Python ({exc.msg}, line {exc.lineno})",
                             where=where, fix=fix) from None
    if _recorded(tree, "TEXT_DIGEST") != text_digest(text):
        raise SynthgateError("ssg.py was edited after create-generators (or made by an older "
                             "version)", where=where, fix=fix + "; keep your own code in "
                             "row_generators_module")
    expected = expected_from_config(inputs.config) if inputs is not None else None
    if inputs is not None:
        made_from = inputs_fingerprint(config_fingerprint(inputs.config), inputs.model,
                                       inputs.src_stats)
        if _recorded(tree, "INPUTS_FINGERPRINT") != made_from:
            raise SynthgateError("ssg.py was made from another config.yaml, orm.yaml or "
                                 "src-stats.yaml than the ones given", where=where, fix=fix)
    modules = check_ssg_tree(tree, expected or Expected(), where)
    check_user_modules(modules, search_path(Path(where)))
    return tree


def load_ssg(path: Path, inputs: SsgInputs | None = None) -> types.ModuleType:
    """Import ``ssg.py`` from ``path`` under a private name, after ``check_ssg_text`` (made
    from ``inputs`` when given); its folder and the working directory are searched for
    the user's modules."""
    path = Path(path)
    if not path.is_file():
        raise SynthgateError("ssg.py not found", where=str(path),
                             fix="run create-generators first, or pass --ssg-file")
    tree = check_ssg_text(path.read_text(encoding="utf-8"), str(path), inputs)
    name = f"_synthgate_ssg_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    try:
        with _user_modules_beside(path):
            exec(compile(tree, str(path), "exec"), module.__dict__)
    except SynthgateError:
        raise
    except Exception as exc:
        raise SynthgateError(f"cannot load ssg.py ({type(exc).__name__}: {exc})",
                             where=str(path),
                             fix="run create-generators --force to regenerate it") from None
    return module


@contextlib.contextmanager
def _user_modules_beside(path: Path) -> Iterator[None]:
    """Let imports find the user's modules next to ``path`` and in the working directory."""
    added = [p for p in (str(Path(path).resolve().parent), "") if p not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for p in added:
            sys.path.remove(p)


def module_from_text(text: str, name: str = "ssg") -> types.ModuleType:
    """Execute rendered ``ssg.py`` text as a module (for running without a file)."""
    module = types.ModuleType(name)
    filename = f"<{name}>"
    # tracebacks and row_generator_error read the lines of the row functions from here
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    exec(compile(text, filename, "exec"), module.__dict__)
    return module


def _statement_columns(stmt: ast.stmt) -> list[str] | None:
    """The columns a row function statement assigns (``row[c] = ...`` or
    ``row.update(assign_columns(..., columns))``); None for any other statement."""
    if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Subscript)
            and isinstance(stmt.targets[0].slice, ast.Constant)):
        return [str(stmt.targets[0].slice.value)]
    if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and stmt.value.args and isinstance(stmt.value.args[0], ast.Call)
            and len(stmt.value.args[0].args) == 4):
        with contextlib.suppress(ValueError):
            return [str(c) for c in ast.literal_eval(stmt.value.args[0].args[3])]
    return None


def failed_columns(exc: BaseException, row_fn: Callable[..., Any]) -> list[str] | None:
    """The columns whose generator call in ``row_fn`` (a row function of ``ssg.py``) raised
    ``exc``; None when the traceback or the function's source does not tell."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code is row_fn.__code__:
            line = tb.tb_lineno
        tb = tb.tb_next
    try:
        source, first = inspect.getsourcelines(row_fn)
    except (OSError, TypeError):
        return None
    if line is None:
        return None
    func = ast.parse(textwrap.dedent("".join(source))).body[0]
    assert isinstance(func, ast.FunctionDef)
    for stmt in func.body:
        end = stmt.end_lineno or stmt.lineno
        if stmt.lineno + first - 1 <= line <= end + first - 1:
            return _statement_columns(stmt)
    return None


def row_generator_error(exc: Exception, row_fn: Callable[..., Any], table: str,
                        config: Config) -> SynthgateError:
    """One line for a row generator of ``table`` that raised ``exc``: the column(s), the
    generator as config.yaml names it (module-qualified) and the exception."""
    columns = failed_columns(exc, row_fn)
    gen = next((g for g in config.table(table).row_generators if g.columns == columns), None)
    if columns is None or gen is None:
        return SynthgateError(
            f"a row generator of table {table} failed ({type(exc).__name__}: {exc})",
            where="ssg.py", fix="check the row generators of this table in config.yaml")
    name = callee_code(gen.name, config.row_generators_module)
    return SynthgateError(f"generator {name} failed: {type(exc).__name__}: {exc}",
                          where=", ".join(f"{table}.{c}" for c in columns))


def write_ssg(config: Config, model: OrmModel, src_stats: dict[str, Any], out: Path,
              force: bool = False) -> str:
    """Render ``ssg.py`` and write it to ``out`` atomically (refusing to overwrite without
    ``force``); the user's modules are looked up next to ``out`` and in the working
    directory. Returns the text written."""
    out = Path(out)
    refuse_overwrite(out, force)
    with _user_modules_beside(out):
        text = render_ssg(config, model, src_stats, search_path(out))
    write_text_atomic(out, text)
    return text
