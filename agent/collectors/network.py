"""Network collector: interfaces, default routes, DNS servers, radios and saved profiles."""

from agent import platform
from agent.collectors.base import UNKNOWN, Collector, Facts, count, listing
from agent.i18n import Translate, english
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

    def summary(self, section: Network, t: Translate = english) -> list[tuple[str, str]]:
        """Interfaces up, default route and radios at a glance."""
        ifaces = section.interfaces
        up = listing(
            None if ifaces is None else [i for i in ifaces if i.up and not i.loopback],
            lambda i: i.name,
            t=t,
        )
        gw = listing(
            section.default_routes, lambda r: r.gateway or r.interface or "?", empty="NONE", t=t
        )
        radios = section.radios
        if radios is None:
            on = t(UNKNOWN)
        elif not radios:
            on = t("none")
        else:
            on = ", ".join(f"{r.kind} {r.name}" for r in radios if r.enabled is not False)
            on = on or t("all disabled")
        return [
            (t("Interfaces up"), up),
            (t("Gateways"), gw),
            (t("Radios"), on),
            (t("Saved networks"), count(section.profiles, t)),
        ]
