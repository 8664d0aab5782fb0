"""Where a user can read one of kzprobe's documents, for messages that point to one.

A pip user has no `docs/` folder: the documents ship inside the package (kzprobe/data/docs), and
a message names the copy they can open. Run from a source checkout, the checkout's docs/ is named.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT_DOCS = _PACKAGE.parent / "docs"
_INSTALLED_DOCS = _PACKAGE / "data" / "docs"


def doc_path(name: str) -> str:
    """`docs/NAME` from a checkout (relative, as the README writes it), else the installed copy."""
    if (_PACKAGE.parent / "pyproject.toml").is_file() and (_CHECKOUT_DOCS / name).is_file():
        return f"docs/{name}"
    return str(_INSTALLED_DOCS / name)
