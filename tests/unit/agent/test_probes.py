"""The probes against the test servers on 127.0.0.1 (never any other address)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from agent import probes
from tests.support.servers import (
    RCODE_REFUSED,
    RCODE_SERVFAIL,
    dns_server,
    https_server,
    tcp_listener,
)

LOCAL = "127.0.0.1"

#: Wall-clock checks here are hang guards, not speed goals (those live in bench/): they only
#: tell "gave up near its timeout" from "waited many timeouts or forever", with a margin wide
#: enough for a loaded CI machine. The behaviour itself is asserted on results and messages.
HANG_SLACK_S = 3.0


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


def _closed_tcp_port() -> int:
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="Sở Thông tin và Truyền thông (test)")


@pytest.fixture
def dns() -> Iterator[str]:
    records = {"dichvucong.test": ["127.0.0.1"], "v6only.test": ["::1"], "portal.test": [LOCAL]}
    with dns_server(LOCAL, 0, records) as server:
        yield server.address


# ------------------------------------------------------------------------------------- DNS


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param("1.1.1.1", ("1.1.1.1", 53), id="v4 default port"),
        pytest.param("127.0.0.1:5353", ("127.0.0.1", 5353), id="v4 with port"),
        pytest.param("[::1]:5353", ("::1", 5353), id="v6 with port"),
        pytest.param("[::1]", ("::1", 53), id="v6 bracketed"),
        pytest.param("fe80::1", ("fe80::1", 53), id="bare v6"),
    ],
)
def test_split_server(entry: str, expected: tuple[str, int]) -> None:
    assert probes.split_server(entry) == expected


def test_dns_answer_is_recorded_with_server_and_latency(dns: str) -> None:
    result = probes.probe_dns("dichvucong.test", dns, 2.0)
    assert (result.ok, result.rcode, result.addresses, result.server) == (
        True, 0, ["127.0.0.1"], dns,
    )  # fmt: skip
    assert result.latency_ms is not None and result.latency_ms >= 0


def test_dns_falls_back_to_aaaa(dns: str) -> None:
    result = probes.probe_dns("v6only.test", dns, 2.0)
    assert (result.ok, result.addresses) == (True, ["::1"])


def test_dns_nxdomain(dns: str) -> None:
    result = probes.probe_dns("khongtontai.test", dns, 2.0)
    assert (result.ok, result.rcode, result.error) == (False, 3, "NXDOMAIN")


@pytest.mark.parametrize(
    ("rcode", "error"),
    [
        pytest.param(RCODE_SERVFAIL, "SERVFAIL", id="servfail"),
        pytest.param(RCODE_REFUSED, "REFUSED", id="refused rcode"),
    ],
)
def test_dns_error_rcodes(rcode: int, error: str) -> None:
    with dns_server(LOCAL, 0, {"a.test": [LOCAL]}, rcode=rcode) as server:
        result = probes.probe_dns("a.test", server.address, 2.0)
    assert (result.ok, result.rcode, result.error) == (False, rcode, error)


def test_dns_silent_server_is_bounded_by_the_timeout() -> None:
    with dns_server(LOCAL, 0, {"a.test": [LOCAL]}, silent=True) as server:
        start = time.monotonic()
        result = probes.probe_dns("a.test", server.address, 0.3)
        elapsed = time.monotonic() - start
    assert (result.ok, result.error) == (False, "no answer in 0.3 s")
    assert elapsed < 0.3 + HANG_SLACK_S
    assert server.queries == [("a.test", 1)]


def test_dns_server_by_name_is_rejected() -> None:
    result = probes.probe_dns("a.test", "dns.ubnd.test:53", 1.0)
    assert (result.ok, result.error) == (
        False,
        "DNS server must be an IP address, not dns.ubnd.test",
    )


def test_dns_closed_port_is_refused() -> None:
    result = probes.probe_dns("a.test", f"{LOCAL}:{_free_udp_port()}", 1.0)
    assert (result.ok, result.error) == (False, "refused (port unreachable)")


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x00" * 5, id="short"),
        pytest.param(b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x07", id="truncated"),
    ],
)
def test_garbage_dns_responses_are_rejected(packet: bytes) -> None:
    with pytest.raises(ValueError):
        probes.parse_response(packet, 0x1234)


def test_hosts_file_lookup() -> None:
    text = "127.0.0.1 localhost\n10.231.0.5  qlvb.ubnd.test qlvb # máy chủ QLVB\n#10.0.0.9 x\n"
    assert probes.hosts_lookup("QLVB.ubnd.test", text) == ["10.231.0.5"]
    assert probes.hosts_lookup("x", text) == []


# ----------------------------------------------------------------------------------- HTTPS


def _spec(url: str, ca_file: str | None, ok_statuses: tuple[int, ...] = ()) -> probes.HttpsSpec:
    return probes.HttpsSpec(
        name="cổng", url=url, role="internet", ca_file=ca_file, timeout=3.0,
        ok_statuses=ok_statuses,
    )  # fmt: skip


def test_https_success_reads_the_certificate(ca: trustme.CA, dns: str) -> None:
    expiry = datetime(2027, 6, 30, 12, 0, tzinfo=UTC)
    with https_server(LOCAL, 0, ca, hostname="portal.test", not_after=expiry) as web:
        result = probes.probe_https(_spec(web.url, web.ca_file), [dns])
    assert (result.ok, result.status, result.cert_verified, result.address) == (
        True, 200, True, LOCAL,
    )  # fmt: skip
    assert result.cert_not_after == web.not_after == expiry
    assert result.cert_days_left is not None
    expected_days = (expiry - datetime.now(UTC)).total_seconds() / 86400
    assert abs(result.cert_days_left - expected_days) < 0.01
    assert result.tls_version in ("TLSv1.2", "TLSv1.3")
    assert result.cert_issuer is not None and "Sở Thông tin" in result.cert_issuer
    assert web.requests == ["/"]


def test_https_untrusted_ca_reports_the_reason(ca: trustme.CA) -> None:
    with https_server(LOCAL, 0, ca, hostname=LOCAL) as web:
        result = probes.probe_https(_spec(web.address_url, None), [])
    assert (result.ok, result.cert_verified) == (False, False)
    assert result.verify_error == "unable to get local issuer certificate"


def test_https_expired_certificate(ca: trustme.CA) -> None:
    past = datetime.now(UTC) - timedelta(days=3)
    with https_server(LOCAL, 0, ca, hostname=LOCAL, not_after=past) as web:
        result = probes.probe_https(_spec(web.address_url, web.ca_file), [])
    assert (result.ok, result.verify_error) == (False, "certificate has expired")


@pytest.mark.parametrize(
    ("status", "ok_statuses", "ok"),
    [
        pytest.param(302, (), True, id="302 counts by default"),
        pytest.param(503, (), False, id="503 fails"),
        pytest.param(401, (401,), True, id="configured 401 counts"),
        pytest.param(200, (302,), False, id="200 not in the configured list"),
    ],
)
def test_https_status_rules(
    ca: trustme.CA, status: int, ok_statuses: tuple[int, ...], ok: bool
) -> None:
    with https_server(LOCAL, 0, ca, hostname=LOCAL, status=status) as web:
        result = probes.probe_https(
            _spec(web.address_url, web.ca_file, ok_statuses=ok_statuses), []
        )
    assert (result.ok, result.status, result.cert_verified) == (ok, status, True)


def test_https_unresolvable_name_names_the_dns_failure(dns: str) -> None:
    result = probes.probe_https(_spec("https://khongtontai.test/", None), [dns])
    assert (result.ok, result.error) == (False, "cannot resolve khongtontai.test: NXDOMAIN")


def test_https_closed_port() -> None:
    result = probes.probe_https(_spec(f"https://{LOCAL}:{_closed_tcp_port()}/", None), [])
    assert (result.ok, result.error) == (False, "connection refused")


def test_https_bad_ca_file(tmp_path: object) -> None:
    result = probes.probe_https(_spec("https://127.0.0.1/", "/nonexistent/ca.pem"), [])
    assert result.ok is False and result.error is not None
    assert result.error.startswith("cannot load ca_file")


# ------------------------------------------------------------------------------------- TCP


def test_tcp_connect_and_refusal() -> None:
    with tcp_listener(LOCAL, 0) as listener:
        good = probes.probe_tcp("qlvb", LOCAL, listener.port, "lan", [], 2.0)
    bad = probes.probe_tcp("qlvb", LOCAL, _closed_tcp_port(), "lan", [], 2.0)
    assert (good.ok, good.address, good.error) == (True, LOCAL, None)
    assert good.latency_ms is not None
    assert (bad.ok, bad.error) == (False, "connection refused")


# --------------------------------------------------------------------------------- Gateway


def test_gateway_echo_on_loopback() -> None:
    result = probes.probe_gateway(LOCAL, "lo", 2.0)
    assert result.reachable is True
    assert result.method in ("icmp", "icmp_raw", "tcp")


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(PermissionError(1, "Operation not permitted"), id="not permitted"),
        pytest.param(
            probes.gateway._NoMethod("protocol not supported"), id="not supported (Windows)"
        ),
    ],
)
def test_gateway_tcp_fallback_when_icmp_is_not_allowed(
    monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    def denied(address: str, timeout: float, raw: bool) -> float:
        raise failure

    monkeypatch.setattr(probes.gateway, "_echo", denied)
    result = probes.probe_gateway(LOCAL, None, 2.0)
    # Nothing listens on most knock ports: the RST of a refusal proves the host is up.
    assert (result.reachable, result.method) == (True, "tcp")


def test_link_local_gateway_gets_its_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def echo(address: str, timeout: float, raw: bool) -> float:
        seen.append(address)
        return 0.5

    monkeypatch.setattr(probes.gateway, "_echo", echo)
    probes.probe_gateway("fe80::1", "Wi-Fi", 1.0, zone="17")
    probes.probe_gateway("fe80::1", "wlp2s0", 1.0)
    assert seen == ["fe80::1%17", "fe80::1%wlp2s0"]


def test_icmp_checksum_of_a_known_packet() -> None:
    # RFC 1071 section 3 example bytes.
    assert probes.gateway._checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


# -------------------------------------------------------------------------------- Deadline


def _missing(i: int, reason: str) -> str:
    return f"{i}: {reason}"


def test_run_bounded_abandons_stuck_probes() -> None:
    def stuck() -> str:
        time.sleep(5)
        return "late"

    start = time.monotonic()
    results = probes.run_bounded([lambda: "fast", stuck], 0.3, _missing)
    assert results == ["fast", "1: cut off by the overall deadline (0.3 s)"]
    assert time.monotonic() - start < 0.3 + HANG_SLACK_S


def test_run_bounded_tells_a_crash_from_the_deadline(caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> str:
        raise RuntimeError("lỗi trong probe")

    with caplog.at_level(logging.WARNING, logger="agent.probes._base"):
        results = probes.run_bounded([boom, lambda: "ok"], 1.0, _missing)
    assert results == ["0: probe failed: RuntimeError: lỗi trong probe", "ok"]
    [record] = [r for r in caplog.records if r.name == "agent.probes._base"]
    assert record.levelno == logging.WARNING and record.exc_info is not None


def test_connect_any_tries_the_next_address() -> None:
    # localhost often resolves to ::1 first; the server here listens on 127.0.0.1 only.
    with tcp_listener(LOCAL, 0) as listener:
        sock, used = probes.connect_any(["::1", LOCAL], listener.port, 2.0)
        sock.close()
    assert used == LOCAL


def test_tcp_name_resolved_by_the_configured_server(dns: str) -> None:
    with tcp_listener(LOCAL, 0) as listener:
        result = probes.probe_tcp("cổng", "portal.test", listener.port, "tslcd", [dns], 2.0)
    assert (result.ok, result.address, result.role) == (True, LOCAL, "tslcd")


class _Chunks:
    """A socket stand-in that returns recorded chunks, then end of stream."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    def recv(self, _size: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        pytest.param((b"HTTP/1.1 302 Found\r\nLocation: /\r\n",), 302, id="redirect"),
        pytest.param((b"HTTP/1.0 2", b"00 OK\r\n"), 200, id="status split over reads"),
        pytest.param((b"HTTP/1.1 204\r\n",), 204, id="no reason phrase"),
    ],
)
def test_status_line(chunks: tuple[bytes, ...], expected: int) -> None:
    assert probes.https._read_status(_Chunks(*chunks)) == expected


@pytest.mark.parametrize(
    ("chunks", "error"),
    [
        pytest.param((b"SSH-2.0-OpenSSH_9.2\r\n",), ValueError, id="not an HTTP server"),
        pytest.param((b"HTTP/1.1 OK\r\n",), ValueError, id="no status code"),
        pytest.param((b"HTTP/1.1 2000 OK\r\n",), ValueError, id="four-digit status"),
        pytest.param((b"HTTP/1.1 20 OK\r\n",), ValueError, id="two-digit status"),
        pytest.param((b"HTTP/1.1 200",), ConnectionError, id="closed mid-line"),
        pytest.param((b"x" * 9000,), ValueError, id="endless line"),
    ],
)
def test_bad_status_line(chunks: tuple[bytes, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        probes.https._read_status(_Chunks(*chunks))


@pytest.mark.parametrize(
    ("host", "port", "path", "expected_host"),
    [
        pytest.param(
            "dichvucong.gov.vn", 443, "/", b"Host: dichvucong.gov.vn\r\n", id="default port"
        ),
        pytest.param("10.231.0.1", 8443, "/qlvb", b"Host: 10.231.0.1:8443\r\n", id="port kept"),
        pytest.param("::1", 443, "/", b"Host: [::1]\r\n", id="IPv6 literal"),
        pytest.param("thái-nguyên.vn", 443, "/", b"Host: xn--thi-nguyn-", id="IDN host"),
    ],
)
def test_request_host_header(host: str, port: int, path: str, expected_host: bytes) -> None:
    request = probes.https._request(host, port, path)
    assert request.startswith(f"GET {path} HTTP/1.1\r\n".encode())
    assert expected_host in request
    assert request.endswith(b"Connection: close\r\n\r\n")


def test_non_ascii_path_is_an_invalid_url() -> None:
    spec = probes.HttpsSpec(
        name="x", url="https://127.0.0.1/văn-bản", role="internet", ca_file=None, timeout=1.0
    )
    result = probes.probe_https(spec, [])
    assert (result.ok, result.error) == (False, "invalid URL")


class _Trickle:
    """A socket stand-in that sends one byte every 0.1 s and never ends the line."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    def settimeout(self, value: float) -> None:
        self.timeouts.append(value)

    def recv(self, _size: int) -> bytes:
        time.sleep(0.1)
        return b"H"


def test_status_read_stops_at_the_end_time() -> None:
    sock = _Trickle()
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        probes.https._read_status(sock, time.monotonic() + 0.35)
    assert time.monotonic() - start < 0.35 + HANG_SLACK_S
    # every recv got only what was left, not a fresh full timeout
    assert sock.timeouts == sorted(sock.timeouts, reverse=True) and sock.timeouts[0] <= 0.35


@contextlib.contextmanager
def _trickling_tls_server(ca: trustme.CA) -> Iterator[int]:
    """TLS on 127.0.0.1 that, after the handshake, sends the status line one byte at a time."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(LOCAL).configure_cert(ctx)
    listener = socket.create_server((LOCAL, 0))
    stop = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(4096)
                for byte in b"HTTP/1.1 200 OK" * 10:
                    if stop.wait(0.1):
                        break
                    tls.sendall(bytes([byte]))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        listener.close()
        thread.join(2)


def test_https_trickling_server_is_bounded_by_the_timeout(ca: trustme.CA, tmp_path: Path) -> None:
    ca_file = str(tmp_path / "ca.pem")
    ca.cert_pem.write_to_path(ca_file)
    with _trickling_tls_server(ca) as port:
        start = time.monotonic()
        spec = _spec(f"https://{LOCAL}:{port}/", ca_file)._replace(timeout=0.8)
        result = probes.probe_https(spec, [])
        elapsed = time.monotonic() - start
    assert (result.ok, result.error) == (False, "timed out")
    # The spec's timeout is 0.8 s; before the fix each byte restarted it (up to 8192 x 0.8 s).
    assert elapsed < 0.8 + HANG_SLACK_S


# ------------------------------------------------------------------- Ports out of range


def test_out_of_range_ports_are_results_not_crashes() -> None:
    dns = probes.probe_dns("a.test", f"{LOCAL}:99999", 0.5)
    tcp = probes.probe_tcp("x", LOCAL, 70000, "lan", [], 0.5)
    https = probes.probe_https(_spec(f"https://{LOCAL}:99999/", None), [])
    assert (dns.ok, tcp.ok, https.ok) == (False, False, False)
    assert all("65535" in (r.error or "") for r in (dns, tcp, https))


# ------------------------------------------------------------------- Gateway: budget, zones


def test_gateway_probe_shares_one_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[tuple[str, float]] = []

    def silent_echo(address: str, timeout: float, raw: bool) -> float:
        given.append(("icmp", timeout))
        time.sleep(timeout)
        raise TimeoutError("timed out")

    def black_hole(address: str, port: int, timeout: float) -> socket.socket:
        given.append(("tcp", timeout))
        time.sleep(timeout)
        raise TimeoutError("timed out")

    monkeypatch.setattr(probes.gateway, "_echo", silent_echo)
    monkeypatch.setattr(probes.gateway, "connect", black_hole)
    result = probes.probe_gateway(LOCAL, "lo", 0.6)
    assert (result.reachable, result.method, result.error) == (False, "tcp", "timed out")
    # ICMP and the TCP knock (its ports tried in parallel) share one 0.6 s budget instead of
    # taking 0.6 s each: the echo gets at most half, each knock at most what is left.
    icmp = [t for kind, t in given if kind == "icmp"]
    tcp = [t for kind, t in given if kind == "tcp"]
    assert len(icmp) == 1 and icmp[0] <= 0.3 + 1e-6, given
    assert tcp and icmp[0] + max(tcp) <= 0.6 + 1e-6, given


@pytest.mark.parametrize(
    ("address", "interface"),
    [
        pytest.param("fe80::1", "khongco0", id="unknown zone (if_nametoindex fails)"),
        pytest.param("fe80::1", None, id="link-local without scope (EINVAL)"),
    ],
)
def test_gateway_local_errors_are_undetermined(address: str, interface: str | None) -> None:
    result = probes.probe_gateway(address, interface, 0.5)
    assert result.reachable is None
    assert result.error


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param("::1", "0:0:0:0:0:0:0:1", True, id="compressed and full IPv6"),
        pytest.param("FE80::1%eth0", "fe80::1", True, id="case and zone"),
        pytest.param("10.0.0.1", "10.0.0.10", False, id="different hosts"),
        pytest.param("garbage", "10.0.0.1", False, id="not an address"),
    ],
)
def test_gateway_replies_matched_by_address(a: str, b: str, same: bool) -> None:
    assert probes.gateway._same_ip(a, b) is same


def test_gateway_echo_to_an_uncompressed_ipv6_address() -> None:
    try:
        rtt = probes.gateway._echo("0:0:0:0:0:0:0:1", 1.0, raw=os.geteuid() == 0)
    except (probes.gateway._NoMethod, PermissionError):
        pytest.skip("no ICMP method allowed for this user")
    assert rtt >= 0


# --------------------------------------------------------------------- DNS: TC, bounds, RFC 5452


@contextlib.contextmanager
def _udp_responder(reply: Callable[[bytes], bytes | None]) -> Iterator[str]:
    """A UDP server on 127.0.0.1 answering each datagram with ``reply(query)``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOCAL, 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                query, peer = sock.recvfrom(4096)
            except OSError:
                continue
            answer = reply(query)
            if answer is not None:
                sock.sendto(answer, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"{LOCAL}:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def _reply(
    query: bytes, flags: int, answers: bytes = b"", count: int = 0, qname: bytes = b""
) -> bytes:
    """A response echoing the query's id and question (or ``qname``'s)."""
    question = query[12:] if not qname else probes.build_query(qname.decode(), 1, 0)[12:]
    head = struct.pack("!HHHHHH", int.from_bytes(query[:2], "big"), flags, 1, count, 0, 0)
    return head + question + answers


_A_RECORD = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + bytes([127, 0, 0, 1])


def test_dns_truncated_answer_is_undetermined() -> None:
    with _udp_responder(lambda q: _reply(q, 0x8380)) as server:  # QR, TC, RD, RA, NOERROR
        result = probes.probe_dns("dichvucong.test", server, 1.0)
    assert (result.ok, result.error) == (None, "truncated (TC): answer did not fit in UDP")


def test_dns_malformed_answer_with_our_id_is_reported_at_once() -> None:
    # rdlength says 100 bytes of data, the packet ends after 4
    bad = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 100) + bytes([127, 0, 0, 1])
    with _udp_responder(lambda q: _reply(q, 0x8180, bad, 1)) as server:
        start = time.monotonic()
        result = probes.probe_dns("dichvucong.test", server, 2 * HANG_SLACK_S)
        elapsed = time.monotonic() - start
    assert (result.ok, result.error) == (False, "malformed DNS response")
    # At once: well before the probe's own timeout, which it used to wait out.
    assert elapsed < HANG_SLACK_S


def test_dns_rdata_past_the_end_is_malformed() -> None:
    query = probes.build_query("a.test", 1, 0x1234)
    packet = _reply(query, 0x8180, struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 16) + b"\x7f\0\0\1", 1)
    with pytest.raises(ValueError, match="malformed"):
        probes.parse_response(packet, 0x1234, "a.test", 1)


def test_dns_answer_to_another_question_is_ignored() -> None:
    # right id, an address, but for another name: RFC 5452 4.3 says discard it
    spoof = _udp_responder(lambda q: _reply(q, 0x8180, _A_RECORD, 1, qname=b"lua-dao.test"))
    with spoof as server:
        result = probes.probe_dns("dichvucong.test", server, 0.3)
    assert (result.ok, result.error) == (False, "no answer in 0.3 s")


def test_dns_question_compared_case_insensitively() -> None:
    query = probes.build_query("DichVuCong.test", 1, 7)
    packet = _reply(query, 0x8180, _A_RECORD, 1)
    assert probes.parse_response(packet, 7, "dichvucong.TEST", 1) == (0, ["127.0.0.1"])
