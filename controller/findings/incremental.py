"""Findings on the ingest path: each stored report is evaluated in the same transaction.

:class:`FindingsWriter` wraps :func:`controller.store.reports.store_batch`: after the batch is
inserted, the newest stored report of each agent is evaluated (a heartbeat only against the
rules its sections decide), compared with the stored rule states (one query per batch) and
only the outcomes that changed are written. An agent's report and the findings it causes
commit together or not at all.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from controller.findings.engine import Evaluator
from controller.findings.hosts import UnitPaths, document, load_hosts
from controller.findings.policies import PolicyCache
from controller.findings.tripwire import (
    STATE_ONLY,
    ClassifiedIndex,
    raise_sightings,
    sightings_in_reports,
)
from controller.store.findings import Change, Opened, apply_changes, load_states
from controller.store.reports import NewReport, store_batch

log = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"

#: Called in the transaction with the findings a batch opened (notifications hook in here).
OnOpened = Callable[[Session, list[Opened], datetime], None]


class Bodies:
    """The decompressed JSON of a batch's full reports, each decompressed at most once."""

    def __init__(self) -> None:
        self._raw: dict[tuple[str, int], bytes] = {}

    def get(self, report: NewReport) -> bytes:
        """The JSON of a full report."""
        key = (report.agent_id, report.seq)
        raw = self._raw.get(key)
        if raw is None:
            raw = self._raw[key] = gzip.decompress(report.body)
        return raw


def report_facts(
    report: NewReport, evaluator: Evaluator, bodies: Bodies | None = None
) -> tuple[dict[str, Any], frozenset[str] | None]:
    """The facts of a report that rules read and, for a heartbeat, the sections among them it
    carries (None for a full report: every rule is decided)."""
    if report.kind == "full":
        return evaluator.decode((bodies or Bodies()).get(report)), None
    raw = report.sections_json
    if raw is None:
        return {}, frozenset()
    if raw.startswith(_GZIP_MAGIC):
        raw = gzip.decompress(raw)
    facts = evaluator.decode(raw)
    return facts, frozenset(facts)


def evaluate_reports(
    s: Session,
    evaluator: Evaluator,
    reports: Sequence[NewReport],
    at: datetime,
    units: UnitPaths,
    bodies: Bodies | None = None,
) -> tuple[list[Change], list[Opened]]:
    """Evaluate stored reports (at most one per agent) and write what changed."""
    hosts = load_hosts(s, (r.agent_id for r in reports), units)
    states = load_states(s, hosts)
    changes: list[Change] = []
    for report in reports:
        host = hosts.get(report.agent_id)
        if host is None:
            continue
        facts, sections = report_facts(report, evaluator, bodies)
        rules = evaluator.rules_for(sections)
        if not rules:
            continue
        observed = {"last_report_at": report.sent_at.isoformat()}
        doc = document(facts, host, observed)
        changes.extend(evaluator.changes(host, doc, at, states[host.agent_id], rules))
    opened = apply_changes(s, changes, at, STATE_ONLY)
    return changes, opened


def newest_per_agent(stored: Sequence[NewReport]) -> list[NewReport]:
    """The newest report of each agent (a backlog of heartbeats is decided by its last one)."""
    newest: dict[str, NewReport] = {}
    for report in stored:
        kept = newest.get(report.agent_id)
        if kept is None or report.seq > kept.seq:
            newest[report.agent_id] = report
    full: dict[str, NewReport] = {}
    for report in stored:
        # A full report in the batch is evaluated even when a heartbeat followed it: only the
        # full one decides the rules on hardware and software.
        if report.kind == "full":
            kept = full.get(report.agent_id)
            if kept is None or report.seq > kept.seq:
                full[report.agent_id] = report
    chosen = list(newest.values())
    chosen.extend(r for agent_id, r in full.items() if newest[agent_id] is not r)
    return sorted(chosen, key=lambda r: (r.agent_id, r.kind != "full", r.seq))


class FindingsWriter:
    """The ingest ``store`` callable: store a batch, then evaluate what it stored."""

    def __init__(
        self,
        policies: PolicyCache,
        *,
        units: UnitPaths | None = None,
        on_opened: OnOpened | None = None,
        tripwire: ClassifiedIndex | None = None,
        online: bool = True,
    ) -> None:
        self.policies = policies
        self.units = units or UnitPaths()
        self.on_opened = on_opened
        self.tripwire = tripwire or ClassifiedIndex()
        #: Reports that came over the network (the tripwire's business), not carried bundles.
        self.online = online

    def __call__(
        self, s: Session, batch: Sequence[NewReport], at: datetime
    ) -> set[tuple[str, int]]:
        """Store ``batch`` (see :func:`store_batch`) and evaluate the reports inserted."""
        inserted = store_batch(s, batch, at)
        if not inserted:
            return inserted
        stored = [r for r in batch if (r.agent_id, r.seq) in inserted]
        bodies = Bodies()
        opened: list[Opened] = []
        # The tripwire first: a classified computer's report is evidence, stored like any other,
        # and its critical finding commits with it.
        if self.online:
            sightings = sightings_in_reports(s, self.tripwire, stored, bodies.get)
            opened += raise_sightings(s, sightings, at)
        evaluator = self.policies.current()
        if evaluator is not None and evaluator.rules:
            chosen = newest_per_agent(stored)
            # Full report and later heartbeat of one agent: evaluated in order, the second
            # against the states the first wrote.
            firsts = [r for r in chosen if r.kind == "full"]
            rest = [r for r in chosen if r.kind != "full"]
            for group in (firsts, rest):
                if group:
                    opened += evaluate_reports(s, evaluator, group, at, self.units, bodies)[1]
        if opened and self.on_opened is not None:
            self.on_opened(s, opened, at)
        return inserted
