"""What the lab's web servers send: sites' pages, the ISP's blockpages, download resources.

Pages are generated from the host name, so the inside and the outside serve byte-identical
pages for an untouched site, and a blockpage differs from the real page in length and title as
real ones do (a real article page is tens of KB; an ISP stub is one or two).
"""

from __future__ import annotations

import functools
import html
import os
import random
import secrets
import time
from typing import Final

from kzprobe.lab import site_spec as m

# The blockpage of a Kazakh ISP as public fingerprint lists know it: the body contains
# "Страница заблокирована" ("Page blocked"), the pattern Censored Planet and OONI list for
# Kazakhstan (ooni/blocking-fingerprints fingerprints_http.csv, cp.d_corp_kz_ps).
FINGERPRINTED_BLOCKPAGE: Final = """<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8"><title>Страница заблокирована</title></head>
<body><h1>Страница заблокирована</h1>
<p>Доступ к запрашиваемому ресурсу ограничен в соответствии с законодательством Республики Казахстан.</p>
<p>Сұралған ресурсқа қол жеткізу шектелген.</p>
</body></html>
"""

# A blockpage in no fingerprint list: a corporate-looking notice of an ISP nobody has studied.
# Only a comparison with the page the control vantage received can reveal it.
UNKNOWN_BLOCKPAGE: Final = """<!DOCTYPE html>
<html lang="kk"><head><meta charset="utf-8"><title>Qazline: ескерту</title></head>
<body><div class="notice"><h2>Qazline</h2>
<p>Бұл бет уақытша қолжетімсіз. Эта страница временно недоступна для абонентов сети.</p>
<p>Support: 7788</p></div></body></html>
"""

_WORDS: Final = (
    "Алматы Астана әкімдік парламент сайлау жаңалықтар экономика мұнай газ баға "
    "президент министрлік сот журналист басылым редакция оқиға митинг Жаңаөзен "
    "tenge budget report election oil prices court ruling newsroom editorial analysis "
    "region district community interview statement ministry decision council"
).split()

# What a site answers when it will not serve this country (HTTP 451, RFC 7725): the site's own
# page, over its own validated TLS - geo-blocking, not censorship.
GEO_451_PAGE: Final = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>451 Unavailable For Legal Reasons</title></head>
<body><h1>Not available in your country</h1>
<p>This content is not available in your region. We are sorry for the inconvenience.</p>
</body></html>
"""

# What a failing server (an overloaded edge of the site's CDN) answers: nginx's default 503 page.
SERVER_ERROR_503_PAGE: Final = """<html>
<head><title>503 Service Temporarily Unavailable</title></head>
<body>
<center><h1>503 Service Temporarily Unavailable</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""

# A Cloudflare bot challenge as the CDN serves it (403, cf-mitigated: challenge; the title and the
# challenge-platform script of the page OONI keeps in internal/netemx/cloudflare.go).
CHALLENGE_PAGE: Final = """<!DOCTYPE html>
<html lang="en-US"><head><meta charset="UTF-8"><title>Just a moment...</title>
<meta name="robots" content="noindex,nofollow"></head>
<body><div class="main-wrapper"><h1>Checking if the site connection is secure</h1>
<p>This process is automatic. Your browser will redirect to your requested content shortly.</p>
<script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1"></script>
<div class="footer">Performance &amp; security by Cloudflare</div></div></body></html>
"""

DOWNLOAD_PATH: Final = "/download.bin"
# The large page: megabytes of HTML, below kzprobe's 4 MiB body cap so it reads whole.
LARGE_PAGE_BYTES: Final = 2_000_000
# The medium page: a 40 KB article, below kzprobe's 64 KB burst allowance (a small page, judged by
# its time to last byte), big enough that a 16 KB/s policer holds it for 1.5 s after a 16 KB burst.
MEDIUM_PAGE_BYTES: Final = 40_000


def _paragraphs(rng: random.Random, count: int) -> str:
    return "\n".join(
        "<p>" + " ".join(rng.choice(_WORDS) for _ in range(rng.randint(40, 90))) + ".</p>"
        for _ in range(count)
    )


def site_title(host: str) -> str:
    name = host.split(".")[0].replace("-", " ").title()
    return f"{name} - новости Казахстана"


@functools.lru_cache(maxsize=4096)
def standard_page(host: str) -> bytes:
    """A fixed article page of 15-25 KB for `host`."""
    rng = random.Random(host)
    title = html.escape(site_title(host))
    body = _paragraphs(rng, rng.randint(30, 45))
    return (f'<!DOCTYPE html>\n<html lang="kk"><head><meta charset="utf-8"><title>{title}</title>'
            f"</head>\n<body><header><h1>{title}</h1></header>\n<main>\n{body}\n</main>"
            f"<footer>{html.escape(host)}</footer></body></html>\n").encode()


def dynamic_page(host: str) -> bytes:
    """The article page with a fresh token, clock and 'most read' box on every request."""
    rng = random.Random()
    extra = _paragraphs(rng, rng.randint(1, 4))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    block = (f'<aside data-csrf="{secrets.token_hex(16)}"><p>Updated {stamp}</p>{extra}</aside>'
             f"</body>").encode()
    return standard_page(host).replace(b"</body>", block, 1)


@functools.lru_cache(maxsize=8)
def large_page(host: str) -> bytes:
    rng = random.Random(host)
    page = standard_page(host)
    filler = _paragraphs(rng, 200).encode()
    repeats = max(1, (LARGE_PAGE_BYTES - len(page)) // len(filler))
    return page.replace(b"</main>", filler * repeats + b"</main>", 1)


@functools.lru_cache(maxsize=8)
def medium_page(host: str) -> bytes:
    """The article page grown with whole paragraphs to about MEDIUM_PAGE_BYTES (within 1 KB)."""
    page = standard_page(host)
    rng = random.Random(host + "/medium")
    extra = b""
    while len(page) + len(extra) < MEDIUM_PAGE_BYTES:
        extra += _paragraphs(rng, 1).encode() + b"\n"
    return page.replace(b"</main>", extra + b"</main>", 1)


_OTHER_WORDS: Final = ("services account citizens portal payments documents registration support "
                       "schedule office forms request status online help contact").split()


def _worded_page(seed: str, words: list[str], title: str, lang: str, footer: str = "") -> bytes:
    """Twelve paragraphs of 50 words drawn from `words` (seeded: the same page every time) under
    its own title."""
    rng = random.Random(seed)
    text = "\n".join("<p>" + " ".join(rng.choice(words) for _ in range(50)) + "</p>" for _ in range(12))
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head>\n'
            f"<body><h1>{title}</h1>\n{text}\n{footer}</body></html>\n").encode()


@functools.lru_cache(maxsize=64)
def other_page(host: str) -> bytes:
    """A page of another kind of site (a portal, a national edition): its own title and words, so
    that a comparison with a news site's page finds them different."""
    return _worded_page(host, _OTHER_WORDS, html.escape(f"{host.split('.')[0].title()} services portal"), "en")


_REGIONAL_WORDS: Final = ("область аким погода транспорт тарифы школы больницы дороги районы жители "
                          "объявления афиша вакансии маршруты").split()


@functools.lru_cache(maxsize=64)
def regional_page(host: str) -> bytes:
    """The site's regional edition (a GeoDNS replica's page for its region): the site's own, with
    a title and words of its own, so that a comparison with the page served abroad finds them
    different."""
    return _worded_page(host + "/regional", _REGIONAL_WORDS, "Региональный выпуск: главное в области", "ru",
                        f"<footer>{html.escape(host)}</footer>")


def page(kind: str, host: str) -> bytes:
    if kind == m.PAGE_DYNAMIC:
        return dynamic_page(host)
    if kind == m.PAGE_LARGE:
        return large_page(host)
    if kind == m.PAGE_MEDIUM:
        return medium_page(host)
    if kind == m.PAGE_OTHER:
        return other_page(host)
    return standard_page(host)


@functools.lru_cache(maxsize=8)
def download_body(size: int) -> bytes:
    """Incompressible bytes, so that throughput counts what the wire carried."""
    return os.urandom(size)


# What a service endpoint answers to an HTTP request (messenger APIs answer something short).
ENDPOINT_REPLY: Final = b"kzprobe lab service endpoint\n"
# What a lab endpoint answers at a Tor directory port's descriptor path: shaped like the start
# of a server descriptor ("router <nickname> <address> <orport> <socksport> <dirport>"), no more.
TOR_DESCRIPTOR_PATH: Final = "/tor/server/authority"
TOR_DESCRIPTOR: Final = b"router kzlab 192.0.2.1 443 0 80\nplatform kzprobe lab\n"


def not_found_page() -> bytes:
    return b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n"
