"""Alerts end to end through the real CLI on loopback: scans in a row into one directory, a
block appearing between two of them (a resolver that starts answering an address whose server
resets the TLS handshake), the change record in changes.jsonl and the Atom feed, and a webhook
receiving it signed; a dead webhook filling the outbox and the next scan draining it; a
flapping target reported once as unstable."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import ssl
import struct
import threading
from pathlib import Path

import feedparser
import jsonschema
import pytest
import trustme

from kzprobe.errors import ExitCode
from kzprobe.lab.servers.clienthello import server_name
from support.loopback import DnsTable, LoopbackServers
from support.loopback_cli import kzprobe
from support.webhook import WebhookReceiver

ADDRESS = "127.0.0.2"  # the sites
RESETTER = "127.0.0.4"  # where a blocked name resolves: resets a ClientHello naming it (SNI filtering)
HOOKS = "127.0.0.5"  # the webhook receiver ("hooks.test")
SECRET = "3f1d2c9a8b7e6d5c4b3a29181716151413121110"
TOKEN = "T0KEN-in-the-path-4d1f"  # a webhook URL's path is as secret as the shared secret
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "kzprobe" / "data" / "changes.schema.json").read_text())
SWITCHES = ("switch-a.test", "switch-b.test")


# A TLS alert record (fatal, handshake_failure): how a server answers a name it does not host.
_ALERT = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])


def _reset_after_client_hello(listener: socket.socket) -> None:
    """Resets a ClientHello naming a switch (a censor filtering by name); any other name, such as
    kzprobe's neutral retry, is answered with an alert, as a server there would."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        try:
            conn.settimeout(5)
            if server_name(conn.recv(4096)) in SWITCHES:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                conn.sendall(_ALERT)
        except OSError:
            pass
        conn.close()


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    directory = tmp_path_factory.mktemp("alerts-net")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    sites = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("news.test", *SWITCHES).configure_cert(sites)
    hooks = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.test", HOOKS).configure_cert(hooks)
    table = DnsTable({"news.test": [ADDRESS], "hooks.test": [HOOKS]})

    def page(host, path):
        return 200, {"Content-Type": "text/html"}, f"<title>{host}</title>".encode()

    with LoopbackServers(ADDRESS, table, page, sites) as servers:
        resetter = socket.socket()
        resetter.bind((RESETTER, servers.https_port))
        resetter.listen(16)
        threading.Thread(target=_reset_after_client_hello, args=(resetter,), daemon=True).start()
        receiver = WebhookReceiver(HOOKS, hooks).start()
        yield {"dir": directory, "servers": servers, "table": table, "receiver": receiver}
        receiver.stop()
        resetter.close()


@pytest.fixture
def vantage(net, tmp_path):
    """A vantage directory: targets, the secret, and a function that scans into results/."""
    table, servers, receiver = net["table"], net["servers"], net["receiver"]
    for name in SWITCHES:
        table.records[name] = [ADDRESS]
    receiver.received.clear()
    receiver.set_mode("ok")
    targets = tmp_path / "targets.yaml"
    targets.write_text("targets:\n" + "".join(f"  - url: https://{name}:{servers.https_port}/\n"
                                              for name in ("news.test", *SWITCHES)))
    secret = tmp_path / "webhook.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    results = tmp_path / "results"
    count = iter(range(1, 100))

    def scan(*extra: str):
        resolver = f"{ADDRESS}:{servers.dns_port}"
        proc = kzprobe("scan", "--targets", str(targets), "--resolver", resolver, "--control-resolver", resolver,
                       "--ca-file", str(net["dir"] / "ca.pem"), "--timeout", "2", "--no-geo",
                       "--vantage", "almaty-test", "--output", str(results / f"scan-{next(count)}.json"), *extra,
                       cwd=tmp_path)
        assert proc.returncode == ExitCode.OK, proc.stderr
        return proc

    return {"scan": scan, "results": results, "tmp": tmp_path, "secret": secret, "table": table,
            "receiver": receiver, "hook": receiver.url("hooks.test", f"/hook/{TOKEN}")}


def block(vantage, name: str) -> None:
    vantage["table"].records[name] = [RESETTER]


def unblock(vantage, name: str) -> None:
    vantage["table"].records[name] = [ADDRESS]


def records(results: Path) -> list[dict]:
    path = results / "changes.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write_config(vantage, **settings) -> Path:
    lines = [f"{key}: {json.dumps(value)}" for key, value in settings.items()]
    path = vantage["tmp"] / "kzprobe.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def everything_written(vantage, *outputs: str) -> str:
    """Every byte the scans left: their terminal output and every file under results/."""
    files = [p for p in vantage["results"].rglob("*") if p.is_file()]
    return "\n".join(outputs) + "".join(p.read_text(errors="replace") for p in files)


def test_a_block_appearing_between_two_scans_is_one_signed_alert_in_the_feed_and_the_webhook(vantage):
    config = write_config(vantage, notify=["feed", vantage["hook"]], webhook_secret_file=str(vantage["secret"]),
                          webhook_timeout=3, webhook_retries=0)
    first = vantage["scan"]("--config", str(config))
    assert "first scan of this vantage here" in first.stderr
    assert records(vantage["results"]) == [] and vantage["receiver"].received == []
    assert feedparser.parse(str(vantage["results"] / "changes.xml")).entries == []  # subscribe from the start

    block(vantage, "switch-a.test")
    second = vantage["scan"]("--config", str(config))
    [record] = records(vantage["results"])
    jsonschema.validate(record, SCHEMA)
    [change] = record["changes"]
    assert (change["target"], change["kind"]) == ("switch-a-test", "newly_blocked")
    assert change["from"]["verdict"] == "reachable" and change["to"] == {
        "verdict": "blocked", "blocking": "tls", "evidence": ["tls.reset", "tls.sni_filter"]}
    assert change["summary"].startswith("switch-a-test is now blocked at the tls layer (tls.reset")
    assert record["current"]["report"] == "scan-2.json"
    assert json.loads((vantage["results"] / "scan-1.json").read_text())["scan_id"] == record["previous"]["scan_id"]
    assert "1 change(s) since the previous scan (1 delivered to webhooks)" in second.stderr

    [post] = vantage["receiver"].received
    assert post.path == f"/hook/{TOKEN}" and json.loads(post.body) == record
    assert post.headers["x-kzprobe-delivery"] == record["id"]
    expected = hmac.new(SECRET.encode(), post.headers["x-kzprobe-timestamp"].encode() + b"." + post.body,
                        hashlib.sha256).hexdigest()
    assert post.headers["x-kzprobe-signature"] == f"sha256={expected}"

    feed = feedparser.parse(str(vantage["results"] / "changes.xml"))
    assert not feed.bozo and feed.version == "atom10"
    [entry] = feed.entries
    assert entry.id == f"urn:uuid:{record['id']}" and "switch-a-test blocked (tls)" in entry.title
    assert entry.links == [{"rel": "alternate", "type": "application/json", "href": "scan-2.json"}]
    assert "is now blocked at the tls layer" in entry.content[0].value

    third = vantage["scan"]("--config", str(config))  # the same again: no alert
    assert len(records(vantage["results"])) == 1 and len(vantage["receiver"].received) == 1
    assert "change(s)" not in third.stderr
    written = everything_written(vantage, first.stderr, second.stderr, third.stderr)
    assert SECRET not in written and TOKEN not in written


def test_a_dead_webhook_fills_the_outbox_and_the_next_scan_drains_it_once(vantage):
    receiver = vantage["receiver"]
    receiver.set_mode("down")
    notify = ("--notify", vantage["hook"])  # the webhook only, from the command line
    vantage["scan"](*notify)
    block(vantage, "switch-a.test")
    second = vantage["scan"](*notify)
    assert "webhook https://hooks.test:" in second.stderr and "connection_refused" in second.stderr
    assert "1 record(s) wait in the outbox" in second.stderr
    block(vantage, "switch-b.test")
    third = vantage["scan"](*notify)
    assert "2 record(s) wait in the outbox" in third.stderr
    [outbox] = (vantage["results"] / ".kzprobe-outbox").iterdir()
    waiting = json.loads(outbox.read_text())["entries"]
    assert [e["record"]["changes"][0]["target"] for e in waiting] == ["switch-a-test", "switch-b-test"]
    assert not (vantage["results"] / "changes.jsonl").exists()  # the feed was not asked for

    receiver.set_mode("ok")
    fourth = vantage["scan"](*notify)  # nothing changed: only the outbox is delivered
    assert [json.loads(p.body)["changes"][0]["target"] for p in receiver.received] == ["switch-a-test",
                                                                                       "switch-b-test"]
    assert "signature" not in " ".join(receiver.received[0].headers)  # no secret configured: unsigned
    assert not outbox.exists() and "warning" not in fourth.stderr
    vantage["scan"](*notify)
    assert len(receiver.received) == 2  # delivered once, never twice
    written = everything_written(vantage, second.stderr, third.stderr, fourth.stderr)
    assert TOKEN not in written


def test_a_flapping_target_is_reported_once_as_unstable(vantage):
    config = write_config(vantage, flap_scans=4)
    vantage["scan"]("--config", str(config))
    for state in ("blocked", "reachable", "blocked", "reachable", "blocked"):
        (block if state == "blocked" else unblock)(vantage, "switch-a.test")
        vantage["scan"]("--config", str(config))
    kinds = [record["changes"][0]["kind"] for record in records(vantage["results"])]
    assert kinds == ["newly_blocked", "newly_reachable", "unstable"]
    unstable = records(vantage["results"])[-1]["changes"][0]
    assert unstable["recent_states"] == ["reachable", "blocked/tls [tls.reset, tls.sni_filter]", "reachable",
                                         "blocked/tls [tls.reset, tls.sni_filter]"]
    assert "changed 3 times in its last 4 scans" in unstable["summary"]
