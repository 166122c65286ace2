"""Issue 16: the review and the fidelity report as a person sees them, in headless Chromium.

Both pages are made through the CLIs for Pagila (PostgreSQL) and for the clinic demo schema
with every kind of statistic the agent proposes plus hand-written ones (a DP count, a plain
aggregate, a two-way marginal), then opened at 1366x768: no element is wider than the
viewport (with every fold open too), every plot has axes with ticks and labels (CDFs
labelled as such), and the first screen holds the verdict.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pages.browser import CHROMIUM, VIEWPORT, page_checks, screenshot
from synthgate_agent.cli import app as agent
from synthgate_builder.cli import app as builder
from synthgate_shared.cli import run_app

ROOT = Path(__file__).resolve().parents[1]
REVIEW_FIRST = ["#verdict-crossing", "#privacy", "#verdict-decisions"]
REPORT_FIRST = ["#run", "#summary"]
HAND_WRITTEN = """\
- name: patients_by_sex
  query: SELECT sex, count(*) AS n FROM patient GROUP BY sex
- name: appointments_by_status_and_length
  query: SELECT status, duration_min, count(*) AS n FROM appointment GROUP BY status, duration_min
"""

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing "
                                "(scripts/ensure-tools.sh installs it)")


def _agent(*args: str) -> None:
    assert run_app(agent, "synthgate-agent", list(args)) == 0, args


def _builder(*args: str) -> None:
    assert run_app(builder, "synthgate-builder", list(args)) == 0, args


def _bundle_and_review(work: Path, vocabulary: list[str], extra_stats: str = "") -> None:
    _agent("make-tables")
    _agent("generate-config", *(x for v in vocabulary for x in ("--vocabulary", v)))
    if extra_stats:
        with (work / "config.yaml").open("a", encoding="utf-8") as out:
            out.write(extra_stats)
    _agent("make-stats")
    _agent("make-vocab")
    _agent("keygen", "--out", "agent")
    _agent("bundle", "--key", "agent.pem", "--out", "bundle.tar.gz")
    _agent("review", "bundle.tar.gz", "--trust", "agent.pub", "--out-dir", "review")


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo's clinic (SQLite): bundle, review, synthetic copy and report."""
    work = tmp_path_factory.mktemp("clinic")
    con = sqlite3.connect(work / "clinic.db")
    con.executescript((ROOT / "demo" / "clinic.sql").read_text(encoding="utf-8"))
    con.close()
    dp = "".join(line for line in (ROOT / "demo" / "dp-stats.yaml").read_text().splitlines(True)
                 if not line.startswith(("#", "privacy-budget")))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        mp.setenv("SRC_DSN", f"sqlite:///{work / 'clinic.db'}")
        mp.setenv("DST_DSN", f"sqlite:///{work / 'synthetic.db'}")
        _bundle_and_review(work, ["department", "drug"],
                           dp + HAND_WRITTEN + "privacy-budget: {epsilon: 1.0, delta: 0.0001}\n")
        b = ["--bundle", "bundle.tar.gz", "--trust", "agent.pub"]
        _builder("create-generators", *b)
        _builder("create-tables", *b)
        _builder("create-vocab", *b)
        _builder("create-data", *b, "--scale", "1", "--seed", "3", "--run-record", "run.json")
        _builder("report", *b, "--out-dir", "report", "--run-record", "run.json")
        yield work


@pytest.fixture(scope="module")
def pagila(pagila_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Pagila: bundle and review; the report compares Pagila with itself (read only)."""
    work = tmp_path_factory.mktemp("pagila-pages")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        mp.setenv("SRC_DSN", pagila_url)
        _bundle_and_review(work, ["language", "category", "country"])
        _builder("report", "--bundle", "bundle.tar.gz", "--trust", "agent.pub", "--dsn",
                 pagila_url, "--out-dir", "report")
        yield work


def _assert_layout(checks: dict[str, Any], first: list[str], whole: list[str]) -> None:
    width, height = VIEWPORT[0], checks["viewport"]["height"]  # the window less its frame
    assert checks["viewport"]["width"] == width
    assert checks["scrollWidth"] <= width and checks["scrollWidthOpen"] <= width
    assert not checks["wideClosed"], checks["wideClosed"][:5]
    assert not checks["wideOpen"], checks["wideOpen"][:5]
    for place in checks["firstScreen"]:
        assert place["found"], place
        assert place["top"] < height, place
        if place["selector"] in whole:
            assert place["bottom"] <= height, place
    assert checks["plots"], "no plot at all"
    for plot in checks["plots"]:
        for axis in ("x", "y"):
            # a category axis may hold one category; a value axis has at least two ticks
            least = 1 if ("bars" in plot["kind"] and axis == "y") or "heatmap" in plot["kind"] \
                else 2
            assert plot[axis] is not None, plot
            assert plot[axis]["ticks"] >= least and plot[axis]["lines"] > least, plot
            assert plot[axis]["label"].strip(), plot
        if "cdf" in plot["kind"]:
            assert plot["title"].startswith("CDF of "), plot
            assert "CDF" in plot["y"]["label"], plot
        if plot["series"] > 1:
            assert plot["legend"], plot
        assert plot["width"] <= width


def _check_pages(work: Path, tmp_path: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for page, first, whole in ((work / "review" / "review.html", REVIEW_FIRST, REVIEW_FIRST[:2]),
                               (work / "report" / "report.html", REPORT_FIRST, REPORT_FIRST)):
        checks = page_checks(page, first, tmp_path / "profile")
        _assert_layout(checks, first, whole)
        shot = screenshot(page, tmp_path / f"{page.stem}.png", tmp_path / "profile")
        assert shot.stat().st_size > 10_000
        out[page.stem] = checks
    return out


def test_clinic_pages_in_chromium(clinic: Path, tmp_path: Path) -> None:
    checks = _check_pages(clinic, tmp_path)
    kinds = {p["kind"] for p in checks["review"]["plots"]}
    assert {"plot cdf", "plot bars", "plot heatmap"} <= kinds
    assert any(p["series"] == 2 for p in checks["report"]["plots"])
    review = (clinic / "review" / "review.html").read_text()
    first = review[:review.index('<nav>')]
    # the verdict: what is copied verbatim (with row counts), the DP statistic and its cost
    assert "<strong>department</strong> (7 rows)" in first and "drug" in first
    assert "patients_by_sex_dp" in first and "DP budget ε=0.5" in first
    assert "department.name" not in review  # a department's name is not personal data
    report = (clinic / "report" / "report.html").read_text()
    head = report[:report.index("<nav>")]
    assert "seed 3" in head and "scale 1.0" in head and "sqlite:///" in head
    # hand-written aggregates run again on the synthetic database, next to the bundle's
    assert "patients_by_sex" in report and "n (source / synthetic)" in report
    assert "appointments_by_status_and_length" in report


def test_pagila_pages_in_chromium(pagila: Path, tmp_path: Path) -> None:
    checks = _check_pages(pagila, tmp_path)
    assert any("cdf" in p["kind"] for p in checks["review"]["plots"])
    review = (pagila / "review" / "review.html").read_text()
    first = review[:review.index('<nav>')]
    assert "<strong>language</strong> (6 rows)" in first
    assert "no DP budget spent" in first
