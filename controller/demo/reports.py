"""What a simulated office PC of the demo reports: the agent's report models filled with
plausible facts of one computer of the organisation file.

A :class:`SimulatedPc` is an asset of the file (its host name, MACs, serial and machine id, so
the controller links the agent to the asset as it would a real one) with a :data:`FAULTS`
subset: each fault is one thing an office gets wrong (firewall off, old signatures, an
UltraViewer left installed...) and makes one or more policy rules fail. A PC without faults
passes every rule a normal office PC can pass. The OS support decision (ATTT-06) and the
hardware age are the agent's own functions, over the agent's end-of-life table.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from agent import __version__
from agent.collectors.hardware import hardware_age
from agent.collectors.peripherals import ca_markers, classify
from agent.platform._inventory import support
from agent.report import SCHEMA_VERSION, Identity, Report
from agent.report.connectivity import Connectivity, Internet, Lan, Reachability, RoleStatus
from agent.report.hardware import Bios, Cpu, Disk, Hardware, Memory, SystemInfo
from agent.report.network import Address, Interface, Network, Route
from agent.report.os_info import OperatingSystem, OsVersion
from agent.report.peripherals import Certificate, Peripherals, SigningPort
from agent.report.security import (
    Accounts,
    AntiMalware,
    AuditLogging,
    AutoRun,
    EncryptedVolume,
    Firewall,
    LocalAccount,
    PasswordPolicy,
    RemoteTool,
    ScreenLock,
    Security,
    TimeSync,
    Updates,
    UsbStorage,
)
from agent.report.software import InputMethod, Package, Software, VietnameseText

#: Each fault and the rules it makes fail (docs/demo.md lists them for the officer).
FAULTS: Final[dict[str, tuple[str, ...]]] = {
    "firewall_off": ("ATTT-07",),
    "antivirus_stale": ("ATTT-02",),
    "no_antivirus": ("ATTT-01", "ATTT-02", "ATTT-03"),
    "updates_behind": ("ATTT-05",),
    "os_end_of_life": ("ATTT-06",),
    "autorun_on": ("ATTT-08",),
    "weak_passwords": ("ATTT-09",),
    "extra_admin": ("ATTT-10",),
    "remote_tool": ("ATTT-12",),
    "clock_unsynced": ("ATTT-14",),
    "unencrypted_laptop": ("ATTT-15",),
    "no_internet": ("CQĐT-01", "CQĐT-04"),
    "no_vietnamese_input": ("CQĐT-07",),
    "signing_certificate_expiring": ("CQĐT-05",),
}

_GIB = 1024**3


@dataclass(frozen=True)
class SimulatedPc:
    """One computer of the organisation file that the demo plays the agent of."""

    asset_id: str
    unit_id: str
    hostname: str
    kind: str
    macs: tuple[str, ...]
    serial: str | None
    machine_id: str | None
    model: str | None
    purchased_at: date | None
    #: ``windows`` or ``linux``.
    family: str
    faults: frozenset[str]
    tags: tuple[str, ...] = ()
    #: Its IPv4 address (the organisation file's ``connection``), if any.
    address: str | None = None

    @property
    def compliant(self) -> bool:
        """No fault: every applicable rule passes."""
        return not self.faults


def _digits(pc: SimulatedPc) -> str:
    return hashlib.sha256(f"govguard-demo-{pc.asset_id}".encode()).hexdigest()


def identity(pc: SimulatedPc) -> Identity:
    """The hardware identity the PC enrolls and reports with (the asset's identifiers)."""
    d = _digits(pc)
    return Identity(
        hostname=pc.hostname,
        machine_id=pc.machine_id or d[:32],
        system_uuid=f"{d[:8]}-{d[8:12]}-4{d[13:16]}-8{d[17:20]}-{d[20:32]}".upper(),
        system_serial=pc.serial,
        macs=list(pc.macs),
    )


def build_report(pc: SimulatedPc, now: datetime | None = None) -> Report:
    """A full report of ``pc`` at ``now``: the facts its faults imply, the rest compliant."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    rng = random.Random(_digits(pc))  # noqa: S311 - stable plausible values, not a secret
    return Report(
        schema_version=SCHEMA_VERSION,
        kind="full",
        agent_version=__version__,
        collected_at=now,
        identity=identity(pc),
        hardware=_hardware(pc, rng, now.date()),
        os=_os(pc, rng, now),
        software=_software(pc),
        network=_network(pc),
        connectivity=_connectivity(pc),
        security=_security(pc, rng, now),
        peripherals=_peripherals(pc, now),
    )


def _vendor(model: str) -> str:
    first = model.split()[0].upper() if model.split() else ""
    known = {"HP": "HP", "DELL": "Dell Inc.", "LENOVO": "LENOVO", "ASUS": "ASUSTeK COMPUTER INC."}
    return known.get(first, first.title() or "To Be Filled By O.E.M.")


def _hardware(pc: SimulatedPc, rng: random.Random, today: date) -> Hardware:
    model = pc.model or "Desktop"
    bought = pc.purchased_at or date(today.year - rng.randrange(1, 8), 6, 1)
    bios = Bios(vendor=_vendor(model), version=f"1.{rng.randrange(2, 30)}.0", release_date=bought)
    return Hardware(
        system=SystemInfo(vendor=_vendor(model), model=model, serial=pc.serial),
        bios=bios,
        cpu=Cpu(
            model=rng.choice(
                (
                    "Intel(R) Core(TM) i5-10500 CPU @ 3.10GHz",
                    "Intel(R) Core(TM) i3-10105 CPU @ 3.70GHz",
                    "Intel(R) Core(TM) i5-12400",
                )
            ),
            sockets=1,
            physical_cores=6,
            logical_cpus=12,
        ),
        memory=Memory(total_bytes=rng.choice((4, 8, 8, 16)) * _GIB),
        disks=[Disk(name="disk0", size_bytes=rng.choice((256, 512, 1000)) * 10**9, media="ssd")],
        age=hardware_age(bios, today),
    )


def _os(pc: SimulatedPc, rng: random.Random, now: datetime) -> OperatingSystem:
    if pc.family == "linux":
        version = OsVersion(
            family="linux",
            name="Ubuntu 24.04.1 LTS",
            id="ubuntu",
            version="24.04",
            display_version="noble",
        )
    elif "os_end_of_life" in pc.faults:
        version = OsVersion(
            family="windows",
            name="Windows 10 Pro",
            id="windows-10",
            version="10.0",
            display_version="22H2",
            build="19045.5487",
            edition="Professional",
        )
    else:
        version = OsVersion(
            family="windows",
            name="Windows 11 Pro",
            id="windows-11",
            version="10.0",
            display_version="25H2",
            build="26200.7171",
            edition="Professional",
        )
    return OperatingSystem(
        version=version,
        architecture="x86_64",
        boot_time=now - timedelta(hours=rng.randrange(1, 72)),
        timezone="Asia/Ho_Chi_Minh" if pc.family == "linux" else "SE Asia Standard Time",
        support=support(version, now.date()),
    )


def _software(pc: SimulatedPc) -> Software:
    if pc.family == "linux":
        packages = [
            Package(name="libreoffice-writer", version="4:24.2.7"),
            Package(name="firefox", version="133.0"),
            Package(name="ibus-bamboo", version="0.8.4"),
        ]
        inputs = (
            []
            if "no_vietnamese_input" in pc.faults
            else [InputMethod(name="ibus-bamboo", installed=True, running=True)]
        )
    else:
        packages = [
            Package(
                name="Microsoft Office Professional Plus 2019",
                version="16.0.10417.20007",
                publisher="Microsoft Corporation",
            ),
            Package(name="Google Chrome", version="131.0.6778.86", publisher="Google LLC"),
            Package(name="Foxit PDF Reader", version="2024.3.0", publisher="Foxit Software Inc."),
            Package(name="VNPT-CA Plugin", version="1.0.8", publisher="VNPT"),
        ]
        inputs = []
        if "no_vietnamese_input" not in pc.faults:
            packages.append(Package(name="UniKey 4.6 RC2", version="4.6"))
            inputs = [InputMethod(name="UniKey", installed=True, running=True)]
        if "remote_tool" in pc.faults:
            packages.append(
                Package(
                    name="UltraViewer version 6.6.110", version="6.6.110", publisher="DucFabulous"
                )
            )
    return Software(
        package_manager="dpkg" if pc.family == "linux" else "windows",
        packages=packages,
        vietnamese_text=VietnameseText(
            times_new_roman=True, unicode_fonts=["Times New Roman", "Arial"], input_methods=inputs
        ),
    )


def _network(pc: SimulatedPc) -> Network:
    address = pc.address or "192.0.2.10"  # TEST-NET-1 (RFC 5737): documentation only
    gateway = ".".join([*address.split(".")[:3], "1"])
    name = "enp1s0" if pc.family == "linux" else "Ethernet"
    return Network(
        interfaces=[
            Interface(
                name=name,
                kind="wired",
                mac=pc.macs[0] if pc.macs else None,
                up=True,
                speed_mbps=1000,
                mtu=1500,
                addresses=[Address(address=address, family="ipv4", prefix=24)],
            ),
        ],
        default_routes=[Route(family="ipv4", gateway=gateway, interface=name)],
        dns_servers=[gateway],
    )


def _reach(ok: bool, total: int = 1) -> Reachability:
    return Reachability(reachable=ok, succeeded=total if ok else 0, total=total)


def _connectivity(pc: SimulatedPc) -> Connectivity:
    online = "no_internet" not in pc.faults
    return Connectivity(
        internet=Internet(
            reachable=online, succeeded=2 if online else 0, total=2, required=1, dns_ok=online
        ),
        lan=Lan(reachable=True, succeeded=1, total=1, gateway_ok=True),
        roles=RoleStatus(
            controller=_reach(True),
            document_system=_reach(online),
            public_service=_reach(online),
            email=_reach(online),
            tslcd=_reach(True),
        ),
    )


def _antimalware(pc: SimulatedPc, rng: random.Random, now: datetime) -> list[AntiMalware]:
    if "no_antivirus" in pc.faults:
        return []
    age = rng.randrange(20, 60) if "antivirus_stale" in pc.faults else rng.randrange(0, 2)
    name = (
        "ESET Endpoint Antivirus"
        if pc.family == "linux"
        else rng.choice(("Bkav Pro", "Kaspersky Endpoint Security for Windows"))
    )
    return [
        AntiMalware(
            name=name,
            source="package" if pc.family == "linux" else "security_center",
            enabled=True,
            up_to_date=age < 7,
            signature_updated_at=now - timedelta(days=age),
            signature_age_days=float(age),
            management_agent="Endpoint management agent",
            management_agent_running=True,
        )
    ]


def _security(pc: SimulatedPc, rng: random.Random, now: datetime) -> Security:
    f = pc.faults
    users = [
        LocalAccount(name="Administrator", enabled=False, admin=True),
        LocalAccount(name="canbo", enabled=True, admin=False),
    ]
    if "extra_admin" in f:
        users.append(LocalAccount(name="admin2", enabled=True, admin=True))
    behind = "updates_behind" in f
    encryption = None
    if pc.kind == "laptop":
        encryption = [
            EncryptedVolume(
                volume="C:",
                method="XTS-AES 128",
                protected="unencrypted_laptop" not in f,
                system=True,
            )
        ]
    return Security(
        firewall=Firewall(
            enabled="firewall_off" not in f,
            product="ufw" if pc.family == "linux" else "Windows Defender Firewall",
        ),
        antimalware=_antimalware(pc, rng, now),
        updates=Updates(
            last_installed_at=now
            - timedelta(days=rng.randrange(60, 200) if behind else rng.randrange(1, 20)),
            pending=4 if behind else 0,
            pending_security=3 if behind else 0,
            automatic=not behind,
        ),
        encryption=encryption,
        accounts=Accounts(
            users=users, admins=[u.name for u in users if u.admin], guest_enabled=False
        ),
        password_policy=PasswordPolicy(
            min_length=0 if "weak_passwords" in f else 8,
            complexity="weak_passwords" not in f,
            max_age_days=90,
            lockout_threshold=5,
        ),
        screen_lock=ScreenLock(enabled="weak_passwords" not in f, timeout_seconds=600),
        usb_storage=UsbStorage(policy="allowed"),
        autorun=AutoRun(
            disabled="autorun_on" not in f, no_drive_type_autorun=145 if "autorun_on" in f else 255
        ),
        remote_tools=[
            RemoteTool(name="UltraViewer", evidence=["installed", "service"], running=True)
        ]
        if "remote_tool" in f
        else [],
        audit=AuditLogging(
            enabled=True, mechanism="auditd" if pc.family == "linux" else "Windows audit policy"
        ),
        time_sync=TimeSync(
            synchronized="clock_unsynced" not in f,
            service="systemd-timesyncd" if pc.family == "linux" else "W32Time",
            offset_seconds=0.01 if "clock_unsynced" not in f else 412.0,
        ),
    )


def _peripherals(pc: SimulatedPc, now: datetime) -> Peripherals | None:
    """A signing PC's token certificate (classified by the agent's issuer markers) and the
    signing middleware's port; nothing for the others."""
    if "signing-pc" not in pc.tags:
        return None
    days = 12 if "signing_certificate_expiring" in pc.faults else 400
    issuer = "CN=Cơ quan chứng thực số chuyên dùng Chính phủ, O=Ban Cơ yếu Chính phủ, C=VN"
    cert = Certificate(
        subject=f"CN={pc.hostname} (demo), O=UBND huyện Chợ Mới, C=VN",
        issuer=issuer,
        not_before=now - timedelta(days=365),
        not_after=now + timedelta(days=days),
        store="CurrentUser\\My",
    )
    return Peripherals(
        certificates=[classify(cert, ca_markers([]), now)],
        signing_ports=[SigningPort(port=8987, name="VGCA Sign Service", listening=True)],
    )
