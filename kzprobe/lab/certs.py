"""The lab's certificates: an honest lab CA for every site, and interceptors that copy them.

The probe trusts the lab CA through `--ca-file`. The interception chain imitates the one
Kazakhstan used in 2019 (docs/methodology.md, Interception): root `C=KZ, CN=Qaznet
Trust Network`, intermediate `C=KZ, CN=Security Certificate`, and forged leaves that copy the
real certificate's subject and names, with a fresh RSA key of public exponent 3, validity moved
six hours earlier and every other extension stripped. Two more interceptors have roots that the
inside scans trust as if a user had been made to install them (INSTALLED_ROOTS, given to those
scans as SSL_CERT_FILE): one whose names no fingerprint knows, and one named like the 2020 ISCA
chain (`C=KZ, O=ISCA, CN=Information Security Certification Authority`); a third is an
antivirus's, installed by its setup, which re-signs every site in the local-inspection run.

A service endpoint pinned to its own CA (site_spec.PIN_HELD) gets its leaf from the lab's service
CA, written as pins/<site_spec.LAB_SERVICE_CA>.pem for the scans to pin it ($KZPROBE_CA_DIR).

Sites whose server omits its intermediate get a leaf issued by the lab's issuing CA (an
intermediate under the lab CA); with AIA, the leaf names where that intermediate is published
(the lab's PKI server, http://pki.kzlab.test/). Only cryptography is used (a runtime
dependency), so `kzprobe lab` works outside the test environment too.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

LAB_CA_NAME: Final = "kzprobe lab CA"
QAZNET_ROOT_NAME: Final = "Qaznet Trust Network"
QAZNET_INTERMEDIATE_NAME: Final = "Security Certificate"
LAB_ISSUING_CA_NAME: Final = "kzprobe lab Issuing CA"
LAB_SERVICE_CA_NAME: Final = "kzprobe lab Messenger Service CA"
PINS_DIR: Final = "pins"  # under the certificates' directory: the pinned bundles ($KZPROBE_CA_DIR)
INTERMEDIATE_FILE: Final = "lab-intermediate.der"  # published by the PKI server (plan.PKI_HOST)
INSTALLED_ROOTS: Final = "installed-roots.pem"
# A root no fingerprint names (an interceptor nobody has catalogued yet), and the 2020 chain.
GATEWAY_ROOT: Final = (("CN", "Trusted Network Gateway Root"), ("O", "Gateway Services"))
GATEWAY_INTERMEDIATE: Final = (("CN", "Trusted Network Gateway CA"), ("O", "Gateway Services"))
ISCA_ROOT: Final = (("C", "KZ"), ("O", "ISCA"), ("CN", "Information Security Certification Authority"))
ISCA_INTERMEDIATE: Final = (("C", "KZ"), ("O", "ISCA"), ("CN", "ISCA Server CA"))
# An interceptor whose root nobody installed and no fingerprint names (every scan sees its chain
# untrusted), and a site's own private CA (its chain sent whole, root included).
UNKNOWN_ROOT: Final = (("CN", "Secure Web Gateway Root"), ("O", "Network Filter Ltd"))
UNKNOWN_INTERMEDIATE: Final = (("CN", "Secure Web Gateway Issuing CA"), ("O", "Network Filter Ltd"))
PRIVATE_ROOT: Final = (("CN", "Example Corp Root CA"), ("O", "Example Corp"))
PRIVATE_INTERMEDIATE: Final = (("CN", "Example Corp Web CA"), ("O", "Example Corp"))
# The second issuing CA of a three-level chain, under the lab's issuing CA.
LAB_SECOND_ISSUING_CA_NAME: Final = "kzprobe lab Second Issuing CA"
# An antivirus that scans HTTPS on the user's machine, named the way such products name their roots
# (Kaspersky's "Kaspersky Anti-Virus Personal Root Certificate"): it re-signs every site.
ANTIVIRUS_ROOT: Final = (("CN", "Lab Antivirus Personal Root Certificate"), ("O", "Lab Antivirus"))
ANTIVIRUS_INTERMEDIATE: Final = (("CN", "Lab Antivirus Web Scanning CA"), ("O", "Lab Antivirus"))
# The 2019 forged leaves: validity copied from the real certificate, shifted this much earlier.
FORGED_VALIDITY_SHIFT: Final = datetime.timedelta(hours=6)
# Leaves are valid from a day ago for a year: a lab built now works whatever the clock skew.
_LEAF_LIFETIME: Final = datetime.timedelta(days=365)
_BACKDATE: Final = datetime.timedelta(days=1)


@dataclass(frozen=True)
class KeyPair:
    """PEM files of a certificate chain (leaf first) and its private key."""

    chain: Path
    key: Path


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _general_name(host: str) -> x509.GeneralName:
    """A SAN entry: an IP address for an address literal (a data-centre endpoint), else a DNS name."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _name(common_name: str, country: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, country)] if country else []
    return x509.Name(attributes + [x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


_OIDS: Final = {"C": NameOID.COUNTRY_NAME, "O": NameOID.ORGANIZATION_NAME, "CN": NameOID.COMMON_NAME}


def _dn(parts: tuple[tuple[str, str], ...]) -> x509.Name:
    return x509.Name([x509.NameAttribute(_OIDS[key], value) for key, value in parts])


def _aia(url: str) -> x509.AuthorityInformationAccess:
    return x509.AuthorityInformationAccess([x509.AccessDescription(
        x509.oid.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url))])


def _ca_certificate(subject: x509.Name, key, issuer: x509.Name, issuer_key, *, not_before, not_after,
                    path_length: int | None, aia_url: str | None = None) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if aia_url:
        builder = builder.add_extension(_aia(aia_url), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class CertificateFactory:
    """Writes the lab CA, one leaf per host, and forged interception leaves into `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        self._now = now
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self._ca = _ca_certificate(_name(LAB_CA_NAME), self._ca_key, _name(LAB_CA_NAME), self._ca_key,
                                   not_before=now - _BACKDATE, not_after=now + 10 * _LEAF_LIFETIME,
                                   path_length=2)
        self._issuing: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None
        self._interceptors: dict[str, tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]] = {}
        # One key for every honest leaf: a lab of a thousand sites then costs a thousand
        # signatures, not a thousand key generations.
        self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        self._leaf_key_file = directory / "leaf.key"
        self._leaf_key_file.write_bytes(_pem_key(self._leaf_key))
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(_pem(self._ca))
        self._qaznet: tuple[x509.Certificate, rsa.RSAPrivateKey, x509.Certificate, rsa.RSAPrivateKey] | None = None
        self._service: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None
        self._seconds: dict[str, tuple[x509.Certificate, ec.EllipticCurvePrivateKey]] = {}

    def leaf(self, host: str, chain_kind: str = "full", aia_url: str | None = None) -> KeyPair:
        """A certificate for `host` (a name or an address) as the real server has it: signed by
        the lab CA; or, for a server that omits its intermediate ("no_intermediate*"), by the lab's
        issuing CA and sent alone, naming `aia_url` as where its issuer is published; for three
        levels ("second_intermediate*"), by a second issuing CA under that one, sent with the
        leaf and naming `aia_url` itself; or ("private_root") by a private CA of the site's own,
        sent whole."""
        chain = self.directory / f"{host}.pem"
        if not chain.exists():
            if chain_kind == "full":
                chain.write_bytes(_pem(self._leaf_certificate(host, self._ca.subject, self._ca_key)))
            elif chain_kind.startswith("second_intermediate"):
                second, second_key = self._second_issuing_ca(aia_url)
                chain.write_bytes(_pem(self._leaf_certificate(host, second.subject, second_key)) + _pem(second))
            elif chain_kind == "private_root":
                root, inter, inter_key = self._interceptor("private")
                chain.write_bytes(_pem(self._leaf_certificate(host, inter.subject, inter_key)) + _pem(inter)
                                  + _pem(root))
            else:
                issuing, issuing_key = self._issuing_ca()
                chain.write_bytes(_pem(self._leaf_certificate(host, issuing.subject, issuing_key, aia_url)))
        return KeyPair(chain, self._leaf_key_file)

    def _second_issuing_ca(self, aia_url: str | None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A CA under the lab's issuing CA (one per AIA choice), naming `aia_url` for its issuer."""
        key_name = f"second:{aia_url}"
        if key_name not in self._seconds:
            issuing, issuing_key = self._issuing_ca()
            key = ec.generate_private_key(ec.SECP256R1())
            second = _ca_certificate(_name(LAB_SECOND_ISSUING_CA_NAME), key, issuing.subject, issuing_key,
                                     not_before=self._now - _BACKDATE, not_after=self._now + 5 * _LEAF_LIFETIME,
                                     path_length=0, aia_url=aia_url)
            self._seconds[key_name] = (second, key)
        return self._seconds[key_name]

    def pinned_leaf(self, host: str, bundle: str) -> KeyPair:
        """`host`'s certificate from the lab's service CA, the CA a service target pins (`ca:
        <bundle>`), written as pins/<bundle>.pem beside the lab CA."""
        chain = self.directory / f"{host}.pinned.pem"
        if not chain.exists():
            if self._service is None:
                key = ec.generate_private_key(ec.SECP256R1())
                name = _name(LAB_SERVICE_CA_NAME)
                ca = _ca_certificate(name, key, name, key, not_before=self._now - _BACKDATE,
                                     not_after=self._now + 10 * _LEAF_LIFETIME, path_length=0)
                (self.directory / PINS_DIR).mkdir(exist_ok=True)
                (self.directory / PINS_DIR / f"{bundle}.pem").write_bytes(_pem(ca))
                self._service = (ca, key)
            ca, key = self._service
            chain.write_bytes(_pem(self._leaf_certificate(host, ca.subject, key)))
        return KeyPair(chain, self._leaf_key_file)

    def _issuing_ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """The lab's intermediate, published (DER) as INTERMEDIATE_FILE for the PKI server."""
        if self._issuing is None:
            key = ec.generate_private_key(ec.SECP256R1())
            issuing = _ca_certificate(_name(LAB_ISSUING_CA_NAME), key, self._ca.subject, self._ca_key,
                                      not_before=self._now - _BACKDATE, not_after=self._now + 5 * _LEAF_LIFETIME,
                                      path_length=1)
            (self.directory / INTERMEDIATE_FILE).write_bytes(issuing.public_bytes(serialization.Encoding.DER))
            self._issuing = (issuing, key)
        return self._issuing

    def _leaf_certificate(self, host: str, issuer: x509.Name, issuer_key,
                          aia_url: str | None = None) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(host)).issuer_name(issuer)
            .public_key(self._leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - _BACKDATE).not_valid_after(self._now + _LEAF_LIFETIME)
            .add_extension(x509.SubjectAlternativeName([_general_name(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        if aia_url:
            builder = builder.add_extension(_aia(aia_url), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def _interceptor(self, kind: str) -> tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
        """(root, intermediate, intermediate key) of an interceptor ("installed", "isca", "antivirus": its
        root is in INSTALLED_ROOTS; "unknown": nobody installed it), or of a site's private CA ("private")."""
        if kind not in self._interceptors:
            root_dn, inter_dn = {"installed": (GATEWAY_ROOT, GATEWAY_INTERMEDIATE),
                                 "isca": (ISCA_ROOT, ISCA_INTERMEDIATE),
                                 "antivirus": (ANTIVIRUS_ROOT, ANTIVIRUS_INTERMEDIATE),
                                 "unknown": (UNKNOWN_ROOT, UNKNOWN_INTERMEDIATE),
                                 "private": (PRIVATE_ROOT, PRIVATE_INTERMEDIATE)}[kind]
            root_key = ec.generate_private_key(ec.SECP256R1())
            root = _ca_certificate(_dn(root_dn), root_key, _dn(root_dn), root_key, not_before=self._now - _BACKDATE,
                                   not_after=self._now + 10 * _LEAF_LIFETIME, path_length=None)
            inter_key = ec.generate_private_key(ec.SECP256R1())
            inter = _ca_certificate(_dn(inter_dn), inter_key, root.subject, root_key, not_before=self._now - _BACKDATE,
                                    not_after=self._now + 3 * _LEAF_LIFETIME, path_length=0)
            self._interceptors[kind] = (root, inter, inter_key)
        return self._interceptors[kind]

    def installed_roots(self) -> Path:
        """The roots a user was made to install on the inside machine (a PEM bundle)."""
        path = self.directory / INSTALLED_ROOTS
        path.write_bytes(b"".join(_pem(self._interceptor(kind)[0]) for kind in ("installed", "isca", "antivirus")))
        return path

    def forged_installed(self, host: str, kind: str) -> KeyPair:
        """An interceptor's copy of `host`'s certificate (kind "installed", "isca", "antivirus" or "unknown"): the real
        subject and names, its own key, issued by its intermediate (sent along, the root is not)."""
        chain = self.directory / f"{host}.{kind}.pem"
        key_file = self.directory / f"{host}.{kind}.key"
        if not chain.exists():
            _root, inter, inter_key = self._interceptor(kind)
            real = x509.load_pem_x509_certificate(self.leaf(host).chain.read_bytes())
            key = ec.generate_private_key(ec.SECP256R1())
            san = real.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            forged = (
                x509.CertificateBuilder()
                .subject_name(real.subject).issuer_name(inter.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(real.not_valid_before_utc).not_valid_after(real.not_valid_after_utc)
                .add_extension(san, critical=False)
                .sign(inter_key, hashes.SHA256())
            )
            key_file.write_bytes(_pem_key(key))
            chain.write_bytes(_pem(forged) + _pem(inter))
        return KeyPair(chain, key_file)

    def _qaznet_chain(self) -> tuple[x509.Certificate, rsa.RSAPrivateKey, x509.Certificate, rsa.RSAPrivateKey]:
        if self._qaznet is None:
            # RSA 2048 rather than the original root's 4096: same names, a tenth of the wait.
            root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            root_name = _name(QAZNET_ROOT_NAME, "KZ")
            root = _ca_certificate(root_name, root_key, root_name, root_key,
                                   not_before=datetime.datetime(2016, 2, 2, 5, 41, tzinfo=datetime.UTC),
                                   not_after=datetime.datetime(2046, 2, 2, 5, 41, tzinfo=datetime.UTC),
                                   path_length=None)
            inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            inter = _ca_certificate(_name(QAZNET_INTERMEDIATE_NAME, "KZ"), inter_key, root_name, root_key,
                                    not_before=self._now - _BACKDATE,
                                    not_after=self._now + 3 * _LEAF_LIFETIME, path_length=0)
            self._qaznet = (root, root_key, inter, inter_key)
            (self.directory / "qaznet-root.pem").write_bytes(_pem(root))
        return self._qaznet

    def forged(self, host: str) -> KeyPair:
        """The interceptor's copy of `host`'s certificate, chained to 'Qaznet Trust Network'."""
        chain = self.directory / f"{host}.qaznet.pem"
        key_file = self.directory / f"{host}.qaznet.key"
        if not chain.exists():
            _root, _root_key, inter, inter_key = self._qaznet_chain()
            real = x509.load_pem_x509_certificate(self.leaf(host).chain.read_bytes())
            key = rsa.generate_private_key(public_exponent=3, key_size=2048)
            san = real.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            forged = (
                x509.CertificateBuilder()
                .subject_name(real.subject).issuer_name(inter.subject).public_key(key.public_key())
                # The 2019 forgeries kept the real serial number but for its last 4 bytes.
                .serial_number((real.serial_number & ~0xFFFFFFFF) | 0x0B0B0B0B)
                .not_valid_before(real.not_valid_before_utc - FORGED_VALIDITY_SHIFT)
                .not_valid_after(real.not_valid_after_utc - FORGED_VALIDITY_SHIFT)
                # Only the names survive; the 2019 interceptor stripped every other extension.
                .add_extension(san, critical=False)
                .sign(inter_key, hashes.SHA256())
            )
            key_file.write_bytes(_pem_key(key))
            chain.write_bytes(_pem(forged) + _pem(inter))
        return KeyPair(chain, key_file)
