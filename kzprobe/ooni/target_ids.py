"""Target ids for imported URLs: the bundled list's id when kzprobe ships the same URL, else
the id kzprobe derives for a URL-only target (kzprobe/targets/ids.py).

Analysts match targets across scans by id (`kzprobe compare`), so an OONI measurement of
https://orda.kz/ must land on the id a kzprobe scan of the same URL uses: "orda-kz" from the
bundled list, or the derived id a user's own list would give it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from kzprobe.analysis.names import url_path
from kzprobe.targets import bundled_target_files, derive_id, load_targets


def url_key(url: str) -> str:
    """Scheme, host (IDNA, lower case, no "www." folding) and path: the URL as a target."""
    scheme = url.split(":", 1)[0].lower()
    return f"{scheme}://{url_path(url)}"


class TargetNames:
    """The bundled targets by URL, loaded once (the bundled lists are a few hundred entries)."""

    def __init__(self) -> None:
        self._bundled: dict[str, dict[str, Any]] | None = None

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._bundled is None:
            self._bundled = {}
            try:
                targets = load_targets(bundled_target_files())
            except Exception:  # noqa: BLE001 - a broken bundle must not stop an import; ids are then derived
                targets = []
            for target in targets:
                if target.url and not target.endpoints:
                    entry = {"id": target.id, "name": target.name, "category": target.category}
                    self._bundled.setdefault(url_key(target.url), entry)
        return self._bundled

    def web_target(self, url: str) -> dict[str, Any]:
        """The target of an imported web_connectivity measurement of `url`."""
        known = self._load().get(url_key(url))
        if known is not None:
            target = {"id": known["id"], "url": url}
            target.update({k: v for k, v in (("name", known["name"]), ("category", known["category"])) if v})
            return target
        try:
            ident = derive_id(url)
        except (ValueError, AttributeError, TypeError):
            ident = ""
        if not ident:
            ident = "url-" + hashlib.sha256(url.encode("utf-8", errors="replace")).hexdigest()[:12]
        return {"id": ident, "url": url}

