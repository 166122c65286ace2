"""Safe YAML reading and writing with errors that name the file, line and column."""

from __future__ import annotations

import decimal
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from synthgate_shared.errors import SynthgateError

try:  # the C loader/dumper are much faster; fall back to pure Python where libyaml is missing
    from yaml import CSafeDumper as SafeDumper
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeDumper, SafeLoader  # type: ignore[assignment]


@dataclass(frozen=True)
class YamlLimits:
    """Upper bounds on one YAML document, checked before anything is built from it.

    ``alias_nodes`` bounds the nodes that aliases add when expanded (the "billion laughs"
    of a few hundred bytes expands to 10**9 nodes); the document's own nodes are bounded
    by its size.
    """

    document_bytes: int = 256 << 20
    aliases: int = 1_000
    alias_nodes: int = 100_000
    depth: int = 200


DEFAULT_YAML_LIMITS = YamlLimits()
_FIX_LIMIT = ("synthgate never writes such YAML: regenerate the file, and do not trust a bundle "
              "that holds it")
_STARTS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_ENDS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _refuse(what: str, where: str, event: Any = None) -> SynthgateError:
    mark = getattr(event, "start_mark", None)
    place = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
    return SynthgateError(f"refused YAML: {what}", where=place, fix=_FIX_LIMIT)


class _Tally:
    """What the events of a document add up to so far: depth, nodes, alias expansion."""

    def __init__(self, limits: YamlLimits, where: str) -> None:
        self.limits, self.where = limits, where
        self.depth = self.aliases = self.unique = self.total = 0
        self.starts: list[int] = []  # ``total`` when each open collection started
        self.anchored: dict[str, int] = {}  # anchor -> nodes of its (closed) node, expanded
        self.open_anchors: list[str | None] = []

    def scalar(self, event: Any) -> None:
        self.unique += 1
        self.total += 1
        if event.anchor is not None:
            self.anchored[event.anchor] = 1

    def start(self, event: Any) -> None:
        self.depth += 1
        if self.depth > self.limits.depth:
            raise _refuse(f"nested deeper than {self.limits.depth} levels", self.where, event)
        self.unique += 1
        self.total += 1
        self.starts.append(self.total - 1)
        self.open_anchors.append(event.anchor)

    def end(self, event: Any) -> None:
        self.depth -= 1
        anchor = self.open_anchors.pop()
        size = self.total - self.starts.pop()
        if anchor is not None:
            self.anchored[anchor] = size

    def alias(self, event: Any) -> None:
        limits = self.limits
        self.aliases += 1
        if self.aliases > limits.aliases:
            raise _refuse(f"more than {limits.aliases} aliases", self.where, event)
        if event.anchor in self.open_anchors:
            raise _refuse(f"the alias *{event.anchor} refers to a node that contains it",
                          self.where, event)
        self.total += self.anchored.get(event.anchor, 0)  # an unknown anchor: the loader says so
        if self.total - self.unique > limits.alias_nodes:
            raise _refuse(f"aliases expand to more than {limits.alias_nodes} extra nodes",
                          self.where, event)


def check_yaml_limits(text: str, where: str, limits: YamlLimits = DEFAULT_YAML_LIMITS) -> None:
    """Refuse ``text`` (one line naming ``where`` and the limit) when it is larger, nests
    deeper, or uses more or bigger aliases than ``limits`` allow.

    Reads the parser's event stream only (flat memory, no recursion), so a bomb is refused
    in milliseconds and nothing deep reaches the recursive composer (which crashes the
    interpreter on ~100,000 nested brackets).
    """
    if len(text) > limits.document_bytes:
        raise _refuse(f"the document is larger than {limits.document_bytes} bytes", where)
    tally = _Tally(limits, where)
    event: Any
    for event in yaml.parse(text, Loader=SafeLoader):
        kind = type(event)
        if kind is yaml.ScalarEvent:
            tally.scalar(event)
        elif kind in _STARTS:
            tally.start(event)
        elif kind in _ENDS:
            tally.end(event)
        elif kind is yaml.AliasEvent:
            tally.alias(event)


def load_yaml_text(text: str, where: str, limits: YamlLimits = DEFAULT_YAML_LIMITS) -> Any:
    """Parse YAML text with the safe loader, within ``limits`` (see ``check_yaml_limits``);
    a syntax error names ``where``, line and column."""
    try:
        check_yaml_limits(text, where, limits)
        return yaml.load(text, Loader=SafeLoader)  # the C safe loader: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        place = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        problem = exc.problem or "invalid YAML"
        raise SynthgateError(
            f"not valid YAML ({problem})", where=place, fix="correct the YAML syntax there"
        ) from None
    except yaml.YAMLError as exc:
        raise SynthgateError(f"not valid YAML ({exc})", where=where) from None
    except (ValueError, OverflowError) as exc:  # a scalar the constructor cannot convert
        raise SynthgateError(f"not valid YAML ({_first_line(str(exc))})", where=where,
                             fix="correct the value") from None


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def read_text_bounded(path: Path, limit: int, what: str = "file") -> str:
    """The UTF-8 text of the regular file ``path``, refused (one line) when it is missing,
    a folder or other non-file, not UTF-8, or larger than ``limit`` bytes; reads at most
    ``limit + 1`` bytes, so a device or FIFO cannot exhaust memory."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise SynthgateError(f"not a regular {what}", where=str(path),
                                     fix=f"give the path of a {what}")
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise SynthgateError(f"{what} not found", where=str(path)) from None
    except IsADirectoryError:
        raise SynthgateError(f"a folder, not a {what}", where=str(path),
                             fix=f"give the path of the {what} itself") from None
    except OSError as exc:
        raise SynthgateError(f"cannot read the {what} ({exc.strerror})",
                             where=str(path)) from None
    if len(data) > limit:
        raise SynthgateError(f"refused {what}: larger than {limit} bytes", where=str(path),
                             fix=_FIX_LIMIT)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SynthgateError(f"{what} is not UTF-8 text", where=str(path)) from None


def load_yaml_file(path: Path, limits: YamlLimits = DEFAULT_YAML_LIMITS) -> Any:
    """Read and safely parse a YAML file within ``limits``; a missing file, a folder or an
    oversized file is a clear error."""
    text = read_text_bounded(Path(path), limits.document_bytes)
    return load_yaml_text(text, str(path), limits)


class FlowMapping(dict[str, Any]):
    """A mapping that ``dump_yaml`` writes on one line (``{a: 1, b: 2}``), for compact lists."""


def _represent_flow(dumper: Any, data: FlowMapping) -> Any:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)


class FlowSequence(list[Any]):
    """A list that ``dump_yaml`` writes on one line (``[a, b]``)."""


def _represent_flow_seq(dumper: Any, data: FlowSequence) -> Any:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


def _represent_decimal(dumper: Any, data: decimal.Decimal) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:float", format(data, "f"))


def _represent_str(dumper: Any, data: str) -> Any:
    # text of several lines (SQL, mostly) as a literal block, the way a person wrote it
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


SafeDumper.add_representer(str, _represent_str)
SafeDumper.add_representer(decimal.Decimal, _represent_decimal)
SafeDumper.add_representer(FlowMapping, _represent_flow)
SafeDumper.add_representer(FlowSequence, _represent_flow_seq)


def dump_yaml(data: Any) -> str:
    """Render plain data as block-style YAML, keeping mapping order."""
    return yaml.dump(
        data, Dumper=SafeDumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
        width=100,
    )
