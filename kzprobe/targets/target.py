"""What a target is: the Target and Endpoint model, its vocabularies, and how problems are reported."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from kzprobe.errors import BadInputError
from kzprobe.targets.bundled import ca_bundle_path
from kzprobe.targets.hosts import url_parts

# Citizen Lab category codes (citizenlab/test-lists, lists/00-LEGEND-new_category_codes.csv);
# the meanings are our short paraphrase.
CATEGORIES: Final[dict[str, str]] = {
    "ALDR": "alcohol and drugs",
    "REL": "religion",
    "PORN": "pornography",
    "PROV": "provocative attire",
    "POLR": "political criticism",
    "HUMR": "human rights",
    "ENV": "environment",
    "MILX": "terrorism and militants",
    "HATE": "hate speech",
    "NEWS": "news media",
    "XED": "sex education",
    "PUBH": "public health",
    "GMB": "gambling",
    "ANON": "anonymization and circumvention tools",
    "DATE": "online dating",
    "GRP": "social networking",
    "LGBT": "LGBTQ",
    "FILE": "file sharing",
    "HACK": "hacking tools",
    "COMT": "communication tools",
    "MMED": "media sharing",
    "HOST": "hosting and blogging platforms",
    "SRCH": "search engines",
    "GAME": "gaming",
    "CULTR": "culture",
    "ECON": "economics",
    "GOVT": "government",
    "COMM": "e-commerce",
    "CTRL": "control content",
    "IGO": "intergovernmental organizations",
    "MISC": "miscellaneous",
}

# Baselines: targets that should always work, from which a scan tells "online" from
# "international_cut" (only domestic ones work) and "offline", and gets a throughput reference.
BASELINE_DOMESTIC: Final = "domestic"
BASELINE_INTERNATIONAL: Final = "international"
BASELINES: Final = (BASELINE_DOMESTIC, BASELINE_INTERNATIONAL)

# What a service endpoint is for; a closed list so that a typo is caught.
ENDPOINT_ROLES: Final = (
    "web",  # the service's web front end
    "chat",  # message delivery
    "registration",  # account registration / login
    "media",  # photos, voice notes, video
    "datacenter",  # a data centre reached by IP (Telegram)
    "api",  # application API
    "storage",  # encrypted backups / storage service
    "contacts",  # contact discovery
    "calling",  # voice and video calls
    "cdn",  # static content
    "relay",  # a Tor relay's OR port (the directory authorities')
    "directory",  # a Tor directory port, serving the network's documents over plain HTTP
    "bridge",  # an unlisted entry to a network (Tor's obfs4 bridges)
)

# How an endpoint is measured beyond TCP (and TLS when `tls` is true); a closed list.
ENDPOINT_KINDS: Final = (
    "tor_or",  # a Tor OR port: TLS with a Tor-like random server name, the certificate never checked
    "tor_dir",  # a Tor directory port: TCP, then a bounded HTTP GET of the authority's own descriptor
    "obfs4",  # an obfs4 bridge: TCP always; the obfs4 handshake when obfs4proxy or lyrebird is installed
)


@dataclass(frozen=True)
class Endpoint:
    """A host and port a service uses besides its web front end (e.g. a messenger's chat servers)."""

    host: str  # IDNA lower-case name, or an IP address (IPv6 without brackets)
    port: int
    tls: bool = False
    sni: str | None = None  # server name to send when it differs from host
    ca: str | None = None  # pinned CA bundle kzprobe/data/cas/<ca>.pem
    role: str | None = None  # one of ENDPOINT_ROLES
    kind: str | None = None  # one of ENDPOINT_KINDS; None: TCP, and TLS when `tls` is true
    cert: str | None = None  # an obfs4 bridge's public "cert=" argument (its bridge line)
    fingerprint: str | None = None  # a Tor relay's or bridge's identity fingerprint (40 hex digits)

    @property
    def ca_file(self) -> Path | None:
        """The pinned CA bundle's path, when the endpoint names one."""
        return ca_bundle_path(self.ca) if self.ca else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: host, port and tls always; sni, ca, role, kind, cert and fingerprint when set."""
        data: dict[str, Any] = {"host": self.host, "port": self.port, "tls": self.tls}
        for name in ("sni", "ca", "role", "kind", "cert", "fingerprint"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data


@dataclass(frozen=True)
class Target:
    """One thing to test: a web URL, a service's endpoints, or both."""

    id: str  # unique slug; derived from the host (and path) when a user file gives none
    url: str | None  # http(s) URL, as written in the file; None only for pure service targets
    name: str | None = None
    category: str | None = None  # Citizen Lab category code
    sources: tuple[dict, ...] = ()  # each {"document", "reports", "date"}: why it is on the list
    download: str | None = None  # a larger resource on the same site, for throughput
    baseline: str | None = None  # "domestic" | "international" | None
    endpoints: tuple[Endpoint, ...] = ()
    keyword: str | None = None  # a word tried on the scan's baselines instead of a site (keywords.py)

    quic: bool = False  # also try a QUIC handshake (HTTP/3) to the site: probes/quic.py

    @property
    def label(self) -> str:
        """How analyst commands show what was tested: the URL, `keyword: WORD`, or the id."""
        if self.keyword is not None:
            return f"keyword: {self.keyword}"
        return self.url or self.id

    @property
    def hostname(self) -> str:
        """The URL's host as asked on the wire: IDNA (punycode), lower case, no trailing dot."""
        return url_parts(self._require_url()).hostname

    @property
    def port(self) -> int:
        """The URL's port, or the scheme's default."""
        return url_parts(self._require_url()).port

    @property
    def scheme(self) -> str:
        """"http" or "https"."""
        return url_parts(self._require_url()).scheme

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the report's "target" field: only the fields that are set."""
        data: dict[str, Any] = {"id": self.id}
        if self.url is not None:
            data["url"] = self.url
            data["hostname"] = self.hostname
        for name in ("name", "category"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.sources:
            data["sources"] = [dict(source) for source in self.sources]
        for name in ("download", "baseline", "keyword"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.endpoints:
            data["endpoints"] = [endpoint.to_dict() for endpoint in self.endpoints]
        if self.quic:
            data["quic"] = True
        return data

    def __hash__(self) -> int:
        # The generated hash would fail on the source dicts; equal targets share id and url.
        return hash((self.id, self.url))

    def _require_url(self) -> str:
        if self.url is None:
            raise ValueError(f"target {self.id!r} has no url (it is a service target: see endpoints)")
        return self.url


@dataclass(frozen=True)
class TargetProblem:
    """One thing wrong in a target file, precise enough to fix without reading code."""

    file: str
    entry: str | None  # e.g. "entry 3 (orda-kz)"; None for the file as a whole
    field: str | None
    message: str
    line: int | None = None  # 1-based line in the file, when known

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field_part = None if self.field is None else f"field {self.field!r}"
        parts = [part for part in (self.entry, field_part) if part]
        return f"{where}: {', '.join(parts)}: {self.message}" if parts else f"{where}: {self.message}"


class TargetFileError(BadInputError):
    """One or more target files are unusable; `problems` lists everything that was found."""

    def __init__(self, problems: Sequence[TargetProblem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        first = str(self.problems[0]) if self.problems else "no details"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(f"{first}{more}", details=[str(p) for p in self.problems])


@dataclass(frozen=True)
class TargetFile:
    """A loaded target file: its metadata and its targets, in file order."""

    path: Path
    name: str  # as given, for messages
    targets: tuple[Target, ...]
    title: str | None = None
    description: str | None = None
    licence: str | None = None
