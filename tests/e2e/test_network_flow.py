"""The Network page in headless chromium (issue 7, item 7): devices and their last poll, "poll
now", a switch's ports and MAC table with whose each MAC is (a computer with an agent, a
classified computer, an unmanaged device), the host page's switch port, the MAC search, printers
with toner, and approving a port shutdown; then a commune's operator who sees only its commune.

The polled state is written into the running controller's database as the SNMP worker stores it
(the tables of migration 0009), for devices of the example district's organisation file: the
dashboard is what is tested here, the poller has its own tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.e2e.browser import Trap, login, shot
from tests.e2e.world import ADMIN, COMMUNE_A, COMMUNE_B, World

pytestmark = pytest.mark.integration

SWITCH = f"{COMMUNE_B}-sw-01"
OTHER_SWITCH = f"{COMMUNE_A}-sw-01"
PRINTER = "huyen-cho-moi-van-phong-np-01"
#: Commune B's classified computer in the example organisation file, and its MAC.
CLASSIFIED_ASSET = f"{COMMUNE_B}-pc-90"
CLASSIFIED_MAC = "d8:9e:f3:65:8f:ac"
UNMANAGED_MAC = "02:00:5e:10:00:99"


@dataclass(frozen=True)
class Seeded:
    """What :func:`network` stored in the world's database."""

    host_agent_id: str
    host_mac: str
    pending_action: int


def _seed(session: Session, world: World) -> Seeded:
    from controller.store.models import (
        MacSighting,
        NetDeviceState,
        NetInterface,
        PortAction,
        PrinterState,
    )

    now = datetime.now(UTC).replace(microsecond=0)
    hour = timedelta(hours=1)
    host = world.hosts_in(COMMUNE_B)[0]
    for device, name, values in ((SWITCH, "sw-nhu-co", 640), (OTHER_SWITCH, "sw-yen-dinh", 512)):
        session.add(
            NetDeviceState(
                device_id=device,
                polled_at=now - timedelta(minutes=4),
                ok_at=now - timedelta(minutes=4),
                elapsed_s=0.31,
                profile="cisco-cbs",
                sys_name=name,
                uptime_s=12 * 86400,
                values=values,
            )
        )
    ports = ((1, "gi1", False, None), (2, "gi2", False, None), (3, "gi3", False, None))
    for if_index, name, uplink, reason in (*ports, (24, "gi24", True, "lldp")):
        session.add(
            NetInterface(
                device_id=SWITCH,
                if_index=if_index,
                name=name,
                admin_up=True,
                oper_up=True,
                speed_mbps=1000,
                in_errors=0,
                out_errors=0,
                mac_count=1 if not uplink else 40,
                uplink=uplink,
                uplink_reason=reason,
                neighbour={"sys_name": "core.huyen-cho-moi", "port_id": "Te1/0/3"}
                if uplink
                else None,
                updated_at=now,
            )
        )
    for mac, if_index, vlan in ((host.mac, 1, 10), (UNMANAGED_MAC, 2, 10), (CLASSIFIED_MAC, 3, 20)):
        session.add(
            MacSighting(
                mac=mac,
                device_id=SWITCH,
                if_index=if_index,
                vlan=vlan,
                first_seen=now - 2 * hour,
                last_seen=now - timedelta(minutes=4),
            )
        )
    session.add(
        PrinterState(
            device_id=PRINTER,
            updated_at=now,
            status="idle",
            device_status="warning",
            errors=["lowToner"],
            pages=48213,
            alerts=["Toner Low"],
            supplies=[
                {"index": 1, "name": "Black Cartridge HP CF259A", "colour": "black",
                 "level": 4, "max": 100, "percent": 4, "kind": "toner"},
                {"index": 2, "name": "Imaging Drum", "colour": None,
                 "level": 70, "max": 100, "percent": 70, "kind": "opc"},
            ],
        )
    )  # fmt: skip
    action = PortAction(
        device_id=SWITCH,
        if_index=3,
        action="down",
        state="pending",
        unit_id=COMMUNE_B,
        subject=f"asset:{CLASSIFIED_ASSET}",
        mac=CLASSIFIED_MAC,
        requested_by="controller:tripwire",
        requested_at=now - timedelta(minutes=3),
    )
    session.add(action)
    session.flush()
    return Seeded(host.agent_id, host.mac, action.id)


@pytest.fixture(scope="module")
def network(world: World) -> Iterator[Seeded]:
    """The polled network of commune B in the world's database."""
    from controller.store.db import make_engine

    engine = make_engine(world.controller.database_url)
    try:
        with Session(engine) as session, session.begin():
            seeded = _seed(session, world)
        yield seeded
    finally:
        engine.dispose()


def _action_state(world: World, action_id: int) -> str:
    from controller.store.models import PortAction

    with world.db() as session:
        state = session.scalar(select(PortAction.state).where(PortAction.id == action_id))
        assert state is not None
        return state


def test_network_page_in_vietnamese(page: Page, world: World, trap: Trap, network: Seeded) -> None:
    login(page, world, ADMIN)
    page.click('nav a[href="/network"]')
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("h1")).to_have_text("Mạng")
    row = page.locator(f'table.devices tr[data-id="{SWITCH}"]')
    expect(row).to_contain_text("sw-nhu-co")
    expect(row).to_contain_text("đã trả lời")
    expect(row).to_contain_text("640")
    # Devices of the organisation file never polled say so.
    expect(page.locator(f'tr[data-id="{COMMUNE_B}-router-01"]')).to_contain_text("chưa thăm dò")
    shot(page, "vi-network")

    # -- poll now: only a request the worker takes; audited ------------------------------------
    with page.expect_navigation():
        page.click("#poll-now button[type=submit]")
    expect(page.locator(".flash.ok")).to_contain_text("govguard worker")
    expect(page.locator("section.poll")).to_contain_text("chờ tiến trình nền")
    from controller.store.models import AuditEntry, Job

    with world.db() as session:
        job = session.scalar(select(Job).where(Job.name == "snmp.round"))
        assert job is not None and job.requested_at is not None
        audited = session.scalar(
            select(AuditEntry).where(AuditEntry.action == "snmp.round_requested")
        )
        assert audited is not None and audited.actor == f"user:{ADMIN.username}"

    # -- the switch: ports, and its MAC table with whose each MAC is ----------------------------
    with page.expect_navigation():
        row.locator(f'a[href="/network/devices/{SWITCH}"]').click()
    uplink = page.locator('table.ports tr[data-id="port-24"]')
    expect(uplink.locator(".badge.uplink")).to_be_visible()
    expect(uplink).to_contain_text("core.huyen-cho-moi")
    classified = page.locator(f'table.macs tr[data-id="{CLASSIFIED_MAC}"]')
    expect(classified.locator(".sev.critical")).to_have_text("máy tính mật")
    expect(classified).to_contain_text(CLASSIFIED_ASSET)
    expect(page.locator(f'table.macs tr[data-id="{UNMANAGED_MAC}"]')).to_contain_text(
        "không quản lý"
    )
    shot(page, "vi-network-device")
    mine = page.locator(f'table.macs tr[data-id="{network.host_mac}"]')
    with page.expect_navigation():
        mine.locator(f'a[href="/hosts/{network.host_agent_id}"]').click()
    expect(page.locator("dd.switch-port")).to_contain_text(
        "Switch Switch trụ sở, cổng gi1, VLAN 10, lần cuối"
    )
    shot(page, "vi-host-switch-port")

    # -- the MAC search, in another notation ----------------------------------------------------
    page.goto(f"{world.url}/network")
    page.fill("form.mac-search input[name=mac]", CLASSIFIED_MAC.upper().replace(":", "-"))
    with page.expect_navigation():
        page.click("form.mac-search button[type=submit]")
    result = page.locator(f'section.mac-result[data-id="{CLASSIFIED_MAC}"]')
    expect(result.locator("p.located")).to_contain_text("gi3")
    expect(result.locator("p.located")).to_contain_text("VLAN 20")
    shot(page, "vi-network-mac-search")

    # -- printers: toner as a gauge and as text --------------------------------------------------
    page.click('nav.tabs a[href="/network/printers"]')
    printer = page.locator(f'table.printers tr[data-id="{PRINTER}"]')
    expect(printer.locator("meter").first).to_have_attribute("value", "4")
    expect(printer).to_contain_text("4%")
    expect(printer).to_contain_text("lowToner")
    shot(page, "vi-network-printers")

    # -- approve the pending shutdown: the state changes, the worker will send the SET ----------
    page.click('nav.tabs a[href="/network/ports"]')
    pending = page.locator(f'tr[data-id="action-{network.pending_action}"]')
    expect(pending.locator(".action-state")).to_have_text("chờ phê duyệt")
    trap.expect_confirm()
    with page.expect_navigation():
        pending.locator(
            f'form[action="/network/ports/{network.pending_action}/approve"] button'
        ).click()
    assert trap.confirms == 0, "approving did not ask for confirmation"
    expect(page.locator(".flash.ok")).to_be_visible()
    assert "/network/ports" in page.url
    expect(pending.locator(".action-state")).to_contain_text("đã duyệt")
    assert _action_state(world, network.pending_action) == "approved"
    shot(page, "vi-network-ports-approved")

    # -- the same page in English ----------------------------------------------------------------
    with page.expect_navigation():
        page.click("form.lang-switch button[value=en]")
    page.goto(f"{world.url}/network")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Network")
    shot(page, "en-network")
    with page.expect_navigation():
        page.click("form.lang-switch button[value=vi]")


def test_a_communes_operator_sees_only_its_commune(
    page: Page, world: World, trap: Trap, network: Seeded
) -> None:
    login(page, world, world.account("xa-operator"))
    page.goto(f"{world.url}/network")
    expect(page.locator(f'tr[data-id="{OTHER_SWITCH}"]')).to_be_visible()
    assert page.locator(f'tr[data-id="{SWITCH}"]').count() == 0
    trap.allow_http_errors()
    reply = page.goto(f"{world.url}/network/devices/{SWITCH}")
    assert reply is not None and reply.status == 404
    page.goto(f"{world.url}/network/macs?mac={CLASSIFIED_MAC}")
    expect(page.locator(".empty-state")).to_be_visible()
    page.goto(f"{world.url}/network/ports")
    assert page.locator(f'tr[data-id="action-{network.pending_action}"]').count() == 0
