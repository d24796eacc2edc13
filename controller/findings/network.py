"""Findings from what the network shows, run after :func:`controller.store.discovery.store_round`
in the same transaction, so a round's results and the findings they cause commit together.

- BMNN-04 (critical, ``asset:<id>``): a live classified asset's MAC in this round's MAC tables
  or ARP entries; raised through :func:`controller.findings.tripwire.raise_sightings`, the same
  path as an enrollment attempt or an online report.
- BMNN-08 (critical, ``device:<id>``): a network device marked for secret documents answers SNMP
  or its MAC is seen; resolved once it has been silent and unseen for ``sighting_stale_s``.
- NET-01 (medium, ``unit:<id>``): MACs on the unit's access ports that belong to no agent,
  asset or network device; resolved when none remain.
- PRN-01 (low, ``device:<id>``): a toner, ink or drum at or below ``toner_low_percent``.
- PRN-02 (low, ``device:<id>``): a printer reports an error (hrPrinterDetectedErrorState) or its
  device status is down (or warning without a low supply to explain it).

NET-01, PRN-01 and PRN-02 are not policy rules (nothing on a computer decides them): their
titles are declared here (:data:`RULES`) for the pages and the notices.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from controller.discovery.results import DeviceResult, Printer
from controller.findings.tripwire import ClassifiedIndex, Sighting, raise_sightings
from controller.policy.model import Text
from controller.settings import SnmpConfig
from controller.store import discovery_queries as store
from controller.store.findings import Opened, open_finding

SECRET_USE_RULE = "BMNN-08"  # noqa: S105 - a rule id, not a password
UNMANAGED_RULE = "NET-01"
LOW_SUPPLY_RULE = "PRN-01"
PRINTER_ERROR_RULE = "PRN-02"
#: MACs listed in one NET-01 finding's evidence (the count says how many there are in all).
EVIDENCE_CAP = 50
#: prtMarkerSuppliesType names of supplies that run out (waste containers fill up instead).
CONSUMABLES = frozenset({"toner", "tonerCartridge", "ink", "inkCartridge", "opc", "developer"})
#: hrPrinterDetectedErrorState bits that are only a supply running low, not a fault.
LOW_BITS = frozenset({"lowToner", "lowPaper"})


@dataclass(frozen=True)
class ControllerRule:
    """A rule the controller decides from the network, not from a computer's facts."""

    id: str
    severity: str
    title: Text
    rationale: Text


RULES: dict[str, ControllerRule] = {
    rule.id: rule
    for rule in (
        ControllerRule(
            UNMANAGED_RULE,
            "medium",
            Text(
                "Thiết bị lạ trên cổng truy cập của switch (không có agent, không đăng ký)",
                "Unmanaged device on a switch access port (no agent, not registered)",
            ),
            Text(
                "Địa chỉ MAC trên cổng truy cập không thuộc máy có agent, tài sản hay thiết bị "
                "mạng nào đã đăng ký: máy chưa cài agent, máy cá nhân hoặc thiết bị lạ. Kiểm "
                "tra tại cổng switch được ghi, rồi cài agent hoặc đăng ký thiết bị.",
                "A MAC on an access port belongs to no computer with an agent, no registered "
                "asset and no network device: a PC without the agent, a personal device or an "
                "intruder. Check the switch port listed, then install the agent or register it.",
            ),
        ),
        ControllerRule(
            LOW_SUPPLY_RULE,
            "low",
            Text("Máy in sắp hết mực hoặc trống", "Printer toner or drum low"),
            Text(
                "Mực hoặc trống của máy in còn dưới ngưỡng cấu hình (snmp.toner_low_percent): "
                "chuẩn bị vật tư thay thế để không gián đoạn công việc.",
                "A toner, ink or drum is at or below the configured level "
                "(snmp.toner_low_percent): order a replacement before work stops.",
            ),
        ),
        ControllerRule(
            PRINTER_ERROR_RULE,
            "low",
            Text("Máy in báo lỗi", "Printer reports an error"),
            Text(
                "Máy in báo lỗi qua SNMP (kẹt giấy, hết giấy, mở nắp, cần bảo trì, ngừng hoạt "
                "động...): kiểm tra máy tại văn phòng.",
                "The printer reports an error over SNMP (jam, no paper, door open, service "
                "requested, down...): check it in the office.",
            ),
        ),
    )
}


@dataclass
class NetworkFindings:
    """What one round's findings did."""

    opened: list[Opened] = field(default_factory=list)
    resolved: int = 0
    #: Classified assets sighted in this round (each refreshes or opens its BMNN-04).
    classified: int = 0
    #: Those sightings (port shutdowns are proposed for them when enforcement is on).
    sightings: list[Sighting] = field(default_factory=list)


def evaluate_round(
    s: Session,
    results: Sequence[DeviceResult],
    at: datetime,
    config: SnmpConfig,
    *,
    index: ClassifiedIndex | None = None,
) -> NetworkFindings:
    """Open, refresh and resolve the network's findings after the round stored at ``at``.

    ``results`` are the round's poll results (which devices answered; printers' state).
    """
    found = NetworkFindings()
    _tripwire(s, at, found, index)
    _secret_use(s, results, at, config, found)
    _unmanaged(s, at, config, found)
    _printers(s, results, at, config, found)
    return found


def _tripwire(
    s: Session, at: datetime, found: NetworkFindings, index: ClassifiedIndex | None
) -> None:
    classified = index or ClassifiedIndex(ttl_s=0)
    classified.refresh(s, force=index is None)
    macs = classified.classified_macs()
    if not macs:
        return
    sightings: dict[str, Sighting] = {}
    # Access ports first (round_sightings orders them so): the port to go and unplug.
    for row in store.round_sightings(s, at, macs):
        for asset_id, (unit_id, matched) in classified.match(macs=[row.mac]).items():
            sightings.setdefault(
                asset_id,
                Sighting(
                    asset_id,
                    unit_id,
                    "switch",
                    matched,
                    detail={
                        "device": row.device_id,
                        "port": row.port_name or str(row.if_index),
                        "if_index": row.if_index,
                        "vlan": row.vlan,
                        "uplink": row.uplink,
                    },
                ),
            )
    for arp in store.round_arp(s, at, macs):
        for asset_id, (unit_id, matched) in classified.match(macs=[arp.mac]).items():
            sightings.setdefault(
                asset_id,
                Sighting(
                    asset_id,
                    unit_id,
                    "arp",
                    matched,
                    detail={"device": arp.device_id, "ip": arp.ip, "if_index": arp.if_index},
                ),
            )
    found.sightings = [sightings[k] for k in sorted(sightings)]
    found.classified = len(found.sightings)
    found.opened += raise_sightings(s, found.sightings, at)


def _secret_use(
    s: Session,
    results: Sequence[DeviceResult],
    at: datetime,
    config: SnmpConfig,
    found: NetworkFindings,
) -> None:
    devices = store.secret_use_devices(s)
    live = store.live_findings(s, SECRET_USE_RULE, "device")
    if not devices and not live:
        return
    answered = {r.device_id for r in results if r.ok}
    by_mac = {mac: d for d in devices for mac in d.macs}
    seen: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in store.round_sightings(s, at, by_mac):
        seen[by_mac[row.mac].device_id].append(
            {"source": "switch", "mac": row.mac, "device": row.device_id,
             "port": row.port_name or str(row.if_index), "vlan": row.vlan}
        )  # fmt: skip
    for arp in store.round_arp(s, at, by_mac):
        seen[by_mac[arp.mac].device_id].append(
            {"source": "arp", "mac": arp.mac, "device": arp.device_id, "ip": arp.ip}
        )
    stale = at - timedelta(seconds=config.sighting_stale_s)
    recent = {
        by_mac[row.mac].device_id for row in store.round_sightings(s, at, by_mac, since=stale)
    }
    for device in devices:
        subject = f"device:{device.device_id}"
        evidence = list(seen.get(device.device_id, ()))
        if device.device_id in answered:
            evidence.insert(0, {"source": "snmp", "device": device.device_id})
        if evidence:
            _, new = open_finding(
                s,
                subject=subject,
                unit_id=device.unit_id,
                rule_id=SECRET_USE_RULE,
                severity="critical",
                reason={"code": "secret_use_device_on_network", "values": {"subject": subject}},
                evidence=[{"at": at.isoformat(), **item} for item in evidence],
                at=at,
            )
            if new:
                found.opened.append(Opened(subject, device.unit_id, SECRET_USE_RULE, "critical"))
            continue
        quiet = device.ok_at is None or device.ok_at < stale
        if subject in live and quiet and device.device_id not in recent:
            found.resolved += store.close_finding(s, subject, SECRET_USE_RULE, at)
    # A device no longer marked for secret use (or retired) has nothing left to answer for.
    marked = {f"device:{d.device_id}" for d in devices}
    for subject in sorted(set(live) - marked):
        found.resolved += store.close_finding(s, subject, SECRET_USE_RULE, at)


def _unmanaged(s: Session, at: datetime, config: SnmpConfig, found: NetworkFindings) -> None:
    since = at - timedelta(seconds=config.sighting_stale_s)
    per_unit: dict[str, list[store.MacRow]] = defaultdict(list)
    for row in store.mac_table(s, since=since, unmanaged=True):
        per_unit[row.unit_id].append(row)
    live = store.live_findings(s, UNMANAGED_RULE, "unit")
    for unit_id, rows in sorted(per_unit.items()):
        macs = sorted({r.mac for r in rows})
        evidence = {
            "macs": len(macs),
            "seen": [
                {
                    "mac": r.mac,
                    "device": r.device_id,
                    "port": r.port_name or str(r.if_index),
                    "if_index": r.if_index,
                    "vlan": r.vlan,
                    "last_seen": r.last_seen.isoformat(),
                }
                for r in sorted(rows, key=lambda r: (r.mac, r.device_id, r.if_index))[:EVIDENCE_CAP]
            ],
        }
        reason = {"code": "unmanaged_devices", "values": {"count": len(macs)}}
        _keep(s, found, f"unit:{unit_id}", unit_id, UNMANAGED_RULE, at, reason, evidence)
    for subject in sorted(set(live) - {f"unit:{u}" for u in per_unit}):
        found.resolved += store.close_finding(s, subject, UNMANAGED_RULE, at)


def low_supplies(printer: Printer, threshold: int) -> list[dict[str, Any]]:
    """The consumables (toner, ink, drum) at or below ``threshold`` percent."""
    low = []
    for supply in printer.supplies:
        kind = supply.kind
        name = supply.name.lower()
        # Printers that do not fill prtMarkerSuppliesType still name their cartridges.
        consumable = kind in CONSUMABLES or (
            kind in (None, "other", "unknown") and ("toner" in name or "drum" in name)
        )
        percent = supply.percent
        if consumable and percent is not None and percent <= threshold:
            low.append({"name": supply.name, "colour": supply.colour, "percent": percent})
    return low


def printer_errors(printer: Printer, low: bool) -> list[str]:
    """What is wrong with the printer beyond a supply running low (empty: nothing).

    ``low``: whether a supply is low (PRN-01), which explains a ``warning`` device status.
    """
    errors = sorted(set(printer.errors) - LOW_BITS)
    if printer.device_status == "down":
        errors.insert(0, "down")
    elif printer.device_status == "warning" and not (
        errors or low or LOW_BITS & set(printer.errors)
    ):
        errors.append("warning")
    return errors


def _printers(
    s: Session,
    results: Sequence[DeviceResult],
    at: datetime,
    config: SnmpConfig,
    found: NetworkFindings,
) -> None:
    polled = [(r.device_id, r.printer) for r in results if r.ok and r.printer is not None]
    units = store.device_units(s, (device_id for device_id, _ in polled))
    for device_id, printer in polled:
        unit_id = units.get(device_id)
        if unit_id is None:
            continue
        subject = f"device:{device_id}"
        low = low_supplies(printer, config.toner_low_percent)
        errors = printer_errors(printer, bool(low))
        supplies = ", ".join(f"{x['colour'] or x['name']} {x['percent']}%" for x in low)
        reason = {"code": "printer_supply_low", "values": {"supplies": supplies}}
        evidence = {"supplies": low} if low else None
        _keep(s, found, subject, unit_id, LOW_SUPPLY_RULE, at, reason, evidence)
        reason = {"code": "printer_error", "values": {"errors": ", ".join(errors)}}
        faults: dict[str, Any] | None = None
        if errors:
            faults = {"errors": errors, "alerts": list(printer.alerts)}
        _keep(s, found, subject, unit_id, PRINTER_ERROR_RULE, at, reason, faults)


def _keep(
    s: Session,
    found: NetworkFindings,
    subject: str,
    unit_id: str,
    rule_id: str,
    at: datetime,
    reason: dict[str, Any],
    evidence: dict[str, Any] | None,
) -> None:
    """Open or refresh the finding when there is ``evidence``, else resolve it.

    ``reason`` is a code of :mod:`controller.policy.messages` with its values.
    """
    if evidence is None:
        found.resolved += store.close_finding(s, subject, rule_id, at)
        return
    severity = RULES[rule_id].severity
    _, new = open_finding(
        s,
        subject=subject,
        unit_id=unit_id,
        rule_id=rule_id,
        severity=severity,
        reason=reason,
        evidence=evidence,
        at=at,
    )
    if new:
        found.opened.append(Opened(subject, unit_id, rule_id, severity))
