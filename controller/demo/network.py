"""The demo's simulated network: snmpsim recordings of the district and the organisation file
that points the devices at them.

:func:`controller.discovery.simulate.simulate_organisation` writes a recording per network
device of the example district with the PCs learnt on their switch ports, and one classified
computer plugged into a port (the tripwire's scenario: the worker's round raises the critical
BMNN-04 finding). The demo's copy of the organisation file differs from the example in three
ways only: every device is at the simulator (``127.0.0.1:<port>``) with a credential of its
own (the simulator picks a recording by community: the device id), those credentials' secrets
are in ``<data dir>/secrets/snmp.yaml`` (0600) as operators keep them, and every unit's name
ends in " (demo)" so that no page can be taken for a real district's.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from controller.discovery import ber
from controller.discovery.credentials import credentials_path
from controller.discovery.simulate import simulate_organisation

#: What every unit's name ends with in the demo.
DEMO_MARK = " (demo)"
LOOPBACK = "127.0.0.1"
#: sysUpTime.0, asked to see whether the simulator answers.
_SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)


@dataclass(frozen=True)
class DemoNetwork:
    """The simulated network of one demo run."""

    recordings: Path
    organisation: Path
    port: int
    #: The classified computer plugged into a switch port.
    classified: str
    #: Device id → its credential's name (and community).
    communities: dict[str, str]
    manifest: dict[str, Any]


def free_udp_port() -> int:
    """A UDP port of the loopback address that nothing is bound to now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def first_classified(document: dict[str, Any]) -> str:
    """The first classified computer with a MAC of an organisation document (by id)."""
    found = sorted(
        asset["id"]
        for asset in document.get("assets") or []
        if asset.get("classification") == "classified" and asset.get("macs")
    )
    if not found:
        raise ValueError("the organisation file has no classified computer with a MAC")
    return str(found[0])


def prepare_network(example: Path, folder: Path) -> DemoNetwork:
    """Recordings in ``folder/recordings`` and the demo's organisation file
    ``folder/district.yaml`` for a simulator on a free loopback port."""
    document = yaml.safe_load(example.read_text(encoding="utf-8"))
    classified = first_classified(document)
    recordings = folder / "recordings"
    manifest = simulate_organisation(example, recordings, classified_on_port=[classified])
    port = free_udp_port()
    communities: dict[str, str] = {}
    for device in document.get("network_devices") or []:
        name = f"demo-{device['id']}"
        device["ip"] = f"{LOOPBACK}:{port}"
        device["snmp_credential"] = name
        communities[device["id"]] = name
    document["snmp_credentials"] = [
        {"name": name, "version": "v2c", "description": "snmpsim (demo)"}
        for name in communities.values()
    ]
    for unit in document.get("units") or []:
        if not str(unit["name"]).endswith(DEMO_MARK):
            unit["name"] = f"{unit['name']}{DEMO_MARK}"
    document["title"] = f"{document.get('title') or 'govguard'}{DEMO_MARK}"
    organisation = folder / "district.yaml"
    organisation.write_text(
        "# The demo's copy of the example district (made by `govguard demo`; do not edit).\n"
        + yaml.safe_dump(document, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return DemoNetwork(recordings, organisation, port, classified, communities, manifest)


def write_secrets(data_dir: Path, network: DemoNetwork) -> None:
    """The credentials' communities in the data directory's ``secrets/snmp.yaml`` (0600)."""
    path = credentials_path(data_dir)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    secrets = {
        name: {"version": "v2c", "community": device_id}
        for device_id, name in network.communities.items()
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        yaml.safe_dump(secrets, out, sort_keys=True)
    path.chmod(0o600)


def snmp_answers(port: int, community: str, timeout_s: float = 0.5) -> bool:
    """Whether the simulator at ``127.0.0.1:port`` answers a GET for ``community``."""
    request = ber.encode_request(ber.GET, 1, community.encode(), [(_SYS_UPTIME, None)])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.sendto(request, (LOOPBACK, port))
            data, _ = sock.recvfrom(65535)
            ber.decode_response(data)
        except (OSError, ber.BerError):
            return False
    return True
