"""Target ids: derived from the URL when an entry gives none, and unique across files loaded together."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from kzprobe.targets.hosts import url_parts
from kzprobe.targets.limits import MAX_ID_CHARS
from kzprobe.targets.problems import EntryContext, Problems

ID_PATTERN: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


def derive_id(url: str) -> str:
    """The id a user file's entry gets when it has none: host, then path and query, as a slug.

    orda.kz -> "orda-kz"; https://kk.wikipedia.org/wiki/ -> "kk-wikipedia-org-wiki". Long ones
    are cut and made unique with a hash of the URL.
    """
    parts = urlsplit(url)
    host = url_parts(url).hostname
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    slug = host_slug(host)
    rest_slug = _slug(rest)
    if rest_slug:
        slug = f"{slug}-{rest_slug}"
    return _with_hash(slug, url) if len(slug) > MAX_ID_CHARS else slug


def _with_hash(slug: str, url: str) -> str:
    """The slug, cut to fit, with 8 hex digits of the URL's hash: unique for each URL."""
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]
    return f"{slug[: MAX_ID_CHARS - 9].rstrip('-')}-{digest}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def host_slug(host: str) -> str:
    # Hyphens inside a host are kept as they are, so that punycode stays readable: xn--e1afmkfd-kz.
    return re.sub(r"[^a-z0-9-]+", "-", host.lower()).strip("-")


@dataclass
class _IdOwner:
    file: str
    index: int
    line: int | None
    url: str | None


class IdRegistry:
    """Every id across all files loaded together, to report duplicates with both places."""

    def __init__(self, problems: Problems) -> None:
        self._problems = problems
        self._owners: dict[str, _IdOwner] = {}

    def claim(self, target_id: str, derived: bool, ctx: EntryContext, url: str | None) -> str | None:
        """The id the entry gets, or None after reporting a duplicate with the place of the first.

        Rows of a CSV cannot carry an id, and Citizen Lab's lists test http:// and https:// of the
        same host as two rows: there, a derived id already taken by a *different* URL gets a
        short hash of the URL appended. The same URL twice is a duplicate everywhere.
        """
        owner = self._owners.get(target_id)
        if owner is not None and derived and ctx.unique_derived_ids and url is not None and owner.url != url:
            target_id = _with_hash(target_id, url)
            owner = self._owners.get(target_id)
        if owner is None:
            self._owners[target_id] = _IdOwner(ctx.file, ctx.index, ctx.line, url)
            return target_id
        place = f"entry {owner.index}" + (f" (line {owner.line})" if owner.line else "")
        if owner.file != ctx.file:
            place += f" of {owner.file}"
        if derived and owner.url == url:
            message = f"the same URL as {place}; remove one of them"
        elif derived:
            message = (
                f"the id {target_id!r}, derived from the host and path, is already used by {place}; "
                "give one of them an explicit id, or remove the duplicate"
            )
        else:
            message = f"duplicate id {target_id!r}: also used by {place}"
        ctx.problem(self._problems, "id", message)
        return None
