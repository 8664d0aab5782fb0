"""`kzprobe report`: one self-contained HTML page, its grids, timelines, network tables and
sources against known fixtures, and no way for a report's strings to become markup or script."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from kzprobe.analyst.html import ReportPicture, render_html
from kzprobe.analyst.reading import OONI_LICENCE, digest_report, provenance_of
from kzprobe.errors import ExitCode
from kzprobe.report.read import check_report
from support import reports as f
from support.html_page import Page, parse_page

MISSING_HOURS = set(range(60, 66))  # 5 Jan 12:00 to 17:00: neither vantage could scan
# The elements the page is made of; anything else came from somewhere it should not.
PAGE_ATTRIBUTES = {
    "lang", "charset", "http-equiv", "content", "name", "id", "class", "type", "hidden", "style", "width", "height",
    "viewbox", "role", "aria-label", "aria-hidden", "data-chart", "data-save", "data-for", "data-name", "x", "y", "d",
    "fill", "stroke", "stroke-width", "cx", "cy", "r", "patternunits", "font-style",
}
PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "main", "footer", "section", "aside", "h1", "h2",
    "h3", "p", "ul", "li", "br", "strong", "span", "div", "details", "summary", "table", "thead", "tbody", "tr",
    "th", "td", "figure", "figcaption", "button", "script", "svg", "defs", "pattern", "rect", "path", "circle", "text",
}


@pytest.fixture(scope="module")
def january(tmp_path_factory):
    directory = tmp_path_factory.mktemp("january")
    f.write_january_2022(directory, vantages=("almaty-vps", "shymkent-beeline"), skip=MISSING_HOURS)
    return directory


@pytest.fixture(scope="module")
def january_page(january, tmp_path_factory) -> Page:
    output = tmp_path_factory.mktemp("out") / "report.html"
    result = f.cli("report", january, "--output", output, "--no-cache")
    assert result.exit_code == 0, result.stderr
    return parse_page(output.read_text(encoding="utf-8"))


def _page_of(*reports, **options) -> Page:
    picture = ReportPicture()
    for made in reports:
        picture.add(digest_report(check_report(json.loads(json.dumps(made)), "test"), "test", detail=False))
    picture.grid.finish()
    return parse_page(render_html(picture, generated_at=datetime(2026, 1, 1, tzinfo=UTC), **options))


# --- what the page shows ------------------------------------------------------------------


def test_the_grid_follows_the_january_2022_events_hour_by_hour(january_page):
    # Columns are hours from 3 Jan 00:00 UTC; hours 60-65 had no scan.
    assert january_page.row_runs("v0", "orda-kz") == [
        (0, 58, {"reachable": 58}),
        (58, 1, {"blocked/tls": 1}),
        (59, 1, {"blocked/network": 1}),
        (66, 129, {"blocked/network": 129}),
        (195, 21, {"blocked/tls": 21}),
    ]
    assert january_page.row_runs("v1", "telegram") == [(0, 38, {"reachable": 38}), (38, 22, {"blocked/tcp": 22}),
                                                       (66, 150, {"blocked/tcp": 150})]
    assert january_page.data["step"] == 3600 and january_page.data["cols"] == 216


def test_the_connectivity_band_shows_the_shutdown(january_page):
    assert january_page.row_runs("v0", "connectivity") == [
        (0, 59, {"online": 59}),
        (59, 1, {"offline": 1}),
        (66, 111, {"offline": 111}),
        (177, 18, {"international_cut": 18}),
        (195, 21, {"online": 21}),
    ]
    band = next(svg for svg in january_page.svgs() if svg.get("data-chart") == "v0")
    classes = {element.get("class") for element in band.iter() if element.tag == "path"}
    assert {"f-online", "f-offline", "f-cut", "f-net", "f-tls", "f-dns", "f-tcp", "lane"} <= classes


def test_each_target_has_a_timeline_across_vantages(january_page):
    charts = january_page.data["charts"]
    assert [key for key in charts if key.startswith("t")] == ["t0", "t1", "t2", "t3"]
    assert [row["ref"][0] for row in charts["t0"]["rows"]] == ["v0", "v1"]
    assert january_page.row_runs("t0", "orda-kz") == january_page.row_runs("v0", "orda-kz")
    titles = [svg.findtext("title") for svg in january_page.svgs() if (svg.get("data-chart") or "").startswith("t")]
    assert titles[0] == "orda-kz (Orda.kz, NEWS) across vantages"


def test_a_run_carries_its_evidence_and_latest_explanation(january_page):
    row = january_page.data["charts"]["v0"]["rows"][1]
    last = row["r"][-1]
    assert january_page.string(last[6]) == "tls.timeout"
    assert january_page.string(last[7]) == "TLS handshake timed out after the ClientHello; the control completed it."
    assert datetime.fromtimestamp(last[8], UTC) == datetime(2022, 1, 11, 23, tzinfo=UTC)


def test_the_network_table_says_what_is_blocked_how(january_page):
    rows = [row for row in january_page.rows if row and row[0] == "orda-kz"]
    assert len(rows) == 2  # AS9198 and AS21299
    target, category, states, evidence, first, last = rows[0]
    assert (target, category) == ("orda-kz", "NEWS")
    assert states == "net blocked/network 130 ok reachable 58 tls blocked/tls 22 of 210"
    assert evidence == "connectivity.offline ×112, tls.timeout ×22, connectivity.international_cut ×18"
    assert (first, last) == ("2022-01-05 10:00Z", "2022-01-11 23:00Z")
    assert "AS21299 · KZ" in january_page.text and "0 targets reachable in every scan" in january_page.text


def test_the_header_states_the_sources(january_page):
    assert ["almaty-vps", "AS9198", "KZ", "210", "0", "2022-01-03 00:00Z", "2022-01-11 23:00Z",
            "almaty-vps-20220103T0000almaty-vps-20220111T2300"] in january_page.rows
    text = january_page.text
    assert ("Span: 2022-01-03 00:00Z to 2022-01-11 23:00Z (all times UTC); 420 scans from 2 vantages; "
            "one column per hour") in text
    assert "Scans made by: kzprobe 0.1.0 (420 scans)" in text
    assert "shymkent-beeline: shymkent-beeline-20220111T2300" in text  # the scan ids, listed
    assert "Imported data" not in text


def test_every_chart_is_stamped_with_its_source_and_can_be_saved(january_page):
    charts = [svg for svg in january_page.svgs() if svg.get("data-chart")]
    assert len(charts) == 6
    for chart in charts:
        stamp = " ".join(t.text or "" for t in chart.iter() if t.get("class") == "stamp")
        assert "Source: 420 kzprobe reports from 2 vantages; drawn by kzprobe" in stamp
        saves = {(e.attrs["data-save"], e.attrs["data-for"]) for e in january_page.elements if e.tag == "button"}
        assert {("svg", chart.get("data-chart")), ("png", chart.get("data-chart"))} <= saves


@pytest.mark.parametrize(
    ("provenance", "expected"),
    [
        ({"source": "OONI", "licence": "CC BY-NC-SA 4.0"}, ("OONI", "CC BY-NC-SA 4.0")),
        ({"source": "ooni web_connectivity"}, ("ooni web_connectivity", OONI_LICENCE)),  # OONI's licence, unsaid
        ({"measurement_uid": "20220105…", "report_id": "x"}, ("OONI", OONI_LICENCE)),
        ({"source": "partner lab", "license": "CC BY 4.0"}, ("partner lab", "CC BY 4.0")),
        ({"source": 42, "licence": ["x"]}, ("imported data", None)),  # wrong types: nothing trusted
        ("OONI", None),  # not an object: no provenance
    ],
)
def test_provenance_is_read_defensively(provenance, expected):
    made = f.kz_report()
    made["provenance"] = provenance
    found = provenance_of(made)
    assert (tuple(found) if found else None) == expected


def test_imported_data_carries_its_licence_in_the_header_and_every_chart():
    imported = f.kz_report(vantage="ooni-AS9198", started_at=f.START + timedelta(hours=1))
    for result in imported["results"]:  # per-result provenance only, as an importer may write it
        result["provenance"] = {"ooni": {"measurement_uid": "20220105T100000Z_webconnectivity_KZ_9198_n1_x"}}
    page = _page_of(f.kz_report(), imported)
    assert "Imported data: OONI (1 scan), licensed CC BY-NC-SA 4.0: credit the source" in page.text
    for chart in (svg for svg in page.svgs() if svg.get("data-chart")):
        assert "Includes OONI data (CC BY-NC-SA 4.0)." in "".join(chart.itertext())


def test_columns_become_days_beyond_two_weeks(tmp_path):
    scans = [f.kz_report(started_at=f.START + timedelta(hours=6 * n), scan_id=f"s{n}") for n in range(4 * 20)]
    page = _page_of(*scans)  # 5 Jan 10:00 to 25 Jan 04:00
    assert page.data["step"] == 86400 and page.data["cols"] == 21
    assert page.row_runs("v0", "orda-kz") == [(0, 21, {"blocked/tls": 80})]
    assert "one column per day" in page.text


# --- no way in for a report's strings -----------------------------------------------------


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory) -> Page:
    directory = tmp_path_factory.mktemp("hostile")
    (directory / "hostile.json").write_text(json.dumps(f.hostile_markup_report()), encoding="utf-8")  # ASCII escapes
    output = directory / "report.html"
    result = f.cli("report", directory, "-o", output, "--title", f.HOSTILE_MARKUP[3], "--no-cache")
    assert result.exit_code == 0, result.stderr
    return parse_page(output.read_text(encoding="utf-8"))


def test_hostile_strings_add_no_element_attribute_or_script(hostile_page):
    assert {element.tag for element in hostile_page.elements} <= PAGE_TAGS
    for element in hostile_page.elements:
        assert set(element.attrs) <= PAGE_ATTRIBUTES, element
    scripts = [attrs for attrs, _ in hostile_page.scripts]
    assert scripts == [{"type": "application/json", "id": "kz-data"}, {}]
    assert len(hostile_page.styles) == 2


def test_hostile_strings_stay_text_everywhere(hostile_page):
    text = hostile_page.text
    for hostile in ("<script>alert(1)</script> #0", '"><img src=x onerror=alert(2)>', "'><svg onload=alert(3)>",
                    "</script><script>alert(4)</script>", "&lt;b&gt; &amp; &#60;i&#62;"):
        assert hostile in text  # shown as the very characters, not interpreted
    assert "<script>alert(1)</script> #0" in hostile_page.data["strings"]
    assert "\x1b" not in hostile_page.html and "\u202e" not in hostile_page.html and "\ufffe" not in hostile_page.html
    for chart in hostile_page.svgs():  # every SVG still parses as XML, as a downloaded one must
        assert chart.tag == "svg"


def test_the_page_loads_nothing_from_anywhere(hostile_page, january_page):
    for page in (hostile_page, january_page):
        assert not any(e.tag in ("img", "link", "iframe", "object", "embed", "image", "use") for e in page.elements)
        for attrs in (e.attrs for e in page.elements):
            assert "src" not in attrs and "href" not in attrs
        css = " ".join(page.styles) + " ".join(a.get("style") or "" for a in (e.attrs for e in page.elements))
        assert re.findall(r"url\(\s*([^)]*)\)", css) and all(
            target.startswith("#") for target in re.findall(r"url\(\s*([^)]*)\)", css))
        assert "@import" not in css and "@font-face" not in css
        for svg in page.svgs():
            for element in svg.iter():
                assert not any(value.startswith(("http:", "https:", "//")) for value in element.attrib.values())


def test_only_the_pages_own_script_may_run(january_page):
    policy = next(e.attrs["content"] for e in january_page.elements
                  if e.tag == "meta" and e.attrs.get("http-equiv") == "Content-Security-Policy")
    script = january_page.scripts[-1][1]
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    assert "default-src 'none'" in policy and f"script-src 'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "innerHTML" not in script and "eval(" not in script and "fetch(" not in script


# --- the command ---------------------------------------------------------------------------


def test_filters_narrow_the_page(january, tmp_path):
    output = tmp_path / "almaty.html"
    result = f.cli("report", january, "-o", output, "--vantage", "almaty-vps", "--target", "orda-kz",
                   "--since", "2022-01-05", "--until", "2022-01-06")
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(r"kzprobe: .*almaty\.html written \(\d+ KB\): 18 scans from 1 vantage\(s\), 1 targets, "
                        r"one column per hour\n", result.stderr)
    page = parse_page(output.read_text(encoding="utf-8"))
    assert [key for key in page.data["charts"]] == ["v0", "t0"]
    assert "Only: vantage almaty-vps; target orda-kz; since 2022-01-05; until 2022-01-06." in page.text


@pytest.mark.parametrize(
    ("setup", "options", "code", "message"),
    [
        ("empty", [], ExitCode.BAD_INPUT, "no report found"),
        ("broken", [], ExitCode.BAD_INPUT, "no readable report (1 file(s) skipped)"),
        ("broken_and_good", ["--strict"], ExitCode.BAD_INPUT, "(--strict)"),
        ("good", ["--vantage", "nowhere"], ExitCode.BAD_INPUT, "no report matches"),
        ("good", ["--output", "missing-dir/x.html"], ExitCode.CANNOT_WRITE, "cannot write"),
    ],
)
def test_bad_input_and_unwritable_output_are_said_and_exit_nonzero(tmp_path, monkeypatch, setup, options, code,
                                                                    message):
    monkeypatch.chdir(tmp_path)
    reports = tmp_path / "reports"
    reports.mkdir()
    if "broken" in setup:
        (reports / "broken.json").write_text('{"format": "kzprobe-report", "format_version": 1, "resu')
    if "good" in setup:
        f.write_json(reports / "good.json", f.kz_report())
    result = f.cli("report", reports, *options)
    assert result.exit_code == code
    assert message in result.stderr
    assert not (tmp_path / "report.html").exists()


def test_a_skipped_file_is_named_and_counted_in_the_page(tmp_path):
    f.write_json(tmp_path / "r" / "good.json", f.kz_report())
    (tmp_path / "r" / "cut.json").write_text('{"format": "kzprobe-report"')
    result = f.cli("report", tmp_path / "r", "-o", tmp_path / "out.html")
    assert result.exit_code == 0 and "cut.json: truncated JSON" in result.stderr
    page = parse_page((tmp_path / "out.html").read_text())
    assert "Unreadable files skipped: 1 (each was named on stderr)." in page.text


def test_networks_are_in_numeric_order_and_the_unknown_one_last():
    page = _page_of(f.kz_report(vantage="b", asn="AS21299", scan_id="1"),
                    f.kz_report(vantage="a", asn="AS9198", scan_id="2"),
                    f.kz_report(vantage="lab", asn=None, country=None, scan_id="3"))
    headings = re.findall(r"<h3>([^<]*)</h3>", page.html.split('id="networks"')[1])
    assert headings == ["AS9198 · KZ", "AS21299 · KZ", "unknown network"]
    assert ["ca-news-info", "NEWS", "http blocked/http 1 of 1", "http.blockpage ×1", "2022-01-05 10:00Z",
            "2022-01-05 10:00Z"] in page.rows


def test_a_huge_string_is_cut_not_repeated_everywhere():
    made = f.kz_report(vantage="v" * 100_000)
    made["results"][0]["target"]["url"] = "https://x.example/" + "a" * 100_000
    page = _page_of(made)
    assert len(page.html) < 200_000
    assert "v" * 499 + "…" in page.text
