"""A report reduced to what the analysts need: its header and each result's verdict fields.

The observations are most of a report's bytes; the analyst commands need the verdicts and a
few figures. A `ScanDigest` is that reduction: small enough to send between processes and to
hold by the thousand (kzprobe.analyst.streaming reads many files into digests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from kzprobe.analyst.measures import Measures, an_object, measures_of, number, text
from kzprobe.analyst.service_rows import EndpointSummary, summarise_endpoints
from kzprobe.report import read as rr
from kzprobe.report import vocabulary as v
from kzprobe.report.format import JOURNAL_SUFFIX

# Data imported from OONI is theirs, under this licence (github.com/ooni/license, data/LICENSE.md): a picture or
# table made from it must say so, even when the imported report does not name the licence.
OONI_LICENCE = "CC BY-NC-SA 4.0"


class TargetDigest(NamedTuple):
    """One result of one scan, as the analysts see it (strings raw: clean them to render).

    Named tuples, not dataclasses: a digest is built and sent between processes for every
    result of every report, and tuples are several times cheaper at both.
    """

    id: str
    category: str | None
    url: str | None
    name: str | None
    verdict: str | None  # None: a journal's measurement that no analysis has judged yet
    blocking: str | None
    evidence: tuple[str, ...]
    explanation: str | None
    started_at: str | None
    duration_ms: float | None
    endpoints: EndpointSummary | None  # service targets only
    measures: Measures | None  # only when read with detail=True (show, export)
    queued_ms: float | None = None  # the part of duration_ms spent behind the scan's own queues
    keyword: str | None = None  # a keyword target's word (it has no url)

    @property
    def label(self) -> str:
        """The target as tables show it: its id, or `keyword: WORD` for a keyword target."""
        return target_label(self.id, self.keyword)

    def verdict_fields(self) -> dict[str, Any]:
        """The target and its verdict, JSON-ready: what every machine output starts a target with."""
        return {
            "target": self.id,
            "category": self.category,
            "url": self.url,
            "verdict": self.verdict,
            "blocking": self.blocking,
            "evidence": list(self.evidence),
            "explanation": self.explanation,
        }


class Provenance(NamedTuple):
    """Where an imported report's measurements come from (e.g. OONI), and their licence."""

    source: str
    licence: str | None


@dataclass(frozen=True)
class ScanDigest:
    """One report, reduced: its header and its results' digests."""

    path: str
    from_journal: bool
    scan_id: str | None
    started_at: datetime
    finished_at: datetime | None
    complete: bool
    vantage: str
    asn: str | None
    country: str | None
    connectivity: str | None
    software: str | None
    targets: tuple[TargetDigest, ...] = field(repr=False)
    provenance: Provenance | None = None  # None: measured by kzprobe itself

    def counts(self) -> dict[str, int]:
        """Results per verdict (recounted from the results, not taken from the file's summary)."""
        counts = dict.fromkeys(v.VERDICTS, 0)
        for target in self.targets:
            if target.verdict in counts:
                counts[target.verdict] += 1
        return counts

    def header(self) -> dict[str, Any]:
        """JSON-ready facts about the scan, for --json outputs."""
        return {
            "file": self.path,
            "scan_id": self.scan_id,
            "vantage": {"name": self.vantage, "asn": self.asn, "country": self.country},
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "complete": self.complete,
            "from_journal": self.from_journal,
            "connectivity": self.connectivity,
            "summary": self.counts(),
        }


def iso(moment: datetime | None) -> str | None:
    """UTC time as '2022-01-05T10:00:00Z'."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def digest_report(report: dict[str, Any], path: str, *, from_journal: bool = False, detail: bool = True) -> ScanDigest:
    """The digest of a report already checked by report.read.

    `detail=False` skips the figures and endpoint summaries (measures, endpoints), which only
    show and export print: a summary or timeline of thousands of reports reads faster without.
    """
    vantage = report["vantage"]
    software = an_object(report.get("software"))
    version = software.get("version")
    started = rr.parse_time(report["started_at"])
    assert started is not None  # checked by report.read
    finished_text = report.get("finished_at")
    return ScanDigest(
        path=path,
        from_journal=from_journal,
        scan_id=report.get("scan_id"),
        started_at=started,
        finished_at=rr.parse_time(finished_text) if isinstance(finished_text, str) else None,
        complete=report["complete"],
        vantage=vantage["name"],
        asn=vantage.get("asn"),
        country=vantage.get("country"),
        connectivity=report.get("connectivity"),
        software=f"kzprobe {version}" if isinstance(version, str) else None,
        targets=tuple(_digest_result(result, detail) for result in report["results"]),
        provenance=provenance_of(report),
    )


def provenance_of(report: dict[str, Any]) -> Provenance | None:
    """The source and licence of an imported report, read defensively: a "provenance" object at
    the top of the report, else on its first result that has one, else an "ooni" object (on the
    report, else on a result); None when none exists.

    Its shape belongs to the importer (`kzprobe ooni import`): any field may be missing or of the
    wrong type. "source" (or "name") names the source; "licence" (or "license") its licence;
    a source that names OONI, or measurement ids of OONI's, carry OONI's licence.
    """
    found = report.get("provenance")
    if not isinstance(found, dict):
        found = next(
            (result["provenance"] for result in report["results"] if isinstance(result.get("provenance"), dict)),
            None,
        )
    if found is None:
        # `kzprobe ooni import` writes an "ooni" object on the report (its licence and credit)
        # and on each result (the measurement it came from).
        ooni = report.get("ooni")
        if not isinstance(ooni, dict):
            ooni = next((result["ooni"] for result in report["results"] if isinstance(result.get("ooni"), dict)), None)
        if ooni is None:
            return None
        found = {"ooni": ooni, "licence": ooni.get("licence")}
    source = next((found[key] for key in ("source", "name") if isinstance(found.get(key), str) and found[key]), None)
    licence = next((found[key] for key in ("licence", "license") if isinstance(found.get(key), str) and found[key]),
                   None)
    nested = found.get("ooni")
    from_ooni = (
        (source is not None and "ooni" in source.lower())
        or isinstance(nested, dict)
        or any(key in found for key in ("measurement_uid", "report_id"))
    )
    if source is None:
        source = "OONI" if from_ooni else "imported data"
    if licence is None and from_ooni:
        licence = OONI_LICENCE
    return Provenance(text(source) or "imported data", text(licence))


def target_label(target_id: str, keyword: str | None) -> str:
    """`keyword: WORD` for a keyword target (what was tested is a word, not a site), else the id."""
    return f"keyword: {keyword}" if keyword else target_id


def _digest_result(result: dict[str, Any], detail: bool) -> TargetDigest:
    target = result["target"]
    observations = result.get("observations")
    word = target.get("keyword")
    keyword = text(word) if isinstance(word, str) and not target.get("url") else None
    return TargetDigest(
        id=target["id"],
        category=target.get("category"),
        url=target.get("url") or (target_label("", keyword) if keyword else None),
        keyword=keyword,
        name=text(target.get("name")),
        verdict=result.get("verdict"),
        blocking=result.get("blocking"),
        evidence=tuple(result.get("evidence") or ()),
        explanation=result.get("explanation"),
        started_at=text(result.get("started_at")),
        duration_ms=number(result.get("duration_ms")),
        endpoints=summarise_endpoints(observations) if detail else None,
        measures=measures_of(observations) if detail else None,
        queued_ms=number(result.get("queued_ms")),
    )


def read_scan(path: str | os.PathLike[str], *, detail: bool = True) -> ScanDigest:
    """The digest of one report or journal file; ReportError when it cannot be read."""
    return read_judged(path, detail=detail)[1]


def read_judged(path: str | os.PathLike[str], *, detail: bool = True) -> tuple[dict[str, Any], ScanDigest]:
    """The checked report (a journal's judged by the analysis) and its digest: for readers that
    keep more of each result than the digest does (the store keeps the control summary)."""
    report = rr.read_report(path)
    from_journal = str(path).endswith(JOURNAL_SUFFIX)
    if from_journal:
        report = _judge_journal(report, str(path))
    return report, digest_report(report, str(path), from_journal=from_journal, detail=detail)


def _judge_journal(report: dict[str, Any], source: str) -> dict[str, Any]:
    """Verdicts for a journal's measurements, from the analysis (without the scan's control).

    Without kzprobe.analysis installed the results stay unjudged (verdict None, shown as such).
    """
    try:
        from kzprobe.analysis import analyse_report
    except ImportError:
        return report
    try:
        judged = analyse_report(report, None)
    except Exception as error:  # someone else's file: any failure is that file's problem
        raise rr.ReportError(source, f"journal could not be analysed ({type(error).__name__}: {error})") from None
    judged = dict(judged)
    judged["complete"] = False
    return rr.check_report(judged, source)
