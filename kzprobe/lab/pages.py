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
# Kazakhstan (research/kz-blocking-fingerprints.md, section 1).
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

DOWNLOAD_PATH: Final = "/download.bin"
# The large page: megabytes of HTML, below kzprobe's 4 MiB body cap so it reads whole.
LARGE_PAGE_BYTES: Final = 2_000_000


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


def page(kind: str, host: str) -> bytes:
    if kind == m.PAGE_DYNAMIC:
        return dynamic_page(host)
    if kind == m.PAGE_LARGE:
        return large_page(host)
    return standard_page(host)


@functools.lru_cache(maxsize=8)
def download_body(size: int) -> bytes:
    """Incompressible bytes, so that throughput counts what the wire carried."""
    return os.urandom(size)


# What a service endpoint answers to an HTTP request (messenger APIs answer something short).
ENDPOINT_REPLY: Final = b"kzprobe lab service endpoint\n"


def not_found_page() -> bytes:
    return b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n"
