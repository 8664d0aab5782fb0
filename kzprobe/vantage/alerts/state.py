"""What a vantage remembers between scans to say what changed: its previous complete scan's
verdicts (not the report: a few bytes per target), each target's recent states for the
flapping rule, and the feed's id.

One hidden file per output directory, `.kzprobe-changes-state.json`, with a section per
vantage name (two vantages may share a directory), replaced atomically under the scan's lock.
A missing or unreadable file starts over: the next scan is a new baseline, never a false alert.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, NamedTuple

from kzprobe.report.atomic import replace_atomically
from kzprobe.report.read import parse_time
from kzprobe.vantage.alerts.flapping import Track
from kzprobe.vantage.alerts.limits import MAX_STATE_BYTES

STATE_NAME: Final = ".kzprobe-changes-state.json"
STATE_FORMAT: Final = "kzprobe-change-state"
STATE_VERSION: Final = 1
# The settings whose change between two scans can change verdicts by itself: named in a
# record's notes so that a reader does not take it for a change of blocking.
COMPARED_SETTINGS: Final = ("resolver", "control_resolver", "control", "targets")


class TargetState(NamedTuple):
    """One target's verdict in a scan: what the comparison reads (kzprobe.report.compare)."""

    id: str
    category: str | None
    verdict: str | None
    blocking: str | None
    evidence: tuple[str, ...]

    @property
    def state(self) -> str:
        """Verdict, layer and evidence in one string: what the flapping rule follows."""
        head = f"{self.verdict}/{self.blocking}" if self.blocking else str(self.verdict)
        return f"{head} [{', '.join(sorted(set(self.evidence)))}]" if self.evidence else head


@dataclass(frozen=True)
class ScanState:
    """A complete scan, reduced to what the next scan is compared with."""

    scan_id: str | None
    started_at: str
    finished_at: str | None
    connectivity: str | None
    asn: str | None
    country: str | None
    settings: Mapping[str, Any]
    targets: tuple[TargetState, ...]
    complete: bool = True

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> ScanState:
        vantage = report.get("vantage") or {}
        settings = report.get("settings") or {}
        return cls(
            scan_id=report.get("scan_id"),
            started_at=report["started_at"],
            finished_at=report.get("finished_at"),
            connectivity=report.get("connectivity"),
            asn=vantage.get("asn"),
            country=vantage.get("country"),
            settings={key: settings.get(key) for key in COMPARED_SETTINGS},
            targets=tuple(_target_state(result) for result in report.get("results", [])),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "scan_id": self.scan_id, "started_at": self.started_at, "finished_at": self.finished_at,
            "connectivity": self.connectivity, "asn": self.asn, "country": self.country,
            "settings": dict(self.settings),
            "targets": [[t.id, t.category, t.verdict, t.blocking, list(t.evidence)] for t in self.targets],
        }

    @classmethod
    def from_json(cls, data: object) -> ScanState | None:
        """A scan read back from the state file; None when anything in it is not as written."""
        if not isinstance(data, dict) or not isinstance(data.get("started_at"), str) \
                or parse_time(data["started_at"]) is None or not isinstance(data.get("targets"), list):
            return None
        targets = []
        for row in data["targets"]:
            if not (isinstance(row, list) and len(row) == 5 and isinstance(row[0], str)
                    and all(x is None or isinstance(x, str) for x in row[1:4])
                    and isinstance(row[4], list) and all(isinstance(e, str) for e in row[4])):
                return None
            targets.append(TargetState(row[0], row[1], row[2], row[3], tuple(row[4])))
        texts = [data.get(key) for key in ("scan_id", "finished_at", "connectivity", "asn", "country")]
        if not all(value is None or isinstance(value, str) for value in texts):
            return None
        scan_id, finished_at, connectivity, asn, country = texts
        settings = data.get("settings")
        return cls(scan_id=scan_id, started_at=data["started_at"], finished_at=finished_at,
                   connectivity=connectivity, asn=asn, country=country,
                   settings=settings if isinstance(settings, dict) else {}, targets=tuple(targets))


def _target_state(result: Mapping[str, Any]) -> TargetState:
    target = result.get("target") or {}
    return TargetState(str(target.get("id")), target.get("category"), result.get("verdict"), result.get("blocking"),
                       tuple(result.get("evidence") or ()))


@dataclass
class VantageMemory:
    """One vantage's section of the state file."""

    previous: ScanState
    tracks: dict[str, Track] = field(default_factory=dict)  # target id -> its recent states
    connectivity: Track | None = None

    @classmethod
    def baseline(cls, scan: ScanState) -> VantageMemory:
        """A vantage's first scan here: what the next one is compared with."""
        return cls(scan, {t.id: Track((t.state,)) for t in scan.targets}, Track((scan.connectivity or "unknown",)))


@dataclass
class ChangeState:
    """The whole state file of an output directory."""

    feed_id: str
    vantages: dict[str, VantageMemory] = field(default_factory=dict)


def load_state(directory: Path) -> tuple[ChangeState, str | None]:
    """The directory's state, and why it was started over (None when it was read, or absent)."""
    path = directory / STATE_NAME
    fresh = ChangeState(feed_id=f"urn:uuid:{uuid.uuid4()}")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        return fresh, None
    except OSError as exc:
        return fresh, f"cannot read {path.name}: {exc.strerror or exc}"
    try:
        document = json.loads(data) if len(data) <= MAX_STATE_BYTES else None
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("format") != STATE_FORMAT \
            or document.get("format_version") != STATE_VERSION or not isinstance(document.get("feed_id"), str):
        return fresh, f"{path.name} is not a state file this kzprobe reads; the next changes are counted from this scan"
    state = ChangeState(feed_id=document["feed_id"])
    for name, section in (document.get("vantages") or {}).items():
        memory = _memory(section)
        if isinstance(name, str) and memory is not None:
            state.vantages[name] = memory
    return state, None


def _memory(section: object) -> VantageMemory | None:
    if not isinstance(section, dict):
        return None
    previous = ScanState.from_json(section.get("previous"))
    if previous is None:
        return None
    tracks = {}
    for target_id, data in (section.get("tracks") or {}).items():
        track = Track.from_json(data)
        if isinstance(target_id, str) and track is not None:
            tracks[target_id] = track
    return VantageMemory(previous, tracks, Track.from_json(section.get("connectivity")))


def save_state(directory: Path, state: ChangeState) -> None:
    """Replace the state file atomically; OSError when it cannot be written."""
    document = {
        "format": STATE_FORMAT, "format_version": STATE_VERSION, "feed_id": state.feed_id,
        "vantages": {
            name: {
                "previous": memory.previous.to_json(),
                "tracks": {target_id: track.to_json() for target_id, track in memory.tracks.items()},
                "connectivity": memory.connectivity.to_json() if memory.connectivity else None,
            }
            for name, memory in state.vantages.items()
        },
    }

    def fill(f: IO[bytes]) -> None:
        f.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))

    replace_atomically(directory / STATE_NAME, fill)


def settings_changes(before: Mapping[str, Any], after: Mapping[str, Any],
                     keys: Sequence[str] = COMPARED_SETTINGS) -> list[str]:
    """The compared settings that differ between two scans, by name."""
    return [key for key in keys if before.get(key) != after.get(key)]
