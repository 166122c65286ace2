"""The review report of a verified bundle: ``review.html`` and ``review.md``.

The first screen answers "may this leave?": what crosses the air gap (tables copied
verbatim with row counts, synthesised, ignored), which statistics are differentially
private and what they cost, and the warnings that need a decision; routine notes are
grouped and counted. Then every statistic (SQL folded, results as rounded tables and small
plots), the config's decisions in plain words, the vocabulary tables and the files.

The HTML page is one self-contained file (inline CSS and SVG, no script, a Content
Security Policy that forbids any network access). Everything shown comes from the
bundle, which is untrusted data: the HTML template escapes every value, and the Markdown
environment escapes every interpolated value unless it is explicitly marked as code.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from synthgate_shared.bundle import VerifiedBundle, verify_bundle
from synthgate_shared.config import DEFAULT_MIN_COUNT
from synthgate_shared.fidelity import parse_stat_name
from synthgate_shared.files import refuse_overwrite, temp_folder, write_text_atomic
from synthgate_shared.orm import OrmModel, load_orm_text
from synthgate_shared.plots import format_number
from synthgate_shared.review_checks import (
    DECISION,
    ROUTINE,
    Finding,
    code_names,
    config_decisions,
    config_findings,
    is_people_table,
    literal_findings,
    personal_name_reason,
    source_value_index,
    value_pattern_reason,
)
from synthgate_shared.review_results import (
    cell,
    distribution_columns,
    is_number,
    plain_plot,
    profile_view,
    result_columns,
)
from synthgate_shared.signing import load_public_keys
from synthgate_shared.sqltext import row_level_warning
from synthgate_shared.srcstats import stats_from_data
from synthgate_shared.vocabfile import VocabFile
from synthgate_shared.yamlio import load_yaml_text

__all__ = ["bundle_summary", "distribution_columns", "personal_name_reason", "review_bundle",
           "row_level_warning", "value_pattern_reason", "write_review"]

MAX_RESULT_ROWS = 50  # rows of a query result shown in the report
SAMPLE_ROWS = 5  # sample rows shown per vocabulary table
SCAN_ROWS = 2000  # rows per vocabulary table scanned for personal-looking values
VERDICT_DECISIONS = 6  # decisions listed on the first screen (all of them further down)
WIDE_ROW = 6  # a one-row result with more columns is shown as a list of figures
SMALL_TABLE = 50  # exact percentiles of a table this small are a decision
# inline Markdown that could make links, images, HTML, code or emphasis out of data
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>!&|~$])")


# ---------------------------------------------------------------------------- statistics


def _entry_findings(name: str, entry: Mapping[str, Any], sql: str, dialect: str,
                    rows: Sequence[Mapping[str, Any]]) -> list[Finding]:
    findings = [Finding(name, str(w)) for w in entry.get("warnings") or []]
    own = row_level_warning(sql, dialect, len(rows))
    if own and not any(f.reason == own for f in findings):
        findings.append(Finding(name, own))
    suppressed = entry.get("suppressed_rows") or 0
    if suppressed:
        findings.append(Finding(name, (
            f"{suppressed} result row(s) with a count below {entry.get('min_count')} (column "
            f"{entry.get('count_column')!r}) were suppressed"), ROUTINE,
            "small counts suppressed"))
    counts = [r.get(str(entry.get("count_column"))) for r in rows
              if entry.get("min_count") == 0]
    if any(isinstance(v, int | float) and v < DEFAULT_MIN_COUNT for v in counts):
        findings.append(Finding(name, (
            f"min-count 0: counts below {DEFAULT_MIN_COUNT} are released exactly; for a "
            "proposed profile that is the table's row count, structural and kept even when "
            "small (noisy under --epsilon), while its quantiles stay withheld"), ROUTINE,
            "small row counts released exactly"))
    return findings


def _percentile_findings(name: str, table: str, row: Mapping[str, Any]) -> list[Finding]:
    """A note on the exact 1st..99th percentiles a profile releases (a decision for a
    small table, where the extremes can be single rows, or a personal-looking column)."""
    columns = [str(k).rpartition("__")[0] for k, v in row.items()
               if str(k).endswith(("__q", "__len_q")) and v is not None]
    if not columns:
        return []
    n = row.get("n")
    small = isinstance(n, int | float) and is_number(n) and n < SMALL_TABLE
    personal = [c for c in columns if personal_name_reason(c, table)]
    reason = f"exact percentiles (1st to 99th) of {', '.join(columns)} are released" + (
        f"; the table has only {n} rows, so the 1st and 99th may be single rows" if small
        else "; the 1st and 99th lie near the smallest and largest values")
    if personal:
        reason += f"; {', '.join(personal)} look{'s' if len(personal) == 1 else ''} personal"
    return [Finding(name, reason, DECISION if small or personal else ROUTINE,
                    "exact percentiles released")]


def _query_section(name: str, entry: Mapping[str, Any], dialect: str,
                   orm: OrmModel | None = None) -> dict[str, Any]:
    rows = [r for r in entry.get("results") or [] if isinstance(r, Mapping)]
    cols = result_columns(rows)
    is_dp = "dp-query" in entry or "epsilon" in entry
    sql = str(entry.get("dp-query") if is_dp else entry.get("query") or "")
    findings = _entry_findings(name, entry, sql, dialect, rows)
    parsed = parse_stat_name(name, orm.tables) if orm else None
    kind = parsed.kind if parsed else "hand-written"
    profile = None
    plots: list[str] = []
    if kind == "profile" and rows and orm is not None and parsed is not None:
        table = orm.tables.get(parsed.table)
        types = {c.name: str(c.type) for c in table.columns} if table else {}
        profile = profile_view(name, rows[0], types)
        plots = profile["plots"]
        findings += _percentile_findings(name, parsed.table, rows[0])
    elif (plot := plain_plot(name, rows, entry.get("count_column"))) is not None:
        plots = [plot]
    if profile is None and len(rows) == 1 and len(cols) > WIDE_ROW:  # one wide row: a list
        profile = {"figures": [[c, cell(rows[0].get(c))] for c in cols]}
    query = str(entry.get("query") or "")
    return {
        "name": name, "kind": kind, "dp": is_dp,
        "query": query, "query_lines": query.count("\n") + 1,
        "dp_query": str(entry["dp-query"]) if entry.get("dp-query") else None,
        "epsilon": entry.get("epsilon"), "delta": entry.get("delta"),
        "ran_at": cell(entry.get("ran_at")),
        "min_count": entry.get("min_count"),
        "suppressed": entry.get("suppressed_rows") or 0,
        "columns": cols,
        "numeric": [all(r.get(c) is None or is_number(r.get(c)) for r in rows) for c in cols],
        "rows": [[cell(r.get(c)) for c in cols] for r in rows[:MAX_RESULT_ROWS]],
        "total_rows": len(rows),
        "figures": profile["figures"] if profile else None,
        "plots": [Markup(p) for p in plots],
        "findings": findings,
    }


# ---------------------------------------------------------------------------- vocabulary


def _scan_vocab(path: Path, orm: OrmModel, table_name: str
                ) -> tuple[list[str], list[tuple[Any, ...]], int]:
    vocab = VocabFile(path, orm.table(table_name))
    scanned: list[tuple[Any, ...]] = []
    count = 0
    for row in vocab.rows():
        if count < SCAN_ROWS:
            scanned.append(row)
        count += 1
    return list(vocab.columns), scanned, count


def _vocab_section(table_name: str, path: Path, orm: OrmModel, rel: str) -> dict[str, Any]:
    columns, scanned, count = _scan_vocab(path, orm, table_name)
    people = is_people_table(table_name)
    findings: list[Finding] = []
    for i, column in enumerate(columns):
        reasons = [r for r in (personal_name_reason(column, table_name),
                               value_pattern_reason((row[i] for row in scanned),
                                                    people=people)) if r]
        findings.extend(Finding(f"{table_name}.{column}", r) for r in reasons)
    return {
        "name": table_name,
        "file": rel,
        "row_count": count,
        "columns": [(c, orm.table(table_name).column(c).type) for c in columns],
        "sample": [[cell(v) for v in row] for row in scanned[:SAMPLE_ROWS]],
        "values": [(f"vocabulary table {table_name}", [row[i] for row in scanned])
                   for i in range(len(columns))],
        "findings": findings,
    }


# ---------------------------------------------------------------------------- model


def _load_stats(verified: VerifiedBundle) -> dict[str, Any]:
    where = f"{verified.path}: src-stats.yaml"
    return stats_from_data(load_yaml_text(verified.text("src-stats.yaml"), where), where)


def _load_orm(verified: VerifiedBundle) -> OrmModel:
    return load_orm_text(verified.text("orm.yaml"), f"{verified.path}: orm.yaml")


def bundle_id(verified: VerifiedBundle) -> str:
    """A short id of a bundle: the first 16 hex digits of its manifest's SHA-256."""
    return hashlib.sha256(verified.manifest_bytes).hexdigest()[:16]


def _result_values(stats: Mapping[str, Any]) -> Iterable[tuple[str, list[Any]]]:
    for name, entry in stats.items():
        if isinstance(entry, Mapping):
            yield (f"results of {name}", [v for r in entry.get("results") or []
                                           if isinstance(r, Mapping) for v in r.values()])


def crossing(config: Any, orm: OrmModel, vocab: Sequence[Mapping[str, Any]]
             ) -> dict[str, Any]:
    """The tables by what crosses for them: copied verbatim (with row counts), synthesised
    from statistics, ignored."""
    tables = config.get("tables") if isinstance(config, Mapping) else None
    tables = tables if isinstance(tables, Mapping) else {}
    ignored = [str(t) for t, c in tables.items() if isinstance(c, Mapping) and c.get("ignore")]
    copied = [(v["name"], v["row_count"]) for v in vocab]
    done = set(ignored) | {v["name"] for v in vocab}
    return {"vocabulary": copied, "ignored": ignored,
            "synthesised": [t for t in orm.tables if t not in done]}


def rank_findings(findings: Sequence[Finding]) -> dict[str, Any]:
    """Decisions first (in order), routine notes grouped: group -> the findings."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        if f.level == ROUTINE:
            groups.setdefault(f.group or "other notes", []).append(f)
    return {"decisions": [f for f in findings if f.level != ROUTINE],
            "routine": sorted(groups.items())}


def review_model(verified: VerifiedBundle, vocab_paths: Mapping[str, Path]) -> dict[str, Any]:
    """Everything the report shows, as plain data (vocab_paths: bundle path -> extracted file)."""
    manifest = verified.manifest
    orm = _load_orm(verified)
    stats = _load_stats(verified)
    queries = [_query_section(str(name), entry, orm.source.dialect, orm)
               for name, entry in stats.items() if isinstance(entry, Mapping)]
    vocab = [_vocab_section(table, vocab_paths[rel], orm, rel)
             for table, rel in sorted(verified.vocab_files.items())]
    config_data = load_yaml_text(verified.text("config.yaml"), f"{verified.path}: config.yaml")
    index = source_value_index([*(v for t in vocab for v in t["values"]),
                                *_result_values(stats)])
    findings = role_findings(manifest) + config_findings(config_data)
    findings += literal_findings(config_data, index)
    findings += [f for section in (*vocab, *queries) for f in section["findings"]]
    code = code_names(config_data)
    findings += [Finding(f"{c['where']}: {c['name']}", f"the builder refuses this {c['kind']}: "
                         f"{c['refused']}") for c in code if c["refused"]]
    return {
        "bundle": verified.path.name,
        "bundle_id": bundle_id(verified),
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
        "exact_count": sum(not q["dp"] for q in queries),
        "stats_rows": [[q["name"], q["kind"], q["total_rows"], q["min_count"],
                        f"DP epsilon={q['epsilon']}" if q["dp"] else "exact"] for q in queries],
        "vocab": vocab,
        "crossing": crossing(config_data, orm, vocab),
        "decisions_made": config_decisions(config_data, index),
        "findings": findings,
        "ranked": rank_findings(findings),
        "verdict_decisions": VERDICT_DECISIONS,
        "min_count": DEFAULT_MIN_COUNT,
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
    env.filters.update(number=format_number, code=_md_code, table=_md_table, rows=_rows)
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


def role_findings(manifest: Mapping[str, Any]) -> list[Finding]:
    """A decision when the agent read the source as a role that may do more than read."""
    role = manifest.get("source_role")
    if isinstance(role, Mapping) and role.get("privileged") is True:
        return [Finding("source role", role_line(manifest))]
    return []


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
