"""Validation of one entry of a target file: every field checked, every problem reported, or a Target."""

from __future__ import annotations

import datetime
import re
from typing import Any, Final

from kzprobe.docs_links import doc_path
from kzprobe.targets.endpoint_specs import check_endpoints
from kzprobe.targets.hosts import registrable_site, url_parts
from kzprobe.targets.ids import ID_PATTERN, IdRegistry, derive_id, host_slug
from kzprobe.targets.keywords import keyword_id, keyword_problem
from kzprobe.targets.limits import MAX_ID_CHARS, MAX_SOURCES_PER_TARGET, MAX_TEXT_CHARS
from kzprobe.targets.messages import first_unsafe_char, show_value, type_name, unknown_key_message
from kzprobe.targets.problems import EntryContext, Problems
from kzprobe.targets.target import BASELINES, CATEGORIES, Endpoint, Target

# Fields of an entry, and of each of its sources.
ENTRY_FIELDS: Final = ("id", "url", "keyword", "name", "category", "sources", "download", "baseline", "endpoints",
                       "quic")
SOURCE_FIELDS: Final = ("document", "reports", "date")

_DATE_RE: Final = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def validate_entry(entry: Any, ctx: EntryContext, problems: Problems, ids: IdRegistry) -> Target | None:
    """One entry to a Target, or None after reporting every problem it has."""
    if not isinstance(entry, dict):
        hint = " (write '- url: …')" if isinstance(entry, str) else ""
        ctx.problem(problems, None, f"must be a mapping with at least 'url'{hint}, not {type_name(entry)}")
        return None
    before = len(problems.items)
    raw_id = entry.get("id")
    if isinstance(raw_id, str) and ID_PATTERN.match(raw_id):
        ctx.target_id = raw_id
    for key in entry:
        if key not in ENTRY_FIELDS:
            ctx.problem(problems, None, unknown_key_message("field", key, ENTRY_FIELDS))

    keyword = _check_keyword(entry, ctx, problems)
    url = _check_url_field(entry, "url", ctx, problems)
    endpoints = check_endpoints(entry, ctx, problems)
    if "url" not in entry and "endpoints" not in entry and "keyword" not in entry:
        ctx.problem(problems, "url", "required (or 'endpoints' for a service target, 'keyword' for a keyword)")

    target_id, derived = _check_id(entry, url, endpoints, ctx, problems, keyword)
    if ctx.target_id is None and target_id is not None:
        ctx.target_id = target_id

    name = _check_text(entry, "name", ctx, problems, required=ctx.strict)
    category = _check_category(entry, ctx, problems)
    sources = _check_sources(entry, ctx, problems)
    baseline = _check_baseline(entry, ctx, problems)
    if baseline is not None and "url" not in entry:
        ctx.problem(problems, "baseline", "needs the target's 'url': baselines are judged on web access")
    download = _check_download(entry, url, ctx, problems)
    quic = _check_quic(entry, url, ctx, problems)

    if len(problems.items) > before or target_id is None:
        return None
    claimed = ids.claim(target_id, derived, ctx, url)
    if claimed is None:
        return None
    return Target(
        id=claimed,
        url=url,
        name=name,
        category=category,
        sources=sources,
        download=download,
        baseline=baseline,
        endpoints=endpoints,
        keyword=keyword,
        quic=quic,
    )


def _check_quic(entry: dict, url: str | None, ctx: EntryContext, problems: Problems) -> bool:
    """`quic: true`: also try a QUIC handshake (HTTP/3) to the site; only for an https url."""
    if "quic" not in entry:
        return False
    value = entry["quic"]
    if not isinstance(value, bool):
        ctx.problem(problems, "quic", f"must be true or false, not {type_name(value)}")
        return False
    if value and (url is None or not url.lower().startswith("https://")):
        ctx.problem(problems, "quic", "needs an https 'url': HTTP/3 runs only with TLS")
        return False
    return value


def _check_id(
    entry: dict, url: str | None, endpoints: tuple[Endpoint, ...], ctx: EntryContext, problems: Problems,
    keyword: str | None = None,
) -> tuple[str | None, bool]:
    """(id, derived): the entry's own id, or one derived from its URL or first endpoint."""
    if "id" in entry:
        value = entry["id"]
        if not isinstance(value, str):
            ctx.problem(problems, "id", f"must be a string, not {type_name(value)}")
        elif not value:
            ctx.problem(problems, "id", "must not be empty")
        elif len(value) > MAX_ID_CHARS:
            ctx.problem(problems, "id", f"longer than {MAX_ID_CHARS} characters")
        elif not ID_PATTERN.match(value):
            ctx.problem(problems, "id", f"{show_value(value)} must be lower-case letters, digits, inner hyphens")
        else:
            return value, False
        return None, False
    if ctx.strict:
        ctx.problem(problems, "id", "required in the bundled lists")
        return None, False
    if url is not None:
        return derive_id(url), True
    if endpoints:
        return host_slug(endpoints[0].host), True
    if keyword is not None:
        return keyword_id(keyword), True
    return None, False


def _check_keyword(entry: dict, ctx: EntryContext, problems: Problems) -> str | None:
    """A keyword entry's word, stored as given; it stands alone: no url, endpoints, download or
    baseline (it is measured on the scan's baselines, not on a site of its own)."""
    if "keyword" not in entry:
        return None
    for other in ("url", "endpoints", "download", "baseline"):
        if other in entry:
            ctx.problem(problems, "keyword", f"a keyword entry has no {other!r}: the word is tried on the "
                        "scan's baseline sites")
    value = entry["keyword"]
    if not isinstance(value, str):
        ctx.problem(problems, "keyword", f"must be a string, not {type_name(value)}")
        return None
    problem = keyword_problem(value)
    if problem is not None:
        ctx.problem(problems, "keyword", f"{show_value(value)} {problem}" if value else problem)
        return None
    return value


def _check_url_field(entry: dict, key: str, ctx: EntryContext, problems: Problems) -> str | None:
    if key not in entry:
        return None
    value = entry[key]
    if not isinstance(value, str):
        ctx.problem(problems, key, f"must be a string, not {type_name(value)}")
        return None
    if not value:
        ctx.problem(problems, key, "must not be empty")
        return None
    try:
        url_parts(value)
    except ValueError as error:
        ctx.problem(problems, key, str(error))
        return None
    return value


def _check_download(entry: dict, url: str | None, ctx: EntryContext, problems: Problems) -> str | None:
    download = _check_url_field(entry, "download", ctx, problems)
    if download is None:
        return None
    if url is None:
        if "url" not in entry:
            ctx.problem(problems, "download", "needs the target's 'url': the download measures that site")
        return None
    target_site = registrable_site(url_parts(url).hostname)
    download_site = registrable_site(url_parts(download).hostname)
    if target_site != download_site:
        ctx.problem(
            problems,
            "download",
            f"is on {download_site}, a different site from the target's {target_site}; "
            "its throughput would say nothing about this target",
        )
        return None
    return download


def _check_text(
    entry: dict, key: str, ctx: EntryContext, problems: Problems, *, required: bool
) -> str | None:
    if key not in entry:
        if required:
            ctx.problem(problems, key, "required in the bundled lists")
        return None
    return _text_value(entry[key], key, ctx, problems)


def _text_value(value: Any, key: str, ctx: EntryContext, problems: Problems) -> str | None:
    """A short human text: a string, not empty, no control or formatting characters."""
    if not isinstance(value, str):
        ctx.problem(problems, key, f"must be a string, not {type_name(value)}")
        return None
    text = value.strip()
    if not text:
        ctx.problem(problems, key, "must not be empty")
        return None
    if len(text) > MAX_TEXT_CHARS:
        ctx.problem(problems, key, f"longer than {MAX_TEXT_CHARS} characters")
        return None
    bad = first_unsafe_char(text)
    if bad is not None:
        ctx.problem(problems, key, f"contains the control or formatting character U+{ord(bad):04X}")
        return None
    return text


def _check_category(entry: dict, ctx: EntryContext, problems: Problems) -> str | None:
    if "category" not in entry:
        if ctx.strict:
            ctx.problem(problems, "category", "required in the bundled lists")
        return None
    value = entry["category"]
    if not isinstance(value, str):
        ctx.problem(problems, "category", f"must be a Citizen Lab category code, not {type_name(value)}")
        return None
    if value in CATEGORIES:
        return value
    hint = f"; did you mean {value.strip().upper()!r}?" if value.strip().upper() in CATEGORIES else ""
    message = f"{show_value(value)} is not a Citizen Lab category code{hint} (see {doc_path('targets.md')})"
    ctx.problem(problems, "category", message)
    return None


def _check_baseline(entry: dict, ctx: EntryContext, problems: Problems) -> str | None:
    if "baseline" not in entry:
        return None
    value = entry["baseline"]
    if value in BASELINES:
        return value
    ctx.problem(problems, "baseline", f"{show_value(value)} is not one of: {', '.join(BASELINES)}")
    return None


def _check_sources(entry: dict, ctx: EntryContext, problems: Problems) -> tuple[dict, ...]:
    if "sources" not in entry:
        if ctx.strict:
            message = "required in the bundled lists: at least one {document, reports, date}"
            ctx.problem(problems, "sources", message)
        return ()
    value = entry["sources"]
    if not isinstance(value, list):
        message = f"must be a list of {{document, reports, date}}, not {type_name(value)}"
        ctx.problem(problems, "sources", message)
        return ()
    if not value and ctx.strict:
        ctx.problem(problems, "sources", "must list at least one source in the bundled lists")
    if len(value) > MAX_SOURCES_PER_TARGET:
        ctx.problem(problems, "sources", f"{len(value)} sources; the cap is {MAX_SOURCES_PER_TARGET}")
        return ()
    sources: list[dict] = []
    for number, source in enumerate(value, start=1):
        checked = _check_source(source, f"sources[{number}]", ctx, problems)
        if checked is not None:
            sources.append(checked)
    return tuple(sources)


def _check_source(source: Any, where: str, ctx: EntryContext, problems: Problems) -> dict | None:
    if not isinstance(source, dict):
        message = f"must be a mapping {{document, reports, date}}, not {type_name(source)}"
        ctx.problem(problems, where, message)
        return None
    ok = True
    for key in source:
        if key not in SOURCE_FIELDS:
            ctx.problem(problems, where, unknown_key_message("key", key, SOURCE_FIELDS))
            ok = False
    checked: dict[str, str] = {}
    for key in SOURCE_FIELDS:
        if key not in source:
            if key == "document" or ctx.strict:
                message = "required" if key == "document" else "required in the bundled lists"
                ctx.problem(problems, f"{where}.{key}", message)
                ok = False
            continue
        value = source[key]
        if key == "date":
            text = _check_date(value, f"{where}.date", ctx, problems)
        else:
            text = _text_value(value, f"{where}.{key}", ctx, problems)
        if text is None:
            ok = False
        else:
            checked[key] = text
    return checked if ok else None


def _check_date(value: Any, where: str, ctx: EntryContext, problems: Problems) -> str | None:
    """YYYY, YYYY-MM or YYYY-MM-DD, a real calendar date; an unquoted year (int) is accepted."""
    if isinstance(value, int) and not isinstance(value, bool) and 1000 <= value <= 9999:
        return str(value)
    if not isinstance(value, str):
        message = f"must be a date string YYYY, YYYY-MM or YYYY-MM-DD, not {type_name(value)}"
        ctx.problem(problems, where, message)
        return None
    match = _DATE_RE.match(value.strip())
    if match:
        year, month, day = (int(part) if part else None for part in match.groups())
        try:
            datetime.date(year, month or 1, day or 1)  # type: ignore[arg-type]  # the pattern requires a year
            return value.strip()
        except ValueError:
            pass
    ctx.problem(problems, where, f"{show_value(value)} is not a date YYYY, YYYY-MM or YYYY-MM-DD")
    return None
