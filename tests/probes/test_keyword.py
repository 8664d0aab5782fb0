"""The keyword probe on loopback: each placement sent to the base's own address beside its neutral
twin, twins first; what a censor's reset, FIN, silence or blockpage leaves in the observations."""

from __future__ import annotations

import asyncio
import ssl

import pytest
import trustme

from kzprobe.lab.servers.middlebox import reset_transport
from kzprobe.probes.connection import Connector
from kzprobe.probes.keyword import KeywordBase, measure_keyword, planned
from kzprobe.targets.keywords import host_label, neutral_word

WORD = "guljan"
# An alert's mapping depends on how the TLS library ends the handshake: any failure at "tls".
ANY_FAILURE = "any failure"


class Censor:
    """An HTTP and a TLS server on loopback, each doing `action` to what carries the word where
    it looks (`where`: "path", "host" or "sni"), and answering 404 / completing otherwise."""

    def __init__(self, where: str, action: str, times: int | None = None) -> None:
        """`times`: act on the first so many requests carrying the word only (a flaky server), or all."""
        self.where, self.action, self.times = where, action, times
        self.seen: list[tuple[str, str]] = []  # (placement looked at, what it carried), in order
        ca = trustme.CA()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("base.test").configure_cert(self.context)
        self.context.sni_callback = self._sni

    def _sni(self, sslobj: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> int | None:
        self.seen.append(("sni", name or ""))
        if self.where == "sni" and name and WORD in name:
            return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
        return None

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        path = head.split(" ")[1]
        host = next(line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("host:"))
        self.seen.append(("http", f"{host}{path}"))
        hit = WORD in (path if self.where == "path" else host if self.where == "host" else "")
        if hit and self.times is not None:
            hit, self.times = self.times > 0, self.times - 1
        if hit and self.action == "reset":
            reset_transport(writer.transport)
            return
        if hit and self.action == "fin":
            writer.close()
            return
        if hit and self.action == "silence":
            await asyncio.sleep(5)
            writer.close()
            return
        status = b"200 OK" if hit and self.action == "blockpage" else b"404 Not Found"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno")
        await writer.drain()
        writer.close()

    async def _tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def __aenter__(self) -> tuple[KeywordBase, KeywordBase]:
        self.http = await asyncio.start_server(self._http, "127.0.0.1", 0)
        self.tls = await asyncio.start_server(self._tls, "127.0.0.1", 0, ssl=self.context)
        http_port = self.http.sockets[0].getsockname()[1]
        tls_port = self.tls.sockets[0].getsockname()[1]
        return (KeywordBase("base-plain", "plain.test", "127.0.0.1", http_port),
                KeywordBase("base-tls", "base.test", "127.0.0.1", tls_port))

    async def __aexit__(self, *exc: object) -> None:
        for server in (self.http, self.tls):
            server.close()


def _measure(where: str, action: str, times: int | None = None) -> tuple[list[dict], Censor]:
    async def run() -> tuple[list[dict], Censor]:
        censor = Censor(where, action, times)
        async with censor as (plain, tls):
            observations: dict = {}
            await measure_keyword(Connector(None, None, 1.0), WORD, plain, tls, observations)  # type: ignore[arg-type]
            return observations["keyword"], censor
    return asyncio.run(run())


def _one(observations: list[dict], placement: str, neutral: bool, again: bool = False) -> dict:
    [found] = [o for o in observations if o["placement"] == placement and o["neutral"] is neutral
               and o.get("again", False) is again]
    return found


@pytest.mark.parametrize(
    ("where", "action", "failure", "step", "status"),
    [
        pytest.param("path", "reset", "connection_reset", "http", None, id="path reset"),
        pytest.param("path", "blockpage", None, None, 200, id="path blockpage"),
        pytest.param("host", "fin", "eof_error", "http", None, id="Host closed"),
        pytest.param("host", "silence", "generic_timeout_error", "http", None, id="Host silenced"),
        pytest.param("sni", "alert", ANY_FAILURE, "tls", None, id="server name refused"),
    ],
)
def test_each_placement_records_what_the_censor_did_beside_an_answered_twin(where, action, failure, step, status):
    observations, _ = _measure(where, action)
    assert len(observations) == 7, "six, and the caught request once more"
    caught = _one(observations, where, neutral=False)
    again = _one(observations, where, neutral=False, again=True)
    if failure == ANY_FAILURE:
        failure = caught["failure"] or "none recorded"
        assert again["failure"] and again["step"] == "tls"
    else:
        assert (again["failure"], again["step"], again["status"]) == (failure, step, status)
    assert (caught["failure"], caught["step"], caught["status"]) == (failure, step, status)
    twin = _one(observations, where, neutral=True)
    assert twin["failure"] is None
    assert twin["status"] == 404 if where != "sni" else twin["handshake_completed"] is True
    others = [o for o in observations if o["placement"] != where]
    assert all(o["failure"] is None for o in others)


def test_twins_go_first_and_every_request_goes_to_the_base_address_with_the_word_in_one_place():
    observations, censor = _measure("path", "reset")
    assert [o["neutral"] for o in observations] == [True] * 3 + [False] * 4
    assert {o["address"] for o in observations} == {"127.0.0.1"}
    http_seen = [carried for kind, carried in censor.seen if kind == "http"]
    assert sorted(http_seen[:2]) == sorted(["plain.test/qzxvjk", "qzxvjk.plain.test/"])
    assert sorted(http_seen[2:4]) == sorted(["plain.test/guljan", "guljan.plain.test/"])
    assert http_seen[4:] == ["plain.test/guljan"], "only the caught request, once more, last"
    assert [name for kind, name in censor.seen if kind == "sni"] == ["qzxvjk.base.test", "guljan.base.test"]


def test_a_request_reset_once_by_a_flaky_server_is_answered_on_its_second_try():
    observations, _ = _measure("path", "reset", times=1)
    assert _one(observations, "path", neutral=False)["failure"] == "connection_reset"
    again = _one(observations, "path", neutral=False, again=True)
    assert (again["failure"], again["status"]) == (None, 404)


def test_a_word_that_passes_leaves_six_completed_observations():
    observations, _ = _measure("nowhere", "reset")
    assert all(o["failure"] is None and o["step"] is None for o in observations)
    assert {o["status"] for o in observations if o["placement"] != "sni"} == {404}


@pytest.mark.parametrize(
    ("word", "label", "path_segment"),
    [
        pytest.param("Guljan", "guljan", "guljan", id="ascii, case folded"),
        pytest.param("жаңаөзен", "xn--80aapbh1b01drr", "%D0%B6%D0%B0%D2%A3%D0%B0%D3%A9%D0%B7%D0%B5%D0%BD", id="idn"),
    ],
)
def test_words_are_sent_encoded_and_twins_have_the_length_sent(word, label, path_segment):
    plain, tls = KeywordBase("p", "plain.test", "192.0.2.1"), KeywordBase("t", "tls.test", "192.0.2.2")
    plan = planned(word, plain, tls)
    sent = {(o["placement"], o["neutral"]): o for o in plan}
    assert host_label(word) == label
    assert sent[("host", False)]["hostname"] == f"{label}.plain.test"
    assert sent[("sni", False)]["hostname"] == f"{label}.tls.test" and sent[("sni", False)]["port"] == 443
    assert sent[("path", False)]["path"] == f"/{path_segment}" and sent[("path", False)]["port"] == 80
    assert len(sent[("path", True)]["word"]) == len(path_segment)
    assert len(sent[("host", True)]["word"]) == len(label) == len(neutral_word(word))
    assert sent[("sni", True)]["address"] == "192.0.2.2"


def test_without_a_tls_base_only_the_plaintext_placements_are_planned():
    plan = planned(WORD, KeywordBase("p", "plain.test", "192.0.2.1"), None)
    assert [(o["placement"], o["neutral"]) for o in plan] == [
        ("path", True), ("host", True), ("path", False), ("host", False)]
    assert planned(WORD, None, None) == []


def test_the_neutral_word_is_never_the_keyword():
    assert neutral_word("qzxvjk") != "qzxvjk" and len(neutral_word("qzxvjk")) == 6
