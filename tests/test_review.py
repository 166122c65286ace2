"""The review report: content, warnings, escaping of untrusted data, and the page in Chromium."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from synthgate_agent.bundle import pack_bundle
from synthgate_shared.bundle import add_approval, verify_bundle
from synthgate_shared.errors import SynthgateError
from synthgate_shared.review import (
    bundle_summary,
    distribution_columns,
    personal_name_reason,
    review_bundle,
    row_level_warning,
    value_pattern_reason,
)
from synthgate_shared.signing import generate_keypair, load_private_key, load_public_key

CHROMIUM = Path("/usr/bin/chromium")
XSS = "<script>alert('x')</script>"
EVIL_NAME = '<img src=x onerror="alert(1)">'

CONFIG = """\
tables:
  customer: {vocabulary_table: true}
  category: {vocabulary_table: true}
  film:
    num_rows_per_pass: 2
    row_generators:
    - name: generic.choice
      kwargs: {items: [PG, NC-17, "Action"], stats: 'SRC_STATS["films_per_rating"]'}
      columns_assigned: rating
"""

ORM = """\
synthgate-orm: 1
source: {dialect: postgresql, server_version: '16.2', schema: public, table_count: 3}
tables:
  customer:
    columns:
    - {name: customer_id, type: integer, nullable: false}
    - {name: first_name, type: text}
    - {name: contact, type: text}
    - {name: reach, type: text}
    - {name: d, type: date}
    - {name: note, type: text}
    primary_key: [customer_id]
  category:
    columns:
    - {name: category_id, type: integer, nullable: false}
    - {name: label, type: text}
    primary_key: [category_id]
  film:
    columns:
    - {name: film_id, type: integer, nullable: false}
    - {name: rating, type: text}
    primary_key: [film_id]
"""


def _stats() -> dict[str, object]:
    return {
        "films_per_rating": {
            "query": "SELECT rating, count(*) AS n FROM film GROUP BY rating",
            "ran_at": dt.datetime(2024, 5, 1, 10, 0),
            "min_count": 7, "count_column": "n", "suppressed_rows": 2,
            "results": [{"rating": "G", "n": 178}, {"rating": "PG", "n": 194},
                        {"rating": XSS, "n": 210}, {"rating": "R | *bold*", "n": 195}],
        },
        "customer_emails": {
            "query": "SELECT email FROM customer  -- ``` fence breaker",
            "ran_at": dt.datetime(2024, 5, 1, 10, 0),
            "results": [{"email": f"person{i}@example.org"} for i in range(60)],
        },
        "mean_length": {
            "query": "SELECT length FROM film",
            "dp-query": "SELECT AVG(length) AS mean FROM query_result",
            "epsilon": 0.5, "delta": 1e-06,
            "results": [{"mean": 115.3}],
        },
        EVIL_NAME: {
            "query": f"SELECT '{XSS}' AS x, count(*) AS n FROM film",
            "dp-query": "SELECT COUNT(*) AS n FROM query_result",
            "epsilon": 1.0,
            "warnings": ["the dp-query returned no rows"],
            "results": [],
        },
    }


def _vocab(table: str, columns: dict[str, str], rows: list[dict[str, object]]) -> str:
    head = "".join(f"  {c}: {t}\n" for c, t in columns.items())
    body = "".join(f"- {json.dumps(r)}\n" for r in rows)
    return (f"synthgate-vocab: 1\ntable: {table}\ncolumns:\n{head}rows:\n{body}"
            f"row_count: {len(rows)}\n")


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import yaml

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    (tmp_path / "vocab").mkdir()
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "orm.yaml").write_text(ORM)
    (tmp_path / "src-stats.yaml").write_text(yaml.safe_dump(_stats(), sort_keys=False))
    customers = [{"customer_id": i, "first_name": f"Name{i}", "contact": f"c{i}@example.com",
                  "reach": f"+44 20 7946 {i:04d}", "d": f"19{50 + i % 40}-0{1 + i % 9}-1{i % 9}",
                  "note": XSS if i == 1 else f"note {i}"} for i in range(1, 13)]
    (tmp_path / "vocab" / "customer.yaml").write_text(_vocab(
        "customer", {"customer_id": "integer", "first_name": "text", "contact": "text",
                     "reach": "text", "d": "date", "note": "text"}, customers))
    (tmp_path / "vocab" / "category.yaml").write_text(_vocab(
        "category", {"category_id": "integer", "label": "text"},
        [{"category_id": 1, "label": "Action"}, {"category_id": 2, "label": "Comedy"}]))
    generate_keypair(tmp_path / "agent")
    generate_keypair(tmp_path / "reviewer")
    return pack_bundle(tmp_path / "bundle.tar.gz", tmp_path / "agent.pem",
                       tmp_path / "config.yaml", tmp_path / "orm.yaml",
                       tmp_path / "src-stats.yaml", tmp_path / "vocab")


def _review(bundle: Path, approve: bool = False) -> tuple[str, str]:
    if approve:
        add_approval(bundle, load_private_key(bundle.parent / "reviewer.pem"))
    out = bundle.parent / "review"
    html_path, md_path = review_bundle(bundle, [bundle.parent / "agent.pub"], out,
                                       [bundle.parent / "reviewer.pub"] if approve else [])
    assert (html_path, md_path) == (out / "review.html", out / "review.md")
    return html_path.read_text(), md_path.read_text()


# ---------------------------------------------------------------------------- checks


def test_personal_column_names() -> None:
    for name in ("first_name", "lastName", "email", "e_mail", "phone", "date_of_birth", "dob",
                 "birthdate", "address", "address2", "ssn", "postcode", "zip_code", "name"):
        assert personal_name_reason(name), name
    for name in ("category_id", "rating", "last_update", "film_count", "description"):
        assert personal_name_reason(name) is None, name


def test_personal_names_need_a_table_of_people_for_a_bare_name() -> None:
    assert personal_name_reason("name", "department") is None
    assert personal_name_reason("name", "customer")
    assert personal_name_reason("first_name", "department")
    assert value_pattern_reason(["Mary Smith", "John O'Neil", "Ann Lee"], people=True) == \
        "values look like people's full names"
    assert value_pattern_reason(["Mary Smith", "Human Resources"], people=False) is None


def test_literal_values_of_the_config_that_the_source_shows() -> None:
    from synthgate_shared.review_checks import (
        config_decisions,
        literal_findings,
        source_value_index,
    )

    config = {"tables": {"film": {"row_generators": [
        {"name": "generic.choice", "columns_assigned": "rating",
         "kwargs": {"items": ["PG", "G", 3], "stats": 'SRC_STATS["x"]'}},
        {"name": "synthgate.quantiles", "columns_assigned": ["length"],
         "kwargs": {"stats": 'SRC_STATS["auto__film__profile"]'}}]},
        "category": {"vocabulary_table": True}, "staff": {"ignore": True}}}
    index = source_value_index([("results of films_per_rating", ["PG", 178, "G"]),
                                ("vocabulary table category", ["Action"])])
    findings = literal_findings(config, index)
    assert len(findings) == 1 and findings[0].subject.startswith("tables.film.row_generators[0]")
    assert "'PG' (in results of films_per_rating)" in findings[0].reason
    decided = config_decisions(config, index)
    film = decided["tables"][0]
    assert film["kind"] == "synthesised" and film["generators"][0]["flagged"]
    assert "statistic auto__film__profile" in film["generators"][1]["arguments"]
    assert not film["generators"][1]["flagged"]
    assert [t["kind"] for t in decided["tables"][1:]] == ["copied verbatim (vocabulary)",
                                                           "ignored"]


def test_result_plots_by_shape() -> None:
    from synthgate_shared.review_results import plain_plot

    two = [{"a": x, "b": y, "n": i + j} for i, x in enumerate("pqr") for j, y in
           enumerate("st")]
    assert 'class="plot heatmap"' in (plain_plot("m", two, "n") or "")
    bars = plain_plot("f", [{"k": "x", "n": 1}, {"k": "y", "n": 5}], "n") or ""
    assert 'class="plot bars"' in bars and bars.index("<title>y (n)") < bars.index("<title>x (n)")
    children = plain_plot("c", [{"n_children": 2, "n": 9}, {"n_children": 1, "n": 3}], "n")
    assert (children or "").index("<title>1 (n)") < (children or "").index("<title>2 (n)")
    assert plain_plot("one", [{"k": "x", "n": 1}], "n") is None


def test_personal_value_patterns() -> None:
    today = dt.date(2025, 1, 1)
    assert value_pattern_reason(["a@b.org", "c@d.com", None]) == \
        "values look like e-mail addresses"
    assert value_pattern_reason(["+44 20 7946 0958", "(555) 123-4567"]) == \
        "values look like phone numbers"
    assert value_pattern_reason(["14033335568", "6172235589"]) == "values look like phone numbers"
    assert "dates of birth" in (value_pattern_reason([dt.date(1970, 1, 2), dt.date(1985, 3, 4)],
                                                     today) or "")
    assert "dates of birth" in (value_pattern_reason(["1970-01-02", "1990-12-31"], today) or "")
    # timestamps, recent dates, ordinary text and numbers are fine
    assert value_pattern_reason([dt.datetime(1970, 1, 2, 3, 4)], today) is None
    assert value_pattern_reason([dt.date(2024, 1, 2)], today) is None
    assert value_pattern_reason(["Action", "Comedy", "x@y.org"]) is None
    assert value_pattern_reason([1234567, 7654321]) is None
    assert value_pattern_reason([None, None]) is None


def test_row_level_results() -> None:
    assert row_level_warning("SELECT email FROM customer", "postgresql", 60)
    assert row_level_warning("SELECT email FROM customer", "postgresql", 10) is None
    assert row_level_warning("SELECT a, count(*) FROM t GROUP BY a", "postgresql", 500) is None
    assert row_level_warning("SELECT avg(x) FROM t", "mysql", 500) is None
    # a window aggregate keeps one output row per input row
    assert row_level_warning("SELECT x, count(*) OVER () FROM t", "sqlite", 500)
    assert "could not be parsed" in (row_level_warning("SELECT FROM WHERE (", "sqlite", 99) or "")


def test_distribution_detection() -> None:
    rows = [{"rating": "G", "n": 1}, {"rating": "PG", "n": 2}]
    assert distribution_columns(["rating", "n"], rows) == ("rating", "n")
    assert distribution_columns(["n", "rating"], rows) == ("rating", "n")
    assert distribution_columns(["rating", "n"], rows[:1]) is None
    assert distribution_columns(["a", "b", "c"], [{"a": 1, "b": 2, "c": 3}] * 3) is None
    assert distribution_columns(["a", "b"], [{"a": "x", "b": "y"}] * 3) is None


# ---------------------------------------------------------------------------- report

ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3",
                "section", "details", "summary", "ol", "g", "line", "polyline",
                "p", "nav", "a", "dl", "dt", "dd", "span", "code", "br", "ul", "li", "strong",
                "table", "tr", "th", "td", "pre", "div", "svg", "text", "rect"}


def _tags(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collector().feed(page)
    return found



def test_review_report_content(bundle: Path) -> None:
    page, markdown = _review(bundle)
    for text in (page, markdown):
        for name in ("films_per_rating", "customer_emails", "mean_length", "customer",
                     "category", "vocab/customer.yaml", "config.yaml", "not approved yet"):
            assert name.replace("_", "_") in text, name
        assert "result looks row-level: 60 rows" in text
        assert "2 result row(s) with a count below 7" in text
        assert "values look like e-mail addresses" in text
        assert "values look like phone numbers" in text
        assert "values look like dates of birth" in text
        assert "column name looks personal" in text
        assert "the dp-query returned no rows" in text
        assert "12 rows" in text
        plain = html.unescape(text)
        assert "value(s) that appear in the source's data: 'PG' (in results of " in plain
        assert "'Action' (in vocabulary table category)" in plain
        assert "statistic films_per_rating" in plain
    verified = verify_bundle(bundle, [load_public_key(bundle.parent / "agent.pub")])
    for entry in verified.files:
        assert entry.sha256 in page and entry.sha256 in markdown
    # the privacy budget: per query and total (0.5 + 1.0)
    assert "<td class=\"num\">0.5</td>" in page and ">1.5</th>" in page
    assert "| Total | 1.5 | 1e-06 |" in markdown
    # one chart, for the only distribution; long results are capped
    assert page.count("<svg") == 1
    assert "Showing 50 of 60 rows." in page and "Showing 50 of 60 rows." in markdown
    assert "First 5 of 12 rows." in page


def test_review_escapes_untrusted_data(bundle: Path) -> None:
    page, markdown = _review(bundle)
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert html.escape(XSS, quote=False) in page or html.escape(XSS) in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    tags = _tags(page)
    assert {name for name, _ in tags} <= ALLOWED_TAGS
    for name, attrs in tags:  # only in-page links, no sources, no event handlers
        for attr, value in attrs:
            assert attr not in ("src", "srcset", "action") and not attr.startswith("on")
            assert attr != "href" or (value or "").startswith("#"), (name, attr, value)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    # Markdown: no raw HTML, table cells cannot break the table, code cannot break its fence
    # (SQL is shown verbatim inside fenced code blocks, which renderers never interpret)
    prose = re.sub(r"^(`{3,})sql\n.*?^\1$", "", markdown, flags=re.S | re.M)
    assert "SELECT" not in prose
    assert not re.search(r"(?<!\\)<", prose), "an unescaped < outside code"
    assert r"\<script\>" in markdown
    assert r"R \| \*bold\* | 195 |" in markdown
    assert "````sql\nSELECT email FROM customer  -- ``` fence breaker\n````" in markdown


def test_review_shows_approvals(bundle: Path) -> None:
    page, markdown = _review(bundle, approve=True)
    assert "not approved yet" not in page and "not approved yet" not in markdown
    assert "Reviewer approval by key" in markdown and "**valid**" in markdown
    assert '<span class="badge ok">valid</span> key' in page


def test_review_refuses_to_overwrite_and_an_unverified_bundle(bundle: Path) -> None:
    _review(bundle)
    with pytest.raises(SynthgateError, match="already exists"):
        _review(bundle)
    review_bundle(bundle, [bundle.parent / "agent.pub"], bundle.parent / "review", force=True)
    with pytest.raises(SynthgateError, match="unknown key"):
        review_bundle(bundle, [bundle.parent / "reviewer.pub"], bundle.parent / "other")
    assert not (bundle.parent / "other").exists()


def test_summary_for_verify(bundle: Path) -> None:
    verified = verify_bundle(bundle, [load_public_key(bundle.parent / "agent.pub")])
    summary = bundle_summary(verified)
    assert "signature valid" in summary and "vocabulary tables: category, customer" in summary
    assert "mean_length: 1 rows, DP epsilon=0.5 delta=1e-06" in summary
    assert "films_per_rating: 4 rows, 2 small-count rows suppressed" in summary
    assert "epsilon 1.5, delta 1e-06 over 2 DP queries" in summary


def test_review_commands(bundle: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    from synthgate_agent.cli import app as agent_app
    from synthgate_builder.cli import app as builder_app
    from synthgate_shared.cli import run_app

    monkeypatch.chdir(bundle.parent)
    assert run_app(agent_app, "synthgate-agent", ["review", "bundle.tar.gz", "--trust",
                                                  "agent.pub", "--out-dir", "a"]) == 0
    assert run_app(builder_app, "synthgate-builder", ["review", "bundle.tar.gz", "--trust",
                                                      "agent.pub", "--out-dir", "b"]) == 0
    assert (bundle.parent / "a" / "review.md").read_text() == \
        (bundle.parent / "b" / "review.md").read_text()
    assert run_app(builder_app, "synthgate-builder", [
        "review", "bundle.tar.gz", "--trust", "agent.pub", "--require-approval", "reviewer.pub",
        "--out-dir", "c"]) == 1
    assert "no approval by a required reviewer key" in capsys.readouterr().err
    assert not (bundle.parent / "c").exists()


# ---------------------------------------------------------------------------- in a browser


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG into (width, height, rows of raw pixel bytes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6), (depth, color)
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + b) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, bpp, rows


@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="/usr/bin/chromium is missing (apt-get install -y chromium)")
def test_review_page_in_headless_chromium(bundle: Path, tmp_path: Path) -> None:
    _review(bundle)
    page = bundle.parent / "review" / "review.html"
    common = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, check=True).stdout
    for name in _stats():
        assert html.escape(name, quote=False) in dom, name
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    shot = tmp_path / "review.png"
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
                   capture_output=True, check=True)
    width, bpp, rows = _png_pixels(shot.read_bytes())
    colours: set[bytes] = set()
    inked = total = 0
    for line in rows[::4]:
        for x in range(0, width * bpp, bpp * 4):
            pixel = line[x:x + 3]
            colours.add(pixel)
            total += 1
            inked += min(pixel) < 200
    assert len(colours) > 20, "the screenshot is nearly uniform"
    assert inked / total > 0.01, "almost nothing is drawn on the page"


def test_small_row_count_released_exactly_is_said() -> None:
    """A profile with min-count 0 and a 5-row table: the review says the count is released
    exactly on purpose (structural), not suppressed."""
    from synthgate_shared.review import _query_section

    entry = {"query": "SELECT count(*) AS n FROM media_type", "min_count": 0,
             "count_column": "n", "suppressed_rows": 0, "results": [{"n": 5}]}
    reasons = [f.reason for f in _query_section("auto__media_type__profile", entry,
                                                "postgresql")["findings"]]
    assert any("released exactly" in r and "structural" in r for r in reasons)
    entry["results"] = [{"n": 500}]
    assert not _query_section("auto__t__profile", entry, "postgresql")["findings"]
