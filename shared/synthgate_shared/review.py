"""The review report of a verified bundle: ``review.html`` and ``review.md``.

The HTML page is one self-contained file (inline CSS and SVG, no script, a Content
Security Policy that forbids any network access). Everything shown comes from the
bundle, which is untrusted data: the HTML template escapes every value, and the Markdown
environment escapes every interpolated value unless it is explicitly marked as code.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from synthgate_shared.bundle import VerifiedBundle, verify_bundle
from synthgate_shared.config import DEFAULT_MIN_COUNT, dotted_name_problem, identifier_problem
from synthgate_shared.files import refuse_overwrite, temp_folder, write_text_atomic
from synthgate_shared.orm import OrmModel, load_orm_text
from synthgate_shared.signing import load_public_keys
from synthgate_shared.sqltext import row_level_warning
from synthgate_shared.srcstats import stats_from_data
from synthgate_shared.vocabfile import VocabFile
from synthgate_shared.yamlio import load_yaml_text

MAX_RESULT_ROWS = 50  # rows of a query result shown in the report
MAX_CHART_BARS = 30
SAMPLE_ROWS = 5  # sample rows shown per vocabulary table
SCAN_ROWS = 2000  # rows per vocabulary table scanned for personal-looking values
MAX_CELL_CHARS = 120
PATTERN_SHARE = 0.5  # share of a column's values that must match a personal pattern

_PERSONAL_NAME = re.compile(
    r"(?:^|_)(name|(?:first|last|full|given|family|middle|maiden|sur|user|nick)_?name|"
    r"e_?mail|mail|phone|mobile|telephone|tel|fax|birth|birthday|birth_?date|dob|"
    r"date_of_birth|address|street|ssn|social_security(?:_number)?|passport|postcode|"
    r"post_code|postal_code|zip|zip_?code|national_id|nhs_?number|ip_?address|iban|"
    r"card_number|gender|sex|ethnicity|religion)(?:$|_|\d)"
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?[\d\s().\-/]{7,20}")
_ISO_DATE = re.compile(r"(\d{4})-\d{2}-\d{2}")
# inline Markdown that could make links, images, HTML, code or emphasis out of data
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>!&|~$])")


@dataclass(frozen=True)
class Finding:
    """A warning for the reviewer: what it is about, and why."""

    subject: str
    reason: str


# ---------------------------------------------------------------------------- checks


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("-", "_")


def personal_name_reason(column: str) -> str | None:
    """Why a column's name looks personal (``first_name``, ``email``, ``dob``...), or None."""
    match = _PERSONAL_NAME.search(_snake(column))
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


def value_pattern_reason(values: Iterable[Any], today: dt.date | None = None) -> str | None:
    """Why a column's values look personal (e-mail addresses, phone numbers, dates of
    birth), when at least half of its non-null values match; else None."""
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
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def distribution_columns(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
                         ) -> tuple[str, str] | None:
    """(label column, value column) when a result looks like a distribution: two columns,
    at least two rows, one of them all non-negative numbers; else None."""
    if len(columns) != 2 or len(rows) < 2:
        return None

    def numeric(col: str) -> bool:
        return all(_is_number(r.get(col)) and r[col] >= 0 for r in rows)

    first, second = columns
    if numeric(second):
        return first, second
    if numeric(first):
        return second, first
    return None


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _format_number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"


def bar_chart_svg(labels: Sequence[str], values: Sequence[float]) -> str:
    """A small horizontal bar chart as inline SVG (labels and values escaped)."""
    top = max(values, default=0) or 1
    row, label_w, bar_w = 22, 190, 360
    height = len(labels) * row + 8
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" '
           f'height="{height}" role="img" aria-label="bar chart">']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 4 + i * row
        width = round(bar_w * value / top) if value > 0 else 0
        out.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" font-size="12" '
            f'fill="#333">{html.escape(_short(label, 30))}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{max(width, 1)}" height="16" rx="2" '
            f'fill="#3b6ea8"/>'
            f'<text x="{label_w + width + 6}" y="{y + 15}" font-size="12" '
            f'fill="#333">{html.escape(_format_number(value))}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _cell(value: Any) -> str:
    """One value as short display text."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return f"<{len(data)} bytes> {data[:16].hex()}" + ("…" if len(data) > 16 else "")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return _short(str(value), MAX_CELL_CHARS)


# ---------------------------------------------------------------------------- model


def _query_section(name: str, entry: Mapping[str, Any], dialect: str) -> dict[str, Any]:
    results = entry.get("results") or []
    rows = [r for r in results if isinstance(r, Mapping)]
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(str(k) for k in r))
    cols = list(columns)
    is_dp = "dp-query" in entry or "epsilon" in entry
    sql = str(entry.get("dp-query") if is_dp else entry.get("query") or "")
    findings = [Finding(name, str(w)) for w in entry.get("warnings") or []]
    own = row_level_warning(sql, dialect, len(rows))
    if own and not any(f.reason == own for f in findings):
        findings.append(Finding(name, own))
    suppressed = entry.get("suppressed_rows") or 0
    if suppressed:
        findings.append(Finding(name, (
            f"{suppressed} result row(s) with a count below {entry.get('min_count')} (column "
            f"{entry.get('count_column')!r}) were suppressed")))
    counts = [r.get(str(entry.get("count_column"))) for r in rows
              if entry.get("min_count") == 0]
    if any(isinstance(v, int | float) and v < DEFAULT_MIN_COUNT for v in counts):
        findings.append(Finding(name, (
            f"min-count 0: counts below {DEFAULT_MIN_COUNT} are released exactly; for a "
            "proposed profile that is the table's row count, structural and kept even when "
            "small (noisy under --epsilon), while its quantiles stay withheld")))
    chart = None
    dist = distribution_columns(cols, rows)
    if dist:
        shown = rows[:MAX_CHART_BARS]
        chart = Markup(bar_chart_svg([_cell(r.get(dist[0])) for r in shown],
                                     [float(r[dist[1]]) for r in shown]))
    return {
        "name": name,
        "query": str(entry.get("query") or ""),
        "dp_query": str(entry["dp-query"]) if entry.get("dp-query") else None,
        "epsilon": entry.get("epsilon"),
        "delta": entry.get("delta"),
        "ran_at": _cell(entry.get("ran_at")),
        "min_count": entry.get("min_count"),
        "suppressed": suppressed,
        "columns": cols,
        "numeric": [all(r.get(c) is None or _is_number(r.get(c)) for r in rows) for c in cols],
        "rows": [[_cell(r.get(c)) for c in cols] for r in rows[:MAX_RESULT_ROWS]],
        "total_rows": len(rows),
        "chart": chart,
        "chart_bars": min(len(rows), MAX_CHART_BARS),
        "findings": findings,
    }


def _vocab_section(table_name: str, path: Path, orm: OrmModel, rel: str) -> dict[str, Any]:
    vocab = VocabFile(path, orm.table(table_name))
    columns = vocab.columns
    scanned: list[tuple[Any, ...]] = []
    count = 0
    for row in vocab.rows():
        if count < SCAN_ROWS:
            scanned.append(row)
        count += 1
    findings: list[Finding] = []
    for i, column in enumerate(columns):
        reasons = [r for r in (personal_name_reason(column),
                               value_pattern_reason(row[i] for row in scanned)) if r]
        findings.extend(Finding(f"{table_name}.{column}", r) for r in reasons)
    return {
        "name": table_name,
        "file": rel,
        "row_count": count,
        "columns": [(c, orm.table(table_name).column(c).type) for c in columns],
        "sample": [[_cell(v) for v in row] for row in scanned[:SAMPLE_ROWS]],
        "findings": findings,
    }


def _load_stats(verified: VerifiedBundle) -> dict[str, Any]:
    where = f"{verified.path}: src-stats.yaml"
    return stats_from_data(load_yaml_text(verified.text("src-stats.yaml"), where), where)


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


def _load_orm(verified: VerifiedBundle) -> OrmModel:
    return load_orm_text(verified.text("orm.yaml"), f"{verified.path}: orm.yaml")


def _code_name(kind: str, where: str, name: Any, module: bool = False) -> dict[str, str]:
    """One name of code that config.yaml asks the builder to run, and why it would refuse it."""
    text = str(name)
    refused = dotted_name_problem(text) if isinstance(name, str) else "not a string"
    if refused is None and module and text.split(".")[0] in sys.stdlib_module_names:
        refused = "a standard-library module, not a generator module"
    return {"kind": kind, "where": where, "name": text, "refused": refused or ""}


def code_names(config: Any) -> list[dict[str, str]]:
    """The custom modules, row and story generator names and kwargs keys of raw config data
    (unvalidated, so names the builder would refuse are shown with the reason)."""
    config = config if isinstance(config, Mapping) else {}
    out = [_code_name("module", key, config[key], module=True)
           for key in ("row_generators_module", "story_generators_module") if config.get(key)]
    entries = [(f"tables.{t}.row_generators[{i}]", "row generator", g)
               for t, tconf in (config.get("tables") or {}).items() if isinstance(tconf, Mapping)
               for i, g in enumerate(tconf.get("row_generators") or [])]
    entries += [(f"story_generators[{i}]", "story generator", g)
                for i, g in enumerate(config.get("story_generators") or [])]
    for where, kind, gen in entries:
        if not isinstance(gen, Mapping):
            continue
        out.append(_code_name(kind, where, gen.get("name")))
        out += [{"kind": "kwargs key", "where": where, "name": str(k), "refused": problem}
                for k in gen.get("kwargs") or {} if (problem := identifier_problem(k))]
    return out


def review_model(verified: VerifiedBundle, vocab_paths: Mapping[str, Path]) -> dict[str, Any]:
    """Everything the report shows, as plain data (vocab_paths: bundle path -> extracted file)."""
    manifest = verified.manifest
    orm = _load_orm(verified)
    dialect = orm.source.dialect
    queries = [_query_section(str(name), entry, dialect)
               for name, entry in _load_stats(verified).items() if isinstance(entry, Mapping)]
    vocab = [_vocab_section(table, vocab_paths[rel], orm, rel)
             for table, rel in sorted(verified.vocab_files.items())]
    config_data = load_yaml_text(verified.text("config.yaml"), f"{verified.path}: config.yaml")
    findings = config_findings(config_data)
    findings += [f for section in (*queries, *vocab) for f in section["findings"]]
    code = code_names(config_data)
    findings += [Finding(f"{c['where']}: {c['name']}", f"the builder refuses this {c['kind']}: "
                         f"{c['refused']}") for c in code if c["refused"]]
    return {
        "bundle": verified.path.name,
        "created_at": manifest.get("created_at"),
        "agent_version": manifest.get("agent_version"),
        "format_version": manifest.get("format_version"),
        "source": manifest.get("source") or {},
        "source_role": role_line(manifest),
        "signer": verified.signer_key_id,
        "approvals": verified.approvals,
        "approved": any(a.status == "valid" for a in verified.approvals),
        "files": verified.files,
        "table_count": len(orm.tables),
        "privacy": manifest.get("privacy") or {"queries": [], "total": {}},
        "queries": queries,
        "vocab": vocab,
        "findings": findings,
        "code": code,
    }


# ---------------------------------------------------------------------------- rendering


class _Raw(str):
    """Text the Markdown template may emit unescaped (code blocks built here)."""


def _md_escape(value: Any) -> str:
    if isinstance(value, _Raw):
        return str(value)
    text = " ".join(str("" if value is None else value).split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_code(text: str) -> _Raw:
    """A fenced code block that the text cannot break out of."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return _Raw(f"{fence}sql\n{text.rstrip()}\n{fence}")


def _md_table(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> _Raw:
    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(_md_escape(c) or " " for c in cells) + " |"

    out = [line(header), "|" + "---|" * len(header)]
    out.extend(line(r) for r in rows)
    return _Raw("\n".join(out))


def _rows(items: Iterable[Any], *keys: str) -> list[list[Any]]:
    """Table rows of chosen fields of mappings or objects (for the Markdown tables)."""
    return [[item[k] if isinstance(item, Mapping) else getattr(item, k) for k in keys]
            for item in items]


def _environment(markdown: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("synthgate_shared", "templates"),
        autoescape=not markdown, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, finalize=_md_escape if markdown else None,
    )
    env.filters.update(number=_format_number, code=_md_code, table=_md_table, rows=_rows)
    return env


def render_html(model: Mapping[str, Any]) -> str:
    """The self-contained review page."""
    return _environment(markdown=False).get_template("review.html.j2").render(**model)


def render_markdown(model: Mapping[str, Any]) -> str:
    """The review as Markdown."""
    return _environment(markdown=True).get_template("review.md.j2").render(**model)


def write_review(verified: VerifiedBundle, out_dir: Path, force: bool = False
                 ) -> tuple[Path, Path]:
    """Write ``review.html`` and ``review.md`` of a verified bundle into ``out_dir``.

    Vocabulary files are extracted into a temporary folder that is removed afterwards.
    """
    out_dir = Path(out_dir)
    html_path, md_path = out_dir / "review.html", out_dir / "review.md"
    refuse_overwrite(html_path, force)
    refuse_overwrite(md_path, force)
    with temp_folder("synthgate-review-") as tmp:
        paths = verified.extract(tmp, list(verified.vocab_files.values()))
        model = review_model(verified, paths)
    write_text_atomic(html_path, render_html(model))
    write_text_atomic(md_path, render_markdown(model))
    return html_path, md_path


def review_bundle(bundle_path: Path, trust: Sequence[Path], out_dir: Path,
                  require_approval: Sequence[Path] = (), force: bool = False
                  ) -> tuple[Path, Path]:
    """Verify the bundle with the trusted agent keys, then write its review report."""
    verified = verify_bundle(Path(bundle_path), load_public_keys(trust),
                             load_public_keys(require_approval))
    return write_review(verified, out_dir, force)


def role_line(manifest: Mapping[str, Any]) -> str:
    """The role the agent read the source as, from the manifest (older bundles: unknown)."""
    role = manifest.get("source_role")
    if not isinstance(role, Mapping) or not isinstance(role.get("name"), str):
        return "not recorded (SQLite, or a bundle made before roles were checked)"
    if role.get("privileged") is True:
        return (f"{role['name']} - PRIVILEGED: it may do more than read; the agent ran with "
                "--allow-privileged-role")
    return f"{role['name']} (reads only)"


def bundle_summary(verified: VerifiedBundle) -> str:
    """A plain-text summary of what a verified bundle holds (for ``verify``)."""
    manifest = verified.manifest
    source = manifest.get("source") or {}
    orm = _load_orm(verified)
    stats = _load_stats(verified)
    lines = [
        f"bundle {verified.path}: signature valid (agent key {verified.signer_key_id})",
        f"  format {manifest['format_version']}, made by synthgate agent "
        f"{manifest.get('agent_version')} at {manifest.get('created_at')}",
        f"  source: {source.get('dialect')} {source.get('server_version') or ''}, schema "
        f"{source.get('schema') or '(default)'}, {len(orm.tables)} tables",
        f"  source role: {role_line(manifest)}",
    ]
    if verified.approvals:
        lines += [f"  approval by key {a.key_id}: {a.status}" for a in verified.approvals]
    else:
        lines.append("  approvals: none")
    lines.append("files:")
    width = max(len(f.path) for f in verified.files)
    lines += [f"  {f.path:<{width}}  {f.size:>12,} bytes  sha256 {f.sha256}"
              for f in verified.files]
    vocab = sorted(verified.vocab_files)
    lines.append(f"vocabulary tables: {', '.join(vocab) if vocab else 'none'}")
    lines.append(f"queries: {len(stats)}")
    for name, entry in stats.items():
        if not isinstance(entry, Mapping):
            continue
        notes = [f"{len(entry.get('results') or [])} rows"]
        if "epsilon" in entry:
            notes.append(f"DP epsilon={entry.get('epsilon')} delta={entry.get('delta') or 0}")
        if entry.get("suppressed_rows"):
            notes.append(f"{entry['suppressed_rows']} small-count rows suppressed")
        lines.append(f"  {name}: {', '.join(notes)}")
    privacy = manifest.get("privacy") or {}
    total = privacy.get("total") or {}
    lines.append(
        f"privacy budget (basic composition): epsilon {total.get('epsilon', 0)}, delta "
        f"{total.get('delta', 0)} over {len(privacy.get('queries') or [])} DP queries"
    )
    return "\n".join(lines)
