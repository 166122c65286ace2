"""The fidelity report as pages: ``report.html`` (self-contained: inline CSS and SVG plots,
no script, no network) and ``report.md``, rendered from the Jinja templates of this package
(the page style is the review's, from ``synthgate_shared``).

``report_view`` turns a ``FidelityReport`` into plain data: a header of run facts, the
summary figures with their thresholds and pass/fail, one section per kind of metric (what
it measures in one sentence, source and synthetic side by side, plots with axes), and the
hand-written statistics run again next to the bundle's results.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
from markupsafe import Markup
from synthgate_shared.fidelity import THRESHOLDS
from synthgate_shared.orm import OrmModel
from synthgate_shared.plots import Series, bar_chart, cdf_chart
from synthgate_shared.review_results import cell, is_date_type, is_number, result_columns

from synthgate_builder.report import Custom, FidelityReport, Metric

MAX_PLOT_BARS = 15
# sensible limits used when --fail-under does not give one (a figure above fails)
DEFAULT_THRESHOLDS: dict[str, float] = {"tvd": 0.1, "ks": 0.1, "children": 0.15,
                                        "nulls": 0.05, "corr": 0.2, "rows": 0.05, "fk": 0.0,
                                        "unique": 0.0}
# metric kind -> (title, one-sentence explanation, threshold key)
KINDS: dict[str, tuple[str, str, str]] = {
    "rows": ("Row counts", "How far the synthetic row count is from the source's times the "
             "scale, as a share of the latter (0 = the same).", "rows"),
    "nulls": ("Null fractions", "The difference between the source's and the synthetic "
              "share of NULLs in the column (0 = the same).", "nulls"),
    "tvd": ("Categorical columns", "Total variation distance of the value frequencies: the "
            "share of rows that would have to change value to match the source (0 to 1).",
            "tvd"),
    "joint_tvd": ("Pairs of categorical columns", "Total variation distance of the joint "
                  "frequencies of two columns (0 to 1).", "tvd"),
    "ks": ("Numbers and dates", "Kolmogorov-Smirnov statistic: the largest gap between the "
           "source's and the synthetic cumulative distribution (CDF), 0 to 1.", "ks"),
    "length_ks": ("Text lengths", "Kolmogorov-Smirnov statistic of the text lengths (0 to 1).",
                  "ks"),
    "children": ("Children per parent", "Total variation distance of the distribution of "
                 "the number of children each parent row has (0 to 1).", "children"),
    "corr": ("Correlations", "Pearson correlation of two numeric columns in the source and "
             "in the synthetic data, and their absolute difference.", "corr"),
    "order": ("Date order", "The share of rows whose later date is on or after the earlier "
              "one, in the source and the synthetic data, and their difference.", "corr"),
    "fk": ("Foreign keys", "Synthetic rows whose foreign key points at no parent row "
           "(should be 0).", "fk"),
    "unique": ("Keys", "Values of a primary or unique key that occur more than once "
               "(should be 0).", "unique"),
}


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3g}" if isinstance(value, float) and not value.is_integer() else \
        f"{value:,.0f}"


def _limits(thresholds: Mapping[str, float]) -> dict[str, tuple[float, str]]:
    """key -> (limit, where it comes from)."""
    out = {k: (v, "default") for k, v in DEFAULT_THRESHOLDS.items()}
    out.update({k: (v, "--fail-under") for k, v in thresholds.items()})
    return out


def _status(value: float | None, limit: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return "pass" if value <= limit else "fail"


def _side(points: Sequence[tuple[Any, float]]) -> str:
    """One side of a metric without plot (row count, correlation, share): its value."""
    return _fmt(points[0][1]) if len(points) == 1 else ""


def _column_type(model: OrmModel, table: str, subject: str) -> str | None:
    t = model.tables.get(table)
    if t is None:
        return None
    return next((str(c.type) for c in t.columns if c.name == subject), None)


def metric_plot(metric: Metric, model: OrmModel) -> str | None:
    """The plot of a metric: source and synthetic shares as bars (children in the order of
    their count), or their CDFs (dates as dates)."""
    if not (metric.plot and metric.source and metric.synthetic):
        return None
    title = f"{metric.table}.{metric.subject}"
    if metric.plot == "bars":
        pairs = list(zip(metric.source, metric.synthetic, strict=True))
        if metric.kind == "children" and all(is_number(s[0]) for s, _ in pairs):
            pairs.sort(key=lambda p: float(p[0][0]))
        pairs = pairs[:MAX_PLOT_BARS]
        labels = [cell(s[0]) for s, _ in pairs]
        return bar_chart(labels, [Series("source", [], [s[1] for s, _ in pairs]),
                                  Series("synthetic", [], [y[1] for _, y in pairs])],
                         f"{title}: share of rows", "share of rows",
                         "children" if metric.kind == "children" else metric.subject)
    dates = metric.kind == "ks" and is_date_type(_column_type(model, metric.table,
                                                              metric.subject))
    if metric.kind == "length_ks":
        x_label = "length (characters)"
    else:
        x_label = f"{metric.subject} (date, UTC)" if dates else metric.subject
    series = [Series(name, [float(x) for x, _ in pts], [p for _, p in pts])
              for name, pts in (("source", metric.source), ("synthetic", metric.synthetic))]
    return cdf_chart(series, f"CDF of {title}", x_label, dates)


def _section(kind: str, metrics: list[Metric], model: OrmModel,
             limits: Mapping[str, tuple[float, str]]) -> dict[str, Any]:
    title, explain, key = KINDS.get(kind, (kind, "A comparison of the source's and the "
                                           "synthetic statistic (0 = the same).", ""))
    limit = limits[key][0] if key in limits else DEFAULT_THRESHOLDS["tvd"]
    rows = [{"table": m.table, "subject": m.subject, "source": _side(m.source),
             "synthetic": _side(m.synthetic), "value": _fmt(m.value),
             "status": _status(m.value, limit)} for m in metrics]
    plots = [Markup(p) for m in metrics if (p := metric_plot(m, model)) is not None]
    return {"kind": kind, "title": title, "explain": explain, "limit": _fmt(limit),
            "rows": rows, "plots": plots, "failed": sum(r["status"] == "fail" for r in rows),
            "sides": any(r["source"] for r in rows)}


def custom_view(custom: Custom) -> dict[str, Any]:
    """A hand-written statistic: rows matched on their label (non-number) columns, each
    number column as ``source / synthetic``."""
    columns = result_columns([*custom.source, *custom.synthetic])
    rows = [*custom.source, *custom.synthetic]
    labels = [c for c in columns if not all(r.get(c) is None or is_number(r.get(c))
                                            for r in rows)]
    numbers = [c for c in columns if c not in labels]

    def key(r: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(cell(r.get(c)) for c in labels)

    synthetic = {key(r): r for r in custom.synthetic}
    seen = {key(r) for r in custom.source}
    out = [[*key(r), *(f"{cell(r.get(c))} / {cell(synthetic.get(key(r), {}).get(c))}"
                       for c in numbers)] for r in custom.source]
    out += [[*key(r), *(f"- / {cell(r.get(c))}" for c in numbers)]
            for r in custom.synthetic if key(r) not in seen]
    return {"name": custom.name, "columns": [*labels, *(f"{c} (source / synthetic)"
                                                        for c in numbers)], "rows": out[:50],
            "total": len(out)}


def report_view(report: FidelityReport, model: OrmModel, thresholds: Mapping[str, float],
                problems: Sequence[str], facts: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the report pages show, as plain data. ``facts``: the header's run facts
    (``bundle_id``, ``agent_key``, ``source``, ``destination``, ``scale``, ``seed``,
    ``generated_at``, ...; missing ones are shown as not recorded)."""
    limits = _limits(thresholds)
    summary = [{"key": k, "figure": THRESHOLDS[k], "value": _fmt(v),
                "limit": _fmt(limits[k][0]), "origin": limits[k][1],
                "status": _status(v, limits[k][0])} for k, v in report.summary().items()]
    kinds = [*KINDS, *sorted({m.kind for m in report.metrics} - set(KINDS))]  # new kinds too
    sections = [_section(kind, [m for m in report.metrics if m.kind == kind], model, limits)
                for kind in kinds if any(m.kind == kind for m in report.metrics)]
    header = {key: facts.get(key) for key in ("bundle_id", "agent_key", "source",
                                                "destination", "scale", "seed",
                                                "generated_at", "notes")}
    header["reported_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return {"header": header, "summary": summary, "problems": list(problems),
            "sections": sections, "custom": [custom_view(c) for c in report.custom],
            "skipped": report.skipped, "comparisons": len(report.metrics),
            "failed": sum(s["status"] == "fail" for s in summary)}


def _environment(markdown: bool) -> jinja2.Environment:
    loader = jinja2.ChoiceLoader([jinja2.PackageLoader("synthgate_builder", "templates"),
                                  jinja2.PackageLoader("synthgate_shared", "templates")])
    return jinja2.Environment(loader=loader, autoescape=not markdown,
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True,
                              finalize=_md_cell if markdown else None)


def _md_cell(value: Any) -> str:
    """Markdown table cells cannot be broken by a value: pipes escaped, one line."""
    text = " ".join(str("" if value is None else value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "\\<")


def render_html(view: Mapping[str, Any]) -> str:
    """``report.html`` from its view."""
    return _environment(markdown=False).get_template("report.html.j2").render(**view)


def render_markdown(view: Mapping[str, Any]) -> str:
    """``report.md`` from its view."""
    return _environment(markdown=True).get_template("report.md.j2").render(**view)
