"""Security collector: firewall, anti-malware, updates, encryption, accounts and policies."""

from agent import catalog, platform
from agent.collectors.base import UNKNOWN, Collector, Facts, flag, listing
from agent.config import AgentConfig
from agent.i18n import Translate, english
from agent.report.security import Security


class SecurityCollector(Collector[Security]):
    """Fills the ``security`` section."""

    name = "security"
    section = Security

    def __init__(self, config: AgentConfig) -> None:
        super().__init__(config)
        self.antimalware = catalog.antimalware(config.antimalware)
        self.remote_tools = catalog.remote_tools(config.remote_tools)

    def collect(self) -> Security:
        """Collect every posture fact; each unavailable one is recorded with its reason."""
        sec = platform.security
        f = Facts()
        return Security(
            firewall=f.get("firewall", sec.firewall),
            antimalware=f.get("antimalware", lambda: sec.antimalware(self.antimalware)),
            updates=f.get("updates", sec.updates),
            encryption=f.get("encryption", sec.encryption),
            accounts=f.get("accounts", sec.accounts),
            password_policy=f.get("password_policy", sec.password_policy),
            screen_lock=f.get("screen_lock", sec.screen_lock),
            usb_storage=f.get("usb_storage", sec.usb_storage),
            autorun=f.get("autorun", sec.autorun),
            listening_ports=f.get("listening_ports", sec.listening_ports),
            remote_tools=f.get("remote_tools", lambda: sec.remote_tools(self.remote_tools)),
            audit=f.get("audit", sec.audit),
            time_sync=f.get("time_sync", sec.time_sync),
            ssh_server=f.get("ssh_server", sec.ssh_server),
            unknown=f.unknown,
        )

    def summary(self, section: Security, t: Translate = english) -> list[tuple[str, str]]:
        """Firewall, anti-malware, updates and remote tools at a glance."""

        def on_off(value: bool | None) -> str:
            return flag(value, yes="on", no="OFF", t=t)

        av_text = listing(
            section.antimalware,
            lambda a: f"{a.name} ({on_off(a.enabled)})",
            empty="NONE FOUND",
            t=t,
        )
        upd = section.updates
        pending = t(UNKNOWN) if upd is None or upd.pending is None else str(upd.pending)
        return [
            (t("Firewall"), on_off(section.firewall.enabled if section.firewall else None)),
            (t("Anti-malware"), av_text),
            (t("Updates pending"), pending),
            (t("Remote tools"), listing(section.remote_tools, lambda r: r.name, t=t)),
        ]
