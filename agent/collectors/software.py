"""Software collector: packages, services, autostart entries, Vietnamese text (CQĐT-07)."""

from agent import platform
from agent.collectors.base import UNKNOWN, Collector, Facts, count
from agent.i18n import Translate, english
from agent.report import Software


class SoftwareCollector(Collector[Software]):
    """Fills the ``software`` section."""

    name = "software"
    section = Software

    def collect(self) -> Software:
        """Collect every software fact; each unavailable one is recorded with its reason."""
        sw = platform.software
        f = Facts()
        services = f.get("services", sw.services)
        if services and all(s.running is None for s in services):
            # Listed from unit files, but nothing told which ones run (systemd not PID 1).
            f.unknown["services.running"] = "the service manager's running state is not readable"
        return Software(
            package_manager=f.get("package_manager", sw.package_manager),
            packages=f.get("packages", sw.packages),
            services=services,
            autostart=f.get("autostart", sw.autostart),
            vietnamese_text=f.get("vietnamese_text", sw.vietnamese_text),
            unknown=f.unknown,
        )

    def summary(self, section: Software, t: Translate = english) -> list[tuple[str, str]]:
        """Package and service counts, Times New Roman and input methods at a glance."""

        running = (
            t(UNKNOWN)
            if section.services is None or "services.running" in section.unknown
            else str(sum(1 for s in section.services if s.running))
        )
        vn = section.vietnamese_text
        if vn is None:
            vn_text = t(UNKNOWN)
        else:
            ims = ", ".join(i.name for i in vn.input_methods) or t("no input method")
            fonts = ", ".join(vn.legacy_fonts)
            legacy = t(", legacy fonts: {fonts}").format(fonts=fonts) if vn.legacy_fonts else ""
            tnr = "Times New Roman" if vn.times_new_roman else t("NO Times New Roman")
            vn_text = f"{tnr}, {ims}{legacy}"
        services = t("{running} of {total}").format(
            running=running, total=count(section.services, t)
        )
        return [
            (t("Packages"), count(section.packages, t)),
            (t("Services running"), services),
            (t("Autostart entries"), count(section.autostart, t)),
            (t("Vietnamese text"), vn_text),
        ]
