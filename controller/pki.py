"""The controller's own certificate authority and TLS server certificate.

``govguard init`` creates a CA and a server certificate signed by it. Agents pin the CA: the
enrollment token carries :func:`ca_fingerprint` (SHA-256 of the CA certificate's DER, the same
value ``agent.token`` checks), and every later connection verifies the server against that CA
and the host name.

ECDSA P-256 everywhere: every OpenSSL that Python's ``ssl`` and urllib3 link against, and every
browser an administrator might use for the dashboard, accepts it for TLS server certificates;
Ed25519 certificates are still refused by several TLS stacks.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The CA outlives many server certificates; agents pin it, so replacing it means re-enrolling.
CA_VALIDITY = timedelta(days=20 * 365)
#: 825 days is the longest lifetime Apple platforms accept for any TLS server certificate
#: (private CAs included), so the dashboard also opens there. Renew with a new server cert from
#: the same CA: agents pin the CA, not the server certificate.
SERVER_VALIDITY = timedelta(days=825)
#: Certificates are valid from a little in the past: a PC whose clock is a few minutes behind
#: must not refuse a certificate issued just now.
_BACKDATE = timedelta(hours=1)

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class PkiError(ValueError):
    """A certificate or key is malformed, or a server name is not usable in a certificate."""


def check_server_name(name: str) -> str:
    """Return ``name`` normalised (lower case, IP in canonical form), or raise :class:`PkiError`.

    A server name is a DNS name (``govguard.local``, ``ubnd``) or an IPv4/IPv6 address. Agents
    connect with one of them in the controller URL and check it against the certificate.
    """
    text = name.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    lowered = text.lower().rstrip(".")
    labels = lowered.split(".")
    if not lowered or len(lowered) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise PkiError(
            f"not a DNS name or IP address: {name!r} (letters, digits, hyphens and dots only)"
        )
    if labels[-1].isdigit():
        # "10.0.0" or "1.2.3.256" are typos of an address, and TLS clients never match them.
        raise PkiError(f"not a valid IP address: {name!r}")
    return lowered


def create_ca(common_name: str) -> tuple[bytes, bytes]:
    """A new self-signed CA: ``(certificate PEM, private key PEM)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "govguard"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64] or "govguard CA"),
        ]
    )
    now = datetime.now(UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(_serial())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        # path_length=0: this CA signs server certificates only, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def issue_server_cert(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    names: list[str],
    *,
    validity: timedelta = SERVER_VALIDITY,
) -> tuple[bytes, bytes]:
    """A TLS server certificate for ``names`` (DNS names and IP addresses), signed by the CA.

    Returns ``(certificate PEM, private key PEM)``. Raises :class:`PkiError` for an empty list,
    a bad name, or a CA certificate and key that do not belong together. ``validity`` is never
    longer than the CA's own remaining lifetime.
    """
    if not names:
        raise PkiError("at least one server name (DNS name or IP address) is needed")
    ca_cert = load_certificate(ca_cert_pem)
    ca_key = _load_ec_key(ca_key_pem)
    if ca_key.public_key().public_numbers() != _ec_public(ca_cert).public_numbers():
        raise PkiError("the CA key does not belong to the CA certificate")
    normalised = list(dict.fromkeys(check_server_name(name) for name in names))
    sans: list[x509.GeneralName] = []
    for name in normalised:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, normalised[0][:64])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + validity, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        # Clients match host names against the SANs only; the CN is for people reading it.
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def ca_fingerprint(ca_cert_pem: bytes) -> str:
    """SHA-256 (64 lower hex) of the CA certificate's DER: what enrollment tokens carry."""
    der = load_certificate(ca_cert_pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def certificate_names(cert_pem: bytes) -> list[str]:
    """The DNS names and IP addresses (as text) a certificate's SAN extension lists."""
    cert = load_certificate(cert_pem)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = [name.lower() for name in sans.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    return names


def load_certificate(pem: bytes) -> x509.Certificate:
    """Parse one PEM certificate, raising :class:`PkiError` with a clear message."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise PkiError(f"not a PEM certificate: {exc}") from exc


def write_private(path: Path, data: bytes) -> None:
    """Write a private key (or any secret) readable by the owner only (0600), atomically.

    The file is created with mode 0600 from the start, so the key is never readable by others,
    not even for an instant; an existing file is replaced only once the new one is complete.
    """
    _write_atomic(path, data, 0o600)


def write_public(path: Path, data: bytes) -> None:
    """Write a certificate (public, mode 0644) atomically: readers see the old or the new file."""
    _write_atomic(path, data, 0o644)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@dataclass(frozen=True)
class ServerCertCheck:
    """What :func:`check_server_cert` found: errors break agents, warnings will soon."""

    errors: list[str]
    warnings: list[str]
    not_after: datetime | None


#: ``govguard config check`` warns this long before the server certificate expires.
EXPIRY_WARNING = timedelta(days=30)


def check_server_cert(
    ca_cert_pem: bytes,
    cert_pem: bytes,
    key_pem: bytes,
    names: list[str],
    now: datetime,
    *,
    warn_within: timedelta = EXPIRY_WARNING,
) -> ServerCertCheck:
    """Check what agents will check, before they do: the server certificate is signed by the
    CA they pin, its key is the one served with it, it covers every server name and is valid.

    Messages are short clauses without the file names (the caller knows them).
    """
    errors: list[str] = []
    warnings: list[str] = []
    cert = load_certificate(cert_pem)
    ca_cert = load_certificate(ca_cert_pem)
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        errors.append(
            "not signed by ca.crt: agents pin that CA and would refuse the controller "
            "(issue a new one with `govguard tls renew`)"
        )
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        errors.append(f"the key is not an unencrypted PEM private key: {exc}")
    else:
        if key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            errors.append("the key does not belong to the certificate: TLS would not start")
    covered = set(certificate_names(cert_pem))
    missing = [name for name in names if check_server_name(name) not in covered]
    if missing:
        errors.append(
            f"not valid for {', '.join(missing)} (in server_names): agents using that name "
            "would refuse the controller (`govguard tls renew` issues one for server_names)"
        )
    not_after = cert.not_valid_after_utc
    if cert.not_valid_before_utc > now:
        errors.append(f"not valid before {_day(cert.not_valid_before_utc)}")
    if not_after <= now:
        errors.append(f"expired on {_day(not_after)}: renew it with `govguard tls renew`")
    elif not_after - now <= warn_within:
        days = (not_after - now).days
        warnings.append(
            f"expires on {_day(not_after)} (in {days} day{'s' if days != 1 else ''}): "
            "renew it with `govguard tls renew`"
        )
    return ServerCertCheck(errors, warnings, not_after)


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def _serial() -> int:
    # RFC 5280: positive, at most 20 octets; 159 random bits leave the top bit clear.
    return secrets.randbits(159) | 1


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_ec_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError("the CA key is not an ECDSA key")
    return key


def _ec_public(cert: x509.Certificate) -> ec.EllipticCurvePublicKey:
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise PkiError("the CA certificate does not hold an ECDSA key")
    return public
