"""Picking what to scan (issue 15, item 1): --url, --target, --category, --dry-run and
--targets URL, through the real CLI against loopback servers (nothing leaves the machine: every
name resolves through the loopback resolver, which answers NXDOMAIN for names it does not know)."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from kzprobe.errors import ExitCode
from kzprobe.targets import MAX_TARGET_FILE_BYTES
from support import reports as f
from support.loopback import DnsTable, LoopbackServers

ADDRESS = "127.0.0.2"
LIST = """
targets:
  - {id: news-one, url: "https://news.test:PORT/", category: NEWS}
  - {id: chat-one, url: "https://news.test:PORT/chat", category: COMM}
  - {id: home-base, url: "https://news.test:PORT/base", category: CTRL, baseline: domestic}
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    directory = tmp_path_factory.mktemp("selection")
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("news.test", ADDRESS).configure_cert(context)
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    port: dict[str, int] = {}

    def page(host: str, path: str):
        if path == "/list.yaml":
            return 200, {"Content-Type": "text/yaml"}, LIST.replace("PORT", str(port["https"])).encode()
        if path == "/broken.yaml":
            return 200, {}, b"targets:\n  - {url: 42}\n"
        if path == "/huge.yaml":
            return 200, {}, b"#" * (MAX_TARGET_FILE_BYTES + 10)
        if path == "/latest.json":
            return 200, {"Content-Type": "application/json"}, json.dumps(f.kz_report(vantage="outside-vps")).encode()
        if path == "/missing.yaml":
            return 404, {}, b"no"
        return 200, {"Content-Type": "text/html"}, f"<title>{host}{path}</title><p>page</p>".encode()

    with LoopbackServers(ADDRESS, DnsTable({"news.test": [ADDRESS]}), page, context) as servers:
        port["https"] = servers.https_port
        (directory / "list.yaml").write_text(LIST.replace("PORT", str(servers.https_port)))
        yield directory, servers


def kzprobe(lab, *args: str) -> subprocess.CompletedProcess:
    directory, servers = lab
    resolver = f"{ADDRESS}:{servers.dns_port}"
    common = ["--resolver", resolver, "--control-resolver", resolver, "--ca-file", str(directory / "ca.pem"),
              "--timeout", "2", "--no-geo", "--vantage", "selection-test"]
    return subprocess.run([sys.executable, "-m", "kzprobe", "scan", *args, *common], cwd=directory,
                          capture_output=True, text=True, timeout=60)


def _ids(report_path: Path) -> list[str]:
    return [r["target"]["id"] for r in json.loads(report_path.read_text())["results"]]


def test_url_scans_one_site_with_no_file_beside_the_bundled_baselines(lab, tmp_path):
    directory, servers = lab
    url = f"https://news.test:{servers.https_port}/breaking"
    proc = kzprobe(lab, "--url", url, "--output", str(tmp_path / "r.json"))
    assert proc.returncode == ExitCode.OK, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    quick = [r for r in report["results"] if r["target"]["url"] == url]
    assert len(quick) == 1 and quick[0]["verdict"] == "reachable"
    others = [r for r in report["results"] if r is not quick[0]]
    assert others and all(r["target"].get("baseline") for r in others)
    assert report["settings"]["selection"]["url"] == [url]
    assert report["settings"]["targets"] == ["baselines.yaml"]


def test_target_and_category_narrow_the_lists_and_keep_their_baselines(lab):
    directory, _ = lab
    proc = kzprobe(lab, "--targets", str(directory / "list.yaml"), "--category", "comm", "--dry-run")
    assert proc.returncode == ExitCode.OK, proc.stderr
    listed = [line.split()[0] for line in proc.stdout.splitlines()]
    assert listed == ["chat-one", "home-base"]
    proc = kzprobe(lab, "--targets", str(directory / "list.yaml"), "--target", "news-*", "--dry-run", "--json")
    assert [t["id"] for t in json.loads(proc.stdout)["targets"]] == ["news-one", "home-base"]


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "no-such-site"], "no target 'no-such-site'"),
    (["--category", "XYZZ"], "unknown category 'XYZZ'"),
    (["--target", "news-one", "--category", "COMM"], "no target matches both"),
])
def test_a_selection_that_picks_nothing_is_refused_and_nothing_is_written(lab, tmp_path, args, message):
    directory, _ = lab
    proc = kzprobe(lab, "--targets", str(directory / "list.yaml"), *args, "--output", str(tmp_path / "r.json"))
    assert proc.returncode == ExitCode.BAD_INPUT
    assert message in proc.stderr
    assert not list(tmp_path.iterdir())


def test_dry_run_lists_what_would_be_scanned_and_measures_nothing(lab, tmp_path):
    directory, _ = lab
    proc = kzprobe(lab, "--targets", str(directory / "list.yaml"), "--dry-run", "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == ExitCode.OK, proc.stderr
    assert len(proc.stdout.splitlines()) == 3 and "3 targets would be scanned" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_targets_by_https_url_are_fetched_through_the_scan_and_validated_like_a_file(lab, tmp_path):
    _, servers = lab
    url = f"https://{ADDRESS}:{servers.https_port}/list.yaml"
    proc = kzprobe(lab, "--targets", url, "--output", str(tmp_path / "r.json"))
    assert proc.returncode == ExitCode.OK, proc.stderr
    assert _ids(tmp_path / "r.json") == ["news-one", "chat-one", "home-base"]
    assert json.loads((tmp_path / "r.json").read_text())["settings"]["targets"] == [url]


@pytest.mark.parametrize(("path", "message"), [
    ("/broken.yaml", "broken.yaml"),
    ("/huge.yaml", "larger than"),
    ("/missing.yaml", "HTTP 404"),
])
def test_a_bad_list_by_url_is_refused_before_anything_is_scanned(lab, tmp_path, path, message):
    _, servers = lab
    proc = kzprobe(lab, "--targets", f"https://{ADDRESS}:{servers.https_port}{path}", "--output",
                   str(tmp_path / "r.json"))
    assert proc.returncode == ExitCode.BAD_INPUT, proc.stderr
    assert message in proc.stderr and "nothing was scanned" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_a_list_by_plain_http_is_refused(lab):
    proc = kzprobe(lab, "--targets", "http://127.0.0.2/list.yaml", "--dry-run")
    assert proc.returncode == ExitCode.BAD_INPUT
    assert "https://" in proc.stderr


def test_analyse_takes_a_control_by_url_like_scan_does(lab, tmp_path):
    directory, servers = lab
    saved = f.write_json(tmp_path / "inside.json", f.kz_report())
    url = f"https://{ADDRESS}:{servers.https_port}/latest.json"
    proc = subprocess.run([sys.executable, "-m", "kzprobe", "analyse", str(saved), "--control", url,
                           "--ca-file", str(directory / "ca.pem"), "--json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == ExitCode.OK, proc.stderr
    analysed = json.loads(proc.stdout)
    assert any(r.get("control") for r in analysed["results"])  # the control was read and used


def test_analyse_names_a_control_url_it_cannot_fetch(lab, tmp_path):
    directory, servers = lab
    saved = f.write_json(tmp_path / "inside.json", f.kz_report())
    url = f"https://{ADDRESS}:{servers.https_port}/missing.yaml"
    proc = subprocess.run([sys.executable, "-m", "kzprobe", "analyse", str(saved), "--control", url,
                           "--ca-file", str(directory / "ca.pem")], cwd=tmp_path, capture_output=True, text=True,
                           timeout=60)
    assert proc.returncode == ExitCode.BAD_INPUT
    assert "--control" in proc.stderr and "HTTP 404" in proc.stderr and "https:/1" not in proc.stderr
