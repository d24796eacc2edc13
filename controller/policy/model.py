"""The policy's typed records: texts, references, packs, rules, the host context and results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import msgspec

Outcome = Literal["pass", "fail", "not_applicable", "error"]
OUTCOMES: tuple[Outcome, ...] = ("pass", "fail", "not_applicable", "error")
Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
Match = Literal["all", "any", "none"]
Classification = Literal["normal", "classified"]
CLASSIFICATIONS: tuple[Classification, ...] = ("normal", "classified")
OsFamily = Literal["windows", "linux"]
OS_FAMILIES: tuple[OsFamily, ...] = ("windows", "linux")
#: The tag of devices designated for secret documents (``asset.for_secret_use``).
SECRET_USE_TAG = "for-secret-use"  # noqa: S105 - a tag name, not a password


@dataclass(frozen=True)
class Text:
    """A text in Vietnamese (the default) and English."""

    vi: str
    en: str

    def get(self, lang: str) -> str:
        """The text in ``lang`` (``vi`` or ``en``)."""
        return self.en if lang == "en" else self.vi


@dataclass(frozen=True)
class Reference:
    """A legal or technical source rules cite by id, defined once in a references file."""

    id: str
    title: Text
    source: str
    url: str | None = None
    #: How sure the citation is (RULES.md tags): ``seen`` in a public text [S], ``code`` seen in
    #: public code only [C], widely ``known`` but not checked against the text [K], or
    #: ``derived``: a govguard design decision, not a legal rule [D]. None when not stated.
    basis: str | None = None


@dataclass(frozen=True)
class Applicability:
    """Which hosts a pack or rule applies to; an empty tuple means "any"."""

    os: frozenset[str] = frozenset()
    classification: frozenset[str] = frozenset()
    units: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    #: Asset kinds from the inventory (``laptop``, ``desktop``...): ``kind`` in YAML.
    kinds: frozenset[str] = frozenset()


class Reason(msgspec.Struct, frozen=True):
    """Why a rule has its outcome: a stable code and the values a message is made of.

    Rendered in either language by :func:`controller.policy.messages.render`.
    """

    code: str
    values: dict[str, Any] = {}


class Evidence(msgspec.Struct, frozen=True):
    """The fact behind a failed or erroneous check: what was found and what was expected."""

    check: int
    fact: str
    expected: dict[str, Any]
    actual: Any = None


class RuleResult(msgspec.Struct, frozen=True):
    """The outcome of one rule on one host."""

    rule_id: str
    outcome: Outcome
    reason: Reason
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class HostContext:
    """What the evaluator knows about a host besides its report.

    ``units`` is the path of unit ids from the top of the organisation down to the host's unit,
    so a rule for unit ``ubnd-huyen`` applies to every unit below it. ``now`` is the time of the
    evaluation (for ``days_ago`` comparisons); the current time when not given. ``kind`` is the
    asset kind from the inventory (``laptop``...); None when the host has no inventory record.
    """

    os: str | None = None
    classification: str = "normal"
    units: tuple[str, ...] = ()
    tags: frozenset[str] = frozenset()
    now: datetime | None = None
    kind: str | None = None

    @classmethod
    def from_facts(
        cls,
        facts: dict[str, Any],
        *,
        classification: str | None = None,
        units: tuple[str, ...] = (),
        tags: frozenset[str] = frozenset(),
        now: datetime | None = None,
        kind: str | None = None,
    ) -> HostContext:
        """A context read from the facts where the caller does not say otherwise.

        The OS family comes from the report (``os.version.family``); the classification and the
        kind from the inventory record (``asset.classification``, ``asset.kind``), else
        ``normal`` and unknown; the record's ``asset.tags`` are added to ``tags``, and
        :data:`SECRET_USE_TAG` when ``asset.for_secret_use`` is true.
        """
        os_section = facts.get("os")
        version = os_section.get("version") if isinstance(os_section, dict) else None
        family = version.get("family") if isinstance(version, dict) else None
        asset = facts.get("asset")
        if not isinstance(asset, dict):
            asset = {}
        if classification is None:
            recorded = asset.get("classification")
            classification = recorded if recorded in CLASSIFICATIONS else "normal"
        if kind is None and isinstance(asset.get("kind"), str):
            kind = asset["kind"]
        asset_tags = asset.get("tags")
        if isinstance(asset_tags, list):
            tags = tags | frozenset(t for t in asset_tags if isinstance(t, str))
        if asset.get("for_secret_use") is True:
            # The flag and the tag mean the same to the inventory: rules gate on the tag.
            tags = tags | {SECRET_USE_TAG}
        return cls(
            os=family if isinstance(family, str) else None,
            classification=classification,
            units=units,
            tags=tags,
            now=now,
            kind=kind,
        )


#: A compiled check: ``(facts, now_timestamp) -> True | False | Reason`` (a Reason is an error).
CheckFn = Callable[[dict[str, Any], float], "bool | Reason"]


@dataclass(frozen=True)
class Check:
    """One compiled check of a rule."""

    index: int
    fact: str
    expected: dict[str, Any]
    run: CheckFn
    actual: Callable[[dict[str, Any], float], Any]


@dataclass(frozen=True)
class Remediation:
    """The playbook that fixes a failed rule and whether running it needs approval."""

    playbook: str
    approval: Literal["required", "none"] = "required"


@dataclass(frozen=True)
class Rule:
    """A validated, compiled rule."""

    id: str
    pack: str
    title: Text
    rationale: Text
    severity: Severity
    references: tuple[str, ...]
    applies_to: Applicability
    match: Match
    checks: tuple[Check, ...]
    params: dict[str, Any] = field(default_factory=dict)
    remediation: Remediation | None = None
    #: ``FILE:LINE`` of the rule, for messages.
    source: str = ""
    #: The pack's applicability, which the rule's own narrows.
    pack_applies_to: Applicability = Applicability()

    @property
    def gates(self) -> tuple[Applicability, ...]:
        """The non-empty applicability filters, pack first (computed once)."""
        cached: tuple[Applicability, ...] | None = self.__dict__.get("_gates")
        if cached is None:
            cached = tuple(
                app
                for app in (self.pack_applies_to, self.applies_to)
                if app.os or app.classification or app.units or app.tags or app.kinds
            )
            object.__setattr__(self, "_gates", cached)
        return cached


@dataclass(frozen=True)
class Pack:
    """A validated pack of rules from one file."""

    id: str
    version: int
    title: Text
    applies_to: Applicability
    rules: tuple[Rule, ...]
    path: str
