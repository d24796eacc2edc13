"""Findings: rule outcomes per host, evaluated on every report and re-evaluated on change.

- :class:`FindingsWriter` evaluates each stored report in the ingest transaction (incremental).
- :func:`reevaluate` evaluates every host after a policy or organisation change, and finds
  hosts that stopped reporting.
- The lifecycle (acknowledge, exempt, resolve) and the queries live in
  :mod:`controller.store.findings`.
"""

from controller.findings.engine import Evaluator, rule_sections
from controller.findings.full import CHUNK, Totals, reevaluate
from controller.findings.hosts import Host, UnitPaths, document, load_hosts
from controller.findings.incremental import FindingsWriter, evaluate_reports, report_facts
from controller.findings.policies import PolicyCache

__all__ = [
    "CHUNK",
    "Evaluator",
    "FindingsWriter",
    "Host",
    "PolicyCache",
    "Totals",
    "UnitPaths",
    "document",
    "evaluate_reports",
    "load_hosts",
    "reevaluate",
    "report_facts",
    "rule_sections",
]
