"""Where kzprobe's own data lives: the bundled target lists and the pinned CA bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Final

# These paths are read back through the package (kzprobe.targets.CA_DIR, …) at call time, not
# bound here at import: the package's name is the one setting, so that pointing it elsewhere
# (as tests do, with monkeypatch) moves every use. By then the package has finished importing.
from kzprobe import targets as _package

# kzprobe/, the installed package or the one in a source checkout (this file is kzprobe/targets/bundled.py).
_KZPROBE_DIR: Final = Path(__file__).resolve().parent.parent

# Pinned CA bundles for service endpoints (`ca: signal` -> kzprobe/data/cas/signal.pem).
CA_DIR: Final = _KZPROBE_DIR / "data" / "cas"

# Bundled lists: in a source checkout <repo>/targets/; in an installed wheel, package data.
# The baselines alone are scanned beside quick targets (`scan --url`): they tell offline from blocked.
BASELINES_FILE: Final = "baselines.yaml"
BUNDLED_TARGET_NAMES: Final = ("kz.yaml", "messengers.yaml", BASELINES_FILE)
_SOURCE_CHECKOUT: Final = _KZPROBE_DIR.parent
_PACKAGED_TARGETS: Final = _KZPROBE_DIR / "data" / "targets"


def bundled_target_files() -> list[Path]:
    """The lists shipped with kzprobe: kz.yaml, messengers.yaml, baselines.yaml, then any others.

    From a source checkout they are <repo>/targets/*.yaml; an installed wheel carries them as
    package data in kzprobe/data/targets/.
    """
    source_checkout: Path = _package._SOURCE_CHECKOUT
    source_dir = source_checkout / "targets"
    if (source_checkout / "pyproject.toml").is_file() and (source_dir / BUNDLED_TARGET_NAMES[0]).is_file():
        directory = source_dir
    else:
        directory = _package._PACKAGED_TARGETS
    extra = sorted(p.name for p in directory.glob("*.yaml") if p.name not in BUNDLED_TARGET_NAMES)
    return [directory / name for name in (*BUNDLED_TARGET_NAMES, *extra)]


def ca_names() -> list[str]:
    """Names of the pinned CA bundles shipped in kzprobe/data/cas/."""
    ca_dir: Path = _package.CA_DIR
    return sorted(p.stem for p in ca_dir.glob("*.pem")) if ca_dir.is_dir() else []


def ca_bundle_path(name: str) -> Path:
    """Where the pinned CA bundle `name` (an endpoint's `ca`) is, whether or not it exists."""
    ca_dir: Path = _package.CA_DIR
    return ca_dir / f"{name}.pem"
