"""What ``ssg.py`` may hold, checked before it runs: bundle content is data, never code.

``ssg.py`` is rendered from ``config.yaml``, ``orm.yaml`` and ``src-stats.yaml``, which come
from a bundle. Three checks keep their strings from becoming code on the builder:

- ``check_user_module``: a ``row_generators_module``/``story_generators_module`` must be a
  file (``name.py`` or a package folder) next to ``ssg.py`` or in the working directory, not
  a standard-library or installed module (``os``, ``subprocess``, ``builtins``...), unless
  the builder's operator names it in ``SYNTHGATE_ALLOW_MODULES`` (comma-separated), which a
  bundle cannot set.
- ``check_ssg_tree``: the parsed file may hold only what the renderer writes: its imports,
  assignments of constants, the row and story functions, and calls of the helpers, of
  ``generic.*`` and of the functions that ``config.yaml`` names.
- ``inputs_fingerprint`` and ``text_digest``: the file records the digest of the inputs its
  code is made of (``config.yaml``'s part and ``orm.yaml``) and of its own text, so one made
  from another bundle, or edited, is refused. It holds no statistics: ``SRC_STATS`` is
  bound at run time to those of the inputs the command verified (``ssg_load``).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import importlib.machinery
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from synthgate_shared.config import Config
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel, orm_to_data

ALLOW_MODULES_ENV = "SYNTHGATE_ALLOW_MODULES"
TEXT_DIGEST_LINE = "TEXT_DIGEST = "
# names the rendered file binds or imports itself; a user module may not take them
HELPERS = frozenset({"Distribution", "UniqueDraws", "assign_columns", "given_stats"})
RESERVED = frozenset({"float", "generic", "dst_db_conn", "SRC_STATS", "TABLE_GENERATORS",
                      "STORY_GENERATORS", "DISTRIBUTIONS", "UNIQUE_DRAWS", "datetime", "Generic",
                      "row", "mimesis", "synthgate_builder", "MADE_FROM",
                      "INPUTS_FINGERPRINT", "TEXT_DIGEST", "TABLES_USING_DST_DB_CONN", *HELPERS})
RUNTIME_MODULE = "synthgate_builder.ssg_runtime"  # what the file imports its helpers from
_FROM_IMPORTS = {"mimesis": {"Generic"}, RUNTIME_MODULE: set(HELPERS)}
_DATETIME_CALLS = frozenset({"date", "datetime", "time", "timedelta", "timezone"})
_NODES = (ast.Module, ast.Expr, ast.Import, ast.ImportFrom, ast.alias, ast.Assign,
          ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.Name, ast.Load, ast.Store,
          ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.Call, ast.keyword,
          ast.Attribute, ast.Subscript, ast.UnaryOp, ast.USub, ast.UAdd)


def allowed_modules() -> frozenset[str]:
    """Modules the operator allows besides local files (``SYNTHGATE_ALLOW_MODULES``)."""
    return frozenset(m.strip() for m in os.environ.get(ALLOW_MODULES_ENV, "").split(",")
                     if m.strip())


def check_user_module(name: str, key: str, search: Sequence[Path]) -> None:
    """Refuse, before anything is imported, a module that is not a local file of ``search``
    (or is shadowed by a module already loaded from elsewhere), unless allow-listed."""
    if name in allowed_modules() or name.split(".")[0] in allowed_modules():
        return
    top = name.split(".")[0]
    fix = (f"put {top}.py next to ssg.py or in the working directory, or allow it with "
           f"{ALLOW_MODULES_ENV}={name} on the builder")
    where = f"config.yaml: {key}"
    if top in RESERVED:
        raise SynthgateError(f"module {name!r} named by {key} clashes with a name ssg.py "
                             "uses", where=where, fix=f"rename {top}.py")
    if top in sys.stdlib_module_names:
        raise SynthgateError(f"module {name!r} named by {key} is a standard-library module, "
                             "not a generator module", where=where, fix=fix)
    dirs = [str(Path(p).resolve()) for p in search]
    loaded = sys.modules.get(top)
    if loaded is not None:
        file = getattr(loaded, "__file__", None)
        if file is None or not any(_inside(Path(file), Path(d)) for d in dirs):
            raise SynthgateError(f"module {name!r} named by {key} is an installed module, "
                                 "not a local file", where=where, fix=fix)
        return
    if importlib.machinery.PathFinder.find_spec(top, dirs) is None:
        raise SynthgateError(f"cannot import module {name!r} named by {key}: no such file "
                             "next to ssg.py or in the working directory", where=where, fix=fix)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder)


def search_path(beside: Path | None) -> list[Path]:
    """Where user modules are looked up: the folder of ``beside`` and the working directory
    (without ``beside``, as for a Python caller: also the folders that the calling program
    put on ``sys.path``, but none of the interpreter's, so no standard or installed module)."""
    if beside is not None:
        return [Path(beside).resolve().parent, Path.cwd()]
    own = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                       sys.base_exec_prefix)}
    added = [Path(p).resolve() for p in sys.path if p]
    return [Path.cwd(), *(p for p in added
                          if p.is_dir() and not any(p.is_relative_to(o) for o in own))]


@contextlib.contextmanager
def user_modules_beside(path: Path) -> Iterator[None]:
    """Let imports find the user's modules next to ``path`` and in the working directory."""
    added = [p for p in (str(Path(path).resolve().parent), "") if p not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for p in added:
            sys.path.remove(p)


# --- fingerprints ---------------------------------------------------------------------------

def inputs_fingerprint(config_fp: str, model: OrmModel) -> str:
    """A hash of what ``ssg.py``'s code is made of: the config's part and orm.yaml."""
    data = {"config": config_fp, "orm": orm_to_data(model)}
    text = json.dumps(data, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def text_digest(text: str) -> str:
    """The digest of ``ssg.py`` text, its own ``TEXT_DIGEST`` line left out."""
    lines = [line for line in text.splitlines() if not line.startswith(TEXT_DIGEST_LINE)]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32]


# --- the tree -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Expected:
    """What a file rendered from one config may import and call (None: not known)."""

    modules: frozenset[str] | None = None
    callees: frozenset[str] | None = None


def callee_code(name: str, module: str | None) -> str:
    """The Python expression ``ssg.py`` calls for generator ``name`` of ``module``."""
    name = name.strip()
    if name.startswith("generic.") or "." in name or module is None:
        return name
    return f"{module}.{name}"


def expected_from_config(config: Config) -> Expected:
    """The imports and calls that a file rendered from ``config`` holds."""
    modules = frozenset(m for m in (config.row_generators_module,
                                    config.story_generators_module) if m)
    callees = {callee_code(g.name, config.row_generators_module)
               for t in config.tables.values() for g in t.row_generators}
    callees |= {callee_code(s.name, config.story_generators_module)
                for s in config.story_generators}
    return Expected(modules, frozenset(callees))


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


class _Refused(Exception):
    pass


@dataclasses.dataclass
class _TreeCheck:
    expected: Expected
    imported: set[str] = dataclasses.field(default_factory=set)
    defined: set[str] = dataclasses.field(default_factory=set)
    draws: set[str] = dataclasses.field(default_factory=set)  # the UniqueDraws of the file

    def refuse(self, node: ast.AST, what: str) -> None:
        raise _Refused(f"line {getattr(node, 'lineno', '?')}: {what}")

    def module(self, tree: ast.Module) -> None:
        for stmt in tree.body:
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                self.import_(stmt)
            elif isinstance(stmt, ast.Assign):
                names = {t.id for t in stmt.targets if isinstance(t, ast.Name)}
                self.defined |= names
                if isinstance(stmt.value, ast.Call) and _dotted(stmt.value.func) == "UniqueDraws":
                    self.draws |= names
            elif isinstance(stmt, ast.FunctionDef):
                self.defined.add(stmt.name)
        nodes = list(ast.walk(tree))
        for node in nodes:  # the kinds of code first, then their details
            if not isinstance(node, _NODES):
                self.refuse(node, f"{type(node).__name__} code, which create-generators "
                            "never writes")
        for node in nodes:
            self.node(node, tree)

    def import_(self, stmt: ast.Import | ast.ImportFrom) -> None:
        if isinstance(stmt, ast.ImportFrom):
            if stmt.level or stmt.module not in _FROM_IMPORTS or any(
                    a.asname or a.name not in _FROM_IMPORTS[stmt.module] for a in stmt.names):
                self.refuse(stmt, f"an import from {stmt.module!r} that create-generators "
                            "does not write")
            return
        for alias in stmt.names:
            user = self.expected.modules
            if alias.asname or not (alias.name == "datetime" or user is None
                                    or alias.name in user):
                self.refuse(stmt, f"an import of {alias.name!r} that config.yaml does not name")
            if alias.name != "datetime":
                self.imported.add(alias.name)

    def node(self, node: ast.AST, tree: ast.Module) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom) and node not in tree.body:
            self.refuse(node, "an import inside a function")
        elif isinstance(node, ast.FunctionDef):
            self.function(node, tree)
        elif isinstance(node, ast.Expr) and not (
                (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str))
                or (isinstance(node.value, ast.Call) and _dotted(node.value.func) == "row.update")):
            self.refuse(node, "a statement create-generators never writes")
        elif isinstance(node, ast.Name):
            self.name(node)
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            self.refuse(node, f"the private attribute {node.attr!r}")
        elif isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, ast.Subscript) and not (
                isinstance(node.value, ast.Name) and node.value.id in ("SRC_STATS", "row")
                and isinstance(node.slice, ast.Constant)):
            self.refuse(node, "a subscript other than SRC_STATS[...] or row[...]")
        elif isinstance(node, ast.Dict) and None in node.keys:
            self.refuse(node, "a ** in a dict")
        elif isinstance(node, ast.Assign):
            self.assign(node)

    def assign(self, node: ast.Assign) -> None:
        """Names, ``row[...]``, and ``SRC_STATS`` only as the statistics given at run time."""
        for target in node.targets:
            if isinstance(target, ast.Subscript) and _dotted(target.value) == "row":
                continue
            if isinstance(target, ast.Name) and (target.id != "SRC_STATS" or (
                    isinstance(node.value, ast.Call) and not node.value.args
                    and _dotted(node.value.func) == "given_stats")):
                continue
            self.refuse(node, "an assignment create-generators never writes")

    def function(self, node: ast.FunctionDef, tree: ast.Module) -> None:
        args = node.args
        if (node not in tree.body or node.decorator_list or node.returns
                or getattr(node, "type_params", None)
                or [a.arg for a in args.args] != ["dst_db_conn"] or args.posonlyargs
                or args.kwonlyargs or args.vararg or args.kwarg or args.defaults
                or any(a.annotation for a in args.args)):
            self.refuse(node, f"function {node.name} is not a row or story function of "
                        "create-generators")

    def name(self, node: ast.Name) -> None:
        if node.id.startswith("__"):
            self.refuse(node, f"the name {node.id!r}")
        known = self.defined | {m.split(".")[0] for m in self.imported} | RESERVED
        if isinstance(node.ctx, ast.Load) and node.id not in known:
            self.refuse(node, f"the name {node.id!r}, which create-generators never writes")

    def call(self, node: ast.Call) -> None:
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords):
            self.refuse(node, "a call with * or ** arguments")
        target = _dotted(node.func)
        if target is None:
            self.refuse(node, "a call of something other than a name")
        assert target is not None
        root, _, rest = target.partition(".")
        if target == "float" and [type(a) for a in node.args] == [ast.Constant]:
            return  # float('nan') in SRC_STATS
        if target in HELPERS or target in ("Generic", "row.update") or (
                root == "datetime" and rest.split(".")[-1] in _DATETIME_CALLS):
            return
        if target in self.draws:
            return
        callees = self.expected.callees
        if callees is not None:
            ok = target in callees
        else:
            ok = root == "generic" or (root in {m.split(".")[0] for m in self.imported}
                                       and bool(rest))
        if not ok:
            self.refuse(node, f"a call of {target}, which config.yaml does not name")


def check_ssg_tree(tree: ast.Module, expected: Expected, where: str) -> list[str]:
    """Refuse (one line naming the line) any node of ``tree`` that create-generators would
    not have written for ``expected``; returns the user modules the file imports."""
    check = _TreeCheck(expected)
    try:
        check.module(tree)
    except _Refused as exc:
        raise SynthgateError(f"ssg.py holds {exc}", where=where,
                             fix="run create-generators --force; keep your own code in "
                             "row_generators_module") from None
    return sorted(check.imported)


def check_user_modules(modules: Iterable[str], search: Sequence[Path]) -> None:
    """``check_user_module`` for each module an ``ssg.py`` imports."""
    for name in modules:
        check_user_module(name, "row_generators_module/story_generators_module", search)
