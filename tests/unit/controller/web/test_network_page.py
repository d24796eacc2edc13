"""The Network page through HTTP on both databases: devices and their last poll, one device's
ports and MAC table with each MAC's owner, the MAC search, printers with toner, port shutdowns,
"poll now" (a request only, audited), the host page's switch port, scopes and redaction.

The polled state is written as the SNMP worker stores it (the rows of migration 0009), so the
pages are tested on the same tables the worker fills.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controller.settings import load_settings
from controller.store.db import make_engine, session_factory
from controller.store.models import (
    Agent,
    ArpEntry,
    Asset,
    AssetMac,
    AuditEntry,
    Job,
    MacSighting,
    NetDeviceState,
    NetInterface,
    NetworkDevice,
    Office,
    PortAction,
    PrinterState,
)
from tests.unit.controller.web.conftest import PASSWORD, District, Web

AGENT_A_MAC = "52:54:00:12:34:56"
AGENT_B_MAC = "52:54:00:bb:bb:bb"
CLASSIFIED_MAC = "d8:9e:f3:00:00:01"
UNMANAGED_MAC = "02:00:00:00:00:99"
#: The hostile sysName of commune B's switch: pages must show it as text.
HOSTILE = "<script>window.__xss=1</script>"


@dataclass
class Network:
    """What :func:`network` stored: the ids the tests look for."""

    now: datetime
    pending_a: int
    applied_a: int
    pending_b: int


def _write(web: Web) -> Iterator[Session]:
    settings = load_settings(web.data_dir)
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine).begin() as s:
            yield s
    finally:
        engine.dispose()


def _device(s: Session, device_id: str, unit: str, kind: str, **more: Any) -> None:
    s.add(
        NetworkDevice(
            id=device_id,
            kind=kind,
            name=more.pop("name", device_id),
            unit_id=unit,
            ip=more.pop("ip", None),
            macs=more.pop("macs", []),
            **more,
        )
    )


def _port(s: Session, device_id: str, if_index: int, name: str, at: datetime, **more: Any) -> None:
    s.add(
        NetInterface(
            device_id=device_id,
            if_index=if_index,
            name=name,
            admin_up=True,
            oper_up=True,
            speed_mbps=1000,
            in_errors=0,
            out_errors=3,
            updated_at=at,
            **more,
        )
    )


def _seen(
    s: Session, mac: str, device_id: str, if_index: int, vlan: int, first: datetime, last: datetime
) -> None:
    s.add(
        MacSighting(
            mac=mac,
            device_id=device_id,
            if_index=if_index,
            vlan=vlan,
            first_seen=first,
            last_seen=last,
        )
    )


@pytest.fixture
def network(web: Web, district: District) -> Network:
    """Commune A: a switch (two access ports, an uplink), a router, a printer, a classified
    computer's asset; commune B: a switch whose last poll failed. Sightings, ARP, port actions.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    hour = timedelta(hours=1)
    for s in _write(web):
        s.execute(update(Agent).where(Agent.id == "agent-xa-b").values(macs=[AGENT_B_MAC]))
        s.add(Office(unit_id="xa-a", id="van-phong", name="Văn phòng xã"))
        _device(
            s,
            "sw-a",
            "xa-a",
            "switch",
            name="Switch xã A",
            ip="10.0.0.2",
            model="Cisco CBS350",
            serial="FOC111",
            snmp_credential=None,
        )
        _device(s, "rt-a", "xa-a", "router", ip="10.0.0.1", macs=["00:09:0F:AA:00:01"])
        _device(
            s,
            "np-a",
            "xa-a",
            "printer",
            name="Máy in văn phòng",
            ip="10.0.0.50",
            office_id="van-phong",
            model="HP LaserJet",
        )
        _device(s, "sw-b", "xa-b", "switch", ip="10.1.0.2")
        s.add(
            Asset(
                id="may-mat-01",
                kind="desktop",
                unit_id="xa-a",
                office_id="van-phong",
                hostname="MAT-PC-01",
                classification="classified",
            )
        )
        s.flush()
        s.add(AssetMac(asset_id="may-mat-01", mac=CLASSIFIED_MAC))
        s.add(
            NetDeviceState(
                device_id="sw-a",
                polled_at=now - 5 * timedelta(minutes=1),
                ok_at=now - 5 * timedelta(minutes=1),
                elapsed_s=0.42,
                profile="generic-switch",
                sys_name="sw-a.xa-a",
                serial="FOC999",
                uptime_s=3 * 86400,
                values=812,
            )
        )
        s.add(
            NetDeviceState(
                device_id="sw-b",
                polled_at=now - hour,
                ok_at=now - 2 * hour,
                error="timeout",
                sys_name=HOSTILE,
                values=0,
            )
        )
        s.add(NetDeviceState(device_id="np-a", polled_at=now, ok_at=now, values=40))
        _port(s, "sw-a", 1, "Gi0/1", now, mac_count=2, alias="Phòng kế toán")
        _port(s, "sw-a", 2, "Gi0/2", now, mac_count=1)
        _port(
            s,
            "sw-a",
            24,
            "Gi0/24",
            now,
            mac_count=120,
            uplink=True,
            uplink_reason="lldp",
            neighbour={"sys_name": "core-sw.huyen", "port_id": "Te1/0/7", "chassis_id": "x"},
        )
        _port(s, "sw-b", 1, "Fa0/1", now - 2 * hour)
        _seen(s, AGENT_A_MAC, "sw-a", 1, 10, now - 48 * hour, now)
        _seen(s, UNMANAGED_MAC, "sw-a", 1, 10, now - 3 * hour, now)
        _seen(s, CLASSIFIED_MAC, "sw-a", 2, 20, now - hour, now)
        # Where the classified computer was before: gone from the table, still in its history.
        _seen(s, CLASSIFIED_MAC, "sw-a", 1, 10, now - 72 * hour, now - 30 * hour)
        for n in range(120):
            _seen(s, f"02:10:00:00:{n // 256:02x}:{n % 256:02x}", "sw-a", 24, 1, now - hour, now)
        _seen(s, AGENT_B_MAC, "sw-b", 1, 30, now - 6 * hour, now - 4 * hour)
        s.add(
            ArpEntry(
                device_id="rt-a",
                ip="10.0.0.77",
                mac=UNMANAGED_MAC,
                if_index=1,
                first_seen=now - 3 * hour,
                last_seen=now,
            )
        )
        s.add(
            PrinterState(
                device_id="np-a",
                updated_at=now,
                status="idle",
                device_status="warning",
                errors=["lowToner"],
                pages=12345,
                alerts=["Hộp mực đen sắp hết"],
                supplies=[
                    {
                        "index": 1,
                        "name": "Black Toner",
                        "colour": "black",
                        "level": 5,
                        "max": 100,
                        "percent": 5,
                        "kind": "toner",
                    },
                    {
                        "index": 2,
                        "name": "Cyan Toner",
                        "colour": "cyan",
                        "level": 60,
                        "max": 100,
                        "percent": 60,
                        "kind": "toner",
                    },
                    {
                        "index": 3,
                        "name": "Waste",
                        "colour": None,
                        "level": -3,
                        "max": -2,
                        "percent": None,
                        "kind": "wasteToner",
                    },
                ],
            )
        )
        pending_a = PortAction(
            device_id="sw-a",
            if_index=2,
            action="down",
            state="pending",
            unit_id="xa-a",
            subject="asset:may-mat-01",
            mac=CLASSIFIED_MAC,
            requested_by="system",
            requested_at=now - hour,
        )
        applied_a = PortAction(
            device_id="sw-a",
            if_index=1,
            action="down",
            state="applied",
            unit_id="xa-a",
            reason="thử nghiệm",
            requested_by="user:op",
            requested_at=now - 3 * hour,
            decided_by="user:op",
            decided_at=now - 3 * hour,
            applied_at=now - 3 * hour,
        )
        pending_b = PortAction(
            device_id="sw-b",
            if_index=1,
            action="down",
            state="pending",
            unit_id="xa-b",
            requested_by="system",
            requested_at=now,
        )
        s.add_all([pending_a, applied_a, pending_b])
        s.flush()
        ids = (pending_a.id, applied_a.id, pending_b.id)
    return Network(now, *ids)


def _row(html: str, data_id: str) -> str:
    """The table row ``tr[data-id=data_id]`` of a page (its HTML up to ``</tr>``)."""
    start = html.index(f'data-id="{data_id}"')
    return html[start : html.index("</tr>", start)]


PAGES = [
    "/network",
    "/network/devices/sw-a",
    "/network/devices/np-a",
    f"/network/macs?mac={CLASSIFIED_MAC}",
    "/network/macs",
    "/network/printers",
    "/network/ports",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_network_page_renders_in_both_languages(
    web: Web, network: Network, path: str
) -> None:
    web.login()
    vi = web.client.get(path)
    assert vi.status_code == 200, vi.text
    assert '<html lang="vi">' in vi.text
    assert 'href="/network" aria-current="page"' in vi.text
    assert "style=" not in vi.text and "<script>" not in vi.text.split("</head>", 1)[1]
    web.post("/settings/language", {"locale": "en"})
    en = web.client.get(path)
    assert en.status_code == 200
    assert '<html lang="en">' in en.text


def test_devices_list_shows_the_last_poll_and_stays_in_scope(web: Web, network: Network) -> None:
    web.login()
    html = web.client.get("/network").text
    sw_a = _row(html, "sw-a")
    assert "Switch xã A" in sw_a and "10.0.0.2" in sw_a and "sw-a.xa-a" in sw_a
    assert "Cisco CBS350" in sw_a and "FOC999" in sw_a  # the serial differs from the register's
    assert "812" in sw_a and "3 ngày" in sw_a
    sw_b = _row(html, "sw-b")
    assert "timeout" in sw_b and "poll-error" in sw_b
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in sw_b and HOSTILE not in html
    failing = web.client.get("/network?status=error").text
    assert 'data-id="sw-b"' in failing and 'data-id="sw-a"' not in failing
    assert 'data-id="rt-a"' in web.client.get("/network?kind=router").text
    assert 'data-id="sw-a"' not in web.client.get("/network?q=10.1.0").text
    assert web.client.get("/network?sort=-polled").status_code == 200
    assert web.client.get("/network?sort=nonsense").status_code == 400
    assert web.client.get("/network?status=maybe").status_code == 400
    assert web.client.get("/network?page=0").status_code == 400

    web.login("op-a", PASSWORD)
    mine = web.client.get("/network").text
    assert 'data-id="sw-a"' in mine and 'data-id="sw-b"' not in mine
    assert web.client.get("/network?unit=xa-b").status_code == 404
    assert web.client.get("/network/devices/sw-b").status_code == 404
    assert web.client.get("/network/devices/nowhere").status_code == 404


def test_device_page_ports_and_mac_table_with_owners(web: Web, network: Network) -> None:
    web.login()
    html = web.client.get("/network/devices/sw-a").text
    uplink = _row(html, "port-24")
    assert "Gi0/24" in uplink and "core-sw.huyen" in uplink and "Te1/0/7" in uplink
    assert "badge uplink" in uplink and "LLDP" in uplink
    assert "Phòng kế toán" in _row(html, "port-1")
    mine = _row(html, AGENT_A_MAC)
    assert 'href="/hosts/agent-xa-a"' in mine and "pc-a-&lt;b&gt;01&lt;/b&gt;" in mine
    unmanaged = _row(html, UNMANAGED_MAC)
    assert "không quản lý" in unmanaged and "10.0.0.77" in unmanaged  # IP from the router's ARP
    classified = _row(html, CLASSIFIED_MAC)
    # An administrator may see classified computers' locations: host name and office shown.
    assert "sev critical" in classified and "may-mat-01" in classified
    assert "MAT-PC-01" in classified and "van-phong" in classified
    assert "Gi0/2" in classified and ">20<" in classified
    # 123 MACs now (the stale one is history only): 100 on the first page, a second page.
    assert "(123)" in html and "page=2" in html
    page2 = web.client.get("/network/devices/sw-a?page=2").text
    assert page2.count("<code>02:10:00") == 23
    access = web.client.get("/network/devices/sw-a?port=access").text
    assert "(3)" in access and "<code>02:10:00" not in access
    only_port_2 = web.client.get("/network/devices/sw-a?port=2").text
    assert CLASSIFIED_MAC in only_port_2 and AGENT_A_MAC not in only_port_2
    oldest = web.client.get("/network/devices/sw-a?sort=first_seen").text
    assert oldest.index(f"<code>{AGENT_A_MAC}") < oldest.index(f"<code>{UNMANAGED_MAC}")
    assert oldest.index(f"<code>{UNMANAGED_MAC}") < oldest.index("<code>02:10:00")
    assert web.client.get("/network/devices/sw-a?port=lan").status_code == 400
    assert web.client.get("/network/devices/sw-a?sort=owner").status_code == 400


def test_classified_computer_shows_only_its_asset_id_without_the_locations_right(
    web: Web, network: Network
) -> None:
    web.login("op", PASSWORD)  # a district operator: not allowed classified locations
    html = web.client.get("/network/devices/sw-a").text
    classified = _row(html, CLASSIFIED_MAC)
    assert "sev critical" in classified and "may-mat-01" in classified
    assert "MAT-PC-01" not in html and "van-phong" not in classified
    found = web.client.get(f"/network/macs?mac={CLASSIFIED_MAC}").text
    assert "may-mat-01" in found and "MAT-PC-01" not in found


def test_mac_search_finds_ports_history_and_arp_in_scope(web: Web, network: Network) -> None:
    web.login()
    html = web.client.get("/network/macs?mac=D8-9E-F3-00-00-01").text
    assert f'data-id="{CLASSIFIED_MAC}"' in html
    # Now on port Gi0/2, VLAN 20; before on Gi0/1, VLAN 10 (gone from the table).
    assert "Gi0/2" in html and "VLAN 20" in html
    assert html.count("<td>Gi0/1") == 1 and "đã rời" in html
    unmanaged = web.client.get("/network/macs?mac=0200.0000.0099").text
    assert "10.0.0.77" in unmanaged and "không quản lý" in unmanaged
    prefix = web.client.get("/network/macs?mac=02:10:00:00:00").text
    assert prefix.count('class="panel mac-result"') == 50  # a prefix lists at most 50 MACs
    assert "empty-state" in web.client.get("/network/macs?mac=aa:aa:aa:aa:aa:aa").text
    assert web.client.get("/network/macs?mac=not-a-mac").status_code == 400
    assert web.client.get("/network/macs?mac=ab").status_code == 400

    web.login("op-a", PASSWORD)
    assert f'data-id="{AGENT_B_MAC}"' not in web.client.get(f"/network/macs?mac={AGENT_B_MAC}").text


def test_printers_per_office_with_toner_as_text_too(web: Web, network: Network) -> None:
    web.login()
    html = web.client.get("/network/printers").text
    row = _row(html, "np-a")
    assert "Văn phòng xã" in row and "Máy in văn phòng" in row and "12.345" in row
    assert "lowToner" in row and "Hộp mực đen sắp hết" in row
    assert '<meter min="0" max="100"' in row and 'value="5"' in row and "5%" in row
    assert "60%" in row and "không rõ mức" in row  # the waste container says nothing
    assert row.startswith('data-id="np-a" class="low"')
    assert "1 máy in sắp hết mực" in html
    web.login("op-a", PASSWORD)
    assert web.client.get("/network/printers?unit=xa-b").status_code == 404


def test_port_actions_buttons_by_role_and_scope(web: Web, network: Network) -> None:
    web.login("op-a", PASSWORD)
    html = web.client.get("/network/ports").text
    pending = _row(html, f"action-{network.pending_a}")
    assert f'action="/network/ports/{network.pending_a}/approve"' in pending
    assert f'action="/network/ports/{network.pending_a}/reject"' in pending
    assert 'name="reason"' in pending and 'name="csrf_token"' in pending
    applied = _row(html, f"action-{network.applied_a}")
    assert f'action="/network/ports/{network.applied_a}/undo"' in applied
    assert "/approve" not in applied
    assert f'data-id="action-{network.pending_b}"' not in html
    # The waiting ones are on the devices list too, and counted in the sub-menu.
    front = web.client.get("/network").text
    assert f'data-id="action-{network.pending_a}"' in front
    assert f'data-id="action-{network.applied_a}"' not in front

    # Approve through the form's route (controller/web/pages/ports.py): back to the list.
    reply = web.post(f"/network/ports/{network.pending_a}/approve", {"next": "/network/ports"})
    assert reply.status_code == 303
    assert reply.headers["location"] == "/network/ports?done=port_approved"
    approved = _row(web.client.get("/network/ports").text, f"action-{network.pending_a}")
    assert "đã duyệt, chờ tiến trình nền" in approved and "/approve" not in approved
    assert f"/network/ports/{network.pending_a}/reject" in approved  # withdrawn until applied

    web.login("aud", PASSWORD)
    as_auditor = web.client.get("/network/ports").text
    assert f'data-id="action-{network.pending_b}"' in as_auditor
    assert "/approve" not in as_auditor and "/undo" not in as_auditor


def test_poll_now_only_requests_a_round_and_is_audited(web: Web, network: Network) -> None:
    web.login("aud", PASSWORD)
    assert 'action="/network/poll"' not in web.client.get("/network").text
    assert web.post("/network/poll").status_code == 403
    web.login("op-a", PASSWORD)
    assert 'action="/network/poll"' in web.client.get("/network").text
    refused = web.client.post("/network/poll", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    reply = web.post("/network/poll")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/network?done=poll_requested"
    after = web.client.get(reply.headers["location"]).text
    assert 'class="flash ok"' in after and "govguard worker" in after
    for s in _write(web):
        job = s.scalar(select(Job).where(Job.name == "snmp.round"))
        assert job is not None and job.requested_at is not None and job.started_at is None
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "snmp.round_requested"))
        assert entry is not None and entry.actor == "user:op-a"
        assert entry.target == "job:snmp.round"


def test_host_page_shows_its_switch_port(web: Web, network: Network) -> None:
    web.login()
    html = web.client.get("/hosts/agent-xa-a").text
    assert "Switch Switch xã A, cổng Gi0/1, VLAN 10, lần cuối" in html
    assert 'href="/network/devices/sw-a"' in html
    other = web.client.get("/hosts/agent-xa-b").text
    # Seen four hours ago (stale after three): the last place it was, no longer in the table.
    assert "cổng Fa0/1, VLAN 30" in other and "không còn trong bảng" in other
    web.post("/settings/language", {"locale": "en"})
    english = web.client.get("/hosts/agent-xa-a").text
    assert "Switch Switch xã A, port Gi0/1, VLAN 10, last seen" in english


def test_empty_network_says_how_to_configure_polling(web: Web, district: District) -> None:
    web.login()
    html = web.client.get("/network").text
    assert "empty-state" in html and "docs/discovery.md" in html and "network_devices" in html
    assert "docs/discovery.md" in web.client.get("/network/printers").text
    assert "không thấy trên switch" in web.client.get("/hosts/agent-xa-a").text
