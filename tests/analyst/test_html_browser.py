"""`kzprobe report` in a real browser, when Debian's chromium is installed (skipped otherwise).

Chromium runs headless inside a network namespace of its own (`unshare --net`: not even
loopback is up), so nothing can leave the machine whatever the page did. A test script is
appended to the page's own script (and its hash to the page's Content-Security-Policy, which
runs nothing else); it points at a cell, clicks, saves a chart as SVG and PNG, and writes what
it saw into an attribute of <body>, read back from the DOM chromium dumps.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess

import pytest

from support import reports as f

CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--window-size=1400,1000", "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0"]

# What the test does in the page: all results end up in body[data-test] as JSON.
PROBE = r"""
;(function () {
  var out = {}, saved = [];
  try {
    HTMLAnchorElement.prototype.click = function () {
      saved.push(this.download);
      document.body.setAttribute("data-saved", JSON.stringify(saved));
    };
    var data = JSON.parse(document.getElementById("kz-data").textContent);
    var svg = document.querySelector('svg[data-chart="v0"]');
    var box = svg.getBoundingClientRect();
    var row = data.charts.v0.rows[1];
    var scale = box.width / svg.viewBox.baseVal.width;
    var at = {clientX: box.left + (data.x0 + data.w * 80 + 1) * scale, clientY: box.top + (row.y + 5) * scale,
              bubbles: true};
    svg.dispatchEvent(new MouseEvent("mousemove", at));
    var panel = document.getElementById("kz-detail");
    out.hover = panel.hidden ? null : panel.textContent;
    svg.dispatchEvent(new MouseEvent("click", at));
    svg.dispatchEvent(new MouseEvent("mousemove", {clientX: box.left + 2, clientY: box.top + 2, bubbles: true}));
    out.pinned = panel.hidden ? null : panel.textContent;
    document.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape"}));
    out.closed = panel.hidden;
    out.charts = document.querySelectorAll("svg[data-chart]").length;
    document.querySelector('button[data-save="svg"][data-for="v0"]').click();
    document.querySelector('button[data-save="png"][data-for="t0"]').click();
    out.requests = performance.getEntriesByType("resource").length;
  } catch (error) { out.error = String(error); }
  document.body.setAttribute("data-test", JSON.stringify(out));
}());
"""


def _with_probe(page: str) -> str:
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    probed = script + PROBE
    digest = base64.b64encode(hashlib.sha256(probed.encode("utf-8")).digest()).decode()
    page = page.replace(f"<script>{script}</script>", f"<script>{probed}</script>")
    return re.sub(r"script-src 'sha256-[^']+'", f"script-src 'sha256-{digest}'", page)


def _attribute(dom: str, name: str):
    found = re.search(rf'{name}="([^"]*)"', dom)
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")) if found else None


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt install chromium)")
def test_the_page_works_in_chromium_without_any_network(tmp_path):
    if subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot make a network namespace for chromium here")
    f.write_january_2022(tmp_path / "reports", hours=24 * 4)
    output = tmp_path / "report.html"
    assert f.cli("report", tmp_path / "reports", "-o", output).exit_code == 0
    probe = tmp_path / "probe.html"
    probe.write_text(_with_probe(output.read_text(encoding="utf-8")), encoding="utf-8")
    screenshot = tmp_path / "shot.png"
    run = subprocess.run(["unshare", "--net", "--", CHROMIUM, *FLAGS, f"--screenshot={screenshot}", "--dump-dom",
                          probe.as_uri()], capture_output=True, text=True, timeout=120)
    seen = _attribute(run.stdout, "data-test")
    assert seen is not None, run.stderr[-2000:]
    assert "error" not in seen, seen
    assert seen["hover"].startswith("orda-kz — Orda.kz (NEWS)https://orda-kz.example/Vantage almaty-vps")
    assert "37 scans from 2022-01-05 11:00Z to 2022-01-06 23:00Z" in seen["hover"]
    assert "blocked/network: 37 of 37Evidence: connectivity.offline" in seen["hover"]
    assert seen["pinned"] is not None and seen["pinned"].startswith("orda-kz") and seen["closed"] is True
    assert seen["charts"] == 5 and seen["requests"] == 0
    assert _attribute(run.stdout, "data-saved") == ["kzprobe-vantage-almaty-vps.svg", "kzprobe-target-orda-kz.png"]
    assert not [line for line in run.stderr.splitlines() if ":CONSOLE" in line or "Refused to" in line]
    assert screenshot.stat().st_size > 20_000  # the page was drawn (a blank one compresses to a few KB)
