"""What the review warns about: personal-looking columns and values, literal values of
``config.yaml`` that look taken from the source, the config's opened functions and raised
caps, and the names of code the builder would run. Pure functions over plain data."""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from synthgate_shared.config import dotted_name_problem, identifier_problem

PATTERN_SHARE = 0.5  # share of a column's values that must match a personal pattern
DECISION, ROUTINE = "decision", "routine"

# names that say "personal" on their own
_PERSONAL_NAME = re.compile(
    r"(?:^|_)((?:first|last|full|given|family|middle|maiden|sur|user|nick)_?name|"
    r"e_?mail|mail|phone|mobile|telephone|tel|fax|birth|birthday|birth_?date|dob|"
    r"date_of_birth|address|street|ssn|social_security(?:_number)?|passport|postcode|"
    r"post_code|postal_code|zip|zip_?code|national_id|nhs_?number|ip_?address|iban|"
    r"card_number|ethnicity|religion)(?:$|_|\d)"
)
# names that are personal only in a table of people (department.name is not)
_WEAK_NAME = re.compile(r"(?:^|_)(name|gender|sex)(?:$|_|\d)")
_PEOPLE = re.compile(
    r"(?:^|_)(person|people|customer|client|patient|user|member|staff|employee|actor|"
    r"author|student|contact|doctor|driver|owner|account_holder|subscriber|voter|"
    r"citizen|applicant|guest|passenger)s?(?:$|_)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?[\d\s().\-/]{7,20}")
_ISO_DATE = re.compile(r"(\d{4})-\d{2}-\d{2}")
_FULL_NAME = re.compile(r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?(?: [A-Z][a-z]+(?:[-'][A-Z][a-z]+)?)"
                        r"{1,2}")
_STAT_REF = re.compile(r"""\s*SRC_STATS\[\s*(['"]).+?\1\s*\]\s*""")
MIN_LITERAL_CHARS = 2


@dataclass(frozen=True)
class Finding:
    """A warning for the reviewer: what it is about, why, and whether it needs a decision
    (``decision``) or is a routine note (``routine``, grouped by ``group`` on the page)."""

    subject: str
    reason: str
    level: str = DECISION
    group: str = ""


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("-", "_")


def is_people_table(table: str) -> bool:
    """Whether a table's name says it holds people (``customer``, ``staff``, ...)."""
    return bool(_PEOPLE.search(_snake(table)))


def personal_name_reason(column: str, table: str | None = None) -> str | None:
    """Why a column's name looks personal (``first_name``, ``email``, ``dob``...), or None.
    A bare ``name``/``gender``/``sex`` counts only in a table of people (or no table given)."""
    snake = _snake(column)
    match = _PERSONAL_NAME.search(snake)
    if match is None and (table is None or is_people_table(table)):
        match = _WEAK_NAME.search(snake)
    return f"column name looks personal ({match.group(1)!r})" if match else None


def _looks_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    plain = text.isdigit()
    return bool(_PHONE.fullmatch(text)) and (10 <= digits <= 15 if plain else 7 <= digits <= 15)


def _birth_year(value: Any) -> int | None:
    if isinstance(value, dt.datetime):
        return None  # timestamps record events, not births
    if isinstance(value, dt.date):
        return value.year
    if isinstance(value, str) and (match := _ISO_DATE.fullmatch(value)):
        return int(match.group(1))
    return None


def value_pattern_reason(values: Iterable[Any], today: dt.date | None = None,
                         people: bool = False) -> str | None:
    """Why a column's values look personal (e-mail addresses, phone numbers, dates of
    birth; full names such as "Mary Smith" when ``people``: the table holds people), when at
    least half of its non-null values match; else None."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    need = max(1, math.ceil(len(present) * PATTERN_SHARE))
    texts = [v.strip() for v in present if isinstance(v, str)]
    if sum(bool(_EMAIL.fullmatch(t)) for t in texts) >= need:
        return "values look like e-mail addresses"
    last = (today or dt.date.today()).year - 10
    years = [y for y in map(_birth_year, present) if y is not None]
    if sum(1900 <= y <= last for y in years) >= need:
        return f"values look like dates of birth (dates between 1900 and {last})"
    if sum(_looks_phone(t) for t in texts if not _ISO_DATE.fullmatch(t)) >= need:
        return "values look like phone numbers"
    if people and sum(bool(_FULL_NAME.fullmatch(t)) for t in texts) >= need:
        return "values look like people's full names"
    return None


def config_findings(config: Any) -> list[Finding]:
    """Warnings about what ``config.yaml`` opened: functions named in ``allow-functions`` and
    statistics whose result cap ``max-rows``/``max-bytes`` raised, with the reason given."""
    if not isinstance(config, Mapping):
        return []
    findings = []
    opened = config.get("allow-functions") or []
    if opened:
        findings.append(Finding("config.yaml allow-functions", (
            f"opens functions make-stats refuses by default: {', '.join(map(str, opened))}; "
            "check that none reads files, changes the server or packs rows into one value")))
    for stat in config.get("src-stats") or []:
        if isinstance(stat, Mapping) and ("max-rows" in stat or "max-bytes" in stat):
            caps = ", ".join(f"{key} {stat[key]}" for key in ("max-rows", "max-bytes")
                             if key in stat)
            findings.append(Finding(str(stat.get("name")), (
                f"result cap raised ({caps}); reason given: {stat.get('reason')}")))
    return findings


def _code_name(kind: str, where: str, name: Any, module: bool = False) -> dict[str, str]:
    """One name of code that config.yaml asks the builder to run, and why it would refuse it."""
    text = str(name)
    refused = dotted_name_problem(text) if isinstance(name, str) else "not a string"
    if refused is None and module and text.split(".")[0] in sys.stdlib_module_names:
        refused = "a standard-library module, not a generator module"
    return {"kind": kind, "where": where, "name": text, "refused": refused or ""}


def generator_entries(config: Any) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(where, kind, entry) of every row generator and story generator of raw config data."""
    config = config if isinstance(config, Mapping) else {}
    entries = [(f"tables.{t}.row_generators[{i}]", "row generator", g)
               for t, tconf in (config.get("tables") or {}).items() if isinstance(tconf, Mapping)
               for i, g in enumerate(tconf.get("row_generators") or [])]
    entries += [(f"story_generators[{i}]", "story generator", g)
                for i, g in enumerate(config.get("story_generators") or [])]
    return [(w, k, g) for w, k, g in entries if isinstance(g, Mapping)]


def code_names(config: Any) -> list[dict[str, str]]:
    """The custom modules, row and story generator names and kwargs keys of raw config data
    (unvalidated, so names the builder would refuse are shown with the reason)."""
    config = config if isinstance(config, Mapping) else {}
    out = [_code_name("module", key, config[key], module=True)
           for key in ("row_generators_module", "story_generators_module") if config.get(key)]
    for where, kind, gen in generator_entries(config):
        out.append(_code_name(kind, where, gen.get("name")))
        out += [{"kind": "kwargs key", "where": where, "name": str(k), "refused": problem}
                for k in gen.get("kwargs") or {} if (problem := identifier_problem(k))]
    return out


def literal_values(value: Any) -> Iterator[Any]:
    """The literal leaves of generator arguments (``SRC_STATS[...]`` references left out)."""
    if isinstance(value, Mapping):
        for item in value.values():
            yield from literal_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from literal_values(item)
    elif isinstance(value, str) and _STAT_REF.fullmatch(value):
        return
    elif value is not None and not isinstance(value, bool):
        yield value


def source_key(value: Any) -> str | None:
    """How a value is compared with the source's: stripped, case-folded text of strings and
    dates of at least two characters (numbers are too common to say anything)."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and len(value.strip()) >= MIN_LITERAL_CHARS:
        return value.strip().casefold()
    return None


def source_value_index(sources: Iterable[tuple[str, Iterable[Any]]]) -> dict[str, str]:
    """Comparable value -> where the source shows it (first place seen), over
    (place, values) pairs such as vocabulary columns and src-stats results."""
    index: dict[str, str] = {}
    for place, values in sources:
        for value in values:
            key = source_key(value)
            if key is not None:
                index.setdefault(key, place)
    return index


def literal_findings(config: Any, index: Mapping[str, str]) -> list[Finding]:
    """A decision for each generator argument whose literal value also appears among the
    source's values (a ``choice`` of the source's most common actions, say)."""
    findings = []
    for where, kind, gen in generator_entries(config):
        hits: dict[str, str] = {}
        for value in literal_values([gen.get("args"), gen.get("kwargs")]):
            key = source_key(value)
            if key is not None and key in index:
                hits.setdefault(str(value), index[key])
        if hits:
            shown = ", ".join(f"{v!r} (in {p})" for v, p in list(hits.items())[:6])
            more = f" and {len(hits) - 6} more" if len(hits) > 6 else ""
            findings.append(Finding(f"{where}: {gen.get('name')}", (
                f"this {kind}'s arguments hold {len(hits)} value(s) that appear in the "
                f"source's data: {shown}{more}; they cross in config.yaml as written")))
    return findings


def argument_text(value: Any, limit: int = 160) -> str:
    """Generator arguments in plain words: ``SRC_STATS[...]`` as "statistic NAME", literals
    as written (cut at ``limit`` characters)."""
    if isinstance(value, str) and (match := _STAT_REF.fullmatch(value)):
        inner = match.group(0).strip()[len("SRC_STATS["):-1].strip()
        return f"statistic {inner[1:-1]}"
    if isinstance(value, Mapping):
        text = ", ".join(f"{k}={argument_text(v, limit)}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(argument_text(v, limit) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _generator_line(gen: Mapping[str, Any], flagged: set[str]) -> dict[str, Any]:
    columns = gen.get("columns_assigned")
    columns = [columns] if isinstance(columns, str) else list(columns or [])
    words = []
    if gen.get("args"):
        words.append(f"args {argument_text(gen.get('args'))}")
    if gen.get("kwargs"):
        words.append(argument_text(gen.get("kwargs")))
    return {"columns": ", ".join(map(str, columns)) or "(none)", "name": str(gen.get("name")),
            "arguments": "; ".join(words), "flagged": bool(flagged)}


def config_decisions(config: Any, index: Mapping[str, str]) -> dict[str, Any]:
    """What config.yaml decides, table by table, in plain words: each table's kind (copied
    verbatim, ignored, synthesised with so many rows per pass), its generators per column
    (arguments with literal source-like values flagged), the custom modules and the story
    generators."""
    config = config if isinstance(config, Mapping) else {}
    flagged_where = {f.subject.split(":")[0] for f in literal_findings(config, index)}
    tables = []
    for name, tconf in (config.get("tables") or {}).items():
        tconf = tconf if isinstance(tconf, Mapping) else {}
        kind = ("ignored" if tconf.get("ignore") else "copied verbatim (vocabulary)"
                if tconf.get("vocabulary_table") else "synthesised")
        gens = [_generator_line(g, {w for w in flagged_where if w ==
                                    f"tables.{name}.row_generators[{i}]"})
                for i, g in enumerate(tconf.get("row_generators") or [])
                if isinstance(g, Mapping)]
        rows = tconf.get("num_rows_per_pass")
        tables.append({"name": str(name), "kind": kind, "generators": gens,
                       "rows_per_pass": rows if kind == "synthesised" else None})
    stories = [_generator_line(g, {w for w in flagged_where if w == f"story_generators[{i}]"})
               | {"per_pass": g.get("num_stories_per_pass")}
               for i, g in enumerate(config.get("story_generators") or [])
               if isinstance(g, Mapping)]
    modules = {key: str(config[key]) for key in ("row_generators_module",
                                                 "story_generators_module") if config.get(key)}
    return {"tables": tables, "stories": stories, "modules": modules}
