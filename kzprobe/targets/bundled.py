"""Where kzprobe's own data lives: the bundled target lists and the pinned CA bundles."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

# kzprobe/, the installed package or the one in a source checkout (this file is kzprobe/targets/bundled.py).
_KZPROBE_DIR: Final = Path(__file__).resolve().parent.parent

# Pinned CA bundles for service endpoints (`ca: signal` -> kzprobe/data/cas/signal.pem).
CA_DIR: Final = _KZPROBE_DIR / "data" / "cas"
# A directory of further pinned bundles, for a lab or a test network whose services have CAs of
# their own (kzprobe lab sets it); a bundled name is never replaced from there.
EXTRA_CA_DIR_VARIABLE: Final = "KZPROBE_CA_DIR"

# Bundled lists: in a source checkout <repo>/targets/; in an installed wheel, package data.
# The baselines alone are scanned beside quick targets (`scan --url`): they tell offline from blocked.
BASELINES_FILE: Final = "baselines.yaml"
BUNDLED_TARGET_NAMES: Final = ("kz.yaml", "messengers.yaml", BASELINES_FILE)
_SOURCE_CHECKOUT: Final = _KZPROBE_DIR.parent
_PACKAGED_TARGETS: Final = _KZPROBE_DIR / "data" / "targets"


# The functions below read these names when called, so that pointing one elsewhere (as tests do,
# with monkeypatch on this module) moves every use.


def bundled_target_files() -> list[Path]:
    """The lists shipped with kzprobe: kz.yaml, messengers.yaml, baselines.yaml, then any others.

    From a source checkout they are <repo>/targets/*.yaml; an installed wheel carries them as
    package data in kzprobe/data/targets/.
    """
    source_dir = _SOURCE_CHECKOUT / "targets"
    if (_SOURCE_CHECKOUT / "pyproject.toml").is_file() and (source_dir / BUNDLED_TARGET_NAMES[0]).is_file():
        directory = source_dir
    else:
        directory = _PACKAGED_TARGETS
    extra = sorted(p.name for p in directory.glob("*.yaml") if p.name not in BUNDLED_TARGET_NAMES)
    return [directory / name for name in (*BUNDLED_TARGET_NAMES, *extra)]


def _ca_dirs() -> list[Path]:
    extra = os.environ.get(EXTRA_CA_DIR_VARIABLE, "").strip()
    return [CA_DIR, Path(extra)] if extra else [CA_DIR]


def ca_names() -> list[str]:
    """Names of the pinned CA bundles: shipped in kzprobe/data/cas/, or in $KZPROBE_CA_DIR."""
    return sorted({p.stem for d in _ca_dirs() if d.is_dir() for p in d.glob("*.pem")})


def ca_bundle_path(name: str) -> Path:
    """Where the pinned CA bundle `name` (an endpoint's `ca`) is, whether or not it exists: the
    shipped one first, then $KZPROBE_CA_DIR's."""
    paths = [d / f"{name}.pem" for d in _ca_dirs()]
    return next((p for p in paths if p.is_file()), paths[0])
