"""Hardware collector: system, firmware, board, CPU, memory, disks, monitors, batteries, age."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from agent import platform
from agent.collectors.base import Collector, Facts, listing
from agent.config import AgentConfig
from agent.errors import FactUnavailable
from agent.i18n import Translate, english
from agent.report import Hardware
from agent.report.hardware import Bios, HardwareAge


def hardware_age(bios: Bios | None, today: date) -> HardwareAge:
    """Age from the BIOS release date: a lower bound, since a BIOS update makes it younger."""
    if bios is None or bios.release_date is None:
        raise FactUnavailable("no BIOS release date to date the hardware from")
    years = round((today - bios.release_date).days / 365.25, 1)
    return HardwareAge(age_years=years, since=bios.release_date, source="bios_release_date")


class HardwareCollector(Collector[Hardware]):
    """Fills the ``hardware`` section."""

    name = "hardware"
    section = Hardware

    def __init__(self, config: AgentConfig, today: Callable[[], date] = date.today) -> None:
        super().__init__(config)
        self.today = today

    def collect(self) -> Hardware:
        """Collect every hardware fact; each unavailable one is recorded with its reason."""
        hw = platform.hardware
        f = Facts()
        system = f.get("system", hw.system)
        if system is not None:
            # Root-only on Linux: its own unknown entry says "(run as root)".
            system.serial = f.get("system.serial", hw.system_serial)
        board = f.get("board", hw.board)
        if board is not None:
            board.serial = f.get("board.serial", hw.board_serial)
        bios = f.get("bios", hw.bios)
        section = Hardware(
            system=system,
            form_factor=f.get("form_factor", hw.form_factor),
            bios=bios,
            board=board,
            cpu=f.get("cpu", hw.cpu),
            memory=f.get("memory", hw.memory),
            memory_modules=f.get("memory_modules", hw.memory_modules),
            disks=f.get("disks", hw.disks),
            partitions=f.get("partitions", hw.partitions),
            monitors=f.get("monitors", hw.monitors),
            batteries=f.get("batteries", hw.batteries),
            age=f.get("age", lambda: hardware_age(bios, self.today())),
        )
        section.unknown = f.unknown
        return section

    def summary(self, section: Hardware, t: Translate = english) -> list[tuple[str, str]]:
        """Model, CPU and memory, disks at a glance."""
        sys_ = section.system
        model = " ".join(x for x in (sys_.vendor, sys_.model) if x) if sys_ else ""
        kind = section.form_factor or t("unknown type")
        cpu = section.cpu.model if section.cpu and section.cpu.model else t("unknown CPU")
        ram = section.memory.total_bytes / 2**30 if section.memory else None
        disks = section.disks
        disks_text = listing(
            disks,
            lambda d: f"{d.name} {(d.size_bytes or 0) / 1e9:.0f} GB {d.media or ''}".strip(),
            t=t,
        )
        age = t(", {age} years old").format(age=f"{section.age.age_years:g}") if section.age else ""
        ram_text = f"{ram:.1f} GiB" if ram is not None else t("unknown")
        return [
            (t("Computer"), f"{model or t('unknown model')} ({kind}{age})"),
            (t("CPU / RAM"), f"{cpu} / {ram_text}"),
            (t("Disks"), disks_text),
        ]
