"""Identity collector: host name, installation id, SMBIOS UUID and serial, physical MACs."""

from agent import platform
from agent.collectors.base import Collector, Facts
from agent.i18n import Translate, english
from agent.report import Identity


class IdentityCollector(Collector[Identity]):
    """Fills the ``identity`` section."""

    name = "identity"
    section = Identity

    def collect(self) -> Identity:
        """Collect the identity facts."""
        ident = platform.identity
        facts = Facts()
        return Identity(
            hostname=ident.hostname(),
            fqdn=facts.get("fqdn", ident.fqdn),
            machine_id=facts.get("machine_id", ident.machine_id),
            system_uuid=facts.get("system_uuid", ident.system_uuid),
            system_serial=facts.get("system_serial", ident.system_serial),
            macs=facts.get("macs", ident.physical_macs) or [],
            unknown=facts.unknown,
        )

    def summary(self, section: Identity, t: Translate = english) -> list[tuple[str, str]]:
        """Host name, serial and MACs."""
        return [
            (t("Host"), section.hostname),
            (t("Serial"), section.system_serial or t("unknown")),
            (t("MACs"), ", ".join(section.macs) or t("none")),
        ]
