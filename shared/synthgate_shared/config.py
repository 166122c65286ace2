"""The ``config.yaml`` schema (SqlSynthGen/datafaker compatible) and its validation.

Keys follow SqlSynthGen: ``tables.<t>.{ignore, vocabulary_table, num_rows_per_pass,
row_generators}``, ``src-stats``, ``row_generators_module``, ``story_generators_module``,
``story_generators``, ``use-asyncio``, ``max-unique-constraint-tries``; synthgate adds
``min-count``, ``privacy-budget``, ``statement-timeout``, ``locale``, ``bounds``,
``allow-functions`` and, per statistic, ``max-rows``/``max-bytes`` with their ``reason``.
"""

from __future__ import annotations

import difflib
import keyword
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synthgate_shared.errors import SynthgateError
from synthgate_shared.yamlio import load_yaml_file, load_yaml_text

DEFAULT_MIN_COUNT = 7
_FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def dotted_name_problem(name: str) -> str | None:
    """Why ``name`` (spaces around it aside) is not a dotted Python name that ``ssg.py`` may
    use (ASCII, no keyword, no ``__`` part); None when it is one."""
    text = name.strip()
    if not _DOTTED_NAME.fullmatch(text):
        return f"{name!r} is not a dotted Python name (letters, digits, _ and dots only)"
    bad = [p for p in text.split(".") if keyword.iskeyword(p) or p.startswith("__")]
    if bad:
        return f"{name!r} has the part {bad[0]!r}, a Python keyword or a __ name"
    return None


def _dotted(name: str | None) -> str | None:
    problem = None if name is None else dotted_name_problem(name)
    if problem:
        raise ValueError(f"{problem}; write module.function or generic.provider.method")
    return name


def identifier_problem(key: Any) -> str | None:
    """Why a kwargs key is not a Python identifier ``ssg.py`` may use; None when it is one."""
    if (isinstance(key, str) and key.isidentifier() and key.isascii()
            and not keyword.iskeyword(key) and not key.startswith("__")):
        return None
    return f"kwargs key {key!r} is not a Python identifier"


def _null_as_empty_list(value: Any) -> Any:
    return [] if value is None else value


def _null_as_empty_dict(value: Any) -> Any:
    return {} if value is None else value


def _identifier_keys(kwargs: dict[Any, Any]) -> dict[Any, Any]:
    for key in kwargs:
        problem = identifier_problem(key)
        if problem:
            raise ValueError(f"{problem}; name the parameter of the function (letters, "
                             "digits and _)")
    return kwargs


class RowGenerator(_Strict):
    """A generator filling ``columns_assigned`` of each row: a ``generic.*`` Mimesis provider,
    a function of ``row_generators_module``, or a built-in synthgate generator."""

    name: str
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    columns_assigned: str | list[str]
    # false: the generator makes its columns' NULLs itself; otherwise create-data sets the
    # source's NULL share (auto__<table>__profile) of each of its columns to NULL
    null_share: bool = Field(default=True, alias="null-share")

    _name = field_validator("name")(_dotted)
    _kwargs = field_validator("kwargs")(_identifier_keys)
    # SqlSynthGen configs write `args: null` / `kwargs: null` for none
    _null_args = field_validator("args", mode="before")(_null_as_empty_list)
    _null_kwargs = field_validator("kwargs", mode="before")(_null_as_empty_dict)

    @property
    def columns(self) -> list[str]:
        """``columns_assigned`` as a list."""
        cols = self.columns_assigned
        return [cols] if isinstance(cols, str) else list(cols)


class TableConfig(_Strict):
    """Per-table settings."""

    ignore: bool = False
    vocabulary_table: bool = False
    num_rows_per_pass: int = Field(default=1, ge=0)
    row_generators: list[RowGenerator] = Field(default_factory=list)


class SrcStat(_Strict):
    """One source-statistics query; with ``dp-query`` it runs through SmartNoise SQL."""

    name: str
    query: str
    dp_query: str | None = Field(default=None, alias="dp-query")
    epsilon: float | None = None
    delta: float | None = None
    snsql_metadata: dict[str, Any] | None = Field(default=None, alias="snsql-metadata")
    min_count: int | None = Field(default=None, alias="min-count", ge=0)
    count_column: str | None = Field(default=None, alias="count-column")
    comments: list[str] = Field(default_factory=list)
    max_rows: int | None = Field(default=None, alias="max-rows", ge=1)
    max_bytes: int | None = Field(default=None, alias="max-bytes", ge=1)
    reason: str | None = None

    @model_validator(mode="after")
    def _cap_needs_reason(self) -> SrcStat:
        if (self.max_rows is not None or self.max_bytes is not None) and not (
                self.reason and self.reason.strip()):
            raise ValueError("max-rows and max-bytes raise the cap on a result and need a "
                             "`reason:` for the reviewers")
        return self


class StoryGenerator(_Strict):
    """A story generator of ``story_generators_module`` run ``num_stories_per_pass`` times."""

    name: str
    num_stories_per_pass: int = Field(default=1, ge=0)
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)

    _name = field_validator("name")(_dotted)
    _kwargs = field_validator("kwargs")(_identifier_keys)
    # SqlSynthGen configs write `args: null` / `kwargs: null` for none
    _null_args = field_validator("args", mode="before")(_null_as_empty_list)
    _null_kwargs = field_validator("kwargs", mode="before")(_null_as_empty_dict)


class PrivacyBudget(_Strict):
    """The most differential-privacy budget that ``make-stats`` may spend (basic composition)."""

    epsilon: float = Field(gt=0)
    delta: float = Field(default=0.0, ge=0, lt=1)


class Bounds(_Strict):
    """Reviewer-given bounds of a numeric column, used by differentially private proposals."""

    lower: float
    upper: float


class Config(_Strict):
    """The whole ``config.yaml``."""

    tables: dict[str, TableConfig] = Field(default_factory=dict)
    src_stats: list[SrcStat] = Field(default_factory=list, alias="src-stats")
    row_generators_module: str | None = None
    story_generators_module: str | None = None
    story_generators: list[StoryGenerator] = Field(default_factory=list)
    use_asyncio: bool = Field(default=False, alias="use-asyncio")
    max_unique_constraint_tries: int = Field(
        default=50, alias="max-unique-constraint-tries", ge=1
    )
    min_count: int = Field(default=DEFAULT_MIN_COUNT, alias="min-count", ge=0)
    privacy_budget: PrivacyBudget | None = Field(default=None, alias="privacy-budget")
    statement_timeout: float = Field(default=300.0, alias="statement-timeout", gt=0,
                                     allow_inf_nan=False)
    locale: str = "en"
    bounds: dict[str, Bounds] = Field(default_factory=dict)
    allow_functions: list[str] = Field(default_factory=list, alias="allow-functions")
    # SqlSynthGen's union tables: accepted so its configs load, not used (see ignored_keys)
    unions: Any = None

    @field_validator("allow_functions")
    @classmethod
    def _function_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _FUNCTION_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a function name")
        return names

    _modules = field_validator("row_generators_module", "story_generators_module")(_dotted)

    @field_validator("src_stats")
    @classmethod
    def _unique_stat_names(cls, stats: list[SrcStat]) -> list[SrcStat]:
        seen: set[str] = set()
        for stat in stats:
            if stat.name in seen:
                raise ValueError(f"duplicate src-stats name {stat.name!r}")
            seen.add(stat.name)
        return stats

    def ignored_keys(self) -> list[str]:
        """Warnings for the SqlSynthGen keys this config sets that synthgate accepts but
        does not act on."""
        if self.unions is None:
            return []
        return ["config.yaml: unions is a SqlSynthGen key that synthgate ignores (it makes "
                "no union tables); each table is generated on its own"]

    def table(self, name: str) -> TableConfig:
        """The settings of table ``name`` (defaults when the config does not list it)."""
        return self.tables.get(name) or TableConfig()

    def stat(self, name: str) -> SrcStat | None:
        """The ``src-stats`` entry called ``name``, if any."""
        return next((s for s in self.src_stats if s.name == name), None)

    def vocabulary_tables(self) -> list[str]:
        """Names of the tables marked ``vocabulary_table: true`` and not ignored."""
        return [n for n, t in self.tables.items() if t.vocabulary_table and not t.ignore]


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that holds the key at ``loc`` (for spelling suggestions)."""
    model: type[BaseModel] | None = Config
    for part in loc[:-1]:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        fld = next(
            (f for n, f in model.model_fields.items() if part in (n, f.alias)), None
        )
        if fld is None:
            # a key of a free dict (such as a table name): stay with the value's model
            model = {Config: TableConfig}.get(model, model) if model is Config else model
            continue
        annotation = fld.annotation
        model = None
        for candidate in (RowGenerator, TableConfig, SrcStat, StoryGenerator, PrivacyBudget,
                          Bounds):
            if candidate.__name__ in str(annotation):
                model = candidate
                break
    return model


def _describe(exc: ValidationError, where: str) -> SynthgateError:
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    path = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc)
        valid = sorted(
            {f.alias or n for n, f in model.model_fields.items()} if model else set()
        )
        close = difflib.get_close_matches(key, valid, n=1)
        fix = f"did you mean {close[0]!r}?" if close else f"valid keys here: {', '.join(valid)}"
        return SynthgateError(f"unknown key {key!r} at {path}", where=where, fix=fix)
    return SynthgateError(f"{path}: {err['msg'].removeprefix('Value error, ')}", where=where)


def config_from_data(data: Any, where: str = "config.yaml") -> Config:
    """Validate plain data as a config; an error names the key and suggests the nearest one."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SynthgateError("config must be a mapping at the top level", where=where)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, where) from None


def load_config_text(text: str, where: str = "config.yaml") -> Config:
    """Parse and validate ``config.yaml`` text."""
    return config_from_data(load_yaml_text(text, where), where)


def load_config(path: Path) -> Config:
    """Read and validate a ``config.yaml`` file."""
    return config_from_data(load_yaml_file(path), str(path))


def config_to_data(config: Config) -> dict[str, Any]:
    """Plain data for writing ``config.yaml`` back (SqlSynthGen key spelling)."""
    return config.model_dump(by_alias=True, exclude_defaults=True)
