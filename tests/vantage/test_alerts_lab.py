"""Alerts end to end in the lab: one vantage's scans in a row, into one results directory, as
its network changes under it. First from the uncensored network (the baseline), then from the
censored ISP (tls-reset becomes blocked: one alert naming it), the same again (no alert), then
with the international link cut (a connectivity alert). A webhook receiver listens on each
namespace's loopback and gets each alert once, signed; the feed reads back as Atom."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import pytest
import trustme

from kzprobe.lab import Lab, availability
from kzprobe.lab import addresses as a
from kzprobe.lab.plan import INSIDE, OUTSIDE, inside_role
from kzprobe.lab.scenarios import select

UNAVAILABLE = availability()
pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=f"network namespaces impossible here: {UNAVAILABLE}"),
]
CUT = inside_role("international")
RECEIVER = Path(__file__).resolve().parents[1] / "support" / "webhook.py"
HOOK_PORT = 8443
SECRET = "c0ffee00c0ffee00c0ffee00c0ffee00"


@pytest.fixture(scope="module")
def vantage(tmp_path_factory):
    work = tmp_path_factory.mktemp("lab-alerts")
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(work / "hook.pem"))
    secret = work / "webhook.secret"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    log = work / "posts.jsonl"
    log.touch()
    with Lab(select(["tls-reset"]), cuts=["international"]) as lab:
        trusted = work / "trusted.pem"  # the lab's sites and the webhook receiver
        trusted.write_bytes(lab.ca_file.read_bytes() + ca.cert_pem.bytes())
        config = work / "kzprobe.yaml"
        config.write_text(
            f"vantage: lab-alerts\noutput_dir: {work / 'results'}\ntargets: [{lab.targets_file}]\n"
            f"ca_file: {trusted}\ntimeout: 2\ngeo: false\ncontrol_resolver: {a.HONEST_RESOLVER}:53\n"
            f"notify: [feed, https://127.0.0.1:{HOOK_PORT}/kzprobe]\nwebhook_secret_file: {secret}\n"
            "webhook_timeout: 5\n")
        receivers = [lab.popen(role, [sys.executable, str(RECEIVER), "127.0.0.1", str(HOOK_PORT),
                                      str(work / "hook.pem"), str(work / "hook.pem"), str(log)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                     for role in (OUTSIDE, INSIDE, CUT)]
        for receiver in receivers:
            assert receiver.stdout.readline().strip() == "ready"

        def scan(role: str) -> subprocess.CompletedProcess:
            time.sleep(1.1)  # report names are to the second
            done = lab.run(role, [sys.executable, "-m", "kzprobe", "scan", "--config", str(config)],
                           capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            return done

        yield {"scan": scan, "results": work / "results", "log": log}
        for receiver in receivers:
            receiver.terminate()
            receiver.wait(5)


def records(results: Path) -> list[dict]:
    path = results / "changes.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def posts(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_a_vantage_tells_when_blocking_and_connectivity_change(vantage):
    results, log = vantage["results"], vantage["log"]
    first = vantage["scan"](OUTSIDE)
    assert "first scan of this vantage here" in first.stderr and records(results) == []

    blocked = vantage["scan"](INSIDE)  # the censor starts resetting tls-reset.kzlab.test
    [record] = records(results)
    assert [(c["target"], c["kind"]) for c in record["changes"]] == [("tls-reset", "newly_blocked")]
    assert record["changes"][0]["to"] == {"verdict": "blocked", "blocking": "tls",
                                          "evidence": ["tls.reset", "tls.sni_filter"]}
    assert record["connectivity"] is None and record["vantage"]["name"] == "lab-alerts"
    assert "1 change(s) since the previous scan (1 delivered to webhooks)" in blocked.stderr

    vantage["scan"](INSIDE)  # the same again: no alert
    assert len(records(results)) == 1

    cut = vantage["scan"](CUT)  # the link abroad goes down
    cut_record = records(results)[-1]
    assert len(records(results)) == 2, cut.stderr
    assert cut_record["connectivity"]["from"] == "online" and cut_record["connectivity"]["to"] == "international_cut"
    assert cut_record["connectivity"]["summary"].startswith(
        "Connectivity changed from online to international_cut (baselines working: domestic 2 of 2, "
        "international 0 of 2)")
    followed = {c["target"] for c in cut_record["changes"] if c["follows_connectivity"]}
    assert {"baseline-international-1", "baseline-international-2", "tls-reset"} <= followed
    assert cut_record["title"].startswith("lab-alerts: connectivity online → international_cut")

    delivered = posts(log)
    assert [json.loads(p["body"])["id"] for p in delivered] == [record["id"], cut_record["id"]]
    for post in delivered:
        signed = post["headers"]["x-kzprobe-timestamp"].encode() + b"." + post["body"].encode()
        assert post["headers"]["x-kzprobe-signature"] == \
            "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    feed = feedparser.parse(str(results / "changes.xml"))
    assert not feed.bozo and [e.id for e in feed.entries] == [f"urn:uuid:{cut_record['id']}",
                                                              f"urn:uuid:{record['id']}"]
