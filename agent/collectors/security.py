"""Security collector: firewall, anti-malware, updates, encryption, accounts and policies."""

from agent import catalog, platform
from agent.collectors.base import Collector, Facts
from agent.config import AgentConfig
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

    def summary(self, section: Security) -> list[tuple[str, str]]:
        """Firewall, anti-malware, updates and remote tools at a glance."""

        def yes_no(value: bool | None) -> str:
            return "unknown" if value is None else ("on" if value else "OFF")

        av = section.antimalware
        av_text = (
            "unknown"
            if av is None
            else ", ".join(f"{a.name} ({yes_no(a.enabled)})" for a in av) or "NONE FOUND"
        )
        tools = section.remote_tools
        tools_text = "unknown" if tools is None else ", ".join(t.name for t in tools) or "none"
        upd = section.updates
        pending = "unknown" if upd is None or upd.pending is None else str(upd.pending)
        return [
            ("Firewall", yes_no(section.firewall.enabled if section.firewall else None)),
            ("Anti-malware", av_text),
            ("Updates pending", pending),
            ("Remote tools", tools_text),
        ]
