"""One field of someone else's report, whatever it holds: a wrong type reads as not recorded."""

import json

import pytest

from kzprobe.analysis.facts import read_result
from kzprobe.analyst.measures import measures_of
from kzprobe.report import fields


@pytest.mark.parametrize("value, expected", [
    (3, 3.0), (2.5, 2.5), (True, None), ("3", None), (None, None),
    (float("nan"), None), (float("inf"), None), (10**400, None), (-(10**400), None),
])
def test_a_number_is_a_finite_json_number(value, expected):
    assert fields.number(value) == expected


@pytest.mark.parametrize("value, expected", [(7, 7), (False, None), (7.0, None), ("7", None)])
def test_an_integer_is_not_a_bool_or_a_float(value, expected):
    assert fields.integer(value) == expected


def test_text_and_lists_are_cut_to_their_limits():
    assert fields.text("x" * 10, 4) == "xxxx"
    assert fields.text(5) is None
    assert fields.items(list(range(10)), 3) == [0, 1, 2]
    assert fields.items({"a": 1}) == []
    assert fields.objects([{"a": 1}, 2, "x", {"b": 2}]) == [{"a": 1}, {"b": 2}]
    assert fields.objects({"a": 1}) == [{"a": 1}]
    assert fields.mapping([1]) == {}


def test_a_duration_of_four_hundred_digits_reads_as_not_recorded_everywhere():
    huge = json.loads('{"hostname": "a.kz", "addresses": ["10.0.0.1"], "failure": null, "duration_ms": '
                      + "9" * 400 + "}")
    observations = {"dns": huge, "tcp": [{"hostname": "a.kz", "address": "10.0.0.1", "port": 443,
                                          "failure": None, "duration_ms": huge["duration_ms"]}]}
    facts = read_result({"target": {"id": "a", "url": "https://a.kz/"}, "observations": observations})
    assert facts.dns is not None and facts.dns.duration_ms is None
    assert facts.tcp[0].duration_ms is None
    measures = measures_of(observations)
    assert measures.dns_ms is None and measures.tcp_connect_ms is None
    assert measures.dns_addresses == 1
