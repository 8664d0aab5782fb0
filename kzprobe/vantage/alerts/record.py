"""The change record: what changed between a vantage's previous complete scan and this one.

The targets are compared by kzprobe.report.compare (the comparison `kzprobe compare` prints);
this module decides what of it is news, under the flapping rule (flapping.py), and writes it as
the record that the feed, changes.jsonl and the webhook carry (format `kzprobe-changes`,
docs/vantage-point.md). Pure: no file, no clock. No change, no record.

Only what the two reports already say goes in: the vantage's name, ASN and country (never its
address), target ids, categories and URLs from the target lists, verdicts, evidence codes and
kzprobe's explanations.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from kzprobe.report import vocabulary as v
from kzprobe.report.compare import Comparison, TargetChange, compare_scans
from kzprobe.vantage.alerts import flapping
from kzprobe.vantage.alerts.flapping import Decision, Track
from kzprobe.vantage.alerts.limits import MAX_CARRIED_TARGETS, MAX_TARGETS_PER_RECORD
from kzprobe.vantage.alerts.state import ScanState, TargetState, VantageMemory, settings_changes

RECORD_FORMAT: Final = "kzprobe-changes"
RECORD_VERSION: Final = 1
# Record ids are UUIDs derived from the vantage and the two scans: the same pair of scans always
# gives the same id, so a receiver can drop a delivery it already has.
_RECORD_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "kzprobe:change-record")

# Kinds of target change, most newsworthy first (the order of a record's list).
NEWLY_BLOCKED: Final = "newly_blocked"
LAYER_CHANGED: Final = "layer_changed"
VERDICT_CHANGED: Final = "verdict_changed"
NEWLY_REACHABLE: Final = "newly_reachable"
EVIDENCE_CHANGED: Final = "evidence_changed"
UNSTABLE: Final = "unstable"
STABLE_AGAIN: Final = "stable_again"
KINDS: Final = (NEWLY_BLOCKED, LAYER_CHANGED, VERDICT_CHANGED, NEWLY_REACHABLE, EVIDENCE_CHANGED, UNSTABLE,
                STABLE_AGAIN)
CONNECTIVITY_CHANGED: Final = "changed"


@dataclass(frozen=True)
class Decided:
    """Everything decided about one new scan: the record (None: nothing to say) and the
    vantage's memory to keep for the next one."""

    record: dict[str, Any] | None
    memory: VantageMemory


def record_id(vantage: str, previous_scan: str | None, current_scan: str | None) -> str:
    return str(uuid.uuid5(_RECORD_NAMESPACE, f"{vantage}\n{previous_scan}\n{current_scan}"))


def state_name(verdict: str | None, blocking: str | None) -> str:
    """'blocked/tls', 'reachable', … as every kzprobe command writes a state."""
    return f"{verdict}/{blocking}" if blocking else str(verdict)


def change_kind(a: TargetState, b: TargetState) -> str:
    """Which kind of change a target went through between two scans (KINDS)."""
    if b.verdict == v.BLOCKED and a.verdict != v.BLOCKED:
        return NEWLY_BLOCKED
    if b.verdict == v.REACHABLE and a.verdict != v.REACHABLE:
        return NEWLY_REACHABLE
    if a.verdict == b.verdict:
        return LAYER_CHANGED if a.blocking != b.blocking else EVIDENCE_CHANGED
    return VERDICT_CHANGED


def _evidence(side: TargetState) -> str:
    return ", ".join(side.evidence) if side.evidence else "no evidence code"


def change_summary(kind: str, a: TargetState, b: TargetState, window: int, states: tuple[str, ...] = ()) -> str:
    """The one line a reader sees for a target's change."""
    was, now = state_name(a.verdict, a.blocking), state_name(b.verdict, b.blocking)
    if kind == NEWLY_BLOCKED:
        layer = f" at the {b.blocking} layer" if b.blocking else ""
        return f"{b.id} is now blocked{layer} ({_evidence(b)}); it was {was} in the previous scan."
    if kind == NEWLY_REACHABLE:
        return f"{b.id} is now reachable; it was {was} ({_evidence(a)}) in the previous scan."
    if kind == LAYER_CHANGED:
        return (f"{b.id} is still {b.verdict}, now at the {b.blocking or 'unknown'} layer ({_evidence(b)}) "
                f"instead of {a.blocking or 'unknown'} ({_evidence(a)}).")
    if kind == EVIDENCE_CHANGED:
        return f"{b.id} is still {now}; the evidence changed from {_evidence(a)} to {_evidence(b)}."
    if kind == UNSTABLE:
        seen = " → ".join(dict.fromkeys(s.split(" [")[0] for s in states)) if states else now
        return (f"{b.id} is unstable: its state changed {flapping.changes_in(states)} times in its last "
                f"{len(states)} scans ({seen}); now {now}. Its changes are not reported until it holds one "
                f"state for {window} scans.")
    if kind == STABLE_AGAIN:
        return f"{b.id} has held one state, {now}, for {window} scans; its changes are reported again."
    return f"{b.id} is now {now} ({_evidence(b)}); it was {was} in the previous scan."


def connectivity_summary(decision: Decision, before: str | None, after: str | None, window: int,
                         baselines: Mapping[str, Any] | None) -> str:
    was, now = before or "unknown", after or "unknown"
    if decision == flapping.UNSTABLE:
        return (f"Connectivity is unstable: it changed {flapping.FLAP_CHANGES} times or more in the last {window} "
                f"scans; now {now}. Its changes are not reported until it holds for {window} scans.")
    if decision == flapping.STABLE_AGAIN:
        return f"Connectivity has been {now} for {window} scans; its changes are reported again."
    return f"Connectivity changed from {was} to {now}{_baseline_facts(baselines)}."


def _baseline_facts(baselines: Mapping[str, Any] | None) -> str:
    """' (baselines working: domestic 2 of 2, international 0 of 2)' from the report's baselines."""
    if not isinstance(baselines, Mapping):
        return ""
    parts = []
    for kind in ("domestic", "international"):
        facts = baselines.get(kind)
        if isinstance(facts, Mapping):
            tested, working = facts.get("tested"), facts.get("working")  # a count, and the ids that worked
            if isinstance(tested, int) and not isinstance(tested, bool) and isinstance(working, list) and tested:
                parts.append(f"{kind} {len(working)} of {tested}")
    return f" (baselines working: {', '.join(parts)})" if parts else ""


def decide_changes(vantage: Mapping[str, Any], memory: VantageMemory, current: ScanState,
                   results: Mapping[str, Mapping[str, Any]], window: int, report_name: str,
                   baselines: Mapping[str, Any] | None = None) -> Decided:
    """Compare `current` with the vantage's previous scan, apply the flapping rule, and build
    the record. `results` maps target id -> the current report's result (for URL and
    explanation); `vantage` is the report's vantage object."""
    previous = memory.previous
    comparison: Comparison[ScanState, TargetState] = compare_scans(previous, current)
    by_id = {change.id: change for change in comparison.targets}
    tracks: dict[str, Track] = {}
    entries = []
    for target in current.targets:
        track, decision = flapping.step(memory.tracks.get(target.id), target.state, window)
        tracks[target.id] = track
        change = by_id.get(target.id)
        if change is None or change.a is None:
            continue
        if decision == flapping.STABLE_AGAIN or (decision in (flapping.REPORT, flapping.UNSTABLE)
                                                 and change.status == "changed"):
            entries.append(_entry(change, decision, track, window, results.get(target.id, {})))
    connectivity_track, connectivity_decision = flapping.step(memory.connectivity, current.connectivity or "unknown",
                                                              window)
    connectivity = None
    if connectivity_decision in (flapping.REPORT, flapping.UNSTABLE, flapping.STABLE_AGAIN):
        kind = CONNECTIVITY_CHANGED if connectivity_decision == flapping.REPORT else connectivity_decision
        connectivity = {"kind": kind, "from": previous.connectivity, "to": current.connectivity,
                        "summary": connectivity_summary(connectivity_decision, previous.connectivity,
                                                        current.connectivity, window, baselines)}
    measured = {target.id for target in current.targets}
    carried = [target for target in previous.targets if target.id not in measured][:MAX_CARRIED_TARGETS]
    tracks.update({t.id: memory.tracks[t.id] for t in carried if t.id in memory.tracks})
    kept = VantageMemory(replace(current, targets=current.targets + tuple(carried)), tracks, connectivity_track)
    if not entries and connectivity is None:
        return Decided(None, kept)
    if previous.connectivity != current.connectivity:
        for entry in entries:
            entry["follows_connectivity"] = _follows_connectivity(entry)
    entries.sort(key=lambda entry: KINDS.index(entry["kind"]))  # stable: report order within a kind
    record = {
        "format": RECORD_FORMAT,
        "format_version": RECORD_VERSION,
        "id": record_id(str(vantage.get("name")), previous.scan_id, current.scan_id),
        "title": "",
        "vantage": {"name": vantage.get("name"), "asn": vantage.get("asn"), "country": vantage.get("country")},
        "previous": _scan_fields(previous),
        "current": {**_scan_fields(current), "report": report_name},
        "connectivity": connectivity,
        "changes": entries[:MAX_TARGETS_PER_RECORD],
        "omitted": max(0, len(entries) - MAX_TARGETS_PER_RECORD),
        "counts": {kind: n for kind in KINDS if (n := sum(1 for e in entries if e["kind"] == kind))},
        "notes": _notes(previous, current),
    }
    record["title"] = record_title(record)
    return Decided(record, kept)


def _scan_fields(scan: ScanState) -> dict[str, Any]:
    return {"scan_id": scan.scan_id, "started_at": scan.started_at, "finished_at": scan.finished_at,
            "connectivity": scan.connectivity}


def _side(side: TargetState | None) -> dict[str, Any] | None:
    if side is None:
        return None
    return {"verdict": side.verdict, "blocking": side.blocking, "evidence": list(side.evidence)}


def _entry(change: TargetChange[TargetState], decision: Decision, track: Track, window: int,
           result: Mapping[str, Any]) -> dict[str, Any]:
    a, b = change.a, change.b
    assert a is not None and b is not None  # decisions other than "none" need both scans
    kind = {flapping.UNSTABLE: UNSTABLE, flapping.STABLE_AGAIN: STABLE_AGAIN}.get(decision) or change_kind(a, b)
    target = result.get("target")
    if not isinstance(target, Mapping):
        target = {}
    entry: dict[str, Any] = {
        "target": b.id,
        "category": b.category,
        "url": target.get("url") if isinstance(target.get("url"), str) else None,
        "kind": kind,
        "changed": list(change.changed),
        "from": _side(a),
        "to": _side(b),
        "summary": change_summary(kind, a, b, window, track.states),
        "explanation": result.get("explanation") if isinstance(result.get("explanation"), str) else None,
        "follows_connectivity": False,
    }
    if kind == UNSTABLE:
        entry["recent_states"] = list(track.states)
    return entry


def _follows_connectivity(entry: Mapping[str, Any]) -> bool:
    """Whether the target's change comes with the scan's connectivity change (its evidence on
    either side names the connectivity), rather than from blocking of that target."""
    sides = [side for side in (entry["from"], entry["to"]) if side]
    return any(code.startswith("connectivity.") for side in sides for code in side["evidence"])


def _notes(previous: ScanState, current: ScanState) -> list[str]:
    notes = []
    if (previous.asn, previous.country) != (current.asn, current.country):
        notes.append(f"The vantage's network changed ({previous.asn or 'unknown'}, {previous.country or 'unknown'} "
                     f"→ {current.asn or 'unknown'}, {current.country or 'unknown'}): changes may come from that.")
    changed = settings_changes(previous.settings, current.settings)
    if changed:
        notes.append(f"The scans were made with different settings ({', '.join(changed)}): "
                     "changes may come from that, not from blocking.")
    return notes


_TITLE_PHRASES: Final = {
    NEWLY_BLOCKED: "{id} blocked{layer}",
    LAYER_CHANGED: "{id} now blocked{layer}",
    VERDICT_CHANGED: "{id} now {state}",
    NEWLY_REACHABLE: "{id} reachable",
    EVIDENCE_CHANGED: "{id} evidence changed",
    UNSTABLE: "{id} unstable",
    STABLE_AGAIN: "{id} stable ({state})",
}
TITLE_TARGETS: Final = 3  # targets named in a title; the rest are counted


def record_title(record: Mapping[str, Any]) -> str:
    """A one-line headline: the vantage, the connectivity change first, then targets."""
    parts = []
    connectivity = record.get("connectivity")
    if connectivity:
        if connectivity["kind"] == CONNECTIVITY_CHANGED:
            parts.append(f"connectivity {connectivity['from'] or 'unknown'} → {connectivity['to'] or 'unknown'}")
        else:
            parts.append(f"connectivity {connectivity['kind'].replace('_', ' ')} ({connectivity['to'] or 'unknown'})")
    changes = list(record["changes"])
    followers = [e for e in changes if e.get("follows_connectivity")]
    others = [e for e in changes if not e.get("follows_connectivity")]
    if followers:
        parts.append(f"{len(followers)} target(s) followed")
    for entry in others[:TITLE_TARGETS]:
        to = entry["to"] or {}
        parts.append(_TITLE_PHRASES[entry["kind"]].format(
            id=entry["target"], layer=f" ({to['blocking']})" if to.get("blocking") else "",
            state=state_name(to.get("verdict"), to.get("blocking"))))
    more = len(others) - TITLE_TARGETS + record.get("omitted", 0)
    if more > 0:
        parts.append(f"{more} more change(s)")
    return f"{record['vantage']['name']}: " + "; ".join(parts)
