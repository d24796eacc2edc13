"""HTTPS transport: pinned CA, host name check, headers, byte counts, clear failures.

Every test talks to a real TLS server on 127.0.0.1 (tests/support/tls_echo.py).
"""

from __future__ import annotations

import gzip
import socket
import ssl
from pathlib import Path

import pytest
import trustme

from agent.errors import AgentError
from agent.transport import (
    Transport,
    TransportError,
    fetch_ca_unverified,
    parse_controller_url,
    pinned_context,
)
from tests.support.tls_echo import Answer, json_answer, silent_listener, tls_echo

REPORTS = ("POST", "/api/v1/reports")
ENVELOPE = "v1;0123456789abcdef;fedcba9876543210;1;" + "a" * 32 + ";2026-11-28T10:00:00Z;full;d;s"


def test_post_report_sends_envelope_gzip_and_extra_headers() -> None:
    body = gzip.compress(b'{"kind": "full"}')
    routes = {REPORTS: json_answer(200, {"status": "stored", "seq": 1})}
    with tls_echo(routes=routes) as srv, Transport(srv.url, srv.ca_file) as transport:
        reply = transport.post_report(ENVELOPE, body, {"GG-Clock": "2026-11-28T10:00:01Z"})
    assert reply.status == 200
    assert reply.data == {"status": "stored", "seq": 1}
    (request,) = srv.requests
    assert request.body == body
    assert request.headers["GG-Envelope"] == ENVELOPE
    # Nothing a report does not need on a slow link (docs/protocol.md).
    assert "Content-Encoding" not in request.headers
    assert "Content-Type" not in request.headers
    assert "User-Agent" not in request.headers
    assert request.headers["GG-Clock"] == "2026-11-28T10:00:01Z"
    assert request.headers["Host"] == f"localhost:{srv.port}"


def test_byte_counts_match_what_the_server_read_and_wrote() -> None:
    body = gzip.compress(b"x" * 1000)
    routes = {REPORTS: json_answer(200, {"status": "duplicate", "seq": 7})}
    with tls_echo(routes=routes) as srv, Transport(srv.url, srv.ca_file) as transport:
        reply = transport.post_report(ENVELOPE, body)
    (request,) = srv.requests
    assert reply.sent_bytes == request.bytes_in
    assert reply.received_bytes == request.bytes_out


def test_connection_is_kept_alive_between_reports() -> None:
    routes = {REPORTS: json_answer(200, {"status": "stored", "seq": 1})}
    with tls_echo(routes=routes) as srv, Transport(srv.url, srv.ca_file) as transport:
        for _ in range(3):
            assert transport.post_report(ENVELOPE, b"body").status == 200
    assert [r.connection for r in srv.requests] == [1, 1, 1]
    assert srv.connections == 1


def test_connection_closed_by_the_server_while_idle_is_replaced() -> None:
    """The controller drops idle keep-alive connections long before the next heartbeat."""
    routes = {REPORTS: json_answer(200, {"status": "stored", "seq": 1})}
    with (
        tls_echo(routes=routes, idle_timeout_s=0.2) as srv,
        Transport(srv.url, srv.ca_file) as transport,
    ):
        assert transport.post_report(ENVELOPE, b"first").status == 200
        assert srv.wait_for(lambda: srv.closed == 1)
        assert transport.post_report(ENVELOPE, b"second").status == 200
    assert [r.body for r in srv.requests] == [b"first", b"second"]
    assert srv.connections == 2


@pytest.mark.parametrize(
    ("answer", "status", "data"),
    [
        pytest.param(
            json_answer(401, {"error": "bad_signature", "message": "no"}),
            401,
            {"error": "bad_signature", "message": "no"},
            id="JSON error body",
        ),
        pytest.param(
            Answer(502, b"<html>proxy</html>", "text/html"), 502, {}, id="HTML from proxy"
        ),
        pytest.param(Answer(503, b""), 503, {}, id="empty body"),
        pytest.param(Answer(200, b"[1, 2]"), 200, {}, id="JSON but not an object"),
    ],
)
def test_http_errors_are_replies_not_exceptions(
    answer: Answer, status: int, data: dict[str, object]
) -> None:
    with tls_echo(routes={REPORTS: answer}) as srv, Transport(srv.url, srv.ca_file) as transport:
        reply = transport.post_report(ENVELOPE, b"body")
    assert (reply.status, reply.data) == (status, data)


def test_post_json_goes_under_the_url_prefix() -> None:
    routes = {("POST", "/gg/api/v1/enroll"): json_answer(201, {"ok": True})}
    with tls_echo(routes=routes) as srv, Transport(srv.url + "/gg/", srv.ca_file) as transport:
        reply = transport.post_json("/api/v1/enroll", b"{}")
    assert reply.data == {"ok": True}
    assert srv.requests[0].headers["Content-Type"] == "application/json"


def test_server_certificate_from_another_ca_is_refused_before_the_body(tmp_path: Path) -> None:
    pinned = tmp_path / "pinned-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(pinned))  # not the CA that signed the server
    with tls_echo(routes={REPORTS: Answer(200)}) as srv:
        with (
            Transport(srv.url, pinned, timeout_s=5) as transport,
            pytest.raises(TransportError) as info,
        ):
            transport.post_report(ENVELOPE, b"secret report body")
        assert srv.wait_for(lambda: srv.handshake_failures >= 1)
        assert srv.requests == []
    message = str(info.value)
    assert "not signed by the pinned controller CA" in message
    assert "nothing was sent" in message


def test_certificate_for_another_host_name_is_refused_before_the_body() -> None:
    with tls_echo(names=("other.example",), routes={REPORTS: Answer(200)}) as srv:
        with (
            Transport(srv.address_url, srv.ca_file, timeout_s=5) as transport,
            pytest.raises(TransportError) as info,
        ):
            transport.post_report(ENVELOPE, b"secret report body")
        assert srv.wait_for(lambda: srv.handshake_failures >= 1)
        assert srv.requests == []
    assert "does not match the host name '127.0.0.1'" in str(info.value)


def test_server_hostname_checks_a_name_while_connecting_to_an_address() -> None:
    routes = {REPORTS: json_answer(200, {"status": "stored", "seq": 1})}
    with (
        tls_echo(names=("govguard.test",), routes=routes) as srv,
        Transport(srv.address_url, srv.ca_file, server_hostname="govguard.test") as transport,
    ):
        assert transport.post_report(ENVELOPE, b"body").status == 200


def test_connection_refused_is_a_clear_error(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransportError, match="connection refused"):
        Transport(f"https://127.0.0.1:{port}", ca_file, timeout_s=5).post_report(ENVELOPE, b"x")


def test_silent_server_times_out_with_a_clear_error(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    with silent_listener() as port, pytest.raises(TransportError, match=r"timed out|within"):
        Transport(f"https://127.0.0.1:{port}", ca_file, timeout_s=0.3).post_report(ENVELOPE, b"x")


def test_pinned_context_trusts_only_the_pinned_ca(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    ctx = pinned_context(ca_file)
    assert ctx.check_hostname is True
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert len(ctx.get_ca_certs()) == 1


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("http://govguard.local", "https://", id="plain http"),
        pytest.param("https://", "no host", id="no host"),
        pytest.param("https://u:p@govguard.local", "no user", id="credentials"),
        pytest.param("https://govguard.local:99999", "not valid", id="bad port"),
    ],
)
def test_bad_controller_urls(url: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(AgentError, match=expected):
        parse_controller_url(url)


def test_missing_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="CA file is missing"):
        Transport("https://govguard.local", tmp_path / "ca.pem")


def test_fetch_ca_unverified_accepts_any_certificate() -> None:
    with tls_echo(ca_pem=b"-----BEGIN CERTIFICATE-----\nabc\n") as srv:
        assert fetch_ca_unverified(srv.address_url) == b"-----BEGIN CERTIFICATE-----\nabc\n"
        assert [(r.method, r.path, r.body) for r in srv.requests] == [("GET", "/api/v1/ca", b"")]


def test_fetch_ca_not_found_is_a_clear_error() -> None:
    with (
        tls_echo(routes={("GET", "/api/v1/ca"): Answer(404)}) as srv,
        pytest.raises(AgentError, match="HTTP 404 instead of its CA certificate"),
    ):
        fetch_ca_unverified(srv.url)


def test_a_new_connection_resumes_the_last_tls_session() -> None:
    """After the controller closed an idle connection, the next handshake skips the certificate.

    On a commune link the full handshake costs about four unchanged heartbeats (bench/README.md).
    """
    routes = {REPORTS: json_answer(200, {"status": "stored", "seq": 1})}
    with (
        tls_echo(routes=routes, idle_timeout_s=0.2) as srv,
        Transport(srv.url, srv.ca_file) as transport,
    ):
        for closed in (1, 2):
            assert transport.post_report(ENVELOPE, b"body").status == 200
            assert srv.wait_for(lambda: srv.closed == closed)  # noqa: B023 - waited for here
        assert transport.post_report(ENVELOPE, b"body").status == 200
        transport.disconnect()
        assert transport.post_report(ENVELOPE, b"body").status == 200
        assert (transport.connections, transport.resumed) == (4, 3)
    assert srv.connections == 4
    assert srv.resumed == 3  # the first handshake is a full one, all later ones resume


def test_a_resumed_session_still_belongs_to_the_pinned_controller(tmp_path: Path) -> None:
    """A transport pinned to another CA neither resumes nor sends: sessions are not shared."""
    routes = {REPORTS: json_answer(200, {"status": "stored", "seq": 1})}
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with tls_echo(routes=routes, idle_timeout_s=0.2) as srv:
        with Transport(srv.url, srv.ca_file) as good:
            assert good.post_report(ENVELOPE, b"body").status == 200
        with Transport(srv.url, other) as bad, pytest.raises(TransportError):
            bad.post_report(ENVELOPE, b"secret")
    assert [r.body for r in srv.requests] == [b"body"]
    assert srv.resumed == 0
