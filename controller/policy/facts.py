"""Fact paths: what a rule may name, resolved against the report schema at load time.

A check's ``fact`` is a dotted path into the report (``security.firewall.enabled``). The loader
resolves it against :class:`agent.report.Report` and, for the ``asset.*`` and ``controller.*``
facts the controller adds, :class:`controller.policy.host_facts.HostFacts`, so a misspelt path
or an operator that does not fit the fact's type is a validation error, not a rule that silently
never fails. Resolution also
yields, for every step, the schema's default: reports omit fields equal to their default on the
wire (``admin: false``, empty lists), and the evaluator must see those values, not "missing".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import msgspec
import msgspec.inspect as mi

from agent.report import Report
from controller.policy.host_facts import HOST_KEYS, HostFacts

Kind = Literal["bool", "int", "float", "str", "datetime", "date", "list", "struct", "dict", "any"]

#: Marks a value that is not in the facts (absent, or null: the report's "not determined").
MISSING: Any = object()


@dataclass(frozen=True)
class FactType:
    """The type of a fact: its kind, and what it contains (list items, struct fields, map values).

    ``choices`` lists the allowed strings of an enumerated field (``usb_storage.policy``).
    """

    kind: Kind
    choices: tuple[str, ...] = ()
    item: FactType | None = None
    values: FactType | None = None
    struct: type[msgspec.Struct] | None = None
    fields: dict[str, tuple[FactType, Any]] = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        """``list of struct``, ``str (one of: allowed, blocked)``, ... for messages."""
        if self.kind == "list" and self.item is not None:
            return f"list of {self.item.describe()}"
        if self.choices:
            return f"str (one of: {', '.join(self.choices)})"
        return self.kind


class FactPathError(ValueError):
    """A path that does not name a fact of the report."""


def _strip(t: mi.Type) -> mi.Type:
    while isinstance(t, mi.Metadata):
        t = t.type
    return t


@cache
def _struct_type(cls: type[msgspec.Struct]) -> FactType:
    # Built lazily field by field through _convert; the cache breaks recursion by class.
    info = mi.type_info(cls)
    if not isinstance(info, mi.StructType):  # pragma: no cover - only Structs are passed
        raise TypeError(f"{cls} is not a msgspec Struct")
    fields: dict[str, tuple[FactType, Any]] = {}
    result = FactType("struct", struct=cls, fields=fields)
    for f in info.fields:
        if f.default_factory is not msgspec.NODEFAULT:
            default = f.default_factory()
        elif f.default is not msgspec.NODEFAULT:
            default = f.default
        else:
            default = MISSING
        fields[f.encode_name] = (_convert(f.type), MISSING if default is None else default)
    return result


def _convert(t: mi.Type) -> FactType:
    t = _strip(t)
    if isinstance(t, mi.UnionType):
        kept = [x for x in (_strip(y) for y in t.types) if not isinstance(x, mi.NoneType)]
        return _convert(kept[0]) if len(kept) == 1 else FactType("any")
    if isinstance(t, mi.BoolType):
        return FactType("bool")
    if isinstance(t, mi.IntType):
        return FactType("int")
    if isinstance(t, mi.FloatType):
        return FactType("float")
    if isinstance(t, mi.StrType):
        return FactType("str")
    if isinstance(t, mi.LiteralType):
        if all(isinstance(v, str) for v in t.values):
            return FactType("str", choices=tuple(str(v) for v in t.values))
        return FactType("any")
    if isinstance(t, mi.DateTimeType):
        return FactType("datetime")
    if isinstance(t, mi.DateType):
        return FactType("date")
    if isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        return FactType("list", item=_convert(t.item_type))
    if isinstance(t, mi.DictType):
        return FactType("dict", values=_convert(t.value_type))
    if isinstance(t, mi.StructType):
        return _struct_type(t.cls)
    return FactType("any")


@cache
def root_type() -> FactType:
    """What a rule path starts from: the report's sections plus ``asset`` and ``controller``."""
    report = _struct_type(Report)
    host = _struct_type(HostFacts)
    fields = dict(report.fields)
    for key in HOST_KEYS:
        if key in fields:  # pragma: no cover - guards the contract if the report grows a key
            raise TypeError(f"the report schema already has a field {key!r}")
        fields[key] = host.fields[key]
    return FactType("struct", fields=fields)


@dataclass(frozen=True)
class ResolvedPath:
    """A resolved path: the keys to walk, each with its schema default, and the leaf's type."""

    steps: tuple[tuple[str, Any], ...]
    type: FactType


def resolve(path: str, root: FactType | None = None) -> ResolvedPath:
    """Resolve a dotted path from ``root`` (by default the report plus ``asset`` and
    ``controller``, :func:`root_type`); raises FactPathError.

    A path may cross records and maps but not lists: a list is filtered with ``where`` and
    counted, so "which element" is always explicit.
    """
    current = root if root is not None else root_type()
    if not path or any(not part for part in path.split(".")):
        raise FactPathError(f"{path!r} is not a dotted path")
    steps: list[tuple[str, Any]] = []
    walked: list[str] = []
    for part in path.split("."):
        if current.kind == "struct":
            if part not in current.fields:
                known = ", ".join(sorted(current.fields))
                where = ".".join(walked) or "the report"
                raise FactPathError(f"{where} has no field {part!r} (fields: {known})")
            current, default = current.fields[part]
            steps.append((part, default))
        elif current.kind == "dict" and current.values is not None:
            current = current.values
            steps.append((part, MISSING))
        elif current.kind == "list":
            raise FactPathError(
                f"{'.'.join(walked)} is a list: name it as the fact and filter its items "
                f"with where (e.g. where: {{{part}: ...}})"
            )
        else:
            raise FactPathError(f"{'.'.join(walked)} is a {current.kind}, it has no {part!r}")
        walked.append(part)
    return ResolvedPath(tuple(steps), current)


def getter(steps: tuple[tuple[str, Any], ...]) -> Any:
    """A function ``facts -> value`` (or :data:`MISSING`) for resolved steps, built once."""
    if len(steps) == 1:
        ((k1, d1),) = steps

        def get1(facts: Any) -> Any:
            v = facts.get(k1, d1) if type(facts) is dict else MISSING
            return MISSING if v is None else v

        return get1
    if len(steps) == 2:
        (k1, d1), (k2, d2) = steps

        def get2(facts: Any) -> Any:
            v = facts.get(k1, d1) if type(facts) is dict else MISSING
            v = v.get(k2, d2) if type(v) is dict else MISSING
            return MISSING if v is None else v

        return get2

    def get(facts: Any) -> Any:
        v = facts
        for key, default in steps:
            if type(v) is not dict:
                return MISSING
            v = v.get(key, default)
        return MISSING if v is None else v

    return get


def unknown_reason(facts: dict[str, Any], path: str) -> str | None:
    """Why the report does not know ``path``: its section's ``unknown`` entry or a failed collector.

    None when the report says nothing (the fact simply is not there).
    """
    section_name, _, rest = path.partition(".")
    section = facts.get(section_name)
    if section is None:
        for err in facts.get("errors") or ():
            if isinstance(err, dict) and err.get("collector") == section_name:
                return f"collector {section_name} failed: {err.get('message', '')}".rstrip(": ")
        return None
    unknown = section.get("unknown") if isinstance(section, dict) else None
    if not isinstance(unknown, dict) or not rest:
        return None
    parts = rest.split(".")
    # The most specific entry wins: "cpu.max_mhz" before "cpu".
    for end in range(len(parts), 0, -1):
        reason = unknown.get(".".join(parts[:end]))
        if isinstance(reason, str):
            return reason
    return None
