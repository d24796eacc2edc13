"""Findings view, pass rates, pending agents, tokens, bundles and audit, scoped by unit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from controller.policy.model import Text
from controller.store.dashboard import (
    FindingQuery,
    PassRate,
    QueryError,
    list_audit,
    list_bundles_view,
    list_findings_view,
    list_pending_agents,
    list_tokens_view,
    rule_pass_rates,
)
from tests.unit.controller.store.district import NOW, A, B, District, build

TITLES = {"FW-01": Text(vi="Tường lửa bật", en="Firewall on")}


@pytest.fixture
def built(session: Session, tmp_path: Path) -> District:
    return build(session, tmp_path)


def finding_ids(s: Session, scope: frozenset[str] | None = None, **query: object) -> list[int]:
    page = list_findings_view(s, scope, FindingQuery(**query), TITLES)  # type: ignore[arg-type]
    return [row.id for row in page.rows]


def test_findings_default_to_live_ones_most_severe_first(session: Session, built: District) -> None:
    page = list_findings_view(session, None, FindingQuery(), TITLES)
    assert [r.id for r in page.rows] == [built.sighting, built.a1_finding, built.b1_finding]
    assert page.total == 3
    sighting, a1, _ = page.rows
    assert (sighting.hostname, sighting.title_en, sighting.agent_id) == (None, "BMNN-04", None)
    assert (a1.hostname, a1.unit_name, a1.title_vi, a1.title_en) == (
        "PC-KeToan",
        "Xã A",
        "Tường lửa bật",
        "Firewall on",
    )
    assert a1.evidence[0]["fact"] == "security.firewall.enabled"


def test_findings_filters_search_and_scope(session: Session, built: District) -> None:
    assert finding_ids(session, status=["acknowledged"]) == [built.b1_finding]
    assert finding_ids(session, severity=["high", "low"]) == [built.a1_finding, built.b1_finding]
    assert finding_ids(session, rule="OS-01") == [built.b1_finding]
    assert finding_ids(session, agent="a1") == [built.a1_finding]
    assert finding_ids(session, unit="xa-b") == [built.sighting, built.b1_finding]
    assert finding_ids(session, q="ketoan") == [built.a1_finding]
    assert finding_ids(session, q="mat-01") == [built.sighting]
    assert finding_ids(session, sort="-severity")[0] == built.b1_finding
    assert finding_ids(session, sort="host")[0] == built.a1_finding
    assert finding_ids(session, per_page=1, page=2) == [built.a1_finding]
    assert finding_ids(session, B) == [built.sighting, built.b1_finding]
    assert finding_ids(session, A) == [built.a1_finding]
    assert finding_ids(session, A, unit="xa-b") == []
    assert finding_ids(session, A, agent="b1") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param({"status": ["gone"]}, "status", id="status"),
        pytest.param({"severity": ["urgent"]}, "severity", id="severity"),
        pytest.param({"sort": "colour"}, "sort", id="sort"),
        pytest.param({"per_page": 0}, "per_page", id="per_page"),
    ],
)
def test_bad_finding_queries(
    session: Session, built: District, query: dict[str, object], message: str
) -> None:
    with pytest.raises(QueryError, match=message):
        list_findings_view(session, None, FindingQuery(**query))  # type: ignore[arg-type]


def test_pass_rates(session: Session, built: District) -> None:
    assert rule_pass_rates(session, None) == {
        "FW-01": PassRate(2, 1, 0, 0),
        "OS-01": PassRate(2, 1, 0, 0),
    }
    assert rule_pass_rates(session, B) == {
        "FW-01": PassRate(1, 0, 0, 0),
        "OS-01": PassRate(0, 1, 0, 0),
    }


def test_pending_tokens_bundles(session: Session, built: District) -> None:
    assert [a.id for a in list_pending_agents(session, None)] == ["p1"]
    assert list_pending_agents(session, A) == []
    tokens = {t.id: t.state for t in list_tokens_view(session, None, now=NOW)}
    assert tokens == {"tok-a": "active", "tok-b": "expired"}
    assert [t.id for t in list_tokens_view(session, B, now=NOW)] == ["tok-b"]
    (bundle,) = list_bundles_view(session, None)
    assert (bundle.agent_id, bundle.hostname, bundle.seq, bundle.reports) == ("o1", "may-mat", 1, 2)
    assert list_bundles_view(session, B) == []


def test_audit_scope(session: Session, built: District) -> None:
    everything = list_audit(session, None)
    actions = [row.action for row in everything.rows]
    assert "report.stored" not in actions
    assert {"finding.exempted", "user.login", "policy.changed"} <= set(actions)
    assert list_audit(session, None, action="report.stored").rows
    # xa-b: binh's login, the acknowledgement of b1's finding; never an's or the policy's.
    seen_b = {(r.actor, r.action) for r in list_audit(session, B).rows}
    assert ("user:binh", "user.login") in seen_b
    assert ("user:binh", "finding.acknowledged") in seen_b
    assert all(actor != "user:an" and actor != "cli" for actor, _ in seen_b)
    seen_a = {(r.actor, r.action) for r in list_audit(session, A).rows}
    assert ("user:an", "finding.exempted") in seen_a
    assert all(actor != "user:binh" for actor, _ in seen_a)
    page = list_audit(session, None, per_page=1)
    assert len(page.rows) == 1 and page.has_next
    assert list_audit(session, None, actor="user:an").rows[0].action == "finding.exempted"
    with pytest.raises(QueryError):
        list_audit(session, None, page=0)
