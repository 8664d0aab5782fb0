"""Turn the certificates a TLS peer sent into JSON-ready CertificateInfo records, and read what
the analysis compares between vantages: the leaf's key (SubjectPublicKeyInfo SHA-256) and issuer,
whether the chain sent was complete, and where a missing issuer can be fetched (AIA)."""

from __future__ import annotations

import hashlib
import ssl
import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AuthorityInformationAccessOID

from kzprobe.probes import limits
from kzprobe.report.observations import CertificateInfo

# OpenSSL verify codes (include/openssl/x509_vfy.h) saying the issuer of a certificate of the
# chain was found neither among the certificates sent nor in the trust store: 2
# UNABLE_TO_GET_ISSUER_CERT, 20 UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 21 UNABLE_TO_VERIFY_LEAF_SIGNATURE.
ISSUER_NOT_FOUND_CODES = frozenset({2, 20, 21})


def load_certificate(der: bytes) -> x509.Certificate | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a negative serial number: still a certificate to record
            return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def key_sha256(cert: x509.Certificate) -> str:
    """SHA-256 of the SubjectPublicKeyInfo: the same key whatever certificate carries it."""
    try:
        spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, TypeError):  # a key type cryptography cannot load
        return ""
    return hashlib.sha256(spki).hexdigest()


def ca_issuer_urls(cert: x509.Certificate) -> list[str]:
    """The caIssuers URLs of the certificate's Authority Information Access extension."""
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [d.access_location.value for d in access
            if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
            and isinstance(d.access_location, x509.UniformResourceIdentifier)][:4]


def self_issued(cert: x509.Certificate | None) -> bool:
    return cert is not None and cert.issuer == cert.subject


def certificate_info(der: bytes, cert: x509.Certificate | None = None, *, leaf: bool = False,
                     issuers: bool = False) -> CertificateInfo:
    """Subject, issuer, SANs, validity and SHA-256 of one DER certificate; for the leaf its key's
    SHA-256 too, and with `issuers` where its issuer can be fetched (only for chains that failed)."""
    sha256 = hashlib.sha256(der).hexdigest()
    cert = cert if cert is not None else load_certificate(der)
    if cert is None:
        return CertificateInfo(subject="", issuer="", sans=[], not_before="", not_after="", sha256=sha256)
    sans: list[str] = []
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [str(n) for n in ext.get_values_for_type(x509.DNSName)]
        sans += [str(n) for n in ext.get_values_for_type(x509.IPAddress)]
    except (x509.ExtensionNotFound, ValueError):
        pass
    info = CertificateInfo(
        subject=_name(cert, "subject"),
        issuer=_name(cert, "issuer"),
        sans=sans[: limits.MAX_CERT_SANS],
        not_before=cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        not_after=cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        sha256=sha256,
    )
    if leaf:
        info["spki_sha256"] = key_sha256(cert)
    if issuers:
        urls = ca_issuer_urls(cert)
        if urls:
            info["ca_issuers"] = urls
    return info


def _name(cert: x509.Certificate, which: str) -> str:
    try:
        return getattr(cert, which).rfc4514_string()
    except ValueError:
        return ""


def _ders(certificates: list | None) -> list[bytes]:
    try:
        return [c.public_bytes(ssl._ssl.ENCODING_DER) for c in (certificates or [])]  # type: ignore[attr-defined]  # ssl._ssl is undeclared in typeshed
    except (ssl.SSLError, ValueError, AttributeError):
        return []


def sent_chain(ssl_object: ssl.SSLObject | None) -> list[bytes]:
    """The chain as the server sent it (DER), leaf first."""
    if ssl_object is None:
        return []
    native = getattr(ssl_object, "_sslobj", None)
    # CPython 3.10-3.12 expose the chain only on the private object (public from 3.13).
    getter = getattr(native, "get_unverified_chain", None)
    ders = _ders(getter()) if getter is not None else []
    if not ders:
        leaf = ssl_object.getpeercert(binary_form=True)
        ders = [leaf] if leaf else []
    return ders[: limits.MAX_CHAIN_CERTIFICATES]


def verified_chain(ssl_object: ssl.SSLObject | None) -> list[bytes]:
    """The chain OpenSSL verified (DER), leaf to root; [] when not verified or not available."""
    native = getattr(ssl_object, "_sslobj", None)
    getter = getattr(native, "get_verified_chain", None)
    return _ders(getter()) if getter is not None else []


@dataclass(frozen=True)
class Chain:
    """A chain read from a handshake: its records, and what is known about its completeness."""

    infos: list[CertificateInfo]
    complete: bool | None  # None when it cannot be told


def read_verified(ssl_object: ssl.SSLObject | None) -> tuple[Chain, bytes | None]:
    """A verified handshake's chain and the root that verified it (DER).

    Complete when every certificate of the verified path but the root was sent: a server can
    also verify through an intermediate that only the trust store (or --ca-file) holds."""
    ders = sent_chain(ssl_object)
    infos = [certificate_info(der, leaf=i == 0) for i, der in enumerate(ders)]
    verified = verified_chain(ssl_object)
    if not verified:
        return Chain(infos, None), None
    sent = set(ders)
    return Chain(infos, all(der in sent for der in verified[:-1])), verified[-1]


def read_captured(ssl_object: ssl.SSLObject | None, verify_code: int | None) -> Chain:
    """The chain of a handshake whose verification failed, read over an unverified connection.

    Incomplete when verification could not find the issuer of the last certificate the
    server's chain links to (and that certificate is not a root itself): the server omitted an
    intermediate, or its root is not trusted here and was not sent - AIA tells which."""
    ders = sent_chain(ssl_object)
    certs = [load_certificate(der) for der in ders]
    infos = [certificate_info(der, cert, leaf=i == 0, issuers=True) for i,
             (der, cert) in enumerate(zip(ders, certs, strict=True))]
    if not certs or certs[0] is None:
        return Chain(infos, None)
    if self_issued(certs[issuer_path(certs)[-1]]):
        return Chain(infos, True)
    return Chain(infos, None if verify_code is None else verify_code not in ISSUER_NOT_FOUND_CODES)


def issuer_path(certs: list[x509.Certificate | None]) -> list[int]:
    """Indexes of the chain from the leaf, each certificate followed by the one sent that names
    its issuer (servers may send extra or misordered certificates)."""
    path = [0]
    while len(path) < len(certs):
        current = certs[path[-1]]
        if current is None or self_issued(current):
            break
        following = next((i for i, c in enumerate(certs) if i not in path and c is not None
                          and c.subject == current.issuer), None)
        if following is None:
            break
        path.append(following)
    return path


def certificates_in(body: bytes) -> list[bytes]:
    """The certificates of an AIA reply: one DER certificate, PEM, or a PKCS#7 bundle (DER or PEM)."""
    found: list[bytes] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for loader in (_one_der, _pem, _pkcs7_der, _pkcs7_pem):
            try:
                found = loader(body)
            except (ValueError, TypeError):
                continue
            if found:
                break
    return found[: limits.AIA_MAX_CERTIFICATES]


def _one_der(body: bytes) -> list[bytes]:
    x509.load_der_x509_certificate(body)
    return [body]


def _pem(body: bytes) -> list[bytes]:
    return [c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(body)]


def _pkcs7_der(body: bytes) -> list[bytes]:
    return [c.public_bytes(serialization.Encoding.DER) for c in pkcs7.load_der_pkcs7_certificates(body)]


def _pkcs7_pem(body: bytes) -> list[bytes]:
    return [c.public_bytes(serialization.Encoding.DER) for c in pkcs7.load_pem_pkcs7_certificates(body)]
