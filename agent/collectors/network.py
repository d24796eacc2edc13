"""Network collector: interfaces, default routes, DNS servers, radios and saved profiles."""

from agent import platform
from agent.collectors.base import UNKNOWN, Collector, Facts, count
from agent.report import Network


class NetworkCollector(Collector[Network]):
    """Fills the ``network`` section."""

    name = "network"
    section = Network

    def collect(self) -> Network:
        """Collect every network fact; each unavailable one is recorded with its reason."""
        net = platform.network
        f = Facts()
        return Network(
            interfaces=f.get("interfaces", net.interfaces),
            default_routes=f.get("default_routes", net.default_routes),
            dns_servers=f.get("dns_servers", net.dns_servers),
            radios=f.get("radios", net.radios),
            profiles=f.get("profiles", net.saved_profiles),
            unknown=f.unknown,
        )

    def summary(self, section: Network) -> list[tuple[str, str]]:
        """Interfaces up, default route and radios at a glance."""
        ifaces = section.interfaces
        up = (
            "unknown"
            if ifaces is None
            else ", ".join(i.name for i in ifaces if i.up and not i.loopback) or "none"
        )
        routes = section.default_routes
        gw = (
            "unknown"
            if routes is None
            else ", ".join(r.gateway or r.interface or "?" for r in routes) or "NONE"
        )
        radios = section.radios
        if radios is None:
            on = UNKNOWN
        elif not radios:
            on = "none"
        else:
            on = ", ".join(f"{r.kind} {r.name}" for r in radios if r.enabled is not False)
            on = on or "all disabled"
        profiles = section.profiles
        saved = count(profiles)
        return [
            ("Interfaces up", up),
            ("Gateways", gw),
            ("Radios", on),
            ("Saved networks", saved),
        ]
