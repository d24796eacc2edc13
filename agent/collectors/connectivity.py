"""Connectivity collector: runs the configured probes concurrently under one deadline.

Gateways and resolvers come from ``agent.platform.network``; targets from ``config.probes``.
The derived facts (internet, lan, roles) are computed here from the probe results.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from agent import platform, probes
from agent.collectors.base import UNKNOWN, Collector, Facts, flag
from agent.i18n import Translate, english
from agent.report import Connectivity
from agent.report.connectivity import (
    DnsResult,
    GatewayResult,
    HttpsResult,
    Internet,
    Lan,
    Reachability,
    RoleStatus,
    TcpResult,
)
from agent.report.network import Route

_ROLES = ("controller", "document_system", "public_service", "email", "tslcd")


class ConnectivityCollector(Collector[Connectivity]):
    """Fills the ``connectivity`` section."""

    name = "connectivity"
    section = Connectivity

    def collect(self) -> Connectivity:
        """Probe gateways, DNS, HTTPS and TCP targets, then derive internet/LAN/role status."""
        cfg = self.config.probes
        f = Facts()
        started = time.perf_counter()
        probes.reset_tls_contexts()
        routes: list[Route] | None = f.get("default_route", platform.network.default_routes)
        servers = list(cfg.dns.servers)
        if not servers:
            servers = f.get("dns", platform.network.dns_servers) or []
            if not servers and "dns" not in f.unknown and cfg.dns.names:
                f.unknown["dns"] = "no DNS server configured on this computer"
        # Each probe must end a little before the deadline, or one whose timeout equals it
        # (allowed: deadline_seconds >= timeout_seconds) races the deadline and loses: its own,
        # determined "no answer" would become "cut off". The slack covers thread start-up.
        limit = max(cfg.deadline_seconds - 0.25, cfg.deadline_seconds * 0.9)
        timeout = min(cfg.timeout_seconds, limit)

        tasks: list[Callable[[], Any]] = []
        missing: list[Callable[..., Any]] = []

        def add(task: Callable[[], Any], on_missing: Callable[..., Any]) -> None:
            # on_missing(error=reason) builds the undetermined result of a probe that was cut
            # off by the deadline or crashed: "unknown", not "unreachable".
            tasks.append(task)
            missing.append(on_missing)

        gateways = [r for r in routes or [] if r.gateway] if cfg.gateway else []
        for r in gateways:
            gw, iface = str(r.gateway), r.interface
            zone = str(r.interface_index) if r.interface_index else None
            add(
                partial(probes.probe_gateway, gw, iface, timeout, zone),
                partial(GatewayResult, address=gw, interface=iface, reachable=None),
            )
        for name in cfg.dns.names:
            for server in servers:
                add(
                    partial(probes.probe_dns, name, server, timeout),
                    partial(DnsResult, name=name, server=server, ok=None),
                )
        for h in cfg.https:
            spec = probes.HttpsSpec(
                name=h.name,
                url=h.url,
                role=h.role,
                ca_file=h.ca_file,
                timeout=min(h.timeout_seconds or timeout, limit),
                ok_statuses=h.ok_statuses,
            )
            add(
                partial(probes.probe_https, spec, servers),
                partial(HttpsResult, name=h.name, url=h.url, role=h.role, ok=None),
            )
        for t in cfg.tcp:
            add(
                partial(
                    probes.probe_tcp,
                    t.name, t.host, t.port, t.role, servers,
                    min(t.timeout_seconds or timeout, limit),
                ),
                partial(
                    TcpResult, name=t.name, host=t.host, port=t.port, role=t.role, ok=None,
                ),
            )  # fmt: skip
        if not cfg.gateway:
            f.unknown["gateways"] = "gateway probe disabled (probes.gateway: false)"
        elif routes is None:
            f.unknown["gateways"] = "default routes unknown: " + f.unknown["default_route"]
        if not cfg.dns.names:
            f.unknown.setdefault("dns", "no names to resolve configured (probes.dns.names)")
        results = probes.run_bounded(
            tasks, cfg.deadline_seconds, lambda i, reason: missing[i](error=reason)
        )
        gw_results = [r for r in results if isinstance(r, GatewayResult)]
        dns_results = [r for r in results if isinstance(r, DnsResult)]
        https_results = [r for r in results if isinstance(r, HttpsResult)]
        tcp_results = [r for r in results if isinstance(r, TcpResult)]

        return Connectivity(
            default_route=bool(routes) if routes is not None else None,
            gateways=gw_results if routes is not None and cfg.gateway else None,
            dns=dns_results if cfg.dns.names and servers else None,
            https=https_results,
            tcp=tcp_results,
            internet=self._internet(f, dns_results, https_results),
            lan=self._lan(f, gw_results, https_results, tcp_results),
            roles=self._roles(f, https_results, tcp_results),
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            unknown=f.unknown,
        )

    def _internet(self, f: Facts, dns: list[DnsResult], https: list[HttpsResult]) -> Internet:
        """Reachable when DNS answers and at least ``min_internet`` internet targets succeed.

        Unreachable only on evidence: every DNS query failed, or too few targets succeeded even
        if every undetermined one had. Unknown when no internet target is configured, or when
        undetermined probes (cut off, crashed) could still change the answer.
        """
        targets = [r for r in https if r.role == "internet"]
        dns_ok = _any_ok([r.ok for r in dns]) if dns else None
        required = min(self.config.probes.min_internet, len(targets))
        oks = [r.ok for r in targets]
        succeeded, pending = oks.count(True), oks.count(None)
        out = Internet(
            succeeded=succeeded,
            total=len(targets),
            undetermined=pending,
            required=required,
            dns_ok=dns_ok,
        )
        if not targets:
            f.unknown["internet"] = "no HTTPS target with role internet configured"
            return out
        if dns_ok is False or succeeded + pending < required:
            out.reachable = False
        elif succeeded >= required and dns_ok:
            out.reachable = True
        elif succeeded >= required and not dns:
            # HTTPS worked by name or address, but nothing checked DNS on its own: CQĐT-01
            # wants both, so a success without a DNS check stays undecided.
            f.unknown["internet"] = "HTTPS targets answered but no DNS check ran (probes.dns)"
        else:
            f.unknown["internet"] = _undetermined(
                [r.error for r in targets if r.ok is None] + [r.error for r in dns if r.ok is None]
            )
        return out

    def _lan(
        self,
        f: Facts,
        gateways: list[GatewayResult],
        https: list[HttpsResult],
        tcp: list[TcpResult],
    ) -> Lan:
        """Reachable when a gateway or a lan/controller-role target answers.

        Unreachable only when every one of them was probed and failed.
        """
        lan_roles = ("lan", "controller")
        targets: list[HttpsResult | TcpResult] = [
            *(r for r in https if r.role in lan_roles),
            *(r for r in tcp if r.role in lan_roles),
        ]
        gateway_ok = _any_ok([g.reachable for g in gateways]) if gateways else None
        checks = [g.reachable for g in gateways] + [r.ok for r in targets]
        out = Lan(
            succeeded=checks.count(True),
            total=len(checks),
            undetermined=checks.count(None),
            gateway_ok=gateway_ok,
        )
        if not checks:
            f.unknown["lan"] = "no default gateway to probe and no lan or controller target"
            return out
        out.reachable = _any_ok(checks)
        if out.reachable is None:
            errors = [g.error for g in gateways if g.reachable is None]
            f.unknown["lan"] = _undetermined(errors + [r.error for r in targets if r.ok is None])
        return out

    def _roles(self, f: Facts, https: list[HttpsResult], tcp: list[TcpResult]) -> RoleStatus:
        status: dict[str, Reachability] = {}
        for role in _ROLES:
            results: list[HttpsResult | TcpResult] = [
                *(r for r in https if r.role == role),
                *(r for r in tcp if r.role == role),
            ]
            if not results:
                f.unknown[f"roles.{role}"] = f"no {role} target configured"
                continue
            oks = [r.ok for r in results]
            reachable = _any_ok(oks)
            if reachable is None:
                f.unknown[f"roles.{role}"] = _undetermined(
                    [r.error for r in results if r.ok is None]
                )
            status[role] = Reachability(
                reachable=reachable,
                succeeded=oks.count(True),
                total=len(oks),
                undetermined=oks.count(None),
            )
        return RoleStatus(**status)

    def summary(self, section: Connectivity, t: Translate = english) -> list[tuple[str, str]]:
        """Internet, LAN and default route at a glance."""

        inet = section.internet
        lan = section.lan
        inet_text = (
            t(UNKNOWN)
            if inet is None
            else t("{state} ({ok}/{total} targets, DNS {dns})").format(
                state=flag(inet.reachable, t=t),
                ok=inet.succeeded,
                total=inet.total,
                dns=flag(inet.dns_ok, t=t),
            )
        )
        return [
            (t("Internet"), inet_text),
            (t("LAN"), t(UNKNOWN) if lan is None else flag(lan.reachable, t=t)),
            (t("Default route"), flag(section.default_route, t=t)),
        ]


def _any_ok(oks: list[bool | None]) -> bool | None:
    """True if any succeeded; False only if all were determined and failed; else None."""
    if True in oks:
        return True
    return None if None in oks else False


def _undetermined(errors: list[str | None]) -> str:
    """The ``unknown`` reason of a derived fact its undetermined probes could still decide."""
    first = next((e for e in errors if e), "no result")
    return f"not determined: {len(errors)} probe(s) without a result ({first})"
