"""Results of the configured reachability probes (gateway, DNS, HTTPS, TCP).

The raw probe results come with derived facts the policies read: ``internet.reachable``
(CQĐT-01, and BMNN-11 expecting False), ``lan.reachable`` (CQĐT-02) and one status per target
role (CQĐT-03/04). A derived fact is ``None`` when nothing was configured to decide it, or when
the probes that could decide it were cut off or failed (reason in ``unknown`` under ``internet``,
``lan`` or ``roles.<role>``): never a guess. A probe result's ``ok``/``reachable`` is ``None``
when its outcome is not known; derived facts leave such results out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from agent.report._base import Meta, Record, Section


class GatewayResult(Record, kw_only=True):
    """Whether a default gateway answered."""

    address: Annotated[str, Meta(description="Gateway address.")]
    interface: Annotated[str | None, Meta(description="Interface the route goes out of.")] = None
    reachable: Annotated[
        bool | None,
        Meta(
            description=(
                "The gateway answered within the timeout; None when not determined (the probe "
                "was cut off by the overall deadline, failed, or could not send): see error."
            )
        ),
    ]
    method: Annotated[
        Literal["icmp", "icmp_raw", "tcp"] | None,
        Meta(
            description=(
                "icmp: unprivileged ICMP echo (ping_group_range); icmp_raw: raw-socket echo; "
                "tcp: connect to a few ports, where a refusal also proves the host is there."
            )
        ),
    ] = None
    latency_ms: Annotated[float | None, Meta(description="Round trip, milliseconds.")] = None
    error: Annotated[
        str | None, Meta(description="Why it is not reachable, or why that is not known.")
    ] = None


class DnsResult(Record, kw_only=True):
    """One DNS query sent to one server."""

    name: Annotated[str, Meta(description="Name asked for (A record, then AAAA if none).")]
    server: Annotated[str, Meta(description="Server asked, host or host:port.")]
    ok: Annotated[
        bool | None,
        Meta(
            description=(
                "The server answered NOERROR with an address; None when not determined (cut "
                "off by the overall deadline, the probe failed, a truncated answer): see error."
            )
        ),
    ]
    rcode: Annotated[
        int | None, Meta(description="DNS response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN).")
    ] = None
    addresses: Annotated[list[str], Meta(description="Addresses in the answer.")] = []
    latency_ms: Annotated[float | None, Meta(description="Time to the answer, ms.")] = None
    error: Annotated[str | None, Meta(description="Timeout, refusal or malformed answer.")] = None


class HttpsResult(Record, kw_only=True):
    """One HTTPS target fetched."""

    name: Annotated[str, Meta(description="Target name from the configuration.")]
    url: Annotated[str, Meta(description="URL fetched.")]
    role: Annotated[str, Meta(description="Role of the target (internet, document_system, ...).")]
    ok: Annotated[
        bool | None,
        Meta(
            description=(
                "Certificate verified and the status is an expected one; None when not "
                "determined (cut off by the overall deadline, the probe failed): see error."
            )
        ),
    ]
    status: Annotated[int | None, Meta(description="HTTP status code.")] = None
    address: Annotated[str | None, Meta(description="Address connected to.")] = None
    latency_ms: Annotated[
        float | None, Meta(description="From connect to the response headers, ms.")
    ] = None
    tls_version: Annotated[str | None, Meta(description="Negotiated TLS version.")] = None
    cert_verified: Annotated[
        bool | None, Meta(description="The certificate chain and host name verified.")
    ] = None
    verify_error: Annotated[
        str | None, Meta(description="Why the certificate did not verify (OpenSSL's reason).")
    ] = None
    cert_subject: Annotated[
        str | None, Meta(description="Certificate subject (CN=..., O=...).")
    ] = None
    cert_issuer: Annotated[str | None, Meta(description="Certificate issuer.")] = None
    cert_not_after: Annotated[datetime | None, Meta(description="Certificate expiry, UTC.")] = None
    cert_days_left: Annotated[
        float | None, Meta(description="Days until the certificate expires (negative: expired).")
    ] = None
    error: Annotated[str | None, Meta(description="What failed: resolve, connect, TLS, HTTP.")] = (
        None
    )


class TcpResult(Record, kw_only=True):
    """One TCP endpoint connected to."""

    name: Annotated[str, Meta(description="Target name from the configuration.")]
    host: Annotated[str, Meta(description="Host connected to.")]
    port: Annotated[int, Meta(description="TCP port.")]
    role: Annotated[str, Meta(description="Role of the target (lan, controller, tslcd, ...).")]
    ok: Annotated[
        bool | None,
        Meta(
            description=(
                "The connection was accepted; None when not determined (cut off by the overall "
                "deadline, the probe failed): see error."
            )
        ),
    ]
    address: Annotated[str | None, Meta(description="Address connected to.")] = None
    latency_ms: Annotated[float | None, Meta(description="Connect time, ms.")] = None
    error: Annotated[str | None, Meta(description="Refused, timed out, unresolvable.")] = None


class Reachability(Record, kw_only=True):
    """A derived yes/no with the counts behind it."""

    reachable: Annotated[
        bool | None,
        Meta(description="Derived answer; None when nothing configured can decide it."),
    ] = None
    succeeded: Annotated[int, Meta(description="Probes behind it that succeeded.")] = 0
    total: Annotated[int, Meta(description="Probes behind it.")] = 0
    undetermined: Annotated[
        int,
        Meta(
            description=(
                "Probes behind it whose outcome is not known (cut off by the overall deadline, "
                "failed, truncated answer); they count neither as success nor as failure."
            )
        ),
    ] = 0


class Internet(Reachability, kw_only=True):
    """Internet connectivity (CQĐT-01; BMNN-11 expects False)."""

    required: Annotated[
        int,
        Meta(description="Internet-role HTTPS targets that must succeed (probes.min_internet)."),
    ] = 0
    dns_ok: Annotated[
        bool | None,
        Meta(
            description=(
                "At least one DNS query got an address; False when every query failed; None if "
                "none ran, or none succeeded and some could not be judged."
            )
        ),
    ] = None


class Lan(Reachability, kw_only=True):
    """Agency LAN connectivity (CQĐT-02)."""

    gateway_ok: Annotated[
        bool | None,
        Meta(
            description=(
                "A default gateway answered; False when every gateway probed failed; None if "
                "none was probed, or none answered and some could not be judged."
            )
        ),
    ] = None


class RoleStatus(Record, kw_only=True):
    """Status of the targets of each service role (CQĐT-03, CQĐT-04)."""

    controller: Annotated[Reachability | None, Meta(description="The govguard controller.")] = None
    document_system: Annotated[
        Reachability | None, Meta(description="QLVB&ĐH document system (CQĐT-04).")
    ] = None
    public_service: Annotated[
        Reachability | None, Meta(description="Public-service portals (CQĐT-04).")
    ] = None
    email: Annotated[Reachability | None, Meta(description="Official e-mail (CQĐT-04).")] = None
    tslcd: Annotated[
        Reachability | None, Meta(description="Specialised data network endpoints (CQĐT-03).")
    ] = None


class Connectivity(Section, kw_only=True):
    """Results of the configured reachability probes (gateway, DNS, HTTPS, TCP)."""

    default_route: Annotated[
        bool | None, Meta(description="The computer has a default route (IPv4 or IPv6).")
    ] = None
    gateways: Annotated[
        list[GatewayResult] | None, Meta(description="Default gateways probed.")
    ] = None
    dns: Annotated[
        list[DnsResult] | None, Meta(description="DNS queries, one per name and server.")
    ] = None
    https: Annotated[list[HttpsResult], Meta(description="HTTPS targets fetched.")] = []
    tcp: Annotated[list[TcpResult], Meta(description="TCP endpoints connected to.")] = []
    internet: Annotated[
        Internet | None, Meta(description="Derived: Internet reachable (CQĐT-01).")
    ] = None
    lan: Annotated[Lan | None, Meta(description="Derived: agency LAN reachable (CQĐT-02).")] = None
    roles: Annotated[
        RoleStatus | None, Meta(description="Derived: reachability of each service role.")
    ] = None
    duration_ms: Annotated[
        float | None, Meta(description="Wall time of all probes together, ms.")
    ] = None
