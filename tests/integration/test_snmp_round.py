"""`govguard snmp poll` against snmpsim serving the access switch and printer recordings.

A PC is located on its access port (not the uplink where the whole building passes), the
printer's toner is stored, the classified PC's MAC on port 7 raises a critical BMNN-04 finding
and its e-mail reaches a loopback SMTP server, and the other commands show what was stored.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
import trustme
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.cli import main
from controller.discovery.rounds import request_round
from controller.notify.config import RouteConfig
from controller.store import db, jobs
from controller.store.discovery_queries import host_locations
from controller.store.models import (
    Asset,
    AssetMac,
    Finding,
    NetInterface,
    NetworkDevice,
    Office,
    PrinterState,
    SnmpCredential,
)
from controller.store.units import ensure_unit
from tests.support.snmpsim import FIXTURES, Simulator, snmpsim
from tests.unit.controller.notify.conftest import free_port, notify_config, start_smtp
from tests.unit.controller.store.factories import make_agent

pytestmark = pytest.mark.integration

UNIT = "ubnd-huyen-cho-moi"
PC1 = "d8:9e:f3:58:fe:96"
CLASSIFIED = "52:54:00:c1:a5:51"
MAILBOX = "cntt@chomoi.gov.vn"
#: Hang guard: the worker looks every 10 s; a round of two simulated devices takes a second.
WORKER_GUARD_S = 60.0


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with snmpsim(FIXTURES) as running:
        yield running


def _organisation(s: Session, port: int) -> None:
    ensure_unit(s, UNIT, "UBND huyện Chợ Mới", kind="legacy_district")
    s.add(Office(unit_id=UNIT, id="vp", name="Văn phòng"))
    s.add_all(
        [
            SnmpCredential(name="sim-switch", version="v2c"),
            SnmpCredential(name="sim-printer", version="v2c"),
        ]
    )
    s.flush()
    s.add_all(
        [
            NetworkDevice(id="sw-01", kind="switch", name="Switch tầng 1", unit_id=UNIT,
                          ip=f"127.0.0.1:{port}", macs=["00:1e:58:31:0a:bc"],
                          snmp_credential="sim-switch"),
            NetworkDevice(id="np-01", kind="printer", name="Máy in mạng", unit_id=UNIT,
                          office_id="vp", ip=f"127.0.0.1:{port}", macs=["3c:52:82:c1:e4:ec"],
                          snmp_credential="sim-printer"),
            Asset(id="mat-01", kind="desktop", unit_id=UNIT, classification="classified"),
        ]
    )  # fmt: skip
    s.flush()
    s.add(AssetMac(asset_id="mat-01", mac=CLASSIFIED))
    make_agent(s, "ag-pc01", unit_id=UNIT, hostname="HUYEN-CHO-PC01", macs=[PC1])


def _configure(data_dir: Path, smtp_port: int, ca_file: Path) -> None:
    secrets = data_dir / "secrets"
    secrets.mkdir(exist_ok=True)
    snmp = secrets / "snmp.yaml"
    snmp.write_text(
        "sim-switch: {version: v2c, community: access-switch}\n"
        "sim-printer: {version: v2c, community: printer}\n",
        encoding="utf-8",
    )
    snmp.chmod(0o600)
    config = notify_config(
        data_dir,
        smtp_port=smtp_port,
        ca_file=ca_file,
        routes=[RouteConfig(unit=UNIT, min_severity="critical", email=[MAILBOX])],
    )
    path = data_dir / "config.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["notify"] = msgspec.to_builtins(config)
    document["snmp"] = {"timeout_s": 1.0, "retries": 0}
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


def test_poll_locates_stores_and_raises_the_classified_alarm(
    sim: Simulator,
    data_dir: Path,
    migrated: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = db.make_engine(migrated)
    sessions = db.session_factory(engine)
    with sessions() as s, s.begin():
        _organisation(s, sim.port)
    smtp_port = free_port()
    smtp, mailbox = start_smtp(trustme.CA(), tmp_path / "mail-ca.pem", smtp_port)
    try:
        _configure(data_dir, smtp_port, tmp_path / "mail-ca.pem")
        code = main(["snmp", "poll", "--data-dir", str(data_dir)])
        out, err = capsys.readouterr()
        assert code == 0, err
        lines = out.splitlines()
        assert any(line.startswith("sw-01") and " ok " in line for line in lines), out
        assert any(line.startswith("np-01") and " ok " in line for line in lines), out
        assert lines[-1].startswith("2 devices (2 ok, 0 failed)"), out
        assert "classified PCs seen: 1" in lines[-1]

        with sessions() as s:
            [place] = host_locations(s, ["ag-pc01"], since=_last_round_at(s))["ag-pc01"]
            assert (place.device_id, place.port_name, place.vlan) == ("sw-01", "gi1/0/1", 10)
            uplink = s.get(NetInterface, ("sw-01", 49))
            assert uplink is not None and (uplink.uplink, uplink.uplink_reason) == (True, "lldp")
            assert uplink.mac_count == 31
            printer = s.get(PrinterState, "np-01")
            assert printer is not None and printer.pages == 48213
            toner = {x["colour"]: x["percent"] for x in printer.supplies if x["colour"]}
            assert toner == {"black": 68, "cyan": 46, "magenta": 5, "yellow": 70}
            live = {
                (f.subject, f.rule_id): f
                for f in s.scalars(select(Finding).where(Finding.open_key.is_not(None)))
            }
            alarm = live[("asset:mat-01", "BMNN-04")]
            assert alarm.severity == "critical"
            assert alarm.evidence[0]["port"] == "gi1/0/7"
            assert ("device:np-01", "PRN-01") in live  # magenta at 5 %
            unmanaged = live[(f"unit:{UNIT}", "NET-01")]
            # Ports 2-4 (PCs this test registers nowhere), the phone on 5 and the devices on
            # 9, 11, 13; not the 30 MACs behind the uplink nor the registered printer on 24.
            assert unmanaged.evidence["macs"] == 7
            assert {e["if_index"] for e in unmanaged.evidence["seen"]} == {2, 3, 4, 5, 9, 11, 13}

        # The critical notice was sent at once, without `govguard serve` running.
        [message] = mailbox.received
        assert message.rcpt_tos == [MAILBOX]
        assert "BMNN-04" in str(message.message["Subject"])

        assert main(["snmp", "devices", "--data-dir", str(data_dir)]) == 0
        out = capsys.readouterr().out
        assert "sw-01" in out and "np-01" in out
        assert main(["snmp", "macs", "--unmanaged", "--data-dir", str(data_dir)]) == 0
        out = capsys.readouterr().out
        assert "00:0b:82:5e:a1:05" in out and PC1 not in out
        assert main(["snmp", "macs", "--device", "sw-01", "--data-dir", str(data_dir)]) == 0
        out = capsys.readouterr().out
        assert "HUYEN-CHO-PC01" in out and "asset mat-01 CLASSIFIED" in out
        assert main(["snmp", "printers", "--data-dir", str(data_dir)]) == 0
        out = capsys.readouterr().out
        assert "magenta 5%" in out and "vp" in out

        # A second poll refreshes the alarm: no second e-mail.
        assert main(["snmp", "poll", "--quiet", "--data-dir", str(data_dir)]) == 0
        out = capsys.readouterr().out
        assert len(out.splitlines()) == 1
        assert len(mailbox.received) == 1
    finally:
        smtp.stop()
        engine.dispose()


def _last_round_at(s: Session) -> datetime:
    """The time of the last round (its job's finish)."""
    job = jobs.get(s, "snmp.round")
    assert job is not None and job.finished_at is not None
    return job.finished_at


def test_bad_input_is_one_line_and_exit_1(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["snmp", "poll", "ghost", "--data-dir", str(data_dir)]) == 1
    assert "unknown network device 'ghost'" in capsys.readouterr().err
    # No secrets file and no environment variables: nothing to poll with.
    assert main(["snmp", "poll", "--data-dir", str(data_dir)]) == 1
    err = capsys.readouterr().err
    assert "snmp.yaml: no such file" in err and err.count("\n") == 1
    secrets = data_dir / "secrets" / "snmp.yaml"
    secrets.parent.mkdir(exist_ok=True)
    secrets.write_text("x: {version: v2c, community: c}\n", encoding="utf-8")
    secrets.chmod(0o644)
    assert main(["snmp", "poll", "--data-dir", str(data_dir)]) == 1
    assert "snmp.yaml" in capsys.readouterr().err
    assert main(["snmp", "macs", "--device", "ghost", "--data-dir", str(data_dir)]) == 1
    assert "unknown network device" in capsys.readouterr().err


def test_the_worker_polls_when_asked_and_stops_on_sigterm(
    sim: Simulator, data_dir: Path, migrated: str, tmp_path: Path
) -> None:
    engine = db.make_engine(migrated)
    sessions = db.session_factory(engine)
    try:
        with sessions() as s, s.begin():
            _organisation(s, sim.port)
        _configure(data_dir, free_port(), tmp_path / "unused-ca.pem")
        path = data_dir / "config.yaml"
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        document["snmp"]["interval_s"] = 0  # only when asked for
        del document["notify"]
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "controller.cli", "worker", "--data-dir", str(data_dir)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            with sessions() as s, s.begin():
                request_round(s, datetime.now(UTC))
            deadline = time.monotonic() + WORKER_GUARD_S
            finished = None
            while finished is None and time.monotonic() < deadline:
                time.sleep(0.5)
                with sessions() as s:
                    job = jobs.get(s, "snmp.round")
                    finished = job.finished_at if job is not None else None
            assert finished is not None, log.read_text(encoding="utf-8")
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=WORKER_GUARD_S) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        text = log.read_text(encoding="utf-8")
        assert "snmp round: 2 devices (2 ok, 0 failed)" in text, text
        assert "Traceback" not in text
        with sessions() as s:
            job = jobs.get(s, "snmp.round")
            assert job is not None and job.lease_until is None
    finally:
        engine.dispose()
