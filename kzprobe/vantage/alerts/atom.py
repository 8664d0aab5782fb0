"""`<output dir>/changes.xml`: the newest change records as an Atom feed (RFC 4287), so that
anyone serving the results directory also serves its alerts, and a journalist subscribes in any
feed reader.

The feed is made again from changes.jsonl after each new record and replaced atomically. Every
string is plain text (`type="text"`: no HTML a reader could run), escaped by ElementTree, and
stripped of characters XML 1.0 cannot carry (a control character from a hostile page title
would otherwise make the whole feed unreadable). Each entry links to its scan's report by file
name, relative to the feed, so the link works wherever the directory is served.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

from kzprobe import __version__
from kzprobe.report.atomic import replace_atomically
from kzprobe.vantage.alerts.history import PUBLISHED_MODE, record_time
from kzprobe.vantage.alerts.limits import FEED_ENTRIES

FEED_NAME: Final = "changes.xml"
ATOM_NS: Final = "http://www.w3.org/2005/Atom"
# Characters XML 1.0 allows (its Char production): tab, newline, carriage return, and the rest
# of Unicode above 0x1F except surrogates and U+FFFE/U+FFFF.
_NOT_XML: Final = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Longest text of a title or attribute, and of an entry's content (a record lists at most
# MAX_TARGETS_PER_RECORD targets of a few hundred characters each).
MAX_TEXT_CHARS: Final = 2000
MAX_CONTENT_CHARS: Final = 400_000
# A report link is a file name in the same directory, as kzprobe names reports; nothing else
# (no scheme, no path) is ever written into an href.
_REPORT_FILE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.json$")

ET.register_namespace("", ATOM_NS)


def xml_text(value: object, limit: int = MAX_TEXT_CHARS) -> str:
    """`value` as text an XML 1.0 document can hold, cut at `limit` characters."""
    text = _NOT_XML.sub("\ufffd", str(value) if value is not None else "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _iso(record: Mapping[str, Any]) -> str:
    return record_time(record).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: ET.Element, tag: str, text: object = None, *, limit: int = MAX_TEXT_CHARS,
         **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: xml_text(v) for k, v in attributes.items()})
    if text is not None:
        element.text = xml_text(text, limit)
    return element


def _scan_line(name: str, scan: Mapping[str, Any]) -> str:
    return (f"{name} scan {scan.get('scan_id') or 'unknown'}: {scan.get('started_at') or '?'} to "
            f"{scan.get('finished_at') or '?'}, connectivity {scan.get('connectivity') or 'unknown'}.")


def entry_text(record: Mapping[str, Any]) -> str:
    """The entry's content: one paragraph per change, then the notes and the two scans."""
    lines = []
    connectivity = record.get("connectivity")
    if connectivity:
        lines.append(str(connectivity["summary"]))
    for change in record["changes"]:
        line = str(change["summary"])
        if change.get("explanation"):
            line += f"\n  kzprobe: {change['explanation']}"
        lines.append(line)
    if record.get("omitted"):
        lines.append(f"… and {record['omitted']} more target(s): see the report.")
    lines += [str(note) for note in record.get("notes") or []]
    lines.append(_scan_line("Previous", record.get("previous") or {}))
    lines.append(_scan_line("This", record["current"]))
    return "\n\n".join(lines)


def _vantage_label(vantage: Mapping[str, Any]) -> str:
    network = ", ".join(str(x) for x in (vantage.get("asn"), vantage.get("country")) if x)
    return f"kzprobe vantage {vantage.get('name')}" + (f" ({network})" if network else "")


def render_feed(records: Sequence[Mapping[str, Any]], feed_id: str) -> bytes:
    """The Atom document for the newest FEED_ENTRIES of `records` (given oldest first)."""
    newest = list(records)[-FEED_ENTRIES:][::-1]
    names = sorted({str(r["vantage"]["name"]) for r in newest})
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "id", feed_id)
    _sub(feed, "title", "kzprobe: blocking changes" + (f" seen from {', '.join(names)}" if names else ""))
    _sub(feed, "subtitle", "What changed between consecutive complete scans of a kzprobe vantage point: targets "
                           "newly blocked or reachable, changed blocking layer or evidence, connectivity.")
    _sub(feed, "updated", max((_iso(r) for r in newest), default="1970-01-01T00:00:00Z"))
    author = _sub(feed, "author")
    _sub(author, "name", "kzprobe")
    _sub(feed, "generator", "kzprobe", version=__version__)
    _sub(feed, "link", rel="alternate", type="application/x-ndjson", href="changes.jsonl")
    for record in newest:
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"urn:uuid:{record['id']}")
        _sub(entry, "title", record["title"])
        _sub(entry, "updated", _iso(record))
        _sub(entry, "published", _iso(record))
        entry_author = _sub(entry, "author")
        _sub(entry_author, "name", _vantage_label(record["vantage"]))
        report = record["current"].get("report")
        if isinstance(report, str) and _REPORT_FILE.match(report):
            _sub(entry, "link", rel="alternate", type="application/json", href=report)
        kinds = dict.fromkeys([c["kind"] for c in record["changes"]]
                              + (["connectivity"] if record.get("connectivity") else []))
        for kind in kinds:
            _sub(entry, "category", term=kind)
        _sub(entry, "content", entry_text(record), limit=MAX_CONTENT_CHARS, type="text")
    ET.indent(feed)  # element content only: the text of titles and contents is left as it is
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def write_feed(directory: Path, records: Sequence[Mapping[str, Any]], feed_id: str) -> Path:
    """Replace changes.xml atomically (world-readable: it is published on purpose)."""
    path = directory / FEED_NAME
    document = render_feed(records, feed_id)

    def fill(f: IO[bytes]) -> None:
        f.write(document)

    replace_atomically(path, fill, mode=PUBLISHED_MODE)
    return path
