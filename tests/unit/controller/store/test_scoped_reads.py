"""The scoped reads of the administration pages: agents, tokens, bundles, the audit log."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from controller.store import agents, audit, tokens, units, users
from controller.store import bundles as bundle_store
from controller.store.dashboard import list_audit
from controller.store.models import Bundle, Finding, RuleState
from tests.unit.controller.store.factories import T0, UNIT, make_agent

OTHER = "xa-binh-minh"
SCOPE = frozenset({UNIT})


def _seed(s: Session) -> None:
    make_agent(s, "a1")
    units.ensure_unit(s, OTHER, "Xã Bình Minh", kind="commune")
    make_agent(s, "b1", unit_id=OTHER, key_id="kb1", status="pending")
    for agent_id, outcome in (("a1", "pass"), ("b1", "fail")):
        s.add(RuleState(agent_id=agent_id, rule_id="ATTT-01", outcome=outcome, since=T0,
                        reason={"code": "x"}))  # fmt: skip
    tokens.add_token(s, "ta", "h", UNIT, T0 + timedelta(days=1), 1, "test")
    tokens.add_token(s, "tb", "h", OTHER, T0 + timedelta(days=1), 1, "test")
    for agent_id in ("a1", "b1"):
        s.add(Bundle(agent_id=agent_id, seq=1, digest="d", prev_digest="", created_at=T0,
                     imported_at=T0, reports=1, gap=0))  # fmt: skip
    users.create_user(s, "op-a", "$argon2id$x", "operator", unit_id=UNIT)
    users.create_user(s, "op-b", "$argon2id$x", "operator", unit_id=OTHER)
    s.add(Finding(subject="agent:b1", agent_id="b1", unit_id=OTHER, rule_id="ATTT-01",
                  severity="high", status="open", opened_at=T0, last_seen_at=T0,
                  reason={"code": "x"}))  # fmt: skip
    s.flush()


def test_lists_keep_to_the_scope(session: Session) -> None:
    _seed(session)
    assert [a.id for a in agents.list_agents(session, scope=SCOPE)] == ["a1"]
    assert [a.id for a in agents.list_agents(session, "pending", scope=SCOPE)] == []
    assert agents.count_agents(session, SCOPE) == 1 and agents.count_agents(session) == 2
    assert [t.id for t in tokens.list_tokens(session, SCOPE)] == ["ta"]
    assert {t.id for t in tokens.list_tokens(session)} == {"ta", "tb"}
    rows = bundle_store.list_bundles(session, SCOPE)
    assert [(r.agent_id, r.hostname, r.unit_id, r.seq) for r in rows] == [("a1", "pc-a1", UNIT, 1)]
    assert len(bundle_store.list_bundles(session, None)) == 2


def test_audit_scope_rule_filters_and_pages(session: Session) -> None:
    _seed(session)
    finding_b = session.query(Finding).one().id
    entries = [
        ("user:op-a", "x.did", "unit:elsewhere"),  # actor of the scope
        ("user:op-b", "x.did", "user:op-a"),  # target: an account of the scope
        ("cli:root", "agent.approved", "agent:a1"),
        ("cli:root", "token.created", "token:ta"),
        ("agent:a1", "report.stored", "agent:a1"),  # per-report: only when asked for
        ("user:op-b", "agent.approved", "agent:b1"),  # hidden: the other commune
        ("cli:root", "token.created", "token:tb"),
        ("cli:root", "finding.acknowledged", f"finding:{finding_b}"),
        ("cli:root", "policy.rule_changed", "rule:ATTT-01"),  # district-wide: hidden
    ]
    for at, (actor, action, target) in enumerate(entries):
        audit.record(session, actor, action, target, at=T0 + timedelta(minutes=at))
    session.flush()
    seen = list_audit(session, SCOPE)
    assert [e.target for e in seen.rows] == ["token:ta", "agent:a1", "user:op-a", "unit:elsewhere"]
    assert not seen.has_next
    other = list_audit(session, frozenset({OTHER}))
    assert {e.target for e in other.rows} == {
        "user:op-a", "agent:b1", "token:tb", f"finding:{finding_b}"
    }  # fmt: skip
    first = list_audit(session, None, per_page=4)
    second = list_audit(session, None, page=2, per_page=4)
    assert first.has_next and not second.has_next
    assert len(first.rows) == 4 and len(second.rows) == len(entries) - 1 - 4
    assert len(list_audit(session, None, action="report.stored").rows) == 1
    assert len(list_audit(session, None, actor="user:op-b").rows) == 2
    window = list_audit(session, None, since=T0 + timedelta(minutes=2),
                        until=T0 + timedelta(minutes=4))  # fmt: skip
    assert [e.action for e in window.rows] == ["token.created", "agent.approved"]
    assert "policy.rule_changed" in audit.actions(session)
