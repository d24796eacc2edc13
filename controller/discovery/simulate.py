"""A simulated district network: snmpsim recordings for an organisation file's devices.

:func:`simulate_organisation` writes one recording (:mod:`.recordings`) per network device of
an organisation file, with the district's PCs learnt on access ports of their unit's switches,
and a manifest (JSON) of what a poller should find there. Everything is derived from the file
and a seed: the same input gives the same bytes. The tests and the demo serve the folder with
``snmpsim-command-responder --data-dir``; a device's community is its id.

Run ``python -m controller.discovery.simulate --org inventory/example-district.yaml --out DIR``.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from controller.discovery.recordings import (
    DEFAULT_SEED,
    UPSTREAM_OUIS,
    VLAN_COMPUTERS,
    VLAN_MANAGEMENT,
    VLAN_PRINTERS,
    Alert,
    Host,
    Neighbour,
    Port,
    PrinterSpec,
    Recording,
    RouterSpec,
    Supply,
    SwitchModel,
    SwitchSpec,
    SystemInfo,
    add_interfaces,
    add_system,
    mac_from,
    printer_recording,
    router_recording,
    seeded_rng,
    switch_model,
    switch_recording,
    write_recording,
)  # fmt: skip
from controller.inventory.document import InventoryError, load_inventory
from controller.inventory.records import Record

MANIFEST = "manifest.json"


class SimulationError(Exception):
    """An organisation that cannot be simulated (bad file, more PCs than switch ports)."""


# --- an organisation ----------------------------------------------------------------------------

#: The vendor's arc for each simulated router, firewall and printer (sysObjectID).
_ROUTER_OIDS = (
    ("MIKROTIK", "1.3.6.1.4.1.14988.1", "RouterOS RB750Gr3", ("bridge", "router")),
    ("FORTI", "1.3.6.1.4.1.12356.101.1.6004", "FortiGate-60F v7.2.8", ("router",)),
)
_GENERIC_ROUTER = ("", "1.3.6.1.4.1.8072.3.2.10", "Linux router", ("router",))
_HP_PRINTER = "1.3.6.1.4.1.11.2.3.9.1"
_COLOURS = ("black", "cyan", "magenta", "yellow")


@dataclass
class _Placed:
    """A MAC that sits on an access port."""

    host: str
    host_kind: Literal["asset", "network_device"]
    mac: str
    vlan: int
    classified: bool
    label: str
    switch: str = ""
    port: int = 0


@dataclass
class _Site:
    """The switches of one unit and everyone whose unit (or an ancestor) is that one."""

    unit: str
    switches: list[str]
    placed: list[_Placed] = field(default_factory=list)
    #: Routers, firewalls, access points and other boxes: learnt behind uplinks.
    behind: list[str] = field(default_factory=list)


def _name(device: Record, device_id: str) -> str:
    return str(device.get("hostname") or device_id)


def _home_units(units: Mapping[str, Record], with_switch: set[str]) -> dict[str, str | None]:
    """Each unit → the nearest unit at or above it that has a switch (None: no switch)."""
    home: dict[str, str | None] = {}
    for unit_id in units:
        current: str | None = unit_id
        seen: set[str] = set()
        while current is not None and current not in with_switch and current not in seen:
            seen.add(current)
            current = units[current].get("parent_id") if current in units else None
        home[unit_id] = current if current in with_switch else None
    return home


def _special_ports(model: SwitchModel, count: int) -> list[int]:
    """Ports for uplinks and downlinks: the SFP cages first, then copper from the top."""
    ports = list(range(model.copper + 1, model.ports + 1)) + list(range(model.copper, 0, -1))
    return ports[:count]


def simulate_organisation(
    org_yaml_path: Path | str,
    out_dir: Path | str,
    *,
    seed: int = DEFAULT_SEED,
    classified_on_port: Sequence[str] = (),
    upstream_macs: int = 16,
) -> dict[str, Any]:
    """Write one recording per network device of an organisation file, and a manifest.

    Every computer with a MAC (and every network printer) is learnt on an access port of a
    switch of its unit or of the nearest unit above it that has switches; the first switch of
    a unit is its core, with the others on downlinks and the unit's router or firewall on its
    uplink. Routers, firewalls and other boxes, the other switches, and ``upstream_macs`` MACs
    of the wider network are learnt on uplinks and downlinks only. Classified computers stay
    off the network unless their asset id is in ``classified_on_port`` (the tripwire scenario).

    Files: ``<device id>.snmprec`` (the community is the device id) and ``manifest.json``,
    which is also returned: ``devices`` (id → kind, file, community, sys_name...),
    ``placements`` (MAC → host, device, port, ifIndex, VLAN), ``links`` (the uplink and
    downlink ports), ``arp``, ``printers`` and ``unplaced`` (asset id → why).
    Raises :class:`SimulationError` for a bad file or too few switch ports.
    """
    path, out = Path(org_yaml_path), Path(out_dir)
    try:
        inventory = load_inventory(path)
    except InventoryError as exc:
        raise SimulationError(exc.errors[0]) from exc
    units = inventory.records["units"]
    assets = inventory.records["assets"]
    devices = inventory.records["network_devices"]
    for asset_id in classified_on_port:
        asset = assets.get(asset_id)
        if asset is None or asset["classification"] != "classified" or not asset["macs"]:
            raise SimulationError(f"{asset_id}: not a classified asset with a MAC in {path}")

    switches: dict[str, list[str]] = {}
    for device_id in sorted(devices):
        if devices[device_id]["kind"] == "switch":
            switches.setdefault(devices[device_id]["unit_id"], []).append(device_id)
    home = _home_units(units, set(switches))
    sites = {unit: _Site(unit, ids) for unit, ids in switches.items()}
    unplaced: dict[str, str] = {}

    for asset_id in sorted(assets):
        asset = assets[asset_id]
        if not asset["macs"]:
            continue
        classified = asset["classification"] == "classified"
        if classified and asset_id not in classified_on_port:
            unplaced[asset_id] = "classified: kept off the network"
            continue
        if asset["state"] == "disposed":
            unplaced[asset_id] = "disposed"
            continue
        site = home.get(asset["unit_id"])
        if site is None:
            unplaced[asset_id] = "no switch in its unit or above"
            continue
        # The first MAC: the wired one (a laptop's second MAC is its Wi-Fi adapter's).
        sites[site].placed.append(
            _Placed(asset_id, "asset", asset["macs"][0], VLAN_COMPUTERS, classified,
                    str(asset.get("hostname") or asset_id))
        )  # fmt: skip
    for device_id in sorted(devices):
        device = devices[device_id]
        site = home.get(device["unit_id"])
        if site is None or device["kind"] == "switch" or not device["macs"]:
            continue
        if device["kind"] == "printer":
            sites[site].placed.append(
                _Placed(device_id, "network_device", device["macs"][0], VLAN_PRINTERS, False,
                        _name(device, device_id))
            )  # fmt: skip
        else:
            sites[site].behind.append(device_id)

    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "organisation": str(path), "seed": seed, "devices": {}, "placements": {},
        "links": {}, "arp": {}, "printers": {}, "unplaced": unplaced,
    }  # fmt: skip
    for unit in sorted(sites):
        _simulate_site(sites[unit], devices, out, manifest, seed, upstream_macs)
    for device_id in sorted(devices):
        if device_id not in manifest["devices"]:
            _simulate_other(device_id, devices[device_id], out, manifest, seed)
    manifest["devices"] = dict(sorted(manifest["devices"].items()))
    manifest["placements"] = dict(sorted(manifest["placements"].items()))
    (out / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8"
    )
    return manifest


def _register(
    manifest: dict[str, Any],
    out: Path,
    device_id: str,
    device: Record,
    rec: Recording,
    **extra: Any,
) -> None:
    write_recording(out / f"{device_id}.snmprec", rec)
    manifest["devices"][device_id] = {
        "kind": device["kind"], "file": f"{device_id}.snmprec", "community": device_id,
        "credential": device.get("snmp_credential"), "ip": device.get("ip"),
        "sys_name": _name(device, device_id), "model": device.get("model"), **extra,
    }  # fmt: skip


@dataclass
class _Wiring:
    """Where one switch of a site has its uplink, its downlinks and its access ports."""

    device_id: str
    model: SwitchModel
    uplink: int
    #: Downlink port → the switch on its other end (the core switch only).
    downlinks: dict[int, str]
    access: list[int]


def _wire(site: _Site, devices: Mapping[str, Record]) -> list[_Wiring]:
    """The core (first) switch takes a downlink per other switch and the uplink to the gateway."""
    wiring = []
    for k, device_id in enumerate(site.switches):
        model = switch_model(devices[device_id].get("model"))
        links = _special_ports(model, len(site.switches) if k == 0 else 1)
        downlinks = dict(zip(links[:-1], site.switches[1:], strict=True)) if k == 0 else {}
        access = [n for n in range(1, model.copper + 1) if n not in links]
        wiring.append(_Wiring(device_id, model, links[-1], downlinks, access))
    return wiring


def _assign_ports(site: _Site, wiring: Sequence[_Wiring], rng: random.Random) -> None:
    """Give each placed host a switch and a free access port."""
    capacity = sum(len(w.access) for w in wiring)
    total = len(site.placed)
    if total > capacity:
        raise SimulationError(
            f"unit {site.unit}: {total} hosts but only {capacity} access ports on its switches "
            f"({', '.join(site.switches)})"
        )
    # Contiguous shares in proportion to each switch's access ports keep an office together.
    start, seen = 0, 0
    for w in wiring:
        seen += len(w.access)
        end = round(total * seen / capacity)
        share = site.placed[start:end]
        for placed, port in zip(share, rng.sample(w.access, len(share)), strict=True):
            placed.switch, placed.port = w.device_id, port
        start = end


def _simulate_site(
    site: _Site, devices: Mapping[str, Record], out: Path, manifest: dict[str, Any], seed: int,
    upstream_macs: int,
) -> None:  # fmt: skip
    rng = seeded_rng(seed, "site", site.unit)
    wiring = _wire(site, devices)
    _assign_ports(site, wiring, rng)
    core = wiring[0]
    own = {
        w.device_id: Host(devices[w.device_id]["macs"][0], VLAN_MANAGEMENT)
        if devices[w.device_id]["macs"]
        else Host(mac_from(rng, "00:1e:58"), VLAN_MANAGEMENT)
        for w in wiring
    }
    behind = [Host(mac, VLAN_MANAGEMENT) for d in site.behind for mac in devices[d]["macs"]]
    upstream = [
        Host(mac_from(rng, rng.choice(UPSTREAM_OUIS)), rng.choice((VLAN_COMPUTERS, VLAN_PRINTERS)))
        for _ in range(upstream_macs)
    ]
    gateways = [d for d in site.behind if devices[d]["kind"] in ("router", "firewall")]
    gateway = gateways[0] if gateways else None
    by_id = {w.device_id: w for w in wiring}

    def hosts_on(device_id: str) -> list[Host]:
        """What a neighbour switch sees through its link to ``device_id``: its hosts and it."""
        mine = [Host(p.mac, p.vlan) for p in site.placed if p.switch == device_id]
        return [*mine, own[device_id]]

    for w in wiring:
        device_id, model = w.device_id, w.model
        device = devices[device_id]
        mine = [p for p in site.placed if p.switch == device_id]
        learnt: dict[int, list[Host]] = {p.port: [Host(p.mac, p.vlan)] for p in mine}
        aliases = {p.port: p.label for p in mine}
        neighbours: dict[int, Neighbour] = {}
        roles: dict[int, tuple[str, str | None]] = {}
        if w is core:
            learnt[w.uplink] = behind + upstream
            if gateway is not None:
                neighbours[w.uplink] = _gateway_neighbour(gateway, devices[gateway])
            roles[w.uplink] = ("uplink", gateway)
            for port, other in w.downlinks.items():
                far = by_id[other]
                learnt[port] = hosts_on(other)
                neighbours[port] = Neighbour(
                    _name(devices[other], other), own[other].mac,
                    far.model.port_name.format(n=far.uplink), far.model.descr,
                )  # fmt: skip
                roles[port] = ("downlink", other)
        else:
            others = [h for o in wiring if o is not w for h in hosts_on(o.device_id)]
            learnt[w.uplink] = others + behind + upstream
            back = next(port for port, other in core.downlinks.items() if other == device_id)
            neighbours[w.uplink] = Neighbour(
                _name(devices[core.device_id], core.device_id), own[core.device_id].mac,
                core.model.port_name.format(n=back), core.model.descr,
            )  # fmt: skip
            roles[w.uplink] = ("uplink", core.device_id)
        for port, (role, _) in roles.items():
            peer = neighbours.get(port)
            aliases[port] = f"{role} {peer.sys_name}" if peer else role
        spec = SwitchSpec(
            info=SystemInfo(
                name=_name(device, device_id), descr=model.descr, object_id=model.object_id,
                uptime=rng.randrange(10**7, 10**9), contact="it@example.invalid",
                location=str(device.get("name") or ""),
            ),
            model=model, serial=str(device.get("serial") or f"SIM{rng.randrange(10**8):08d}"),
            base_mac=own[device_id].mac, learnt=learnt, neighbours=neighbours, aliases=aliases,
            seed=seed,
        )  # fmt: skip
        manifest["links"][device_id] = {
            spec.port_name(port): {
                "role": role, "neighbour": other, "if_index": spec.if_index(port),
                "bridge_port": port, "macs": len(learnt[port]),
            }
            for port, (role, other) in sorted(roles.items())
        }  # fmt: skip
        _register(manifest, out, device_id, device, switch_recording(spec), ports=model.ports)
        for p in mine:
            manifest["placements"][p.mac] = {
                "host": p.host, "host_kind": p.host_kind, "device": device_id,
                "port": spec.port_name(p.port), "if_index": spec.if_index(p.port),
                "bridge_port": p.port, "vlan": p.vlan, "classified": p.classified,
            }  # fmt: skip

    for d in site.behind:
        if devices[d]["kind"] in ("router", "firewall"):
            arp = _arp_for(devices[d], site.placed) if d == gateway else []
            _simulate_router(d, devices[d], arp, out, manifest, seed)


def _gateway_neighbour(device_id: str, device: Record) -> Neighbour:
    _, _, descr, caps = _router_kind(device)
    mac = device["macs"][0] if device["macs"] else "00:00:00:00:00:00"
    return Neighbour(_name(device, device_id), mac, "ether2" if "bridge" in caps else "internal1",
                     descr, caps)  # fmt: skip


def _router_kind(device: Record) -> tuple[str, str, str, tuple[str, ...]]:
    model = str(device.get("model") or "").upper()
    return next((row for row in _ROUTER_OIDS if row[0] in model), _GENERIC_ROUTER)


def _arp_for(device: Record, placed: Sequence[_Placed]) -> list[tuple[str, str]]:
    """Invented addresses in the gateway's /24 for every host it serves (never polled: data)."""
    try:
        network = ipaddress.ip_network(f"{device.get('ip')}/24", strict=False)
    except ValueError:
        network = ipaddress.ip_network("192.0.2.0/24")  # TEST-NET-1 (RFC 5737)
    free = [
        str(ip) for ip in network.hosts() if ip.packed[-1] >= 20 and str(ip) != device.get("ip")
    ]
    return [(ip, p.mac) for ip, p in zip(free, placed, strict=False)]


def _simulate_router(
    device_id: str, device: Record, arp: list[tuple[str, str]], out: Path,
    manifest: dict[str, Any], seed: int,
) -> None:  # fmt: skip
    rng = seeded_rng(seed, device_id)
    key, object_id, descr, caps = _router_kind(device)
    interfaces = (
        ("ether1", "ether2", "ether3", "ether4", "ether5", "bridge")
        if key == "MIKROTIK"
        else ("wan1", "wan2", "dmz", "internal1", "internal2", "internal3", "internal4")
    )
    lan = 2 if key == "MIKROTIK" else 4
    mac = device["macs"][0] if device["macs"] else mac_from(rng, "00:09:0f")
    spec = RouterSpec(
        info=SystemInfo(
            name=_name(device, device_id), descr=descr, object_id=object_id,
            uptime=rng.randrange(10**7, 10**9), contact="it@example.invalid",
            location=str(device.get("name") or ""), services=6 if "bridge" in caps else 4,
        ),
        model=str(device.get("model") or descr),
        serial=str(device.get("serial") or f"SIM{rng.randrange(10**8):08d}"),
        base_mac=mac, interfaces=interfaces, lan=lan, arp=arp,
        arp_table="media" if key == "MIKROTIK" else "physical",
    )  # fmt: skip
    for ip, host_mac in arp:
        manifest["arp"][host_mac] = {"device": device_id, "ip": ip, "if_index": lan}
    _register(manifest, out, device_id, device, router_recording(spec))


def _simulate_other(
    device_id: str, device: Record, out: Path, manifest: dict[str, Any], seed: int
) -> None:
    """Printers anywhere, and devices of a unit without switches."""
    rng = seeded_rng(seed, device_id)
    if device["kind"] in ("router", "firewall"):
        _simulate_router(device_id, device, [], out, manifest, seed)
        return
    if device["kind"] != "printer":
        mac = device["macs"][0] if device["macs"] else mac_from(rng, "02:00:00")
        rec = Recording()
        model = str(device.get("model") or "device")
        info = SystemInfo(_name(device, device_id), model, "1.3.6.1.4.1.8072.3.2.10")
        add_system(rec, info)
        add_interfaces(rec, [Port(1, "eth0", "eth0", mac)])
        _register(manifest, out, device_id, device, rec)
        return
    spec = _printer_spec(device_id, device, rng, low=not manifest["printers"])
    manifest["printers"][device_id] = {
        "status": spec.status, "pages": spec.pages, "errors": list(spec.errors),
        "alerts": [a.description for a in spec.alerts],
        "supplies": [
            {"name": s.description, "colour": s.colour, "kind": s.kind, "level": s.level,
             "max_capacity": s.max_capacity, "percent": round(100 * s.level / s.max_capacity)}
            for s in spec.supplies
        ],
    }  # fmt: skip
    _register(manifest, out, device_id, device, printer_recording(spec))


def _printer_spec(device_id: str, device: Record, rng: random.Random, *, low: bool) -> PrinterSpec:
    """A mono laser, or a colour one when the model says so; the first printer is low on toner."""
    model = str(device.get("model") or "HP LaserJet Pro M404dn")
    colour = "COLOR" in model.upper() or "MFP M47" in model.upper()
    colours = _COLOURS if colour else _COLOURS[:1]
    supplies = [
        Supply(
            f"{c.capitalize()} Cartridge HP {'414A' if colour else '58A'}", c, rng.randrange(25, 96)
        )
        for c in colours
    ]
    if low:
        supplies[0] = Supply(supplies[0].description, supplies[0].colour, 6)
    supplies.append(Supply("Imaging Drum", None, rng.randrange(40, 100), kind="opc"))
    alerts = (Alert(f"{colours[0].capitalize()} cartridge low"),) if low else ()
    mac = device["macs"][0] if device["macs"] else mac_from(rng, "3c:52:82")
    return PrinterSpec(
        info=SystemInfo(
            name=_name(device, device_id),
            descr=f"HP ETHERNET MULTI-ENVIRONMENT, {model}", object_id=_HP_PRINTER,
            uptime=rng.randrange(10**6, 10**8), contact="it@example.invalid",
            location=str(device.get("name") or ""), services=72,
        ),
        model=model, serial=str(device.get("serial") or f"PHB{rng.randrange(10**7):07d}"), mac=mac,
        supplies=tuple(supplies), pages=rng.randrange(5_000, 120_000),
        errors=("lowToner",) if low else (), alerts=alerts,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m controller.discovery.simulate --org FILE --out DIR [--classified ID]``."""
    parser = argparse.ArgumentParser(
        prog="python -m controller.discovery.simulate",
        description="Write snmpsim recordings for an organisation file's network devices.",
    )
    parser.add_argument("--org", type=Path, required=True, help="the organisation file (YAML)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the recordings")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--classified", action="append", default=[], metavar="ASSET_ID",
        help="put this classified computer on a switch port (the tripwire scenario); repeatable",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        manifest = simulate_organisation(
            args.org, args.out, seed=args.seed, classified_on_port=args.classified
        )
    except (SimulationError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{len(manifest['devices'])} recordings and {MANIFEST} in {args.out}: "
        f"{len(manifest['placements'])} hosts on switch ports, "
        f"{len(manifest['unplaced'])} not placed"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
