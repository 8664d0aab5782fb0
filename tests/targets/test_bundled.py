"""The lists shipped in targets/: strict rules, the seed sites, messengers, baselines, Signal's CA."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

import kzprobe.targets.bundled as targets_module
from kzprobe.targets import (
    BASELINE_DOMESTIC,
    BASELINE_INTERNATIONAL,
    CA_DIR,
    Target,
    bundled_target_files,
    load_target_files,
    load_targets,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundled() -> list[Target]:
    return load_targets(bundled_target_files(), strict=True)


@pytest.fixture(scope="module")
def by_host(bundled: list[Target]) -> dict[str, Target]:
    return {target.hostname: target for target in bundled if target.url}


def test_bundled_files_in_order() -> None:
    assert [path.name for path in bundled_target_files()[:3]] == ["kz.yaml", "messengers.yaml", "baselines.yaml"]
    assert all(path.is_file() for path in bundled_target_files())
    assert bundled_target_files()[0].parent == REPO / "targets"


def test_bundled_lists_pass_strict_validation_with_172_targets(bundled: list[Target]) -> None:
    assert len(bundled) == 172  # 171, and Tor's network (tor.yaml)
    assert [path.name for path in bundled_target_files()] == [
        "kz.yaml", "messengers.yaml", "baselines.yaml", "circumvention.yaml", "tor.yaml"]


OONI_2024 = "content/post/2024-kazakhstan-report/index.md, commit 00d5bf12ca2cd3500a320b7570a73f0102681cbf"
OONI_2023 = "content/post/2023-throttling-kz-elections/index.md, commit 353e41e3b5a24d47f6c8f911fc119e2b427ee484"


def _cites(target: Target, report: str, word: str = "") -> bool:
    return any(report in s["document"] and word in s["reports"] for s in target.sources)


@pytest.mark.parametrize(
    ("hostname", "report", "word"),
    [
        pytest.param("www.kavkazcenter.com", OONI_2024, "after the ClientHello", id="blocked news"),
        pytest.param("www.ipetitions.com", OONI_2024, "AS9198", id="blocked petitions"),
        pytest.param("surfshark.com", OONI_2024, "after the ClientHello", id="blocked VPN"),
        pytest.param("mask.icloud.com", OONI_2024, "after the ClientHello", id="blocked relay"),
        pytest.param("www.pinterest.com", OONI_2024, "ISCA", id="intercepted"),
        pytest.param("rutracker.org", OONI_2024, "ISCA", id="intercepted, listed before"),
        pytest.param("www.hrw.org", OONI_2024, "accessible", id="accessible"),
        pytest.param("www.amnesty.org", OONI_2024, "accessible", id="accessible too"),
        pytest.param("www.currenttime.tv", OONI_2023, "Throttled", id="throttled"),
    ],
)
def test_ooni_findings_are_cited_with_repository_path_and_commit(
    by_host: dict[str, Target], hostname: str, report: str, word: str
) -> None:
    assert _cites(by_host[hostname], f"github.com/ooni/ooni.org, {report}", word)


def test_every_ooni_citation_names_its_commit(bundled: list[Target]) -> None:
    ooni = [s for t in bundled for s in t.sources if s["document"].startswith("OONI") and "spec" not in s["document"]]
    assert len(ooni) >= 100
    assert all(OONI_2024 in s["document"] or OONI_2023 in s["document"] for s in ooni)


@pytest.mark.parametrize("hostname", ["www.azattyq.org", "rus.azattyq.org", "www.currenttime.tv"])
def test_throttled_sites_have_a_download_on_the_same_site(by_host: dict[str, Target], hostname: str) -> None:
    download = by_host[hostname].download
    assert download is not None and download.startswith(f"https://{hostname}/")


def test_circumvention_sites_share_the_anon_category(bundled: list[Target]) -> None:
    anon = {t.hostname for t in bundled if t.category == "ANON" and t.url}
    assert len(anon) == 77
    assert {"www.torproject.org", "psiphon.ca", "nordvpn.com", "mullvad.net", "www.vpngate.net"} <= anon


def test_every_bundled_entry_is_fully_sourced(bundled: list[Target]) -> None:
    for target in bundled:
        assert target.name and target.category and target.sources, target.id
        for source in target.sources:
            assert set(source) == {"document", "reports", "date"}, target.id


def test_every_file_carries_the_citizen_lab_licence_note() -> None:
    for path in bundled_target_files():
        text = path.read_text(encoding="utf-8")
        assert "CC BY-NC-SA 4.0" in text and "Citizen Lab" in text, path
        assert "OONI" in text or path.name in ("messengers.yaml", "baselines.yaml"), path
    [kz, messengers, baselines] = load_target_files(bundled_target_files()[:3], strict=True)
    assert all(f.licence and "CC BY-NC-SA 4.0" in f.licence for f in (kz, messengers, baselines))
    readme = (REPO / "targets" / "README.md").read_text(encoding="utf-8")
    assert "CC BY-NC-SA 4.0" in readme and "Citizen Lab" in readme


@pytest.mark.parametrize(
    "hostname",
    [
        pytest.param("ca-news.org", id="CA-News"),
        pytest.param("orda.kz", id="Orda"),
        pytest.param("www.kaztag.kz", id="KazTAG"),
        pytest.param("www.livejournal.com", id="LiveJournal"),
        pytest.param("wordpress.com", id="WordPress"),
        pytest.param("bambuser.com", id="Bambuser"),
        pytest.param("video.ibm.com", id="Ustream"),
        pytest.param("www.facebook.com", id="Facebook"),
        pytest.param("respublika.kz.media", id="Respublika"),
        pytest.param("guljan.org", id="Guljan.org"),
        pytest.param("guljan.info", id="guljan.info"),
        pytest.param("nuradam.kz", id="Nuradam"),
        pytest.param("zonakz.net", id="Zona.kz"),
        pytest.param("www.torproject.org", id="Tor Project"),
        pytest.param("www.opera.com", id="Opera"),
        pytest.param("mail.google.com", id="Gmail"),
        pytest.param("translate.google.com", id="Google Translate"),
        pytest.param("web.whatsapp.com", id="WhatsApp"),
        pytest.param("web.telegram.org", id="Telegram"),
        pytest.param("signal.org", id="Signal"),
        pytest.param("www.messenger.com", id="Facebook Messenger"),
    ],
)
def test_seed_sites_are_in_the_bundled_lists(by_host: dict[str, Target], hostname: str) -> None:
    assert hostname in by_host


def test_tor_entry_is_the_download_page(by_host: dict[str, Target]) -> None:
    assert by_host["www.torproject.org"].url == "https://www.torproject.org/download/"


def test_at_least_four_baselines_of_each_kind(bundled: list[Target]) -> None:
    domestic = [t for t in bundled if t.baseline == BASELINE_DOMESTIC]
    international = [t for t in bundled if t.baseline == BASELINE_INTERNATIONAL]
    assert len(domestic) >= 4 and len(international) >= 4
    assert any(t.download for t in domestic) and any(t.download for t in international)


def test_baselines_live_in_their_own_file() -> None:
    kz, messengers, baselines = load_target_files(bundled_target_files()[:3], strict=True)
    assert all(t.baseline is None for t in kz.targets + messengers.targets)
    assert all(t.baseline is not None for t in baselines.targets)


def test_messenger_endpoints_follow_the_ooni_tests(by_host: dict[str, Target]) -> None:
    whatsapp = by_host["web.whatsapp.com"]
    chat = {(e.host, e.port) for e in whatsapp.endpoints if e.role == "chat"}
    assert chat == {(f"e{i}.whatsapp.net", port) for i in range(1, 17) for port in (443, 5222)}

    telegram = by_host["web.telegram.org"]
    datacenters = {e.host for e in telegram.endpoints if e.role == "datacenter"}
    assert {"149.154.175.50", "149.154.167.51", "149.154.175.100", "149.154.167.91", "149.154.171.5",
            "95.161.76.100"} <= datacenters
    assert {(e.port) for e in telegram.endpoints if e.host == "149.154.175.50"} == {80, 443, 5222}

    signal = by_host["signal.org"]
    assert {e.host for e in signal.endpoints} == {
        "chat.signal.org", "cdsi.signal.org", "storage.signal.org", "sfu.voip.signal.org"}
    assert all(e.tls and e.ca == "signal" and e.port == 443 for e in signal.endpoints)

    messenger = by_host["www.messenger.com"]
    assert {e.host for e in messenger.endpoints} == {
        "b-api.facebook.com", "b-graph.facebook.com", "edge-mqtt.facebook.com", "external.xx.fbcdn.net",
        "scontent.xx.fbcdn.net", "star.c10r.facebook.com"}


def test_signal_ca_bundle_is_signals_current_root() -> None:
    data = (CA_DIR / "signal.pem").read_bytes()
    [certificate] = x509.load_pem_x509_certificates(data)
    assert certificate.subject == certificate.issuer
    assert certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "Signal Messenger"
    assert certificate.fingerprint(hashes.SHA256()).hex() == (
        "ddb0f92bb95c8d6fd202ea6e8cc5ccd182b544f8cd696f47d580659ddc9df65a")
    assert certificate.not_valid_after_utc.year == 2032
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    # The file also loads as an OpenSSL trust store, despite its explanatory header.
    assert ssl.create_default_context(cafile=str(CA_DIR / "signal.pem")).cert_store_stats()["x509_ca"] == 1


@pytest.mark.parametrize("name, found_in", [
    ("labservice", "extra"),  # a lab's or a test network's own service CA
    ("signal", "bundled"),  # a bundled name is never replaced from the extra directory
    ("absent", None),
])
def test_pinned_bundles_from_kzprobe_ca_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str,
                                            found_in: str | None) -> None:
    extra = tmp_path / "pins"
    extra.mkdir()
    for stem in ("labservice", "signal"):
        (extra / f"{stem}.pem").write_text("not the real one\n", encoding="utf-8")
    monkeypatch.setenv(targets_module.EXTRA_CA_DIR_VARIABLE, str(extra))
    path = targets_module.ca_bundle_path(name)
    assert path.is_file() == (found_in is not None)
    assert path.parent == (extra if found_in == "extra" else CA_DIR)
    assert {"labservice", "signal"} <= set(targets_module.ca_names())
    monkeypatch.delenv(targets_module.EXTRA_CA_DIR_VARIABLE)
    assert "labservice" not in targets_module.ca_names()


def test_bundled_files_fall_back_to_package_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    packaged = tmp_path / "kzprobe" / "data" / "targets"
    packaged.mkdir(parents=True)
    for name in ("kz.yaml", "messengers.yaml", "baselines.yaml", "extra.yaml"):
        (packaged / name).write_text("targets: []\n", encoding="utf-8")
    monkeypatch.setattr(targets_module, "_SOURCE_CHECKOUT", tmp_path / "site-packages")
    monkeypatch.setattr(targets_module, "_PACKAGED_TARGETS", packaged)
    assert [p.name for p in bundled_target_files()] == ["kz.yaml", "messengers.yaml", "baselines.yaml", "extra.yaml"]
    assert all(p.parent == packaged for p in bundled_target_files())
