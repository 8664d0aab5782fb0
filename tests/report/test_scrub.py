"""The scrubber (kzprobe/report/scrub.py): this machine's addresses, in every spelling a page, a URL or a
host name uses, become "[scrubbed]"; other addresses, even ones that contain ours, stay."""

from __future__ import annotations

import copy
import random

import pytest

from kzprobe.report.scrub import COUNT_FIELD, SCRUBBED, Scrubber
from support.spellings import neighbours, random_case, random_spelling, spellings

PUBLIC_V4 = "95.56.7.8"  # what the network lookup learned: the NAT's public address
INTERFACE_V4 = "192.168.77.2"  # the interface's, behind the NAT
PUBLIC_V6 = "2a02:1234:abcd::5"
LINK_LOCAL = "fe80::fc:ff:fe00:1"
OURS = (PUBLIC_V4, INTERFACE_V4, PUBLIC_V6, LINK_LOCAL)
SCRUB = Scrubber(OURS)


@pytest.mark.parametrize("text, expected", [
    ("Welcome, visitor from 95.56.7.8.", "Welcome, visitor from [scrubbed]."),
    ("<title>Your IP: 95.56.7.8</title>", "<title>Your IP: [scrubbed]</title>"),
    ("/landed?ip=95.56.7.8&src=192.168.77.2", "/landed?ip=[scrubbed]&src=[scrubbed]"),
    ("8.7.56.95.in-addr.arpa", "[scrubbed].in-addr.arpa"),
    ("8.7.56.95.origin.asn.cymru.com", "[scrubbed].origin.asn.cymru.com"),
    ("95-56-7-8.dynamic.telecom.kz", "[scrubbed].dynamic.telecom.kz"),
    ("host-8-7-56-95.pool", "host-[scrubbed].pool"),
    ("visitor_95_56_7_8", "visitor_[scrubbed]"),
    ("0x5f380708", SCRUBBED),
    ("id=5F380708;", "id=[scrubbed];"),
    ("n=1597507336.", "n=[scrubbed]."),
    ("::ffff:95.56.7.8", "::ffff:[scrubbed]"),
    ("::ffff:5f38:708", SCRUBBED),
    ("0:0:0:0:0:ffff:5f38:0708", SCRUBBED),
    ("64:ff9b::5f38:708", SCRUBBED),
    ("/go?ip=95%2E56%2E7%2E8", "/go?ip=[scrubbed]"),
    ("from%2095.56.7.8", "from%20[scrubbed]"),
    ("95&#46;56&#46;7&#46;8", SCRUBBED),
    ("https://[2a02:1234:abcd::5]:443/", "https://[[scrubbed]]:443/"),
    ("ip=2a02%3A1234%3Aabcd%3A%3A5", "ip=[scrubbed]"),
    ("2A02:1234:ABCD:0000:0000:0000:0000:0005", SCRUBBED),
    ("2a02:1234:abcd:0:0:0:0:5", SCRUBBED),
    ("2a02-1234-abcd--5.ipv6-literal.net", "[scrubbed].ipv6-literal.net"),
    ("5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.2.0.a.2.ip6.arpa", "[scrubbed].ip6.arpa"),
    ("seen as fe80::fc:ff:fe00:1%eth0", "seen as [scrubbed]%eth0"),
    ("?ptr=5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.2.0.a.2", "?ptr=[scrubbed]"),
    ("IP 2a02:1234:abcd::5: blocked", "IP [scrubbed]: blocked"),
    ("addr:2a02:1234:abcd::5", "addr:[scrubbed]"),
    ("ip-2a02-1234-abcd--5-dsl.example", "ip-[scrubbed]-dsl.example"),
    ("deadbeef-2a02-1234-abcd--5.example", "deadbeef-[scrubbed].example"),
    ("?ip%3D2a02%3a1234%3aabcd%3a%3a5&x", "?ip%3D[scrubbed]&x"),
    ("addr:95.56.7.8:443", "addr:[scrubbed]:443"),
], ids=lambda value: value if len(value) < 40 else value[:37] + "...")
def test_every_spelling_is_scrubbed(text, expected):
    assert SCRUB.text(text) == (expected, expected.count(SCRUBBED))


@pytest.mark.parametrize("text", [
    "95.56.7.88", "195.56.7.8", "1.95.56.7.8", "95.56.7.8.5", "95.56.7.80.in-addr.arpa",
    "192.168.77.20", "10-192-168-77-2", "abc5f380708", "5f3807089", "15975073361", "0.1597507336",
    "2a02:1234:abcd::55", "2a02:1234:abcd::5:1", "12a02:1234:abcd::5", "2a02-1234-abcd--5-6", "1:2a02:1234:abcd::5",
    "fe80::fc:ff:fe00:11", "sha256 d41d8cd98f00b2045f380708e9800998ecf8427e",
], ids=str)
def test_other_addresses_and_longer_tokens_stay(text):
    assert SCRUB.text(text) == (text, 0)


def test_no_address_known_means_nothing_changes():
    nothing = Scrubber([])
    result = {"observations": {"http": [{"body": "from 95.56.7.8."}]}}
    assert nothing.text("from 95.56.7.8.") == ("from 95.56.7.8.", 0)
    assert nothing.result(result) is result


@pytest.mark.parametrize("given", ["127.0.0.1", "::1", "0.0.0.0", "::", "not an address", ""])
def test_loopback_unspecified_and_junk_are_not_own_addresses(given):
    assert Scrubber([given]).addresses == frozenset()


# --- fuzz: random text around spellings ---------------------------------------------------

FILLERS = ["Welcome", "visitor", "from", "your", "address", "is", "Добро", "пожаловать", "Сіздің", "IP",
           "мекенжайыңыз", "face", "decade", "bad", "cafe", "2026", "3.14", "443", "v1.2.3", "e", "f",
           "<p>", "</p>", "http://news.kz/a?b=c", "d41d8cd98f00b204", "😀", "ü"]
JOINERS = [" ", "\n", ". ", ", ", "; ", "! ", "? ", " (", ") ", '"', "'", "<b>", "</b>", " = ", "&amp;",
           "/", "?ip=", "&src=", "%20", "«", "»", "\t", " — ", "\r\n", "...", ": ", "=", "#", "\x00"]
# (No bare ":" between pieces: "e:fe80::1" and "1:2a02::5" are longer IPv6 addresses, not ours.)
# (prefix, suffix) a spelling may come with; the scrubbed text keeps them.
DECORATIONS = [("", ""), ("host-", ".dyn.example.kz"), ("ip=", ""), ("[", "]"), ("<td>", "</td>"), ("", ".")]


def fuzz_text(rng: random.Random) -> tuple[str, str, int]:
    """Random text with spellings of our addresses and of their neighbours: (text, the text as it
    should come out, how many spellings of ours it holds)."""
    pieces_in, pieces_out, ours = [], [], 0
    for _ in range(rng.randint(1, 12)):
        kind = rng.random()
        if kind < 0.35:
            address = rng.choice(OURS)
            spelling = random_spelling(rng, address)
            prefix, suffix = rng.choice(DECORATIONS)
            if address == PUBLIC_V4 and rng.random() < 0.2:
                prefix, spelling = "::ffff:", PUBLIC_V4  # the dotted tail of an IPv4-mapped address
            pieces_in.append(prefix + spelling + suffix)
            pieces_out.append(prefix + SCRUBBED + suffix)
            ours += 1
        elif kind < 0.6:
            neighbour = random_spelling(rng, rng.choice(neighbours(rng.choice(OURS))))
            pieces_in.append(neighbour)
            pieces_out.append(neighbour)
        else:
            filler = random_case(rng, rng.choice(FILLERS))
            pieces_in.append(filler)
            pieces_out.append(filler)
        joiner = rng.choice(JOINERS)
        pieces_in.append(joiner)
        pieces_out.append(joiner)
    return "".join(pieces_in), "".join(pieces_out), ours


def test_fuzz_spellings_in_random_text_are_scrubbed_and_neighbours_stay():
    rng = random.Random(20)
    for _ in range(3000):
        text, expected, ours = fuzz_text(rng)
        assert SCRUB.text(text) == (expected, ours), text


def test_fuzz_the_fast_test_never_hides_what_the_exact_search_finds():
    """The literal pre-check (may_contain) must let through every text the exact search would
    change, whatever surrounds the spellings (noise characters included)."""
    rng = random.Random(21)
    noise = "%2&#x;:.-_ 0123456789abcdefABCDEFxX" + "абвгд"
    for _ in range(3000):
        text, _, _ = fuzz_text(rng)
        cut = rng.randint(0, len(text))
        text = text[:cut] + "".join(rng.choice(noise) for _ in range(rng.randint(0, 4))) + text[cut:]
        if SCRUB.spellings.spans(text):
            assert SCRUB.spellings.may_contain(text), text


def test_every_listed_spelling_of_each_address_is_scrubbed_whole():
    for address in OURS:
        for spelling in spellings(address):
            assert SCRUB.text(f"<{spelling}>") == (f"<{SCRUBBED}>", 1), spelling


# --- whole results ------------------------------------------------------------------------


def measured(body: str = "<p>news</p>", cname: str = "cdn.test", url: str = "https://echo.test/",
             **headers: str) -> dict:
    return {
        "target": {"id": "echo", "url": url},
        "observations": {
            "dns": {"hostname": "echo.test", "addresses": ["88.198.1.1"], "queries": [
                {"qtype": "A", "answers": ["88.198.1.1"], "cnames": [cname]}]},
            "http": [{"url": "https://echo.test/", "headers": dict(headers), "body": body,
                      "body_sha256": "ab" * 32, "title": "Echo", "status": 200}],
        },
        "started_at": "2026-11-24T01:07:09Z",
        "duration_ms": 12.0,
    }


def test_result_is_scrubbed_everywhere_with_a_count():
    result = measured("Hello 95.56.7.8.", "8-7-56-95.dyn.test", "https://echo.test/?from=95.56.7.8",
                      **{"x-seen-95-56-7-8": "192.168.77.2", "set-cookie": "v=5f380708"})
    original = copy.deepcopy(result)
    clean = SCRUB.result(result)
    assert result == original  # the measured result itself is not changed
    observations = clean["observations"]
    assert observations["http"][0]["body"] == "Hello [scrubbed]."
    assert observations["http"][0]["headers"] == {"x-seen-[scrubbed]": "[scrubbed]", "set-cookie": "v=[scrubbed]"}
    assert observations["dns"]["queries"][0]["cnames"] == ["[scrubbed].dyn.test"]
    assert clean[COUNT_FIELD] == 6
    assert clean["target"] == {"id": "echo", "url": "https://echo.test/?from=[scrubbed]"}  # a list may come by URL


def test_a_body_that_echoed_the_address_loses_its_hash():
    """The SHA-256 of the page as received would let anyone who knows the page try the
    addresses of the vantage's network until one hashes the same."""
    assert SCRUB.result(measured("Hello 95.56.7.8."))["observations"]["http"][0]["body_sha256"] is None
    headers_only = SCRUB.result(measured(**{"x-ip": "95.56.7.8"}))["observations"]["http"][0]
    assert headers_only["body_sha256"] == "ab" * 32


def test_result_without_an_address_is_returned_as_it_is_without_an_exact_search():
    """The fast path: one reduced copy of the result's strings searched for a few literals; the
    exact search never runs and nothing is copied."""
    scrub = Scrubber(OURS)
    searched = []
    exact = scrub.spellings.spans
    scrub.spellings.spans = lambda text: searched.append(text) or exact(text)  # type: ignore[method-assign]
    clean = [measured(f"<p>{n} news, {n * 7}.{n}.{n}, 2026-11-{n}T01:07:09Z, ::1</p>") for n in range(100)]
    for result in clean:
        assert scrub.result(result) is result
    assert searched == []
    assert scrub.result(measured("from 95.56.7.8"))[COUNT_FIELD] == 1
    assert searched == ["from 95.56.7.8"]
