"""Turn the certificates a TLS peer sent into JSON-ready CertificateInfo records."""

from __future__ import annotations

import hashlib
import ssl

from cryptography import x509

from kzprobe.probes import limits
from kzprobe.report.observations import CertificateInfo


def certificate_info(der: bytes) -> CertificateInfo:
    """Subject, issuer, SANs, validity and SHA-256 of one DER certificate."""
    sha256 = hashlib.sha256(der).hexdigest()
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return CertificateInfo(subject="", issuer="", sans=[], not_before="", not_after="", sha256=sha256)
    sans: list[str] = []
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [str(n) for n in ext.get_values_for_type(x509.DNSName)]
        sans += [str(n) for n in ext.get_values_for_type(x509.IPAddress)]
    except (x509.ExtensionNotFound, ValueError):
        pass
    return CertificateInfo(
        subject=_name(cert, "subject"),
        issuer=_name(cert, "issuer"),
        sans=sans[: limits.MAX_CERT_SANS],
        not_before=cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        not_after=cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        sha256=sha256,
    )


def _name(cert: x509.Certificate, which: str) -> str:
    try:
        return getattr(cert, which).rfc4514_string()
    except ValueError:
        return ""


def peer_chain(ssl_object: ssl.SSLObject | None) -> list[CertificateInfo]:
    """The chain as the server sent it, leaf first."""
    if ssl_object is None:
        return []
    ders: list[bytes] = []
    native = getattr(ssl_object, "_sslobj", None)
    # CPython 3.10-3.12 expose the chain only on the private object (public from 3.13).
    getter = getattr(native, "get_unverified_chain", None)
    if getter is not None:
        try:
            ders = [c.public_bytes(ssl._ssl.ENCODING_DER) for c in (getter() or [])]  # type: ignore[attr-defined]
        except (ssl.SSLError, ValueError, AttributeError):
            ders = []
    if not ders:
        leaf = ssl_object.getpeercert(binary_form=True)
        ders = [leaf] if leaf else []
    return [certificate_info(der) for der in ders[: limits.MAX_CHAIN_CERTIFICATES]]
