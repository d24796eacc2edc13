"""The policy engine: YAML packs of rules, validated and compiled once, evaluated per host.

The whole public surface is here: load packs with :func:`load_policies` (or
:func:`load_installed` for the shipped packs plus the data directory's overrides), evaluate a
host with :func:`evaluate`, and render reasons with :func:`render`. The format is described in
``docs/policies.md``.
"""

from controller.policy.evaluate import evaluate, evaluate_rule
from controller.policy.loader import (
    DEFAULT_REFERENCES,
    SHIPPED_PACKS,
    PolicyError,
    PolicySet,
    load_installed,
    load_policies,
    overrides_path,
)
from controller.policy.messages import outcome_text, render
from controller.policy.model import (
    OUTCOMES,
    Evidence,
    HostContext,
    Outcome,
    Pack,
    Reason,
    Reference,
    Rule,
    RuleResult,
    Text,
)

__all__ = [
    "DEFAULT_REFERENCES",
    "OUTCOMES",
    "SHIPPED_PACKS",
    "Evidence",
    "HostContext",
    "Outcome",
    "Pack",
    "PolicyError",
    "PolicySet",
    "Reason",
    "Reference",
    "Rule",
    "RuleResult",
    "Text",
    "evaluate",
    "evaluate_rule",
    "load_installed",
    "load_policies",
    "outcome_text",
    "overrides_path",
    "render",
]
