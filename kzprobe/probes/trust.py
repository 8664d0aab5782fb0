"""Trust stores: what verifies a handshake, and where the root that verified it comes from.

Every handshake is verified against this system's trust store plus `--ca-file`, as a browser on
this machine would: that is what "validates here" means. A root that verified a chain is then
named by where it comes from, because an interceptor's root validates too once a user has been
made to install it (Kazakhstan's 2019 and 2020 campaigns asked exactly that):

- `public`: a root of Mozilla's public set - certifi's copy (a dependency of httpx), or the copy
  the operating system's own CA package ships (it may be older or newer than certifi's, and a
  distribution keeps roots for a while after Mozilla drops them);
- `ca_file`: a root the operator named with `--ca-file` (the lab's CA, a test network's, an
  organisation's own): trusted on purpose, for this scan;
- `system_only`: a root only this system trusts - installed on it by someone.

A server that omits its intermediate is completed the way browsers do (probes/aia.py): the
intermediates fetched are added to a completing context, never to the verifying one.
"""

from __future__ import annotations

import hashlib
import re
import ssl
import warnings
from pathlib import Path
from typing import Final

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kzprobe.probes import limits

ALPN_PROTOCOLS: Final = ["http/1.1"]
PUBLIC: Final = "public"
CA_FILE: Final = "ca_file"
SYSTEM_ONLY: Final = "system_only"

# Where operating systems keep the Mozilla roots their CA package ships, apart from the roots an
# administrator adds (/usr/local/share/ca-certificates, /etc/pki/ca-trust/source/anchors):
# Debian, Ubuntu and Alpine; Fedora and RHEL; Arch (p11-kit files hold PEM blocks too).
OS_PUBLIC_ROOT_LOCATIONS: Final = (
    "/usr/share/ca-certificates/mozilla",
    "/usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit",
    "/usr/share/ca-certificates/trust-source/mozilla.trust.p11-kit",
)
_PEM_BLOCK: Final = re.compile(rb"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")


def make_tls_contexts(ca_file: str | None) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(verifying context: this system's trust store + ca_file, capturing context: no verification).

    Built once per scan: loading a trust store costs milliseconds that 1,000 targets would repeat.
    """
    verifying = ssl.create_default_context()
    if ca_file:
        verifying.load_verify_locations(cafile=ca_file)
    verifying.set_alpn_protocols(ALPN_PROTOCOLS)
    capturing = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    capturing.check_hostname = False
    capturing.verify_mode = ssl.CERT_NONE
    capturing.set_alpn_protocols(ALPN_PROTOCOLS)
    return verifying, capturing


def _pem_ders(data: bytes) -> list[bytes]:
    """The certificates of any text holding PEM blocks (a bundle, a .crt, a p11-kit file)."""
    ders = []
    for block in _PEM_BLOCK.findall(data):
        try:
            ders.append(ssl.PEM_cert_to_DER_cert(block.decode("ascii")))
        except (ValueError, UnicodeDecodeError):
            continue
    return ders


def _read_bounded(path: Path) -> bytes:
    try:
        if path.stat().st_size > limits.TRUST_FILE_MAX_BYTES:
            return b""
        return path.read_bytes()
    except OSError:
        return b""


def _operating_system_public_roots() -> list[bytes]:
    """The Mozilla roots the operating system's CA package ships (not what a user added)."""
    ders: list[bytes] = []
    for location in OS_PUBLIC_ROOT_LOCATIONS:
        path = Path(location)
        files = sorted(path.glob("*"))[: limits.TRUST_FILES_MAX] if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                ders += _pem_ders(_read_bounded(file))
    return ders


def _key_and_subject(der: bytes) -> tuple[bytes, bytes] | None:
    """(SubjectPublicKeyInfo, subject) in DER: a root re-issued with the same key and name is the same root."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # old roots with odd serial numbers warn, and are still roots
            cert = x509.load_der_x509_certificate(der)
            key = cert.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
            return key, cert.subject.public_bytes()
    except (ValueError, TypeError):
        return None


class RootOrigins:
    """Where a root comes from: the public set, --ca-file, or only this system. The files are
    read at the first verified handshake (a few milliseconds, once per scan); the index by key
    and subject, which costs more, only when a root is not found by its exact certificate."""

    def __init__(self, ca_file: str | None) -> None:
        self._ca_file = ca_file
        self._by_der: dict[bytes, str] | None = None  # SHA-256 of a root's DER -> origin (answers kept)
        self._ders: list[tuple[str, bytes]] = []
        self._by_key: dict[tuple[bytes, bytes], str] | None = None

    def _load(self) -> dict[bytes, str]:
        ca_file = _pem_ders(_read_bounded(Path(self._ca_file))) if self._ca_file else []
        public = _pem_ders(_read_bounded(Path(certifi.where())))
        # A public root also named in --ca-file stays public: the later origin wins.
        self._ders = [(CA_FILE, der) for der in ca_file] + [(PUBLIC, der) for der in public]
        return {hashlib.sha256(der).digest(): origin for origin, der in self._ders}

    def _key_index(self) -> dict[tuple[bytes, bytes], str]:
        """Every root by key and subject, the operating system's public roots included (read
        only now: most chains end at a root certifi or --ca-file has, found by its hash)."""
        if self._by_key is None:
            self._ders += [(PUBLIC, der) for der in _operating_system_public_roots()]
            self._by_key = {}
            for origin, der in self._ders:
                pair = _key_and_subject(der)
                if pair is not None:
                    self._by_key[pair] = origin
        return self._by_key

    def origin(self, root_der: bytes) -> str:
        """PUBLIC, CA_FILE or SYSTEM_ONLY for the root that verified a chain."""
        if self._by_der is None:
            self._by_der = self._load()
        digest = hashlib.sha256(root_der).digest()
        found = self._by_der.get(digest)
        if found is None:
            pair = _key_and_subject(root_der)
            found = self._key_index().get(pair, SYSTEM_ONLY) if pair is not None else SYSTEM_ONLY
            if len(self._by_der) < limits.TRUST_FILES_MAX * 4:  # roots come from a trust store: few
                self._by_der[digest] = found
        return found


def root_subjects(context: ssl.SSLContext) -> set[bytes]:
    """The subject names (DER) of the roots a context trusts from files (not from a hashed
    directory, which OpenSSL reads lazily): whether a fetched intermediate already reaches one."""
    subjects = set()
    for der in context.get_ca_certs(binary_form=True):
        pair = _key_and_subject(der)
        if pair is not None:
            subjects.add(pair[1])
    return subjects


class CompletingContext:
    """The verifying store plus intermediates fetched through AIA, for the handshakes that retry
    a chain the server sent incomplete. One per scan: intermediates are added as they are
    fetched, like the intermediate cache of a browser."""

    def __init__(self, ca_file: str | None) -> None:
        self._ca_file = ca_file
        self._context: ssl.SSLContext | None = None
        self._added: set[bytes] = set()

    def with_intermediates(self, ders: list[bytes]) -> ssl.SSLContext:
        if self._context is None:
            context, _ = make_tls_contexts(self._ca_file)
            # An intermediate in the store must never end a chain by itself (Python 3.13 sets this
            # flag by default): the chain still has to reach a root of the store.
            partial = getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
            context.verify_flags &= ~partial
            self._context = context
        for der in ders:
            if der not in self._added:
                self._context.load_verify_locations(cadata=der)
                self._added.add(der)
        return self._context
