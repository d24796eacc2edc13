"""Evaluate a host and tell which rule outcomes changed since the stored state.

An :class:`Evaluator` holds one validated policy set. For a heartbeat, which carries only some
report sections, it evaluates only the rules whose facts all lie in those sections (or in the
controller's own ``asset``/``controller`` facts): the other rules' facts did not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from controller.findings.hosts import Host
from controller.policy import PolicySet, Rule, RuleResult, evaluate_rule
from controller.store.findings import Change, State

#: Fact roots the controller supplies itself; present in every evaluation.
CONTROLLER_ROOTS = frozenset({"asset", "controller"})


def _projection(paths: list[str]) -> type:
    """A Struct type with only the fields of these dotted fact paths (leaves decode as Any)."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        parts = path.split(".")
        for n, part in enumerate(parts):
            if n == len(parts) - 1:
                node[part] = None  # a leaf: the whole value, whatever is below it
            else:
                child = node.get(part, {})
                if child is None:  # an ancestor is already read whole
                    break
                node = node.setdefault(part, child)

    counter = iter(range(1_000_000))

    def shape(branch: dict[str, Any]) -> type:
        fields: list[tuple[str, Any, Any]] = []
        for key, below in sorted(branch.items()):
            kind: Any = Any if below is None else shape(below) | None
            fields.append((key, kind, msgspec.UNSET))
        return msgspec.defstruct(f"Projection{next(counter)}", fields, omit_defaults=True)

    return shape(tree)


def _plain_struct(value: msgspec.Struct) -> dict[str, Any]:
    """A projection as dicts; its leaves are plain values already (to_builtins would walk
    them all again, which cost more than the decode itself)."""
    found: dict[str, Any] = {}
    unset = msgspec.UNSET
    for name in value.__struct_fields__:
        item = getattr(value, name)
        if item is unset:
            continue
        found[name] = _plain_struct(item) if isinstance(item, msgspec.Struct) else item
    return found


def rule_sections(rule: Rule) -> frozenset[str]:
    """The report sections a rule reads (the first part of each fact path)."""
    return frozenset(check.fact.split(".", 1)[0] for check in rule.checks) - CONTROLLER_ROOTS


class Evaluator:
    """A policy set ready to evaluate hosts."""

    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self.rules = policies.rules
        self.by_id = {rule.id: rule for rule in self.rules}
        self._sections = {rule.id: rule_sections(rule) for rule in self.rules}
        self._subsets: dict[frozenset[str], tuple[Rule, ...]] = {}
        #: Every report section some rule reads; the others are never decoded.
        self.sections = frozenset().union(*self._sections.values()) if self.rules else frozenset()
        self._names = tuple(sorted(self.sections))
        sections = msgspec.defstruct(
            "PolicySections", [(name, Any, msgspec.UNSET) for name in self._names]
        )
        self._by_section = msgspec.json.Decoder(sections)
        paths = [check.fact for rule in self.rules for check in rule.checks]
        self._projection: msgspec.json.Decoder[Any] = msgspec.json.Decoder(_projection(paths))

    def decode(self, raw: bytes) -> dict[str, Any]:
        """The parts of a report (JSON) that rules read, as plain values.

        A typed decode of only the fact paths the rules name skips the rest of the document
        unbuilt: on a real 50 KB report, 44 KB are the software inventory, of which rules read
        the services and the Vietnamese-text facts, not the 2,000 installed packages (measured
        with bench/policy_eval.py). Where a report does not have the expected shape (a section
        that is a list, say) the whole sections are decoded instead, so the rules report it.
        """
        try:
            projected = _plain_struct(self._projection.decode(raw))
        except msgspec.ValidationError:
            decoded = self._by_section.decode(raw)
            unset = msgspec.UNSET
            return {
                name: value
                for name in self._names
                if (value := getattr(decoded, name)) is not unset
            }
        return {name: value for name, value in projected.items() if name not in CONTROLLER_ROOTS}

    def rules_for(self, sections: frozenset[str] | None) -> tuple[Rule, ...]:
        """Every rule (``sections`` None: a full report) or those a heartbeat can decide."""
        if sections is None:
            return self.rules
        chosen = self._subsets.get(sections)
        if chosen is None:
            chosen = tuple(r for r in self.rules if self._sections[r.id] <= sections)
            self._subsets[sections] = chosen
        return chosen

    def changes(
        self,
        host: Host,
        doc: Mapping[str, Any],
        now: datetime,
        previous: Mapping[str, State],
        rules: tuple[Rule, ...],
    ) -> list[Change]:
        """Evaluate ``rules`` on ``doc`` and return the outcomes that differ from ``previous``."""
        ctx = host.context(now)
        stamp = now.timestamp()
        found: list[Change] = []
        facts = dict(doc)
        for rule in rules:
            result = evaluate_rule(rule, facts, ctx, stamp)
            before = previous.get(rule.id)
            if before is not None and before.outcome == result.outcome:
                # A pass or a not-applicable carries no evidence worth a write.
                if result.outcome in ("pass", "not_applicable"):
                    continue
                reason, evidence = _texts(result)
                if reason == before.reason and evidence == before.evidence:
                    continue
            else:
                reason, evidence = _texts(result)
            found.append(
                Change(
                    agent_id=host.agent_id,
                    unit_id=host.unit_id,
                    rule_id=rule.id,
                    severity=rule.severity,
                    outcome=result.outcome,
                    reason=reason,
                    evidence=evidence,
                    previous=before.outcome if before is not None else None,
                )
            )
        return found


def _texts(result: RuleResult) -> tuple[str, str | None]:
    """The reason and evidence as the JSON texts they are stored as (compared as text: no
    stored state is ever decoded to decide whether it changed)."""
    encode = msgspec.json.encode
    reason = encode(result.reason).decode()
    evidence = encode(result.evidence).decode() if result.evidence else None
    return reason, evidence
