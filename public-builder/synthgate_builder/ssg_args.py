"""Generator arguments in ``config.yaml``: parsed into constants and references, rendered as
Python source for ``ssg.py``, and checked against the generator's signature and type hints.

``args``/``kwargs`` are constants, except the strings ``generic``, ``dst_db_conn`` and
``SRC_STATS["name"]``, which are references, and quoted Python strings such as
``'"@@##@@@@"'``, which are string constants. The SqlSynthGen/datafaker references
(``orm.<ClassName>``, ``metadata.tables[...]``, deep ``SRC_STATS[...][...]``) are parsed by
``compat.References``, given to ``parse_value`` as ``extra``.
"""

from __future__ import annotations

import ast
import collections.abc
import dataclasses
import enum
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

from mimesis import Generic
from synthgate_shared.errors import SynthgateError
from synthgate_shared.values import leaves

from synthgate_builder import compat

_SRC_STATS_REF = re.compile(r"""^SRC_STATS\[\s*(?P<q>["'])(?P<name>[^"']+)(?P=q)\s*\]$""")


@dataclasses.dataclass(frozen=True)
class Ref:
    """A reference in a generator argument: ``generic``, ``dst_db_conn`` or ``SRC_STATS[...]``."""

    code: str
    stat: str | None = None
    # compat hook: the value a SqlSynthGen/datafaker reference has while checking
    live: Callable[[dict[str, Any]], Any] | None = dataclasses.field(default=None, compare=False)


class DstDbConn:
    """Stands in for the destination connection while arguments are checked."""


Extra = Callable[[str], "compat.Parsed | None"] | None


def parse_value(value: Any, extra: Extra = None) -> Any:
    """Turn a config argument into constants and ``Ref`` objects (``extra``: the
    SqlSynthGen/datafaker references of ``compat.References``)."""
    if isinstance(value, str):
        text = value.strip()
        found = extra(text) if extra is not None else None  # compat hook
        if found is not None:
            return Ref(*found)
        if text in ("generic", "dst_db_conn"):
            return Ref(text)
        match = _SRC_STATS_REF.match(text)
        if match:
            return Ref(f"SRC_STATS[{match['name']!r}]", match["name"])
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            try:
                literal = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return value
            if isinstance(literal, str):
                return literal
        return value
    if isinstance(value, list):
        return [parse_value(v, extra) for v in value]
    if isinstance(value, dict):
        return {k: parse_value(v, extra) for k, v in value.items()}
    return value


def render_value(value: Any) -> str:
    """A parsed argument as Python source: references by name, constants with ``repr``."""
    if isinstance(value, Ref):
        return value.code
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {render_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def refs(value: Any) -> Iterator[Ref]:
    """The references in a parsed argument (nested lists and dicts too)."""
    return (v for v in leaves(value) if isinstance(v, Ref))


def live_value(value: Any, generic: Generic, src_stats: dict[str, Any]) -> Any:
    """The value an argument has at run time (a stand-in for the connection)."""
    if isinstance(value, Ref):
        if value.live is not None:  # compat hook
            return value.live(src_stats)
        if value.stat is not None:
            return src_stats.get(value.stat)
        return generic if value.code == "generic" else DstDbConn()
    if isinstance(value, list):
        return [live_value(v, generic, src_stats) for v in value]
    if isinstance(value, dict):
        return {k: live_value(v, generic, src_stats) for k, v in value.items()}
    return value


def _matches(value: Any, hint: Any) -> bool:
    """Whether a constant fits a type hint; unknown hints accept anything."""
    if hint is Any or hint is inspect.Parameter.empty or isinstance(
            value, DstDbConn | compat.TableStandIn):
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
    """A type hint as an error names it (``int``, ``list[str]``)."""
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def check_call(func: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
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
