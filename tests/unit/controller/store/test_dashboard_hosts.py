"""The hosts list, its CSV export and the host detail on the hand-counted district."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from controller.store.dashboard import (
    CSV_HEADER,
    HostQuery,
    QueryError,
    host_detail,
    iter_hosts_csv,
    list_hosts,
)
from tests.unit.controller.store.district import NOW, SEEN, A, B, build


@pytest.fixture
def district(session: Session, tmp_path: Path) -> Session:
    build(session, tmp_path)
    return session


def ids(s: Session, scope: frozenset[str] | None = None, **query: object) -> list[str]:
    page = list_hosts(s, scope, HostQuery(now=NOW, **query))  # type: ignore[arg-type]
    return [row.agent_id for row in page.rows]


def test_rows_carry_what_the_list_shows(district: Session) -> None:
    page = list_hosts(district, None, HostQuery(now=NOW))
    assert page.total == 4 and page.pages == 1
    rows = {row.agent_id: row for row in page.rows}
    a1 = rows["a1"]
    assert (a1.hostname, a1.unit_name, a1.os, a1.os_name, a1.os_version) == (
        "PC-KeToan",
        "Xã A",
        "linux",
        "Debian GNU/Linux",
        "12",
    )
    assert (a1.user, a1.serial, a1.macs, a1.state) == (
        "nguyenvana",
        "SN-A1",
        ("aa:bb:cc:00:00:01",),
        "online",
    )
    assert a1.last_seen_at == SEEN and a1.findings == {"high": 1} and a1.open_findings == 1
    assert not a1.classified and not a1.offline
    assert rows["o1"].classified and rows["o1"].offline and rows["o1"].state == "never"
    assert rows["b1"].state == "stale" and rows["b1"].findings == {"low": 1}
    assert rows["b1"].user == "XA-B\\tranthib"
    # Pending agents are for the enrollment page.
    assert "p1" not in rows
    assert ids(district, status="pending") == ["p1"]


@pytest.mark.parametrize(
    "q",
    [
        pytest.param("aa:bb:cc:00:00:01", id="colons"),
        pytest.param("AA-BB-CC-00-00-01", id="dashes upper"),
        pytest.param("aabb.cc00.0001", id="dotted"),
        pytest.param("AABBCC000001", id="bare"),
    ],
)
def test_search_by_mac_in_any_notation(district: Session, q: str) -> None:
    assert ids(district, q=q) == ["a1"]


def test_search_by_mac_stored_with_dashes(district: Session) -> None:
    assert ids(district, q="aa:bb:cc:00:00:02") == ["a2"]
    assert ids(district, q="aa-bb-cc-00") == ["a1", "a2", "b1"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        pytest.param("NGUYENVANA", ["a1"], id="user, other case"),
        pytest.param("tranthib", ["b1"], id="user with domain"),
        pytest.param("sn-b1", ["b1"], id="serial"),
        pytest.param("ketoan", ["a1"], id="part of a host name"),
        pytest.param("pc-", ["a1", "a2", "b1"], id="many"),
        pytest.param("100%_", [], id="wildcards are literal"),
    ],
)
def test_search(district: Session, q: str, expected: list[str]) -> None:
    assert ids(district, q=q) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({"state": "online"}, ["a1", "a2"], id="online"),
        pytest.param({"state": "stale"}, ["b1"], id="stale"),
        pytest.param({"state": "never"}, ["o1"], id="never"),
        pytest.param({"os": "Windows"}, ["b1"], id="os"),
        pytest.param({"rule": "FW-01"}, ["a1"], id="failing a rule"),
        pytest.param({"rule": "OS-01", "outcome": "pass"}, ["a1", "a2"], id="passing a rule"),
        pytest.param({"classified": True}, ["o1"], id="classified"),
        pytest.param({"classified": False}, ["a1", "a2", "b1"], id="not classified"),
        pytest.param({"unit": "huyen"}, ["a1", "a2", "o1", "b1"], id="unit with its subtree"),
        pytest.param({"unit": "xa-b"}, ["b1"], id="one commune"),
        pytest.param({"unit": "nowhere"}, [], id="unknown unit"),
    ],
)
def test_filters(district: Session, query: dict[str, object], expected: list[str]) -> None:
    assert sorted(ids(district, None, **query)) == sorted(expected)


def test_a_commune_never_sees_the_other(district: Session) -> None:
    assert ids(district, B) == ["b1"]
    assert ids(district, B, q="aa:bb:cc:00:00:01") == []
    assert ids(district, B, unit="xa-a") == []
    assert ids(district, A, q="pc-") == ["a1", "a2"]
    assert ids(district, frozenset()) == []
    assert host_detail(district, B, "a1", now=NOW) is None
    lines = list(iter_hosts_csv(district, B, HostQuery(now=NOW)))
    assert [line[0] for line in lines[1:]] == ["b1"]


def test_sort_and_pages(district: Session) -> None:
    assert ids(district, sort="hostname") == ["o1", "a1", "a2", "b1"]
    assert ids(district, sort="-hostname") == ["b1", "a2", "a1", "o1"]
    assert ids(district, sort="unit")[-1] == "b1"
    assert ids(district, sort="last_seen") == ["b1", "a1", "a2", "o1"]
    assert ids(district, sort="-last_seen")[-1] == "o1"
    assert ids(district, sort="findings")[:2] == ["a1", "b1"]
    assert ids(district, sort="os")[-1] == "b1"
    page = list_hosts(district, None, HostQuery(now=NOW, per_page=3, page=2))
    assert [r.agent_id for r in page.rows] == ["b1"] and page.total == 4 and page.pages == 2
    assert list_hosts(district, None, HostQuery(now=NOW, page=9)).rows == ()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param({"sort": "size"}, "sort", id="sort"),
        pytest.param({"page": 0}, "page", id="page 0"),
        pytest.param({"per_page": 201}, "per_page", id="per_page too big"),
        pytest.param({"state": "asleep"}, "state", id="state"),
        pytest.param({"outcome": "fail"}, "rule", id="outcome without rule"),
        pytest.param({"rule": "FW-01", "outcome": "maybe"}, "outcome", id="outcome"),
        pytest.param({"os": "win dows;"}, "os", id="os"),
        pytest.param({"q": "x" * 201}, "longer", id="long search"),
        pytest.param({"status": "gone"}, "status", id="status"),
    ],
)
def test_bad_queries(district: Session, query: dict[str, object], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        list_hosts(district, None, HostQuery(**query))  # type: ignore[arg-type]
    with pytest.raises(QueryError, match=message):
        next(iter_hosts_csv(district, None, HostQuery(**query)))  # type: ignore[arg-type]


def test_csv_lists_every_match(district: Session) -> None:
    lines = list(iter_hosts_csv(district, None, HostQuery(now=NOW, per_page=1, sort="hostname")))
    assert lines[0] == CSV_HEADER
    assert [line[1] for line in lines[1:]] == ["may-mat", "PC-KeToan", "pc-van-thu", "pc-xa-b"]
    a1 = dict(zip(CSV_HEADER, lines[2], strict=True))
    assert a1["user"] == "nguyenvana" and a1["findings_high"] == "1" and a1["state"] == "online"


def test_host_detail(district: Session) -> None:
    detail = host_detail(district, A, "a1", now=NOW)
    assert detail is not None
    assert detail.unit_path == ("Huyện Thử", "Xã A")
    assert detail.asset is not None and detail.asset.id == "xa-a-pc-01"
    assert detail.user == "nguyenvana" and detail.state == "online" and not detail.classified
    assert detail.software_count == 2
    assert [p.name for p in detail.software] == ["bash", "firefox"]
    assert [i.name for i in detail.interfaces] == ["lo", "eth0"] and detail.ips == ("10.0.0.5",)
    assert [(p.lan, p.internet) for p in detail.connectivity_history] == [
        (True, True),
        (False, None),
        (True, None),
    ]
    # The newest heartbeat's connectivity is laid over the full report's.
    assert detail.connectivity == {"lan": {"reachable": True}}
    assert detail.security == {"firewall": {"enabled": False}}
    assert {(r.rule_id, r.outcome) for r in detail.rule_states} == {
        ("FW-01", "fail"),
        ("OS-01", "pass"),
    }
    (finding,) = detail.findings
    assert finding.rule_id == "FW-01" and finding.evidence[0]["actual"] is False
    assert [(r.kind, r.seq) for r in detail.received] == [
        ("heartbeat", 3),
        ("heartbeat", 2),
        ("full", 1),
    ]
    assert detail.raw_report is not None and detail.raw_report["kind"] == "full"
    assert host_detail(district, None, "nobody") is None


def test_host_detail_of_an_offline_classified_agent(district: Session) -> None:
    detail = host_detail(district, None, "o1", now=NOW)
    assert detail is not None and detail.classified and detail.offline
    assert [(r.kind, r.seq, r.reports) for r in detail.received] == [("bundle", 1, 2)]
    assert detail.raw_report is None and detail.connectivity_history == ()
    sighted = host_detail(district, None, "b1", now=NOW)
    assert sighted is not None and [f.status for f in sighted.findings] == ["acknowledged"]
