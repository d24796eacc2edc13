"""OS collector: name, version, kernel, dates, locale, sessions and vendor support (ATTT-06)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from agent import platform
from agent.collectors.base import Collector, Facts
from agent.config import AgentConfig
from agent.i18n import Translate, english
from agent.report import OperatingSystem


class OsCollector(Collector[OperatingSystem]):
    """Fills the ``os`` section."""

    name = "os"
    section = OperatingSystem

    def __init__(self, config: AgentConfig, today: Callable[[], date] = date.today) -> None:
        super().__init__(config)
        # Injectable so that support decisions in tests do not move with the calendar.
        self.today = today

    def collect(self) -> OperatingSystem:
        """Collect every OS fact; each unavailable one is recorded with its reason."""
        osi = platform.os_info
        f = Facts()
        return OperatingSystem(
            version=f.get("version", osi.version),
            kernel=f.get("kernel", osi.kernel),
            architecture=f.get("architecture", osi.architecture),
            install_date=f.get("install_date", osi.install_date),
            boot_time=f.get("boot_time", osi.boot_time),
            timezone=f.get("timezone", osi.timezone),
            locale=f.get("locale", osi.locale),
            users=f.get("users", osi.users),
            support=f.get("support", lambda: osi.support(self.today())),
            unknown=f.unknown,
        )

    def summary(self, section: OperatingSystem, t: Translate = english) -> list[tuple[str, str]]:
        """OS name and build, and whether the vendor still supports it."""
        ver = section.version
        name = (ver.name if ver else None) or t("unknown")
        build = t(" (build {build})").format(build=ver.build) if ver and ver.build else ""
        sup = section.support
        if sup is None or sup.supported is None:
            why = sup.reason if sup and sup.reason else section.unknown.get("support", t("unknown"))
            support = t("unknown: {why}").format(why=why)
        elif sup.supported:
            support = t("yes, until {date}").format(date=sup.eol_date)
        else:
            support = t("NO, ended {date}").format(date=sup.eol_date)
        return [(t("OS"), f"{name}{build}"), (t("OS supported"), support)]
