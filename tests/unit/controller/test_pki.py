"""The controller's CA and server certificate, checked by real TLS handshakes on loopback."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.token import format_token, new_token, parse_token
from controller import pki

NAMES = ["govguard.test", "127.0.0.1", "::1"]


@pytest.fixture(scope="module")
def ca() -> tuple[bytes, bytes]:
    return pki.create_ca("govguard CA test")


@pytest.fixture(scope="module")
def tls_files(ca: tuple[bytes, bytes], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = pki.issue_server_cert(ca[0], ca[1], NAMES)
    (folder / "ca.crt").write_bytes(ca[0])
    (folder / "server.crt").write_bytes(cert)
    pki.write_private(folder / "server.key", key)
    return folder


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _https_server(tls: Path) -> Iterator[int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls / "server.crt", tls / "server.key")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "hostname",
    [pytest.param("govguard.test", id="DNS name"), pytest.param("127.0.0.1", id="IPv4 address")],
)
def test_urllib3_verifies_the_server_against_the_ca(tls_files: Path, hostname: str) -> None:
    with _https_server(tls_files) as port:
        pool = urllib3.HTTPSConnectionPool(
            "127.0.0.1",
            port,
            ca_certs=str(tls_files / "ca.crt"),
            cert_reqs="CERT_REQUIRED",
            server_hostname=hostname,
            retries=False,
            timeout=10,
        )
        with pool:
            reply = pool.request("GET", "/")
    assert (reply.status, reply.data) == (200, b"hello")


def test_a_name_not_in_the_certificate_is_refused(tls_files: Path) -> None:
    with _https_server(tls_files) as port:
        context = ssl.create_default_context(cafile=str(tls_files / "ca.crt"))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"),
        ):
            context.wrap_socket(raw, server_hostname="other.test")


def test_another_ca_is_refused(tls_files: Path) -> None:
    other_ca, _ = pki.create_ca("someone else")
    with _https_server(tls_files) as port:
        context = ssl.create_default_context(cadata=other_ca.decode("ascii"))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"),
        ):
            context.wrap_socket(raw, server_hostname="govguard.test")


def test_certificate_contents(ca: tuple[bytes, bytes]) -> None:
    cert_pem, key_pem = pki.issue_server_cert(ca[0], ca[1], ["GovGuard.Test", "::1", "ubnd"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert pki.certificate_names(cert_pem) == ["govguard.test", "ubnd", "::1"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.issuer == x509.load_pem_x509_certificate(ca[0]).subject
    assert b"PRIVATE KEY" in key_pem
    ca_cert = x509.load_pem_x509_certificate(ca[0])
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime.days <= 826


def test_fingerprint_is_what_enrollment_tokens_carry(ca: tuple[bytes, bytes]) -> None:
    fingerprint = pki.ca_fingerprint(ca[0])
    der = x509.load_pem_x509_certificate(ca[0]).public_bytes(serialization.Encoding.DER)
    assert fingerprint == hashlib.sha256(der).hexdigest()
    token = parse_token(format_token(new_token(fingerprint)))
    assert token.ca_fingerprint == fingerprint


@pytest.mark.parametrize(
    ("names", "message"),
    [
        pytest.param([], "at least one server name", id="no names"),
        pytest.param(["bad name"], "not a DNS name or IP address", id="space"),
        pytest.param(["-x.local"], "not a DNS name or IP address", id="leading hyphen"),
        pytest.param(["a" * 64 + ".local"], "not a DNS name or IP address", id="label too long"),
        pytest.param(["*.local"], "not a DNS name or IP address", id="wildcard"),
        pytest.param(["192.168.1"], "not a valid IP address", id="short address"),
    ],
)
def test_bad_server_names(ca: tuple[bytes, bytes], names: list[str], message: str) -> None:
    with pytest.raises(pki.PkiError, match=message):
        pki.issue_server_cert(ca[0], ca[1], names)


def test_ca_key_must_match_the_ca(ca: tuple[bytes, bytes]) -> None:
    _, other_key = pki.create_ca("other")
    with pytest.raises(pki.PkiError, match="does not belong"):
        pki.issue_server_cert(ca[0], other_key, ["govguard.test"])


def test_garbage_certificate() -> None:
    with pytest.raises(pki.PkiError, match="not a PEM certificate"):
        pki.ca_fingerprint(b"hello")


def test_private_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "ca.key"
    pki.write_private(path, b"first")
    pki.write_private(path, b"second")  # replaced atomically, still 0600
    assert path.read_bytes() == b"second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["ca.key"]  # no temporary file left


def test_check_server_cert(ca: tuple[bytes, bytes]) -> None:
    now = datetime.now(UTC)
    cert, key = pki.issue_server_cert(*ca, ["govguard.test", "2001:DB8::1"])
    good = pki.check_server_cert(ca[0], cert, key, ["GOVGUARD.test", "2001:db8:0::1"], now)
    assert (good.errors, good.warnings) == ([], [])
    assert good.not_after is not None and good.not_after > now + timedelta(days=800)

    other_key = pki.issue_server_cert(*ca, ["govguard.test"])[1]
    bad = pki.check_server_cert(
        pki.create_ca("another")[0], cert, other_key, ["govguard.test", "ubnd"], now
    )
    assert [message.split(":")[0] for message in bad.errors] == [
        "not signed by ca.crt",
        "the key does not belong to the certificate",
        "not valid for ubnd (in server_names)",
    ]
    soon = pki.check_server_cert(ca[0], cert, key, ["govguard.test"], now + timedelta(days=800))
    assert soon.errors == []
    assert [w.split(" (")[0] for w in soon.warnings] == [
        f"expires on {good.not_after.strftime('%Y-%m-%d %H:%MZ')}"
    ]
    late = pki.check_server_cert(ca[0], cert, key, ["govguard.test"], now + timedelta(days=900))
    assert late.errors[0].startswith("expired on")


def test_certificates_are_written_atomically_and_readable(tmp_path: Path) -> None:
    path = tmp_path / "server.crt"
    pki.write_public(path, b"one")
    pki.write_public(path, b"two")
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 & ~_umask()  # readable by all
    assert [p.name for p in tmp_path.iterdir()] == ["server.crt"]


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
