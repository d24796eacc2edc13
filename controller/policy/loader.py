"""Load references, packs and the operator's overrides into a validated :class:`PolicySet`.

Every problem is collected (not only the first) as one line ``FILE:LINE: rule ID: FIELD: what``,
and :class:`PolicyError` carries them all. Shipped files are never edited: an operator's
``<data-dir>/policies/overrides.yaml`` disables rules, sets parameters and adds pack directories.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.policy.checks import compile_check
from controller.policy.host_facts import ASSET_KINDS
from controller.policy.model import (
    CLASSIFICATIONS,
    OS_FAMILIES,
    SEVERITIES,
    Applicability,
    Pack,
    Reference,
    Remediation,
    Rule,
    Text,
)
from controller.policy.operators import Compiler, SpecError
from controller.policy.yamlsrc import YamlError, load_yaml

POLICY_DIR = Path(__file__).resolve().parent
#: The references every shipped rule cites, and the shipped packs.
DEFAULT_REFERENCES = POLICY_DIR / "references.yaml"
SHIPPED_PACKS = POLICY_DIR / "packs"

PACK_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
RULE_ID = re.compile(r"[A-ZĐ][A-ZĐ0-9]*(?:[-_.][A-ZĐ0-9]+)*")
REFERENCE_ID = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,126}[a-z0-9])?")
PARAM_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
UNIT_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
TAG = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")

PACK_KEYS = ("policy", "applies_to", "rules")
HEADER_KEYS = ("id", "version", "title", "description")
RULE_KEYS = (
    "id",
    "title",
    "rationale",
    "severity",
    "references",
    "applies_to",
    "match",
    "checks",
    "remediation",
    "params",
)
APPLIES_KEYS = ("os", "classification", "units", "tags", "kind")
OVERRIDE_KEYS = ("disable", "params", "packs", "references")
REFERENCE_KEYS = ("id", "title", "source", "url", "basis")
#: A reference's ``basis``: the confidence tags of RULES.md ([S], [C], [K], [D]).
BASES = ("seen", "code", "known", "derived")


class PolicyError(Exception):
    """Invalid policy files; ``errors`` holds every problem as one line."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__(f"{len(errors)} policy error(s):\n" + "\n".join(errors))
        self.errors = list(errors)


def _line(node: Any, key: Any, default: int = 0) -> int:
    line_of = getattr(node, "line_of", None)
    if line_of is not None:
        return int(line_of(key))
    return int(getattr(node, "line", default))


@dataclass
class _Errors:
    lines: list[str] = field(default_factory=list)

    def add(self, path: Path, line: int, where: str, message: str) -> None:
        self.lines.append(
            f"{path}:{line}: {where}: {message}" if where else f"{path}:{line}: {message}"
        )


def _text(node: Any, line: int, field_name: str) -> Text:
    if not isinstance(node, dict):
        raise SpecError(line, field_name, "expected {vi: ..., en: ...}")
    extra = set(node) - {"vi", "en"}
    if extra:
        raise SpecError(line, field_name, f"unknown language(s) {sorted(map(str, extra))}")
    for lang in ("vi", "en"):
        value = node.get(lang)
        if not isinstance(value, str) or not value.strip():
            raise SpecError(
                _line(node, lang, line),
                f"{field_name}.{lang}",
                "missing (both vi and en are required)",
            )
    return Text(vi=node["vi"].strip(), en=node["en"].strip())


def _string_list(
    node: Any,
    line: int,
    field_name: str,
    pattern: re.Pattern[str] | None,
    allowed: Iterable[str] = (),
) -> list[str]:
    values = [node] if isinstance(node, str) else node
    if not isinstance(values, list) or not values:
        raise SpecError(line, field_name, "expected a non-empty list")
    choices = tuple(allowed)
    for index, value in enumerate(values):
        item_line = _line(values, index, line)
        if not isinstance(value, str):
            raise SpecError(item_line, field_name, f"{value!r} is not a text")
        if choices and value not in choices:
            raise SpecError(item_line, field_name, f"{value!r} is not one of {', '.join(choices)}")
        if pattern is not None and not pattern.fullmatch(value):
            raise SpecError(item_line, field_name, f"{value!r} is not a valid id")
    return list(values)


def _applicability(node: Any, line: int, field_name: str) -> Applicability:
    if node is None:
        return Applicability()
    if not isinstance(node, dict):
        raise SpecError(line, field_name, f"expected a mapping ({', '.join(APPLIES_KEYS)})")
    for key in node:
        if key not in APPLIES_KEYS:
            raise SpecError(
                _line(node, key, line),
                f"{field_name}.{key}",
                f"unknown key (allowed: {', '.join(APPLIES_KEYS)})",
            )

    def get(
        key: str, pattern: re.Pattern[str] | None, allowed: Iterable[str] = ()
    ) -> frozenset[str]:
        if key not in node:
            return frozenset()
        return frozenset(
            _string_list(node[key], _line(node, key, line), f"{field_name}.{key}", pattern, allowed)
        )

    return Applicability(
        os=get("os", None, OS_FAMILIES),
        classification=get("classification", None, CLASSIFICATIONS),
        units=get("units", UNIT_ID),
        tags=get("tags", TAG),
        kinds=get("kind", None, ASSET_KINDS),
    )


def _param_value_ok(default: Any, value: Any) -> bool:
    """An override must have the declared parameter's type (an int is accepted for a float)."""
    if type(default) is float:
        return type(value) in (int, float)
    if isinstance(default, list):
        return isinstance(value, list) and all(type(v) in (str, int, float, bool) for v in value)
    return type(value) is type(default)


def _params(node: Any, line: int) -> dict[str, Any]:
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise SpecError(line, "params", "expected a mapping {name: default value}")
    params: dict[str, Any] = {}
    for name, value in node.items():
        at = _line(node, name, line)
        if not isinstance(name, str) or not PARAM_NAME.fullmatch(name):
            raise SpecError(at, "params", f"{name!r} is not a valid name (a-z, 0-9, _)")
        ok = type(value) in (bool, int, float, str) or (
            isinstance(value, list) and all(type(v) in (str, int, float, bool) for v in value)
        )
        if not ok:
            raise SpecError(
                at, f"params.{name}", "the default must be a bool, number, text or list"
            )
        params[name] = list(value) if isinstance(value, list) else value
    return params


@dataclass
class Overrides:
    """An operator's changes: rules switched off, parameter values, extra packs, references."""

    path: Path | None = None
    disable: dict[str, int] = field(default_factory=dict)
    params: dict[str, dict[str, tuple[Any, int]]] = field(default_factory=dict)
    packs: list[Path] = field(default_factory=list)
    references: list[Path] = field(default_factory=list)


def load_overrides(path: Path, errors: _Errors) -> Overrides:
    """Parse an overrides file (rule ids are checked later, once every pack is loaded)."""
    result = Overrides(path=path)
    try:
        doc = load_yaml(path)
    except YamlError as exc:
        errors.lines.append(str(exc))
        return result
    if doc is None:
        return result
    if not isinstance(doc, dict):
        errors.add(
            path, _line(doc, 0, 1), "", "expected a mapping (disable, params, packs, references)"
        )
        return result
    for key in doc:
        if key not in OVERRIDE_KEYS:
            errors.add(
                path,
                _line(doc, key),
                str(key),
                f"unknown key (allowed: {', '.join(OVERRIDE_KEYS)})",
            )
    try:
        if "disable" in doc:
            ids = _string_list(doc["disable"], _line(doc, "disable"), "disable", RULE_ID)
            result.disable = {
                rule_id: _line(doc["disable"], i, _line(doc, "disable"))
                for i, rule_id in enumerate(ids)
            }
    except SpecError as exc:
        errors.add(path, exc.line, exc.field, exc.message)
    node = doc.get("params")
    if node is not None:
        if not isinstance(node, dict):
            errors.add(path, _line(doc, "params"), "params", "expected {RULE-ID: {name: value}}")
        else:
            for rule_id, values in node.items():
                at = _line(node, rule_id)
                if not isinstance(values, dict):
                    errors.add(path, at, f"params.{rule_id}", "expected {name: value}")
                    continue
                result.params[str(rule_id)] = {
                    str(k): (v, _line(values, k, at)) for k, v in values.items()
                }
    for key, target in (("packs", result.packs), ("references", result.references)):
        if key not in doc:
            continue
        try:
            for entry in _string_list(doc[key], _line(doc, key), key, None):
                entry_path = Path(entry)
                target.append(entry_path if entry_path.is_absolute() else path.parent / entry_path)
        except SpecError as exc:
            errors.add(path, exc.line, exc.field, exc.message)
    return result


def load_references(paths: Sequence[Path], errors: _Errors) -> dict[str, Reference]:
    """Read references files: ``references: [{id, title: {vi, en}, source, url?, basis?}]``."""
    found: dict[str, Reference] = {}
    where: dict[str, str] = {}
    for path in paths:
        try:
            doc = load_yaml(path)
        except YamlError as exc:
            errors.lines.append(str(exc))
            continue
        items = doc.get("references") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            errors.add(path, _line(doc, "references", 1), "references", "expected a list")
            continue
        for index, item in enumerate(items):
            at = _line(items, index)
            name = f"references[{index}]"
            try:
                if not isinstance(item, dict):
                    raise SpecError(at, name, "expected {id, title, source, url, basis}")
                for key in item:
                    if key not in REFERENCE_KEYS:
                        raise SpecError(
                            _line(item, key, at),
                            f"{name}.{key}",
                            f"unknown key (allowed: {', '.join(REFERENCE_KEYS)})",
                        )
                ref_id = item.get("id")
                if not isinstance(ref_id, str) or not REFERENCE_ID.fullmatch(ref_id):
                    raise SpecError(
                        at, f"{name}.id", f"{ref_id!r} is not a valid id (a-z, 0-9, '.', '-')"
                    )
                title = _text(item.get("title"), _line(item, "title", at), f"{name}.title")
                source = item.get("source")
                if not isinstance(source, str) or not source.strip():
                    raise SpecError(
                        at, f"{name}.source", "missing: cite the legal text or document"
                    )
                url = item.get("url")
                if url is not None and (not isinstance(url, str) or not url.startswith("https://")):
                    raise SpecError(
                        _line(item, "url", at), f"{name}.url", "must be an https:// URL"
                    )
                basis = item.get("basis")
                if basis is not None and basis not in BASES:
                    raise SpecError(
                        _line(item, "basis", at),
                        f"{name}.basis",
                        f"{basis!r} is not one of {', '.join(BASES)}",
                    )
                if ref_id in found:
                    raise SpecError(
                        at,
                        f"{name}.id",
                        f"duplicate reference {ref_id!r} (first at {where[ref_id]})",
                    )
            except SpecError as exc:
                errors.add(path, exc.line, exc.field, exc.message)
                continue
            found[ref_id] = Reference(ref_id, title, source.strip(), url, basis)
            where[ref_id] = f"{path}:{at}"
    return found


def _compile_rule(
    node: Any,
    path: Path,
    pack: str,
    pack_applies: Applicability,
    references: dict[str, Reference],
    overrides: Overrides,
    errors: _Errors,
) -> Rule | None:
    at = _line(node, 0)
    rule_id = node.get("id")
    label = f"rule {rule_id}" if isinstance(rule_id, str) else f"rule at line {at}"
    before = len(errors.lines)

    def fail(exc: SpecError) -> None:
        errors.add(path, exc.line, f"{label}: {exc.field}", exc.message)

    try:
        for key in node:
            if key not in RULE_KEYS:
                raise SpecError(
                    _line(node, key, at), str(key), f"unknown key (allowed: {', '.join(RULE_KEYS)})"
                )
        if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
            raise SpecError(
                _line(node, "id", at), "id", f"{rule_id!r} is not a valid rule id (e.g. ATTT-05)"
            )
        title = _text(node.get("title"), _line(node, "title", at), "title")
        rationale = _text(node.get("rationale"), _line(node, "rationale", at), "rationale")
        severity = node.get("severity")
        if severity not in SEVERITIES:
            raise SpecError(
                _line(node, "severity", at),
                "severity",
                f"{severity!r} is not one of {', '.join(SEVERITIES)}",
            )
        match = node.get("match", "all")
        if match not in ("all", "any", "none"):
            raise SpecError(_line(node, "match", at), "match", f"{match!r} is not all, any or none")
        refs: list[str] = []
        if "references" in node:
            refs = _string_list(
                node["references"], _line(node, "references", at), "references", REFERENCE_ID
            )
            for index, ref in enumerate(refs):
                if ref not in references:
                    raise SpecError(
                        _line(node["references"], index, at),
                        f"references[{index}]",
                        f"unknown reference {ref!r} (define it in a references file)",
                    )
        applies = _applicability(
            node.get("applies_to"), _line(node, "applies_to", at), "applies_to"
        )
        remediation = None
        if "remediation" in node:
            remediation = _remediation(node["remediation"], _line(node, "remediation", at))
        params = _params(node.get("params"), _line(node, "params", at))
    except SpecError as exc:
        fail(exc)
        return None
    # The operator's values replace the defaults before any check is compiled.
    for name, (value, line) in overrides.params.get(rule_id, {}).items():
        if overrides.path is None:  # pragma: no cover - params only come from a file
            break
        if name not in params:
            declared = ", ".join(sorted(params)) or "none"
            errors.add(
                overrides.path,
                line,
                f"params.{rule_id}.{name}",
                f"rule {rule_id} has no parameter {name!r} (declared: {declared})",
            )
        elif not _param_value_ok(params[name], value):
            errors.add(
                overrides.path,
                line,
                f"params.{rule_id}.{name}",
                f"{value!r} is not of type {type(params[name]).__name__} "
                f"like the default {params[name]!r}",
            )
        else:
            params[name] = list(value) if isinstance(value, list) else value
    checks_node = node.get("checks")
    if not isinstance(checks_node, list) or not checks_node:
        fail(SpecError(_line(node, "checks", at), "checks", "expected a non-empty list of checks"))
        return None
    compiler = Compiler(params)
    checks = []
    for index, check in enumerate(checks_node):
        try:
            checks.append(
                compile_check(compiler, check, index, match, _line(checks_node, index, at))
            )
        except SpecError as exc:
            fail(exc)
    if len(errors.lines) > before:
        return None
    return Rule(
        id=rule_id,
        pack=pack,
        title=title,
        rationale=rationale,
        severity=severity,
        references=tuple(refs),
        applies_to=applies,
        match=match,
        checks=tuple(checks),
        params=params,
        remediation=remediation,
        source=f"{path}:{at}",
        pack_applies_to=pack_applies,
    )


def _remediation(node: Any, line: int) -> Remediation:
    if not isinstance(node, dict):
        raise SpecError(
            line, "remediation", "expected {playbook: FILE.yml, approval: required|none}"
        )
    for key in node:
        if key not in ("playbook", "approval"):
            raise SpecError(_line(node, key, line), f"remediation.{key}", "unknown key")
    playbook = node.get("playbook")
    if (
        not isinstance(playbook, str)
        or not re.fullmatch(r"[A-Za-z0-9_.-]+\.ya?ml", playbook)
        or playbook.startswith(".")
    ):
        raise SpecError(
            _line(node, "playbook", line),
            "remediation.playbook",
            f"{playbook!r} is not a playbook file name (name.yml, no directory)",
        )
    approval = node.get("approval", "required")
    if approval not in ("required", "none"):
        raise SpecError(
            _line(node, "approval", line), "remediation.approval", "expected required or none"
        )
    return Remediation(playbook, approval)


def _load_pack(
    path: Path, references: dict[str, Reference], overrides: Overrides, errors: _Errors
) -> Pack | None:
    try:
        doc = load_yaml(path)
    except YamlError as exc:
        errors.lines.append(str(exc))
        return None
    if not isinstance(doc, dict):
        errors.add(path, _line(doc, 0, 1), "", "expected a mapping with policy, applies_to, rules")
        return None
    before = len(errors.lines)
    for key in doc:
        if key not in PACK_KEYS:
            errors.add(
                path, _line(doc, key), str(key), f"unknown key (allowed: {', '.join(PACK_KEYS)})"
            )
    header = doc.get("policy")
    pack_id: Any = "?"
    version: Any = 0
    title = Text("", "")
    try:
        if not isinstance(header, dict):
            raise SpecError(
                _line(doc, "policy", 1), "policy", "missing: {id, version, title: {vi, en}}"
            )
        for key in header:
            if key not in HEADER_KEYS:
                raise SpecError(_line(header, key), f"policy.{key}", "unknown key")
        pack_id = header.get("id")
        if not isinstance(pack_id, str) or not PACK_ID.fullmatch(pack_id):
            raise SpecError(
                _line(header, "id"),
                "policy.id",
                f"{pack_id!r} is not a valid pack id (a-z, 0-9, '-')",
            )
        version = header.get("version")
        if type(version) is not int or version < 1:
            raise SpecError(_line(header, "version"), "policy.version", "expected an integer ≥ 1")
        title = _text(header.get("title"), _line(header, "title"), "policy.title")
    except SpecError as exc:
        errors.add(path, exc.line, exc.field, exc.message)
    try:
        applies = _applicability(doc.get("applies_to"), _line(doc, "applies_to"), "applies_to")
    except SpecError as exc:
        errors.add(path, exc.line, exc.field, exc.message)
        applies = Applicability()
    rules_node = doc.get("rules")
    rules: list[Rule] = []
    if not isinstance(rules_node, list) or not rules_node:
        errors.add(path, _line(doc, "rules", 1), "rules", "expected a non-empty list of rules")
    else:
        for index, node in enumerate(rules_node):
            if not isinstance(node, dict):
                errors.add(path, _line(rules_node, index), f"rules[{index}]", "expected a mapping")
                continue
            rule = _compile_rule(node, path, str(pack_id), applies, references, overrides, errors)
            if rule is not None:
                rules.append(rule)
    if len(errors.lines) > before:
        return None
    return Pack(
        id=str(pack_id),
        version=int(version),
        title=title,
        applies_to=applies,
        rules=tuple(rules),
        path=str(path),
    )


def pack_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories expanded to their ``*.yaml`` and ``*.yml`` files, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            )
        else:
            files.append(path)
    return files


@dataclass(frozen=True)
class PolicySet:
    """Validated packs: the enabled rules, in pack order, and the references they cite."""

    packs: tuple[Pack, ...]
    rules: tuple[Rule, ...]
    disabled: tuple[str, ...]
    references: dict[str, Reference]


def load_policies(
    packs: Sequence[Path],
    *,
    references: Sequence[Path] = (DEFAULT_REFERENCES,),
    overrides: Path | None = None,
) -> PolicySet:
    """Load and validate packs (files or directories); :class:`PolicyError` lists every problem.

    ``overrides`` (an operator's file) may disable rules, set parameters, and add pack
    directories and references files; a rule id it names must exist. Rule and pack ids must be
    unique across all packs.
    """
    errors = _Errors()
    extra = load_overrides(overrides, errors) if overrides is not None else Overrides()
    refs = load_references([*references, *extra.references], errors)
    loaded: list[Pack] = []
    seen_rules: dict[str, str] = {}
    seen_packs: dict[str, str] = {}
    for path in pack_files([*packs, *extra.packs]):
        pack = _load_pack(path, refs, extra, errors)
        if pack is None:
            continue
        if pack.id in seen_packs:
            errors.add(
                path,
                1,
                "policy.id",
                f"duplicate pack id {pack.id!r} (also in {seen_packs[pack.id]})",
            )
            continue
        seen_packs[pack.id] = str(path)
        for rule in pack.rules:
            if rule.id in seen_rules:
                errors.add(
                    path,
                    int(rule.source.rsplit(":", 1)[-1]),
                    f"rule {rule.id}",
                    f"duplicate rule id (first defined at {seen_rules[rule.id]})",
                )
            else:
                seen_rules[rule.id] = rule.source
        loaded.append(pack)
    if extra.path is not None:
        for rule_id, disable_line in extra.disable.items():
            if rule_id not in seen_rules:
                errors.add(extra.path, disable_line, "disable", f"unknown rule {rule_id!r}")
        for rule_id, values in extra.params.items():
            if rule_id not in seen_rules:
                errors.add(
                    extra.path,
                    min((at for _, at in values.values()), default=1),
                    f"params.{rule_id}",
                    f"unknown rule {rule_id!r}",
                )
    if errors.lines:
        raise PolicyError(errors.lines)
    rules = tuple(r for p in loaded for r in p.rules if r.id not in extra.disable)
    disabled = tuple(r.id for p in loaded for r in p.rules if r.id in extra.disable)
    return PolicySet(tuple(loaded), rules, disabled, refs)


def overrides_path(data_dir: Path) -> Path:
    """Where an operator's overrides live: ``<data-dir>/policies/overrides.yaml``."""
    return data_dir / "policies" / "overrides.yaml"


def load_installed(data_dir: Path) -> PolicySet:
    """The shipped packs with the data directory's overrides applied (when the file exists)."""
    path = overrides_path(data_dir)
    packs = [SHIPPED_PACKS] if SHIPPED_PACKS.is_dir() else []
    return load_policies(packs, overrides=path if path.is_file() else None)
