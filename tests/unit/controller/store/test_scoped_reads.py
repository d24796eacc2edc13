"""The scoped reads of the administration pages: agents, tokens, bundles, rule outcomes, audit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from controller.store import agents, audit, tokens, units, users
from controller.store import bundles as bundle_store
from controller.store.findings import outcome_counts, outcome_counts_in
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


def test_outcome_counts_in_scope(session: Session) -> None:
    _seed(session)
    assert outcome_counts_in(session, SCOPE) == {("ATTT-01", "pass"): 1}
    assert outcome_counts_in(session, None) == outcome_counts(session)
    assert outcome_counts(session) == {("ATTT-01", "pass"): 1, ("ATTT-01", "fail"): 1}
    assert outcome_counts_in(session, frozenset()) == {}


def test_audit_scope_rule(session: Session) -> None:
    _seed(session)
    finding_b = session.query(Finding).one().id
    entries = [
        ("user:op-a", "x.did", "unit:elsewhere"),  # actor of the scope
        ("user:op-b", "x.did", "user:op-a"),  # target: an account of the scope
        ("cli:root", "agent.approved", "agent:a1"),
        ("cli:root", "token.created", "token:ta"),
        ("cli:root", "unit.renamed", f"unit:{UNIT}"),
        ("user:op-b", "agent.approved", "agent:b1"),  # hidden: the other commune
        ("cli:root", "token.created", "token:tb"),
        ("cli:root", "finding.acknowledged", f"finding:{finding_b}"),
        ("cli:root", "policy.rule_changed", "rule:ATTT-01"),  # district-wide: hidden
    ]
    for at, (actor, action, target) in enumerate(entries):
        audit.record(session, actor, action, target, at=T0 + timedelta(minutes=at))
    session.flush()
    seen = audit.list_audit(session, SCOPE)
    assert seen.total == 5
    assert [e.target for e in seen.entries] == [
        f"unit:{UNIT}",
        "token:ta",
        "agent:a1",
        "user:op-a",
        "unit:elsewhere",
    ]
    other = audit.list_audit(session, frozenset({OTHER}))
    assert {e.target for e in other.entries} == {
        "user:op-a",
        "agent:b1",
        "token:tb",
        f"finding:{finding_b}",
    }
    everything = audit.list_audit(session, None, limit=3, offset=3)
    assert everything.total == len(entries) and len(everything.entries) == 3
    assert audit.list_audit(session, None, action="token.").total == 2
    assert audit.list_audit(session, None, action="token").total == 0
    assert audit.list_audit(session, None, actor="user:op-b").total == 2
    window = audit.list_audit(session, None, since=T0 + timedelta(minutes=2),
                              until=T0 + timedelta(minutes=4))  # fmt: skip
    assert [e.action for e in window.entries] == ["token.created", "agent.approved"]
    assert "policy.rule_changed" in audit.actions(session)
