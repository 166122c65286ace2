"""Safe YAML reading and writing with errors that name the file, line and column."""

from __future__ import annotations

import decimal
from pathlib import Path
from typing import Any

import yaml

from synthgate_shared.errors import SynthgateError

try:  # the C loader/dumper are much faster; fall back to pure Python where libyaml is missing
    from yaml import CSafeDumper as SafeDumper
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeDumper, SafeLoader  # type: ignore[assignment]


def load_yaml_text(text: str, where: str) -> Any:
    """Parse YAML text with the safe loader; a syntax error names ``where``, line and column."""
    try:
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


def load_yaml_file(path: Path) -> Any:
    """Read and safely parse a YAML file; a missing file is a clear error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SynthgateError("file not found", where=str(path)) from None
    except UnicodeDecodeError:
        raise SynthgateError("file is not UTF-8 text", where=str(path)) from None
    return load_yaml_text(text, str(path))


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
