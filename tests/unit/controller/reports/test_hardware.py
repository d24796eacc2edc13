"""The hardware inventory on the hand-counted district (tests/.../store/district.py), with a2's
hardware reported through the real ingest path and two purchase dates in the register.

Computers: xa-a-pc-01 (desktop, a1, bought 2019-05-01: 7.6 years), xa-a-mat-01 (desktop,
classified, office vp, no agent, bought 2024-01-10: 2.9 years), xa-a-mat-02 (desktop,
classified, o1),
xa-b-mat-01 (desktop, classified, no agent), and the agents the register does not list: a2
(xa-a; 8 GB, a 256 GB SSD, BIOS of 2022-06-15: 4.5 years) and b1 (xa-b).
"""

from __future__ import annotations

import gzip
import json
import random
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.findings import FindingsWriter
from controller.reports import period
from controller.reports.base import ReportContext
from controller.reports.definitions import hardware
from controller.reports.document import Chart, Document, Ratio, T
from controller.settings import ReportsConfig
from controller.store.models import Asset, HostFacts
from controller.store.reporting import hardware as hw
from tests.unit.controller.store.district import NOW, SEEN, B, _cache, build
from tests.unit.controller.store.factories import full

CPU = "Intel(R) Core(TM) i5-10400 CPU @ 2.90GHz"
NOISE = random.Random(6)  # noqa: S311 - filler bytes, not a secret


@pytest.fixture
def district(session: Session, tmp_path: Path) -> Session:
    build(session, tmp_path)
    with session.begin():
        for asset_id, bought in (
            ("xa-a-pc-01", date(2019, 5, 1)),
            ("xa-a-mat-01", date(2024, 1, 10)),
        ):
            asset = session.get(Asset, asset_id)
            assert asset is not None
            asset.purchased_at = bought
        mat = session.get(Asset, "xa-a-mat-01")
        assert mat is not None
        mat.office_id, mat.hostname = "vp", "may-mat-01"
    with session.begin():
        FindingsWriter(_cache(tmp_path))(
            session,
            [
                full(
                    "a2",
                    2,
                    os={"version": {"family": "linux", "name": "Ubuntu", "version": "24.04"}},
                    security={"firewall": {"enabled": True}},
                    # Noise before the hardware section: it lies beyond the first bytes the
                    # report reads, so the whole body is read for it.
                    software={"packages": [{"name": NOISE.randbytes(8).hex()} for _ in range(900)]},
                    hardware={
                        "form_factor": "desktop",
                        "cpu": {"model": CPU, "physical_cores": 6, "logical_cpus": 12},
                        "memory": {"total_bytes": 8_250_000_000},
                        "disks": [
                            {"name": "sda", "size_bytes": 256_060_514_304, "media": "ssd"},
                            {"name": "sdb", "size_bytes": 32_000_000_000, "removable": True},
                        ],
                        "bios": {"release_date": "2022-06-15"},
                    },
                )
            ],
            SEEN + timedelta(minutes=5),
        )
    return session


def ctx(scope: frozenset[str] | None = None, unit: str = "huyen", years: int = 5) -> ReportContext:
    return ReportContext(
        unit_id=unit,
        scope=scope,
        period=period.parse("2026-11"),
        now=NOW,
        settings=ReportsConfig(ageing_years=years),
    )


def counts(buckets: tuple[hardware.Bucket, ...]) -> dict[str, int]:
    return {b.label.en: b.count for b in buckets}


def table(document: Document, key: str) -> list[list[object]]:
    for _, t in document.tables():
        if t.key == key:
            return [[v.en if isinstance(v, T) else v for v in row.values] for row in t.rows]
    raise AssertionError(key)


def test_inventory_of_the_district(district: Session) -> None:
    a2_body = district.scalar(select(HostFacts.full_body).where(HostFacts.agent_id == "a2"))
    assert a2_body is not None and len(a2_body) > hw.HEAD_BYTES  # a2's specs need a second read
    result = hardware.compute(district, ctx())
    assert result.computers == 6
    units = {u.unit.id: u for u in result.units}
    assert dict(units["huyen"].by_kind) == {"desktop": 4, "laptop": 0, "all_in_one": 0}
    assert (units["huyen"].unregistered, units["huyen"].total) == (2, 6)
    assert units["huyen"].ageing == Ratio(1, 3)
    assert (units["xa-a"].by_kind["desktop"], units["xa-a"].unregistered) == (3, 1)
    assert units["xa-a"].ageing == Ratio(1, 3)
    assert (units["xa-b"].total, units["xa-b"].ageing) == (2, Ratio(0, 0))
    assert result.operating_systems == (
        ("Debian GNU/Linux", "12", 1),
        ("Ubuntu", "24.04", 1),
        ("Windows 11 Pro", "23H2", 1),
        (None, None, 1),
    )
    # Specs: the four computers with an agent (a1, o1, a2, b1); only a2 reported hardware.
    assert counts(result.memory) == {
        "under 4 GB": 0,
        "4 to 8 GB": 0,
        "8 to 16 GB": 1,
        "16 GB or more": 0,
        "unknown": 3,
    }
    assert counts(result.disks)["250 to 500 GB"] == 1 and counts(result.disks)["unknown"] == 3
    assert counts(result.media) == {"SSD": 1, "unknown": 3}
    assert counts(result.cpus) == {CPU: 1, "unknown": 3}
    assert counts(result.ages) == {
        "under 3 years": 1,
        "3 to 5 years": 1,
        "5 years or more (ageing)": 1,
        "unknown": 3,
    }
    assert [a.asset_id for a in result.agentless] == ["xa-a-mat-01", "xa-b-mat-01"]
    assert [(a.hostname, a.unit_id) for a in result.unregistered] == [
        ("pc-van-thu", "xa-a"),
        ("pc-xa-b", "xa-b"),
    ]
    assert [(o.unit_name, o.office_name, o.computers, o.printers) for o in result.offices] == [
        ("Xã A", "Văn phòng", 2, 1),
        ("Xã B", "Văn phòng", 0, 0),
    ]
    document = hardware.layout(result, ctx())
    # Classified computers without an agent: no office, no host name in an exported copy.
    assert document.redacted
    assert table(document, "agentless") == [
        ["xa-a-mat-01", "Xã A", "Desktop", "(withheld)", "(withheld)", True],
        ["xa-b-mat-01", "Xã B", "Desktop", "(withheld)", "(withheld)", True],
    ]
    assert "may-mat-01" not in repr(document)
    assert table(document, "units")[0] == ["Huyện Thử", 4, 0, 0, 2, 6, Ratio(1, 3)]
    (chart,) = [b for sec in document.sections for b in sec.blocks if isinstance(b, Chart)]
    assert chart.series[0].points == (("< 3", 1.0), ("3–5", 1.0), ("≥ 5", 1.0), ("?", 3.0))


def test_ageing_threshold_comes_from_the_settings(district: Session) -> None:
    result = hardware.compute(district, ctx(years=3))
    assert counts(result.ages) == {
        "under 3 years": 1,
        "3 years or more (ageing)": 2,
        "unknown": 3,
    }
    assert result.units[0].ageing == Ratio(2, 3)


def test_a_commune_inventory_has_only_that_commune(district: Session) -> None:
    result = hardware.compute(district, ctx(B, unit="xa-b"))
    assert [u.unit.id for u in result.units] == ["xa-b"] and result.computers == 2
    assert result.operating_systems == (("Windows 11 Pro", "23H2", 1),)
    assert [a.asset_id for a in result.agentless] == ["xa-b-mat-01"]
    assert [a.agent_id for a in result.unregistered] == ["b1"]
    assert [o.unit_id for o in result.offices] == ["xa-b"]
    text = repr(hardware.layout(result, ctx(B, unit="xa-b")))
    for other in ("Xã A", "pc-van-thu", "PC-KeToan", "xa-a"):
        assert other not in text


def test_specs_are_read_from_the_head_of_a_body_in_the_agents_order() -> None:
    # As agents write it: hardware right before os. A CPU name with ',"os":' in it is escaped.
    body = {
        "identity": {"hostname": "pc"},
        "hardware": {
            "cpu": {"model": 'odd ,"os": name', "logical_cpus": 4},
            "memory": {"total_bytes": 3 * 2**30},
            "bios": {"release_date": "2020-01-02"},
        },
        "os": {"version": {"family": "linux"}},
        "software": {"packages": [{"name": "x" * 20_000}]},
    }
    specs = hw.specs_of(gzip.compress(json.dumps(body, separators=(",", ":")).encode()))
    assert (specs.cpu_model, specs.logical_cpus) == ('odd ,"os": name', 4)
    assert (specs.memory_bytes, specs.bios_date) == (3 * 2**30, date(2020, 1, 2))
    # Another order (or no os at all) reads the whole body.
    del body["os"]
    body["os"] = {}
    assert hw.specs_of(gzip.compress(json.dumps(body).encode())).memory_bytes == 3 * 2**30


def test_the_first_bytes_of_a_body_are_enough_when_hardware_comes_early() -> None:
    body = gzip.compress(b'{"hardware":{"memory":{"total_bytes":5}},"os":{}' + b" " * 9000 + b"}")
    specs = hw._specs_head(body[: hw.HEAD_BYTES], complete=False)
    assert specs is not None and specs.memory_bytes == 5
    late = gzip.compress(
        b'{"os":{},"x":"' + NOISE.randbytes(6000).hex().encode() + b'","hardware":{}}'
    )
    assert len(late) > hw.HEAD_BYTES
    assert hw._specs_head(late[: hw.HEAD_BYTES], complete=False) is None


def test_specs_of_a_body_that_does_not_read() -> None:
    assert hw.specs_of(b"not gzip") == hw.NO_SPECS
    assert hw.specs_of(None) == hw.NO_SPECS
