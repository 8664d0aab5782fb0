"""Page comparison with the control (docs/methodology.md, "Unknown blockpages"): one row per edge."""

from __future__ import annotations

import pytest

from kzprobe.analysis import thresholds as th
from kzprobe.analysis.facts import read_result
from kzprobe.analysis.pages import compare_pages, title_words, visible_words
from support.observations import UNKNOWN_BLOCKPAGE, article_body, hop


def page(status: int = 200, title: str | None = "Orda.kz - новости Казахстана", body: str | None = None, **kwargs):
    return read_result({"target": {"url": "http://x.example/"}, "observations": {
        "http": [hop("http://x.example/", status, title=title, body=body, **kwargs)]}}).http[0]


def sized(length: int, title: str | None = None, headers: dict | None = None):
    return page(title=title, body="<p>" + "ab " * (length // 3) + "</p>", headers=headers or {"server": "nginx"})


@pytest.mark.parametrize("name,probe,control,same", [
    ("identical_pages", page(), page(), True),
    ("title_with_changing_date", page(title="Orda.kz - 24 ноября"), page(title="Orda.kz - 25 ноября"), True),
    ("blockpage_title", page(title="Qazline: ескерту", body=UNKNOWN_BLOCKPAGE), page(), False),
    ("blockpage_naming_the_site", page(title="Orda.kz заблокирован", body="<p>Доступ к сайту ограничен</p>"),
     page(title="Orda.kz новости Казахстана"), False),
    ("same_title_dynamic_body", page(body=article_body("Orda.kz - новости Казахстана", paragraphs=8)),
     page(body=article_body("Orda.kz - новости Казахстана", paragraphs=40)), True),
    ("title_missing_here", page(title=None, body="<p>short</p>"), page(), False),
    ("status_differs", page(403), page(), False),
    ("control_page_was_an_error", page(), page(503, title="Service Unavailable"), None),
    ("both_not_found_same_page", page(404, title="Not Found page"), page(404, title="Not Found page"), True),
    # Without a title in the control page: length, visible text, uncommon headers.
    ("no_title_length_ratio_above_threshold", sized(7_100), sized(10_000), True),
    ("no_title_length_ratio_at_threshold_differs", sized(7_000, headers={"server": "a"}), sized(10_000), True),
    ("no_title_short_blockpage", page(title=None, body="<p>Доступ ограничен оператором связи сети</p>"),
     page(title=None, body=article_body(title="")), False),
    ("no_title_same_text_different_length",
     page(title=None, body=article_body(title="", paragraphs=10)),
     page(title=None, body=article_body(title="", paragraphs=40)), True),
    ("no_title_shared_uncommon_header",
     sized(1_000, headers={"x-site-id": "1"}), sized(10_000, headers={"x-site-id": "2"}), True),
    ("no_title_truncated_both", page(title=None, body="x", truncated=True, body_length=9_000_000),
     page(title=None, body="y", truncated=True, body_length=8_000_000), True),
], ids=lambda x: x if isinstance(x, str) else "")
def test_compare_pages(name, probe, control, same):
    comparison = compare_pages(probe, control)
    assert comparison.same is same, comparison.reason
    assert comparison.reason


def test_length_ratio_threshold_is_strict():
    """OONI: a match is a ratio above 0.7; exactly 0.7 with nothing else in common differs."""
    probe = page(title=None, body="", body_length=7_000, headers={})
    control = page(title=None, body="", body_length=10_000, headers={})
    assert compare_pages(probe, control).same is False
    probe = page(title=None, body="", body_length=7_001, headers={})
    assert compare_pages(probe, control).same is True


def test_title_words_are_long_words_by_utf8_bytes():
    # A 3-letter Cyrillic word is 6 bytes and counts; "News:" is 4 letters once its colon is gone.
    assert title_words("Тут и там | News: the big day") == {"тут", "там"}
    assert all(len(w.encode()) >= th.TITLE_WORD_MIN_BYTES for w in title_words("abcd abcde Ёж ежик"))
    assert "abcd" not in title_words("abcd abcde") and "abcde" in title_words("abcd abcde")


def test_visible_words_ignore_markup():
    assert visible_words("<div class='navigation'>Hello <b>world</b></div>") == {"hello", "world"}
    assert visible_words("<<<<a" * 1000 + "> tail") == {"tail"}


@pytest.mark.parametrize("name,probe_title,control_title,same", [
    ("half_of_the_shorter_title_shared", "Alpha Bravo Charlie Delta", "Alpha Bravo Foxtrot Golf Hotel", True),
    ("less_than_half_shared", "Alpha Bravo Charlie Delta", "Alpha Echoes Foxtrot Golfs Hotel", False),
], ids=lambda x: x if isinstance(x, str) else "")
def test_title_sharing_threshold(name, probe_title, control_title, same):
    body = article_body(title="")
    assert compare_pages(page(title=probe_title, body=body), page(title=control_title, body=body)).same is same


@pytest.mark.parametrize("name,shared,same", [
    ("text_similarity_at_threshold", 3, True),   # 3 shared of 10 distinct words: 0.3
    ("text_similarity_below_threshold", 2, False),
], ids=lambda x: x if isinstance(x, str) else "")
def test_text_similarity_threshold(name, shared, same):
    common = [f"common{i}" for i in range(shared)]
    ours = " ".join(common + [f"ours{i}" for i in range(5 - shared + 2)])
    theirs = " ".join(common + [f"theirs{i}" for i in range(10 - len(common) - (5 - shared + 2))])
    probe = page(title=None, body=f"<p>{ours}</p>", body_length=100, headers={})
    control = page(title=None, body=f"<p>{theirs}</p>", body_length=1_000, headers={})
    assert compare_pages(probe, control).same is same
