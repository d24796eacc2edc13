"""Change one rule in the operator's overrides file: enable or disable it, set its parameters.

The dashboard's Policies page calls :func:`edit_rule`. The change is applied to
``<data-dir>/policies/overrides.yaml`` (docs/policies.md, Overrides) only once the whole policy
set loads with the new file: a bad value is refused with the loader's own message and the file
is left untouched. The new file replaces the old one atomically (written beside it, then
renamed), the previous version is kept as ``overrides.yaml.bak``, and the change is recorded
in the audit log. Running controllers pick the new file up through
:class:`controller.findings.PolicyCache` (it watches the folder's files) and the fleet is
re-evaluated soon (:func:`controller.findings.scheduler.request_reevaluation`).

The file is rewritten from its parsed content: comments in it are not kept (the ``.bak`` has
them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from controller.findings.scheduler import request_reevaluation
from controller.policy.loader import (
    SHIPPED_PACKS,
    PolicyError,
    PolicySet,
    load_installed,
    load_policies,
    overrides_path,
)
from controller.policy.model import Rule
from controller.store import audit

_HEADER = (
    "# govguard policy overrides (docs/policies.md). Last written by the dashboard; the\n"
    "# previous version is overrides.yaml.bak.\n"
)


class OverrideError(ValueError):
    """The change is refused; the message (English, from the policy loader) says why."""


class RuleUnknown(OverrideError):  # noqa: N818 - a condition
    """No pack defines this rule."""


@dataclass(frozen=True)
class RuleEdit:
    """What :func:`edit_rule` changed (nothing when the form repeated the current values)."""

    rule_id: str
    enabled: bool
    #: ``{name: (old value, new value)}`` of the parameters that changed.
    params: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    enabled_changed: bool = False

    @property
    def changed(self) -> bool:
        """Whether the file was rewritten."""
        return self.enabled_changed or bool(self.params)


def find_rule(policies: PolicySet, rule_id: str) -> Rule | None:
    """The rule ``rule_id`` of any pack, enabled or not."""
    for pack in policies.packs:
        for rule in pack.rules:
            if rule.id == rule_id:
                return rule
    return None


def parse_value(text: str, current: Any) -> Any:
    """A parameter value typed in a form, read as YAML (``45``, ``0.5``, ``true``, ``[a, b]``).

    A list parameter also takes comma-separated items (``a, b``). The loader then checks the
    type against the declared default.
    """
    text = text.strip()
    if isinstance(current, list) and not text.startswith("["):
        items = [item.strip() for item in text.split(",") if item.strip()]
        return [_scalar(item) for item in items]
    return _scalar(text)


def _scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        return text


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise OverrideError(f"{path.name}: cannot read the current file: {exc}") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise OverrideError(f"{path.name}: the current file is not a mapping; fix it by hand")
    return doc


def _validate(candidate: Path, shown: str) -> None:
    """Load every pack with ``candidate`` as the overrides; OverrideError with the messages."""
    packs = [SHIPPED_PACKS] if SHIPPED_PACKS.is_dir() else []
    try:
        load_policies(packs, overrides=candidate)
    except PolicyError as exc:
        raise OverrideError(str(exc).replace(str(candidate), shown)) from None


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` beside ``path``, validate it, keep a ``.bak``, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        _validate(tmp, path.name)
        if path.is_file():
            shutil.copy2(path, path.with_name(path.name + ".bak"))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def edit_rule(
    s: Session,
    data_dir: Path,
    rule_id: str,
    *,
    enabled: bool,
    params: Mapping[str, str],
    actor: str,
    source: str | None,
    now: datetime,
) -> RuleEdit:
    """Set rule ``rule_id`` enabled or disabled and its parameters (form texts by name).

    Parameters whose text gives the current value are left alone. The audit entry
    (``policy.rule_changed``, target ``rule:<id>``) and the re-evaluation request are added to
    ``s`` before the file is replaced, so a failed write leaves neither behind once the caller
    rolls back. Raises :class:`RuleUnknown` or :class:`OverrideError`.
    """
    try:
        current_set = load_installed(data_dir)
    except PolicyError as exc:
        raise OverrideError(f"the installed policies do not load: {exc}") from None
    rule = find_rule(current_set, rule_id)
    if rule is None:
        raise RuleUnknown(f"no rule {rule_id!r} in the installed packs")
    path = overrides_path(data_dir)
    doc = _read(path)
    was_enabled = rule_id not in current_set.disabled
    changed: dict[str, tuple[Any, Any]] = {}
    for name, text in params.items():
        if name not in rule.params:
            raise OverrideError(
                f"rule {rule_id} has no parameter {name!r} "
                f"(declared: {', '.join(sorted(rule.params)) or 'none'})"
            )
        value = parse_value(text, rule.params[name])
        if value != rule.params[name] or type(value) is not type(rule.params[name]):
            changed[name] = (rule.params[name], value)
    edit = RuleEdit(rule_id, enabled, changed, enabled_changed=enabled != was_enabled)
    if not edit.changed:
        return edit
    disable = [str(r) for r in doc.get("disable") or []] if isinstance(doc, dict) else []
    if enabled:
        disable = [r for r in disable if r != rule_id]
    elif rule_id not in disable:
        disable.append(rule_id)
    if disable:
        doc["disable"] = disable
    else:
        doc.pop("disable", None)
    if changed:
        all_params = doc.get("params")
        if not isinstance(all_params, dict):
            all_params = {}
        own = all_params.get(rule_id)
        own = dict(own) if isinstance(own, dict) else {}
        own.update({name: new for name, (_, new) in changed.items()})
        all_params[rule_id] = own
        doc["params"] = all_params
    details: dict[str, object] = {"enabled": enabled}
    if changed:
        details["params"] = {name: {"from": old, "to": new} for name, (old, new) in changed.items()}
    audit.record(s, actor, "policy.rule_changed", f"rule:{rule_id}", details, at=now, source=source)
    request_reevaluation(s, now)
    s.flush()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _HEADER + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    _write_atomic(path, text)
    return edit
