"""Evaluate compiled rules on one host's facts: four outcomes, a reason and the evidence.

Checks combine in three-valued logic (true, false, error):

- ``all``: pass when every check holds; fail when one does not (even if another errored);
  otherwise error.
- ``any``: pass when one check holds; error when none holds and one errored; otherwise fail.
- ``none``: pass when no check holds; fail when one holds; otherwise error.

Applicability comes first: a rule whose pack or own ``applies_to`` excludes the host is
``not_applicable``; a rule limited to an OS family (or asset kind) on a host whose family (or
kind) is unknown is an ``error``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from controller.policy.model import (
    Applicability,
    Check,
    Evidence,
    HostContext,
    Reason,
    Rule,
    RuleResult,
)

_PASS = {
    "all": Reason("all_checks_hold"),
    "any": Reason("check_holds", {"check": 0}),
    "none": Reason("no_check_holds"),
}


_UNKNOWN = frozenset({"os_unknown", "kind_unknown"})


def _gate(app: Applicability, ctx: HostContext) -> Reason | None:
    """Why ``app`` excludes the host, or None when it applies.

    ``os_unknown`` and ``kind_unknown`` (the rule is limited to what the host's unknown OS
    family or asset kind would decide) are errors, the other reasons ``not_applicable``.
    """
    if app.os and ctx.os not in app.os:
        if ctx.os is None:
            return Reason("os_unknown", {"applies_to": sorted(app.os)})
        return Reason("os_not_applicable", {"os": ctx.os, "applies_to": sorted(app.os)})
    if app.classification and ctx.classification not in app.classification:
        return Reason(
            "classification_not_applicable",
            {"classification": ctx.classification, "applies_to": sorted(app.classification)},
        )
    if app.units and app.units.isdisjoint(ctx.units):
        return Reason("unit_not_applicable", {"applies_to": sorted(app.units)})
    if app.tags and app.tags.isdisjoint(ctx.tags):
        return Reason("tag_not_applicable", {"applies_to": sorted(app.tags)})
    if app.kinds and ctx.kind not in app.kinds:
        if ctx.kind is None:
            return Reason("kind_unknown", {"applies_to": sorted(app.kinds)})
        return Reason("kind_not_applicable", {"kind": ctx.kind, "applies_to": sorted(app.kinds)})
    return None


def _evidence(check: Check, facts: dict[str, Any], now: float) -> Evidence:
    return Evidence(check.index, check.fact, check.expected, check.actual(facts, now))


def _error(check: Check, reason: Reason) -> Reason:
    values = dict(reason.values)
    values.setdefault("fact", check.fact)
    values["check"] = check.index
    return Reason(reason.code, values)


def _failed(
    rule: Rule, failed: list[Check], facts: dict[str, Any], now: float, code: str
) -> RuleResult:
    """A fail whose reason describes the first violated check; every one goes to the evidence."""
    evidence = tuple(_evidence(c, facts, now) for c in failed)
    first = evidence[0]
    values = {
        "check": first.check,
        "fact": first.fact,
        "expected": first.expected,
        "actual": first.actual,
    }
    return RuleResult(rule.id, "fail", Reason(code, values), evidence)


def evaluate_rule(rule: Rule, facts: dict[str, Any], ctx: HostContext, now: float) -> RuleResult:
    """Evaluate one rule; ``now`` is the evaluation time as a POSIX timestamp."""
    for app in rule.gates:
        why = _gate(app, ctx)
        if why is not None:
            if why.code in _UNKNOWN:
                return RuleResult(rule.id, "error", why)
            return RuleResult(rule.id, "not_applicable", why)
    checks = rule.checks
    match = rule.match
    if len(checks) == 1:
        # Most rules have one check: skip the lists and zips.
        check = checks[0]
        result = check.run(facts, now)
        if result is True:
            if match == "none":
                return _failed(rule, [check], facts, now, "forbidden_match")
            return RuleResult(rule.id, "pass", _PASS[match])
        if result is False:
            if match == "none":
                return RuleResult(rule.id, "pass", _PASS["none"])
            if match == "any":
                return RuleResult(
                    rule.id,
                    "fail",
                    Reason("no_check_holds_any", {"checks": 1}),
                    (_evidence(check, facts, now),),
                )
            return _failed(rule, [check], facts, now, "check_failed")
        return RuleResult(rule.id, "error", _error(check, result), (_evidence(check, facts, now),))
    results = [check.run(facts, now) for check in checks]
    if match == "all":
        if all(r is True for r in results):
            return RuleResult(rule.id, "pass", _PASS["all"])
        failed = [c for c, r in zip(checks, results, strict=True) if r is False]
        if failed:
            return _failed(rule, failed, facts, now, "check_failed")
    elif match == "any":
        for check, result in zip(checks, results, strict=True):
            if result is True:
                return RuleResult(rule.id, "pass", Reason("check_holds", {"check": check.index}))
        if all(r is False for r in results):
            return RuleResult(
                rule.id,
                "fail",
                Reason("no_check_holds_any", {"checks": len(checks)}),
                tuple(_evidence(c, facts, now) for c in checks),
            )
    else:
        held = [c for c, r in zip(checks, results, strict=True) if r is True]
        if held:
            return _failed(rule, held, facts, now, "forbidden_match")
        if all(r is False for r in results):
            return RuleResult(rule.id, "pass", _PASS["none"])
    # Only errors are left undecided: report the first, with the evidence of every erroneous check.
    errored = [(c, r) for c, r in zip(checks, results, strict=True) if isinstance(r, Reason)]
    check, reason = errored[0]
    return RuleResult(
        rule.id,
        "error",
        _error(check, reason),
        tuple(_evidence(c, facts, now) for c, _ in errored),
    )


def evaluate(rules: Iterable[Rule], facts: dict[str, Any], ctx: HostContext) -> list[RuleResult]:
    """Evaluate rules on one host's facts (the report as decoded JSON) in its context."""
    now = ctx.now.timestamp() if ctx.now is not None else time.time()
    return [evaluate_rule(rule, facts, ctx, now) for rule in rules]
