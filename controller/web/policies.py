"""The installed policies as the dashboard shows them (titles in the caller's language)."""

from __future__ import annotations

from fastapi import Request

from controller.findings.network import RULES as NETWORK_RULES
from controller.findings.policies import PolicyCache
from controller.policy.model import Remediation


def policy_cache(request: Request) -> PolicyCache:
    """The application's policy cache (made once by :func:`controller.web.install`)."""
    cache: PolicyCache = request.app.state.policies
    return cache


def rule_titles(request: Request, locale: str) -> dict[str, str]:
    """Rule id → title in ``locale`` for every installed rule and every rule the network
    decides (:data:`controller.findings.network.RULES`)."""
    # Rules the network decides (NET-01, PRN-01...) have no pack: their titles are in code.
    titles = {rule.id: rule.title.get(locale) for rule in NETWORK_RULES.values()}
    evaluator = policy_cache(request).current()
    if evaluator is None:
        return titles
    return titles | {rule.id: rule.title.get(locale) for rule in evaluator.rules}


def remediations(request: Request) -> dict[str, Remediation]:
    """Rule id → its remediation (playbook, approval) for every installed rule that has one."""
    evaluator = policy_cache(request).current()
    if evaluator is None:
        return {}
    return {rule.id: rule.remediation for rule in evaluator.rules if rule.remediation is not None}
