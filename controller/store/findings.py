"""Rule states and findings: read the current outcomes, write only what changed, the lifecycle.

:func:`apply_changes` is on the ingest path: it runs in the same transaction as the reports it
evaluates, with a fixed number of statements per batch (executemany), like
:func:`controller.store.reports.store_batch`. Only outcomes that changed reach it, so a
steady fleet costs one read per batch and no write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, func, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from controller.store import audit
from controller.store.models import FINDING_STATUSES, Base, Finding, RuleState
from controller.store.scope import UnitScope, in_scope

_STATES = Base.metadata.tables["rule_states"]
_FINDINGS = Base.metadata.tables["findings"]

#: Outcomes that end a failure (an error does not: the rule could not decide).
RESOLVING = ("pass", "not_applicable")
#: Statuses of a finding that is still live (its rule still fails).
LIVE = ("open", "acknowledged", "exempted")
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


class FindingError(Exception):
    """A lifecycle change that is not allowed (unknown finding, resolved one, bad expiry)."""


class FindingNotFoundError(FindingError):
    """No such finding, or one outside the caller's units (the same answer for both)."""


@dataclass(frozen=True, slots=True)
class State:
    """The stored outcome of one rule on one host; reason and evidence as their JSON texts."""

    outcome: str
    reason: str
    evidence: str | None


@dataclass(frozen=True, slots=True)
class Change:
    """A rule whose outcome (or failing evidence) on a host differs from the stored state.

    ``reason`` and ``evidence`` are JSON texts, written as they are. ``previous`` is the stored
    outcome (None when the rule never ran on this host).
    """

    agent_id: str
    unit_id: str
    rule_id: str
    severity: str
    outcome: str
    reason: str
    evidence: str | None
    previous: str | None


@dataclass(frozen=True, slots=True)
class Opened:
    """A finding that :func:`apply_changes` opened (for notifications)."""

    subject: str
    unit_id: str
    rule_id: str
    severity: str


def open_key(subject: str, rule_id: str) -> str:
    """The unique key of a subject's live finding for a rule."""
    return f"{subject}|{rule_id}"


def load_states(s: Session, agent_ids: Iterable[str]) -> dict[str, dict[str, State]]:
    """The stored states of these agents: ``{agent_id: {rule_id: State}}`` (one query)."""
    ids = sorted(set(agent_ids))
    found: dict[str, dict[str, State]] = {agent_id: {} for agent_id in ids}
    if not ids:
        return found
    # The JSON columns read as text: compared with the new texts, never decoded (a full
    # re-evaluation reads one row per host and rule).
    rows = s.execute(
        select(
            _STATES.c.agent_id,
            _STATES.c.rule_id,
            _STATES.c.outcome,
            type_coerce(_STATES.c.reason, Text()),
            type_coerce(_STATES.c.evidence, Text()),
        ).where(_STATES.c.agent_id.in_(ids))
    )
    for agent_id, rule_id, outcome, reason, evidence in rows:
        found[agent_id][rule_id] = State(outcome, reason, evidence)
    return found


@dataclass(frozen=True)
class _Statements:
    upsert_state: Executable
    open_finding: Executable
    refresh_finding: Executable
    resolve_finding: Executable


_CACHE: dict[str, _Statements] = {}


def _statements(s: Session) -> _Statements:
    """The statements of :func:`apply_changes` for this dialect, built once per process."""
    name = s.get_bind().dialect.name
    cached = _CACHE.get(name)
    if cached is not None:
        return cached
    insert = postgresql.insert if name == "postgresql" else sqlite.insert
    state = insert(_STATES).values(
        reason=bindparam("reason", type_=Text()), evidence=bindparam("evidence", type_=Text())
    )
    upsert_state = state.on_conflict_do_update(
        index_elements=["agent_id", "rule_id"],
        set_={
            "outcome": state.excluded.outcome,
            "since": state.excluded.since,
            "reason": state.excluded.reason,
            "evidence": state.excluded.evidence,
        },
    )
    opening = insert(_FINDINGS).values(
        reason=bindparam("reason", type_=Text()), evidence=bindparam("evidence", type_=Text())
    )
    table = _FINDINGS
    cached = _Statements(
        upsert_state=upsert_state,
        # A live finding for the same key (an exempted one, or one another process opened a
        # moment ago) stays as it is.
        open_finding=opening.on_conflict_do_nothing(index_elements=["open_key"]),
        refresh_finding=update(table)
        .where(table.c.open_key == bindparam("b_key"))
        .values(
            reason=bindparam("b_reason", type_=Text()),
            evidence=bindparam("b_evidence", type_=Text()),
            last_seen_at=bindparam("b_at"),
        ),
        resolve_finding=update(table)
        .where(table.c.open_key == bindparam("b_key"))
        .values(open_key=None, status="resolved", resolved_at=bindparam("b_at")),
    )
    _CACHE[name] = cached
    return cached


def apply_changes(
    s: Session,
    changes: Sequence[Change],
    at: datetime,
    state_only: frozenset[str] = frozenset(),
) -> list[Opened]:
    """Write changed rule states and move findings along; returns the findings opened.

    A rule that starts failing opens a finding; one that stops failing (passes, no longer
    applies) resolves it; a failure whose evidence changed refreshes the finding's evidence. An
    ``error`` outcome neither opens nor resolves a finding: the rule could not decide. Rules in
    ``state_only`` keep their states but open no finding of their own (the tripwire raises
    BMNN-04 on the asset itself; a second finding on the host would count the alarm twice).
    """
    if not changes:
        return []
    statements = _statements(s)
    ordered = sorted(changes, key=lambda c: (c.agent_id, c.rule_id))
    moved = [c for c in ordered if c.outcome != c.previous]
    if moved:
        s.execute(
            statements.upsert_state,
            [
                {
                    "agent_id": c.agent_id,
                    "rule_id": c.rule_id,
                    "outcome": c.outcome,
                    "since": at,
                    "reason": c.reason,
                    "evidence": c.evidence,
                }
                for c in moved
            ],
        )
    # Same outcome, other evidence (a failure that got worse or better): "since" stays.
    refreshed = [c for c in ordered if c.outcome == c.previous]
    if refreshed:
        s.execute(
            update(_STATES)
            .where(
                _STATES.c.agent_id == bindparam("b_agent"), _STATES.c.rule_id == bindparam("b_rule")
            )
            .values(
                reason=bindparam("b_reason", type_=Text()),
                evidence=bindparam("b_evidence", type_=Text()),
            ),
            [
                {
                    "b_agent": c.agent_id,
                    "b_rule": c.rule_id,
                    "b_reason": c.reason,
                    "b_evidence": c.evidence,
                }
                for c in refreshed
            ],
        )
    tracked = [c for c in ordered if c.rule_id not in state_only]
    opening = [c for c in tracked if c.outcome == "fail" and c.previous != "fail"]
    still = [c for c in tracked if c.outcome == "fail" and c.previous == "fail"]
    closing = [c for c in tracked if c.outcome in RESOLVING and c.previous == "fail"]
    opened: list[Opened] = []
    if opening:
        rows = [
            {
                "open_key": open_key(f"agent:{c.agent_id}", c.rule_id),
                "subject": f"agent:{c.agent_id}",
                "agent_id": c.agent_id,
                "unit_id": c.unit_id,
                "rule_id": c.rule_id,
                "severity": c.severity,
                "status": "open",
                "opened_at": at,
                "last_seen_at": at,
                "reason": c.reason,
                "evidence": c.evidence,
            }
            for c in opening
        ]
        s.execute(statements.open_finding, rows)
        opened = [Opened(f"agent:{c.agent_id}", c.unit_id, c.rule_id, c.severity) for c in opening]
    if still:
        s.execute(
            statements.refresh_finding,
            [
                {
                    "b_key": open_key(f"agent:{c.agent_id}", c.rule_id),
                    "b_reason": c.reason,
                    "b_evidence": c.evidence,
                    "b_at": at,
                }
                for c in still
            ],
        )
    if closing:
        s.execute(
            statements.resolve_finding,
            [{"b_key": open_key(f"agent:{c.agent_id}", c.rule_id), "b_at": at} for c in closing],
        )
    return opened


def forget_rules(s: Session, keep: Iterable[str], at: datetime) -> int:
    """Drop states of rules no longer enabled and resolve their findings; returns how many.

    A rule an operator disables or a pack removed must not keep hosts failing forever.
    """
    kept = sorted(set(keep))
    gone = s.execute(
        update(_FINDINGS)
        .where(_FINDINGS.c.open_key.is_not(None), _FINDINGS.c.rule_id.not_in(kept))
        .where(_FINDINGS.c.subject.like("agent:%"))
        .values(open_key=None, status="resolved", resolved_at=at)
        .execution_options(synchronize_session=False)
    )
    s.execute(
        _STATES.delete()
        .where(_STATES.c.rule_id.not_in(kept))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(gone, "rowcount", 0))


def open_finding(
    s: Session,
    *,
    subject: str,
    unit_id: str,
    rule_id: str,
    severity: str,
    reason: Any,
    evidence: Any,
    at: datetime,
    agent_id: str | None = None,
) -> tuple[Finding, bool]:
    """Open a finding raised by the controller itself (tripwire, network sighting).

    Returns the live finding and whether it is new; a live one for the same subject and rule
    is kept (its evidence and last-seen time are refreshed), so a repeated sighting never opens
    a second finding nor sends a second alert.
    """
    key = open_key(subject, rule_id)
    live = s.scalar(select(Finding).where(Finding.open_key == key))
    if live is not None:
        live.evidence = evidence
        live.last_seen_at = at
        return live, False
    finding = Finding(
        open_key=key,
        subject=subject,
        agent_id=agent_id,
        unit_id=unit_id,
        rule_id=rule_id,
        severity=severity,
        status="open",
        opened_at=at,
        last_seen_at=at,
        reason=reason,
        evidence=evidence,
    )
    s.add(finding)
    s.flush()
    return finding, True


def get_finding(s: Session, finding_id: int) -> Finding | None:
    """One finding by id."""
    return s.get(Finding, finding_id)


def list_findings(
    s: Session,
    *,
    units: Sequence[str] | None = None,
    status: Sequence[str] | None = None,
    severity: Sequence[str] | None = None,
    rule_id: str | None = None,
    agent_id: str | None = None,
    limit: int = 1000,
) -> list[Finding]:
    """Findings, most severe and newest first; ``units`` limits to those units (a subtree)."""
    query = select(Finding)
    if units is not None:
        query = query.where(Finding.unit_id.in_(list(units)))
    if status:
        unknown = set(status) - set(FINDING_STATUSES)
        if unknown:
            raise FindingError(f"unknown status {sorted(unknown)[0]!r}")
        query = query.where(Finding.status.in_(list(status)))
    if severity:
        query = query.where(Finding.severity.in_(list(severity)))
    if rule_id is not None:
        query = query.where(Finding.rule_id == rule_id)
    if agent_id is not None:
        query = query.where(Finding.agent_id == agent_id)
    rows = list(s.scalars(query.order_by(Finding.id.desc()).limit(limit)))
    rows.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), -f.id))
    return rows


def _live(s: Session, finding_id: int, scope: UnitScope = None) -> Finding:
    finding = s.get(Finding, finding_id)
    # Outside the caller's units reads exactly like unknown: a commune officer learns nothing.
    if finding is None or not in_scope(scope, finding.unit_id):
        raise FindingNotFoundError(f"no finding {finding_id}")
    if finding.status not in LIVE:
        raise FindingError(f"finding {finding_id} is {finding.status}: nothing to change")
    return finding


def acknowledge(
    s: Session,
    finding_id: int,
    actor: str,
    at: datetime,
    *,
    scope: UnitScope = None,
    source: str | None = None,
) -> Finding:
    """Mark a live finding as seen and being handled (it stays until the rule passes)."""
    finding = _live(s, finding_id, scope)
    finding.status = "acknowledged"
    finding.acknowledged_by = actor
    finding.acknowledged_at = at
    audit.record(s, actor, "finding.acknowledged", f"finding:{finding_id}", at=at, source=source)
    return finding


def exempt(
    s: Session,
    finding_id: int,
    actor: str,
    reason: str,
    until: datetime,
    at: datetime,
    *,
    scope: UnitScope = None,
    source: str | None = None,
) -> Finding:
    """Exempt a live finding until ``until`` with a reason (recorded with its approver)."""
    finding = _live(s, finding_id, scope)
    if not reason.strip():
        raise FindingError("an exemption needs a reason")
    if until <= at:
        raise FindingError("an exemption must end in the future")
    finding.status = "exempted"
    finding.exempt_reason = reason.strip()
    finding.exempted_by = actor
    finding.exempt_until = until
    audit.record(
        s,
        actor,
        "finding.exempted",
        f"finding:{finding_id}",
        {"reason": reason.strip(), "until": until.isoformat()},
        at=at,
        source=source,
    )
    return finding


def resolve(
    s: Session,
    finding_id: int,
    actor: str,
    reason: str,
    at: datetime,
    *,
    scope: UnitScope = None,
    source: str | None = None,
) -> Finding:
    """Close a finding the controller raised itself (a tripwire sighting) after investigation.

    Findings of rules evaluated on a computer's facts resolve only when the rule passes.
    """
    finding = _live(s, finding_id, scope)
    if not reason.strip():
        raise FindingError("closing a finding needs a reason")
    if not finding.subject.startswith("asset:"):
        raise FindingError(
            f"finding {finding_id} resolves by itself when its rule passes on the computer"
        )
    finding.status = "resolved"
    finding.open_key = None
    finding.resolved_at = at
    audit.record(
        s,
        actor,
        "finding.resolved",
        f"finding:{finding_id}",
        {"reason": reason.strip()},
        at=at,
        source=source,
    )
    return finding


def expire_exemptions(s: Session, at: datetime) -> int:
    """Exemptions past their end become open findings again; returns how many."""
    result = s.execute(
        update(_FINDINGS)
        .where(_FINDINGS.c.status == "exempted", _FINDINGS.c.exempt_until <= at)
        .values(status="open")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


def outcome_counts(s: Session) -> dict[tuple[str, str], int]:
    """``{(rule_id, outcome): hosts}`` over every stored state (pass rates per rule)."""
    rows = s.execute(
        select(_STATES.c.rule_id, _STATES.c.outcome, func.count()).group_by(
            _STATES.c.rule_id, _STATES.c.outcome
        )
    )
    return {(rule_id, outcome): int(n) for rule_id, outcome, n in rows}


def states_of(s: Session, agent_id: str) -> list[RuleState]:
    """The stored rule states of one host, by rule id."""
    return list(
        s.scalars(
            select(RuleState).where(RuleState.agent_id == agent_id).order_by(RuleState.rule_id)
        )
    )
