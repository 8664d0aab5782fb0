"""Target files: what a user may write, what the bundled lists must hold, and how problems read."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from kzprobe import safe_yaml
from kzprobe.targets import (
    MAX_ENTRIES_PER_FILE,
    MAX_TARGET_FILE_BYTES,
    Endpoint,
    Target,
    TargetFileError,
    TargetProblem,
    bundled_target_files,
    derive_id,
    load_target_files,
    load_targets,
    normalize_host,
    targets_from_urls,
)
from support.work import count_work

GOOD_SOURCE = "{document: 'Access Now, joint letter', reports: 'blocked in January 2022', date: 2022-01-27}"


def write(tmp_path: Path, text: str, name: str = "list.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path, *, strict: bool = False) -> list[TargetProblem]:
    with pytest.raises(TargetFileError) as caught:
        load_targets([path], strict=strict)
    return caught.value.problems


# --- what loads ------------------------------------------------------------------------------

def test_minimal_user_file_needs_only_urls(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        targets:
          - url: https://orda.kz/
          - url: http://ca-news.org/
        """)
    targets = load_targets([path])
    assert [t.id for t in targets] == ["orda-kz", "ca-news-org"]
    assert targets[0] == Target(id="orda-kz", url="https://orda.kz/")
    assert (targets[0].hostname, targets[0].port, targets[0].scheme) == ("orda.kz", 443, "https")
    assert (targets[1].hostname, targets[1].port, targets[1].scheme) == ("ca-news.org", 80, "http")


def test_bare_list_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "- url: https://orda.kz/\n- url: https://vlast.kz/\n")
    assert [t.id for t in load_targets([path])] == ["orda-kz", "vlast-kz"]


def test_full_entry_and_metadata(tmp_path: Path) -> None:
    path = write(tmp_path, f"""\
        title: Test list
        description: for the tests
        licence: CC BY-NC-SA 4.0
        targets:
          - id: mirror
            url: https://mirror.example.kz/
            name: A mirror
            category: HOST
            baseline: domestic
            download: https://files.example.kz/big.iso
            sources: [{GOOD_SOURCE}]
        """)
    [target_file] = load_target_files([path], strict=True)
    assert (target_file.title, target_file.description, target_file.licence) == (
        "Test list", "for the tests", "CC BY-NC-SA 4.0")
    [target] = target_file.targets
    assert target.download == "https://files.example.kz/big.iso"
    assert target.sources == ({"document": "Access Now, joint letter", "reports": "blocked in January 2022",
                               "date": "2022-01-27"},)
    assert target.to_dict() == {
        "id": "mirror", "url": "https://mirror.example.kz/", "hostname": "mirror.example.kz",
        "name": "A mirror", "category": "HOST", "sources": [dict(target.sources[0])],
        "download": "https://files.example.kz/big.iso", "baseline": "domestic",
    }
    json.dumps(target.to_dict())


def test_to_dict_holds_only_set_fields() -> None:
    assert Target(id="orda-kz", url="https://orda.kz/").to_dict() == {
        "id": "orda-kz", "url": "https://orda.kz/", "hostname": "orda.kz"}


@pytest.mark.parametrize(
    "url, expected_id",
    [
        pytest.param("https://orda.kz/", "orda-kz", id="host only"),
        pytest.param("https://www.kaztag.kz/", "www-kaztag-kz", id="www is kept: it is another SNI"),
        pytest.param("https://kk.wikipedia.org/wiki/", "kk-wikipedia-org-wiki", id="path is part of it"),
        pytest.param("https://hidemy.name/ru/", "hidemy-name-ru", id="language path"),
        pytest.param("http://namba.kz/#!/", "namba-kz", id="fragment is not sent, not part of it"),
        pytest.param("https://Orda.KZ./", "orda-kz", id="case and trailing dot"),
        pytest.param("https://пример.kz/", "xn--e1afmkfd-kz", id="IDN host as punycode"),
        pytest.param("http://[2001:db8::1]:8080/", "2001-db8-1", id="IPv6 literal"),
        pytest.param("https://x.kz/search?q=a%20b", "x-kz-search-q-a-20b", id="query"),
    ],
)
def test_derived_ids(url: str, expected_id: str) -> None:
    assert derive_id(url) == expected_id


def test_long_derived_id_is_cut_and_made_unique() -> None:
    first = derive_id("https://x.kz/" + "a" * 200)
    second = derive_id("https://x.kz/" + "a" * 199 + "b")
    assert len(first) <= 80 and len(second) <= 80 and first != second


@pytest.mark.parametrize(
    "host, expected",
    [
        pytest.param("пример.kz", "xn--e1afmkfd.kz", id="cyrillic"),
        pytest.param("ПРИМЕР.KZ", "xn--e1afmkfd.kz", id="upper-case cyrillic maps to lower"),
        pytest.param("xn--e1afmkfd.kz", "xn--e1afmkfd.kz", id="already punycode"),
        pytest.param("ORDA.kz", "orda.kz", id="ascii lower-cased"),
        pytest.param("1.2.3.4", "1.2.3.4", id="IPv4"),
        pytest.param("[2001:DB8:0::1]", "2001:db8::1", id="IPv6 in brackets, canonical"),
        pytest.param("2001:db8::1", "2001:db8::1", id="bare IPv6"),
        pytest.param("_dmarc.example.com", "_dmarc.example.com", id="underscore labels exist in the wild"),
    ],
)
def test_normalize_host(host: str, expected: str) -> None:
    assert normalize_host(host) == expected


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("a..kz", id="empty label"),
        pytest.param("-orda.kz", id="leading hyphen"),
        pytest.param("xn--zz-.kz", id="bad punycode"),
        pytest.param("1.2.3", id="numeric but not IPv4"),
        pytest.param("256.1.1.1", id="IPv4 out of range"),
        pytest.param("[fe80::1%eth0]", id="IPv6 zone"),
        pytest.param("a" * 64 + ".kz", id="label over 63"),
        pytest.param("☃\u200d.kz", id="IDN that cannot be encoded"),
    ],
)
def test_normalize_host_refuses(host: str) -> None:
    with pytest.raises(ValueError):
        normalize_host(host)


def test_idn_target_keeps_the_url_as_given(tmp_path: Path) -> None:
    path = write(tmp_path, "targets:\n  - url: https://пример.kz/новости\n")
    [target] = load_targets([path])
    assert target.hostname == "xn--e1afmkfd.kz"
    assert target.to_dict()["url"] == "https://пример.kz/новости"
    assert target.to_dict()["hostname"] == "xn--e1afmkfd.kz"


def test_targets_from_urls_validates_like_a_user_file() -> None:
    assert [t.id for t in targets_from_urls(["https://orda.kz/", "http://ca-news.org/"])] == ["orda-kz", "ca-news-org"]
    with pytest.raises(TargetFileError, match="not an http"):
        targets_from_urls(["ftp://orda.kz/"])


# --- endpoints -------------------------------------------------------------------------------

def test_endpoint_forms(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        targets:
          - id: service
            endpoints:
              - e1.whatsapp.net:5222
              - 149.154.175.50:80
              - "[2001:b28:f23d:f001::a]:443"
              - {host: chat.signal.org, port: 443, tls: true, ca: signal, role: chat}
              - {host: 149.154.167.51, port: "443", role: datacenter}
              - {host: "2001:67c:4e8:f002::a", port: 443}
              - {host: 1.2.3.4, port: 443, tls: true, sni: Web.Example.kz}
        """)
    [target] = load_targets([path])
    assert target.url is None
    assert target.endpoints == (
        Endpoint("e1.whatsapp.net", 5222),
        Endpoint("149.154.175.50", 80),
        Endpoint("2001:b28:f23d:f001::a", 443),
        Endpoint("chat.signal.org", 443, tls=True, ca="signal", role="chat"),
        Endpoint("149.154.167.51", 443, role="datacenter"),
        Endpoint("2001:67c:4e8:f002::a", 443),
        Endpoint("1.2.3.4", 443, tls=True, sni="web.example.kz"),
    )
    assert target.endpoints[3].ca_file is not None and target.endpoints[3].ca_file.is_file()
    assert target.to_dict()["endpoints"][3] == {
        "host": "chat.signal.org", "port": 443, "tls": True, "ca": "signal", "role": "chat"}
    assert "url" not in target.to_dict()
    with pytest.raises(ValueError, match="no url"):
        _ = target.hostname


def test_service_target_id_is_derived_from_its_first_endpoint(tmp_path: Path) -> None:
    path = write(tmp_path, "- endpoints: ['e1.whatsapp.net:443']\n")
    assert load_targets([path])[0].id == "e1-whatsapp-net"


ENDPOINT_PROBLEMS = [
    pytest.param("'e1.whatsapp.net'", "endpoints[1]", "must be 'host:port'", id="no port"),
    pytest.param("'2001:db8::1:443'", "endpoints[1]", "in brackets", id="IPv6 without brackets"),
    pytest.param("'[2001:db8::1]'", "endpoints[1]", "'[IPv6]:port'", id="bracketed IPv6 without port"),
    pytest.param("'x.kz:0'", "endpoints[1]", "not a port number", id="port 0"),
    pytest.param("'x.kz:70000'", "endpoints[1]", "not a port number", id="port too large"),
    pytest.param("'x.kz:https'", "endpoints[1]", "not a port number", id="port by name"),
    pytest.param("'bad host:443'", "endpoints[1]", "invalid label", id="space in host"),
    pytest.param("{port: 443}", "endpoints[1].host", "required", id="mapping without host"),
    pytest.param("{host: x.kz}", "endpoints[1].port", "required", id="mapping without port"),
    pytest.param("{host: x.kz, port: 443.0}", "endpoints[1].port", "not a port number", id="float port"),
    pytest.param("{host: x.kz, port: true}", "endpoints[1].port", "not a port number", id="boolean port"),
    pytest.param("{host: x.kz, port: 443, tls: 'yes'}", "endpoints[1].tls", "true or false", id="tls as text"),
    pytest.param("{host: x.kz, port: 443, sni: y.kz}", "endpoints[1].sni", "tls: true", id="sni without tls"),
    pytest.param("{host: x.kz, port: 443, tls: true, sni: 1.2.3.4}", "endpoints[1].sni", "host name", id="IP as sni"),
    pytest.param("{host: x.kz, port: 443, ca: signal}", "endpoints[1].ca", "tls: true", id="ca without tls"),
    pytest.param("{host: x.kz, port: 443, tls: true, ca: nosuchca}", "endpoints[1].ca", "no CA bundle",
                 id="unknown ca"),
    pytest.param("{host: x.kz, port: 443, tls: true, ca: ../../etc/passwd}", "endpoints[1].ca", "name of a bundle",
                 id="ca path traversal"),
    pytest.param("{host: x.kz, port: 443, role: chatt}", "endpoints[1].role", "not one of", id="unknown role"),
    pytest.param("{host: x.kz, port: 443, proto: udp}", "endpoints[1]", "unknown key 'proto'", id="unknown key"),
    pytest.param("[x.kz, 443]", "endpoints[1]", "must be 'host:port' or a mapping", id="list as endpoint"),
]


@pytest.mark.parametrize("endpoint, field, message", ENDPOINT_PROBLEMS)
def test_endpoint_problems(tmp_path: Path, endpoint: str, field: str, message: str) -> None:
    path = write(tmp_path, f"- id: svc\n  endpoints: [{endpoint}]\n")
    [problem] = problems_of(path)
    assert problem.field == field
    assert message in problem.message


def test_repeated_endpoint_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "- id: svc\n  endpoints: ['x.kz:443', {host: X.kz, port: 443}]\n")
    [problem] = problems_of(path)
    assert (problem.field, problem.message) == ("endpoints[2]", "repeats endpoints[1]")


# --- problems in entries: one row per rule ---------------------------------------------------

ENTRY_PROBLEMS = [
    # (entry as YAML, field, message fragment)
    pytest.param("{name: x}", "url", "required", id="no url and no endpoints"),
    pytest.param("{url: https://orda.kz/, colour: red}", None, "unknown field 'colour'", id="unknown field"),
    pytest.param("{url: https://orda.kz/, nmae: x}", None, "did you mean 'name'", id="misspelt field suggests"),
    pytest.param("{url: ftp://orda.kz/}", "url", "not an http(s) URL", id="ftp URL"),
    pytest.param("{url: orda.kz}", "url", "not an http(s) URL", id="no scheme"),
    pytest.param("{url: 'https:/orda.kz/'}", "url", "not an http(s) URL", id="one slash"),
    pytest.param("{url: 'https:///path'}", "url", "no host", id="no host"),
    pytest.param("{url: 'https://orda .kz/'}", "url", "whitespace", id="space in URL"),
    pytest.param("{url: \"https://orda.kz/\\u202e\"}", "url", "control or formatting", id="bidi override in URL"),
    pytest.param("{url: 'https://user:secret@orda.kz/'}", "url", "user name or password", id="credentials"),
    pytest.param("{url: 'https://orda.kz:99999/'}", "url", "port", id="port out of range"),
    pytest.param("{url: 'https://orda.kz:0/'}", "url", "port 0", id="port zero"),
    pytest.param("{url: 'https://orda.kz:abc/'}", "url", "port", id="port not a number"),
    pytest.param("{url: 'http://[::1/'}", "url", "not a valid URL", id="unclosed IPv6 bracket"),
    pytest.param("{url: 'https://orda..kz/'}", "url", "invalid label", id="empty label"),
    pytest.param("{url: 42}", "url", "must be a string", id="url as number"),
    pytest.param("{url: ''}", "url", "must not be empty", id="empty url"),
    pytest.param("{url: https://orda.kz/, id: Orda_KZ}", "id", "lower-case letters", id="bad id"),
    pytest.param("{url: https://orda.kz/, id: 7}", "id", "must be a string", id="id as number"),
    pytest.param("{url: https://orda.kz/, name: ''}", "name", "must not be empty", id="empty name"),
    pytest.param("{url: https://orda.kz/, name: '  '}", "name", "must not be empty", id="blank name"),
    pytest.param("{url: https://orda.kz/, name: [a]}", "name", "must be a string", id="name as list"),
    pytest.param("{url: https://orda.kz/, name: \"a\\nb\"}", "name", "U+000A", id="line break in name"),
    pytest.param("{url: https://orda.kz/, category: news}", "category", "did you mean 'NEWS'",
                 id="lower-case category"),
    pytest.param("{url: https://orda.kz/, category: MEDIA}", "category", "not a Citizen Lab category",
                 id="bad category"),
    pytest.param("{url: https://orda.kz/, category: 3}", "category", "not a number", id="category as number"),
    pytest.param("{url: https://orda.kz/, baseline: local}", "baseline", "not one of", id="bad baseline"),
    pytest.param("{url: https://orda.kz/, baseline: true}", "baseline", "not one of", id="baseline as boolean"),
    pytest.param("{url: https://orda.kz/, download: ftp://orda.kz/x}", "download", "not an http(s) URL",
                 id="download not http"),
    pytest.param("{url: https://orda.kz/, download: https://cdn.other.net/x}", "download", "different site",
                 id="download on another site"),
    pytest.param("{endpoints: ['x.kz:443'], download: https://x.kz/big}", "download", "needs the target's 'url'",
                 id="download without url"),
    pytest.param("{endpoints: ['x.kz:443'], baseline: domestic}", "baseline", "needs the target's 'url'",
                 id="baseline without url"),
    pytest.param("{url: https://orda.kz/, sources: x}", "sources", "must be a list", id="sources not a list"),
    pytest.param("{url: https://orda.kz/, sources: [x]}", "sources[1]", "must be a mapping", id="source not a mapping"),
    pytest.param("{url: https://orda.kz/, sources: [{reports: x}]}", "sources[1].document", "required",
                 id="source without document"),
    pytest.param("{url: https://orda.kz/, sources: [{document: d, link: x}]}", "sources[1]", "unknown key 'link'",
                 id="source with unknown key"),
    pytest.param("{url: https://orda.kz/, sources: [{document: d, date: 2022-02-30}]}", "sources[1].date",
                 "not a date", id="impossible date"),
    pytest.param("{url: https://orda.kz/, sources: [{document: d, date: January 2022}]}", "sources[1].date",
                 "not a date", id="date in words"),
    pytest.param("{url: https://orda.kz/, sources: [{document: d, date: 2022.5}]}", "sources[1].date",
                 "date string", id="date as float"),
    pytest.param("{url: https://orda.kz/, endpoints: x.kz:443}", "endpoints", "must be a list",
                 id="endpoints not a list"),
    pytest.param("{url: https://orda.kz/, endpoints: []}", "endpoints", "must not be empty", id="endpoints empty"),
]


@pytest.mark.parametrize("entry, field, message", ENTRY_PROBLEMS)
def test_entry_problems(tmp_path: Path, entry: str, field: str | None, message: str) -> None:
    path = write(tmp_path, f"targets:\n  - {entry}\n")
    problems = problems_of(path)
    assert len(problems) == 1, [str(p) for p in problems]
    [problem] = problems
    assert (problem.file, problem.entry is not None, problem.field) == (str(path), True, field)
    assert message in problem.message
    assert problem.line == 2


@pytest.mark.parametrize(
    "date",
    ["'2013'", "2014-11", "2022-01-27", "'2000-02-29'"],
)
def test_accepted_dates(tmp_path: Path, date: str) -> None:
    path = write(tmp_path, f"- url: https://orda.kz/\n  sources: [{{document: d, date: {date}}}]\n")
    assert load_targets([path])[0].sources[0]["date"] == date.strip("'")


def test_unquoted_year_is_accepted_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, "- url: https://orda.kz/\n  sources: [{document: d, date: 2013}]\n")
    assert load_targets([path])[0].sources[0]["date"] == "2013"


def test_one_entry_with_many_problems_reports_each(tmp_path: Path) -> None:
    path = write(tmp_path, "- {url: ftp://x/, category: news, baseline: local, extra: 1}\n")
    fields = sorted(str(p.field) for p in problems_of(path))
    assert fields == ["None", "baseline", "category", "url"]


# --- problems with files ---------------------------------------------------------------------

FILE_PROBLEMS = [
    pytest.param("", "empty", id="empty file"),
    pytest.param("targets: [\n", "expected", id="broken YAML"),
    pytest.param("a: &x 1\ntargets: [*x]\n", "aliases", id="alias"),
    pytest.param("just text\n", "expected a mapping", id="scalar document"),
    pytest.param("title: x\n", "no 'targets' list", id="no targets key"),
    pytest.param("targets: {url: x}\n", "must be a list", id="targets not a list"),
    pytest.param("tragets: []\n", "did you mean 'targets'", id="misspelt top-level key"),
    pytest.param("targets: []\nauthor: me\n", "unknown top-level key 'author'", id="unknown top-level key"),
    pytest.param("targets: []\ntitle: 5\n", "non-empty string", id="metadata not a string"),
    pytest.param("targets: []\ntargets: []\n", "duplicate key", id="duplicate top-level key"),
    pytest.param("- https://orda.kz/\n", "write '- url: …'", id="bare URL string entry"),
]


@pytest.mark.parametrize("text, message", FILE_PROBLEMS)
def test_file_problems(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    problems = problems_of(path)
    assert any(message in str(p) for p in problems), [str(p) for p in problems]


def test_empty_targets_list_is_fine(tmp_path: Path) -> None:
    assert load_targets([write(tmp_path, "targets: []\n")]) == []


def test_missing_file(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path / "nope.yaml")
    assert str(problem) == f"{tmp_path / 'nope.yaml'}: no such file"


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("- url: https://orda.kz/\n  name: caf\xe9\n".encode("latin-1"))
    [problem] = problems_of(path)
    assert "not UTF-8" in problem.message and problem.line == 2


def test_huge_file_is_refused_after_reading_only_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(4 * MAX_TARGET_FILE_BYTES)  # sparse
    work = count_work(monkeypatch)
    [problem] = problems_of(path)
    assert "cap" in problem.message
    assert (work.bytes_read, work.yaml_values) == (MAX_TARGET_FILE_BYTES + 1, 0)


def test_yaml_bomb_is_refused_at_the_first_alias(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = write(tmp_path, "\n".join(lines) + "\ntargets: [{url: https://x.kz/, name: *a9}]\n")
    work = count_work(monkeypatch)
    [problem] = problems_of(path)
    assert "aliases" in problem.message
    assert work.yaml_values <= 17  # the first line's 13 values, the next key and list, the alias


def test_too_many_entries_is_one_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert MAX_ENTRIES_PER_FILE == 10_000
    monkeypatch.setattr("kzprobe.targets.limits.MAX_ENTRIES_PER_FILE", 50)  # the rule, without parsing 10,001 entries
    path = write(tmp_path, "".join(f"- {{url: 'https://h{i}.kz/'}}\n" for i in range(51)))
    [problem] = problems_of(path)
    assert "51 entries; the cap is 50" in problem.message


def test_too_many_csv_rows_is_one_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kzprobe.targets.limits.MAX_ENTRIES_PER_FILE", 50)
    path = write(tmp_path, "url\n" + "".join(f"https://h{i}.kz/\n" for i in range(51)), "big.csv")
    [problem] = problems_of(path)
    assert "more than 50 rows" in problem.message and problem.line == 52


def test_problems_are_capped(tmp_path: Path) -> None:
    path = write(tmp_path, "".join("- {url: 'ftp://x/'}\n" for _ in range(1500)))
    problems = problems_of(path)
    assert len(problems) == 1001
    assert "stopped here" in problems[-1].message


# --- ids across entries and files ------------------------------------------------------------

def test_duplicate_explicit_id_names_both_entries(tmp_path: Path) -> None:
    path = write(tmp_path, "- {id: orda, url: 'https://orda.kz/'}\n- {id: orda, url: 'https://orda.kz/ru/'}\n")
    [problem] = problems_of(path)
    assert str(problem) == f"{path}:2: entry 2 (orda), field 'id': duplicate id 'orda': also used by entry 1 (line 1)"


def test_duplicate_derived_id_asks_for_an_explicit_one(tmp_path: Path) -> None:
    path = write(tmp_path, "- url: http://namba.kz/\n- url: 'http://namba.kz/#!/'\n")
    [problem] = problems_of(path)
    assert "derived from the host and path" in problem.message and "entry 1" in problem.message


def test_duplicate_id_across_files_names_the_other_file(tmp_path: Path) -> None:
    first = write(tmp_path, "- url: https://orda.kz/\n", "a.yaml")
    second = write(tmp_path, "- {id: orda-kz, url: 'https://orda.kz/kz/'}\n", "b.yaml")
    with pytest.raises(TargetFileError) as caught:
        load_targets([first, second])
    [problem] = caught.value.problems
    assert problem.file == str(second)
    assert f"entry 1 (line 1) of {first}" in problem.message


def test_problems_of_all_files_are_collected(tmp_path: Path) -> None:
    first = write(tmp_path, "- url: ftp://a/\n", "a.yaml")
    second = write(tmp_path, "- url: ftp://b/\n", "b.yaml")
    with pytest.raises(TargetFileError) as caught:
        load_targets([first, second, tmp_path / "missing.yaml"])
    assert [p.file for p in caught.value.problems] == [str(first), str(second), str(tmp_path / "missing.yaml")]


def test_same_file_twice_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "- url: https://orda.kz/\n")
    with pytest.raises(TargetFileError, match="given twice"):
        load_targets([path, path])


# --- strict rules (the bundled lists) ---------------------------------------------------------

def test_strict_requires_id_name_category_and_sources(tmp_path: Path) -> None:
    path = write(tmp_path, "- url: https://orda.kz/\n")
    assert load_targets([path]) == [Target(id="orda-kz", url="https://orda.kz/")]
    fields = sorted(p.field for p in problems_of(path, strict=True))
    assert fields == ["category", "id", "name", "sources"]


def test_strict_requires_complete_sources(tmp_path: Path) -> None:
    path = write(tmp_path, "- {id: o, url: 'https://orda.kz/', name: Orda, category: NEWS, sources: [{document: d}]}\n")
    assert load_targets([path])[0].sources == ({"document": "d"},)
    fields = sorted(p.field for p in problems_of(path, strict=True))
    assert fields == ["sources[1].date", "sources[1].reports"]


def test_strict_refuses_an_empty_sources_list(tmp_path: Path) -> None:
    path = write(tmp_path, "- {id: o, url: 'https://orda.kz/', name: Orda, category: NEWS, sources: []}\n")
    [problem] = problems_of(path, strict=True)
    assert problem.field == "sources" and "at least one" in problem.message


# --- Citizen Lab CSV ------------------------------------------------------------------------

# Rows as they appear in citizenlab/test-lists lists/kz.csv (CC BY-NC-SA 4.0, Citizen Lab).
CITIZEN_LAB_CSV = """\
url,category_code,category_description,date_added,source,notes
https://orda.kz/,NEWS,News Media,2022-11-14,test-lists.ooni.org contribution,
http://ca-news.org/,NEWS,News Media,2019-05-25,Netalitica,Central Asia focus
https://bambuser.com/,MMED,Media sharing,2019-08-15,Netalitica,"video streaming site, blocked since 2012"
"""


def test_citizen_lab_csv_rows_become_targets_citing_the_list(tmp_path: Path) -> None:
    path = write(tmp_path, CITIZEN_LAB_CSV, "kz.csv")
    [target_file] = load_target_files([path])
    assert target_file.title == "Citizen Lab test list kz.csv"
    orda, ca_news, bambuser = target_file.targets
    assert (orda.id, orda.category, orda.url) == ("orda-kz", "NEWS", "https://orda.kz/")
    assert orda.sources[0]["date"] == "2022-11-14"
    assert "Citizen Lab test list kz.csv" in orda.sources[0]["document"]
    assert "test-lists.ooni.org contribution" in orda.sources[0]["document"]
    assert orda.sources[0]["reports"] == "listed under NEWS (News Media)"
    assert ca_news.sources[0]["reports"] == "Central Asia focus"
    assert bambuser.sources[0]["reports"] == "video streaming site, blocked since 2012"


def test_csv_is_recognised_by_its_header_whatever_the_extension(tmp_path: Path) -> None:
    path = write(tmp_path, CITIZEN_LAB_CSV, "kz.txt")
    assert len(load_targets([path])) == 3


def test_csv_under_strict_rules_lacks_names(tmp_path: Path) -> None:
    path = write(tmp_path, CITIZEN_LAB_CSV, "kz.csv")
    problems = problems_of(path, strict=True)
    assert {p.field for p in problems} == {"id", "name"}


@pytest.mark.parametrize(
    "text, field, message, line",
    [
        pytest.param("url,category_code\nftp://x/,NEWS\n", "url", "not an http(s) URL", 2, id="bad url"),
        pytest.param("url,category_code\nhttps://x.kz/,NEWZ\n", "category_code", "not a Citizen Lab", 2,
                     id="bad category named by its column"),
        pytest.param("url,category_code,category_description,date_added,source,notes\n"
                     "https://x.kz/,NEWS,News,2019-13-01,,\n", "date_added", "not a date", 2,
                     id="bad date_added"),
        pytest.param("url,category_code\n\nhttps://x.kz/,NEWS,extra\n", None, "3 fields; the header has 2", 3,
                     id="row longer than header, after a blank line"),
        pytest.param("url,category_code\nhttps://x.kz/,NEWS\nhttps://x.kz/,NEWS\n", "id", "the same URL as entry 1", 3,
                     id="same URL twice"),
        pytest.param("url,category_code,notes\nhttps://x.kz/,NEWS,\"multi\nline\"\n", "notes",
                     "U+000A", 2, id="notes with a line break"),
    ],
)
def test_csv_problems(tmp_path: Path, text: str, field: str | None, message: str, line: int) -> None:
    [problem] = problems_of(write(tmp_path, text, "list.csv"))
    assert (problem.field, problem.line) == (field, line)
    assert message in problem.message


def test_csv_rows_for_http_and_https_of_one_host_get_distinct_ids(tmp_path: Path) -> None:
    # Citizen Lab's global list has both http://www.jmarshall.com/ and https://www.jmarshall.com/.
    path = write(tmp_path, "url,category_code\nhttp://www.x.com/,ANON\nhttps://www.x.com/,ANON\n", "global.csv")
    first, second = load_targets([path])
    assert first.id == "www-x-com"
    assert second.id.startswith("www-x-com-") and len(second.id) == len("www-x-com-") + 8


def test_yaml_entries_for_http_and_https_of_one_host_need_explicit_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "- url: http://www.x.com/\n- url: https://www.x.com/\n")
    [problem] = problems_of(path)
    assert "derived from the host and path" in problem.message


def test_the_same_url_twice_is_a_duplicate(tmp_path: Path) -> None:
    path = write(tmp_path, "- url: https://orda.kz/\n- url: https://orda.kz/\n")
    [problem] = problems_of(path)
    assert problem.message == "the same URL as entry 1 (line 1); remove one of them"


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("", "empty", id="empty csv"),
        pytest.param("link,category_code\n", "unknown column 'link'", id="unknown column"),
        pytest.param("category_code\n", "no 'url' column", id="no url column"),
        pytest.param("url,url\n", "appears twice", id="duplicate column"),
        pytest.param('url,category_code\n"https://x.kz/,NEWS\n', "not valid CSV", id="unclosed quote"),
    ],
)
def test_csv_file_problems(tmp_path: Path, text: str, message: str) -> None:
    problems = problems_of(write(tmp_path, text, "list.csv"))
    assert any(message in str(p) for p in problems), [str(p) for p in problems]


# --- problem text ---------------------------------------------------------------------------

def test_problem_text_follows_the_contract() -> None:
    problem = TargetProblem("targets/kz.yaml", "entry 3 (orda-kz)", "url", "not an http(s) URL")
    assert str(problem) == "targets/kz.yaml: entry 3 (orda-kz), field 'url': not an http(s) URL"
    assert str(TargetProblem("kz.yaml", None, None, "no such file", 4)) == "kz.yaml:4: no such file"


def test_problem_text_never_carries_raw_control_characters(tmp_path: Path) -> None:
    path = write(tmp_path, "- {url: 'https://x.kz/', category: \"\\u202eSWEN\", colour\\u200b: 1}\n")
    for problem in problems_of(path):
        assert all(ch.isprintable() for ch in str(problem)), str(problem)


# --- the documentation's examples ------------------------------------------------------------

def test_yaml_examples_in_docs_load(tmp_path: Path) -> None:
    import re

    docs = (Path(__file__).resolve().parents[2] / "docs" / "targets.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", docs, re.S) if b.startswith(("targets:", "title:"))]
    assert len(blocks) >= 2
    for number, block in enumerate(blocks):
        path = tmp_path / f"example{number}.yaml"
        path.write_text(block, encoding="utf-8")
        assert load_targets([path])


def test_targets_are_hashable_and_compare_by_value() -> None:
    source = {"document": "d", "reports": "r", "date": "2022"}
    first = Target(id="orda-kz", url="https://orda.kz/", sources=(source,))
    second = Target(id="orda-kz", url="https://orda.kz/", sources=(dict(source),))
    assert first == second and len({first, second}) == 1


def test_a_single_path_instead_of_a_list_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="list of paths"):
        load_targets(str(tmp_path / "list.yaml"))  # type: ignore[arg-type]


# --- the YAML value budget (kzprobe/safe_yaml.py) as a target file meets it ----------------------

def test_a_dense_target_file_is_a_target_file_problem(monkeypatch, tmp_path):
    monkeypatch.setattr(safe_yaml, "MAX_YAML_NODES", 20_000)
    path = tmp_path / "dense.yaml"
    path.write_text("targets:\n" + "".join(f"  - {{url: 'https://s{i}.example/'}}\n" for i in range(20_000)))
    with pytest.raises(TargetFileError) as error:
        load_targets([path])
    assert "values" in str(error.value)


def test_honest_files_stay_within_the_budget(tmp_path):
    assert load_targets(bundled_target_files(), strict=True)
    path = tmp_path / "many.yaml"
    path.write_text("targets:\n" + "".join(f"  - url: https://site{i}.example/\n" for i in range(10_000)))
    assert len(load_targets([path])) == 10_000


def test_billion_laughs_in_a_target_file_is_refused_at_the_first_alias(tmp_path, monkeypatch):
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    lines.append("targets: *a9")
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    work = count_work(monkeypatch)
    with pytest.raises(TargetFileError, match="aliases"):
        load_targets([path])
    assert work.yaml_values <= 16
