"""The typed operators, compiled once at load time into small closures.

``eq, ne, in, not_in, lt, le, gt, ge, regex, exists, count``: each is checked against the type
of the fact it applies to when the pack is loaded (``lt`` on a text, ``regex`` on a number,
``eq: maybe`` on a yes/no fact are load errors), and compiled into a predicate
``(value, now) -> True | False | Reason``; a Reason is an ``error``
outcome (a value of the wrong type in the report).

Operand forms: a literal; ``{param: NAME}`` (a rule parameter, resolved when the pack is loaded,
after the operator's overrides); ``{days_ago: N}`` for ``lt``/``gt`` on a date-time or date fact
(a date ``YYYY-MM-DD`` is midnight UTC of that day).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from controller.policy.facts import FactType
from controller.policy.model import Reason

OPERATORS = ("eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "regex", "exists", "count")
#: The comparisons allowed inside ``count: {...}``.
COUNT_OPERATORS = ("eq", "ne", "in", "not_in", "lt", "le", "gt", "ge")

Predicate = Callable[[Any, float], "bool | Reason"]


class SpecError(Exception):
    """A validation error at one place of a pack: ``field`` is the path inside the rule."""

    def __init__(self, line: int, field: str, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.field = field
        self.message = message


def _line(node: Any, key: Any, default: int) -> int:
    line_of = getattr(node, "line_of", None)
    return int(line_of(key)) if line_of is not None else default


_NUMBERS = (int, float)
#: Kinds compared only by age (``{days_ago: N}``), never by value.
_TIME_KINDS = ("datetime", "date")


def _is_number(value: object) -> bool:
    return type(value) in _NUMBERS


def _matches_kind(value: object, ftype: FactType) -> bool:
    """Whether a literal operand fits the fact's type (bool is not a number here)."""
    kind = ftype.kind
    if kind == "any":
        return isinstance(value, str | int | float | bool)
    if kind == "bool":
        return type(value) is bool
    if kind == "int":
        return type(value) is int
    if kind == "float":
        return _is_number(value)
    if kind == "str":
        return type(value) is str and (not ftype.choices or value in ftype.choices)
    return False


def _type_mismatch(operator: str, ftype: FactType, actual: object) -> Reason:
    return Reason(
        "type_mismatch",
        {"operator": operator, "expected_type": ftype.kind, "actual_type": type(actual).__name__},
    )


_RUNTIME_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "int": (int, float),
    "float": (int, float),
    "str": (str,),
    "any": (str, int, float, bool),
}


def _compare(op: str, bound: float, ftype: FactType) -> Predicate:
    """``value <op> bound`` for numbers; one closure per operator, no dispatch per call."""
    if op == "lt":

        def less(value: Any, now: float) -> bool | Reason:
            if type(value) not in _NUMBERS:
                return _type_mismatch(op, ftype, value)
            return bool(value < bound)

        return less
    if op == "le":

        def at_most(value: Any, now: float) -> bool | Reason:
            if type(value) not in _NUMBERS:
                return _type_mismatch(op, ftype, value)
            return bool(value <= bound)

        return at_most
    if op == "gt":

        def greater(value: Any, now: float) -> bool | Reason:
            if type(value) not in _NUMBERS:
                return _type_mismatch(op, ftype, value)
            return bool(value > bound)

        return greater

    def at_least(value: Any, now: float) -> bool | Reason:
        if type(value) not in _NUMBERS:
            return _type_mismatch(op, ftype, value)
        return bool(value >= bound)

    return at_least


class Compiler:
    """Compiles operand and operator nodes of one rule, given its final parameter values."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def operand(self, node: Any, line: int, field: str) -> Any:
        """A literal, or the value of ``{param: NAME}``."""
        if isinstance(node, dict):
            if set(node) != {"param"}:
                raise SpecError(line, field, "expected a value or {param: NAME}")
            name = node["param"]
            if name not in self.params:
                declared = ", ".join(sorted(self.params)) or "none"
                raise SpecError(
                    line, field, f"unknown parameter {name!r} (declared params: {declared})"
                )
            return self.params[name]
        return node

    def expression(self, node: Any, ftype: FactType, line: int, field: str) -> Predicate:
        """Compile ``{op: operand, ...}`` (all must hold) for a present value of ``ftype``."""
        if not isinstance(node, dict) or not node:
            raise SpecError(line, field, "expected a mapping of operators, e.g. {eq: true}")
        preds: list[Predicate] = []
        for op, operand in node.items():
            op_line = _line(node, op, line)
            if op not in OPERATORS:
                raise SpecError(
                    op_line, field, f"unknown operator {op!r} (operators: {', '.join(OPERATORS)})"
                )
            if op == "exists":
                raise SpecError(op_line, f"{field}.exists", "exists cannot be combined here")
            preds.append(self._operator(op, operand, ftype, op_line, f"{field}.{op}"))
        if len(preds) == 1:
            return preds[0]
        all_preds = tuple(preds)

        def conjunction(value: Any, now: float) -> bool | Reason:
            for pred in all_preds:
                result = pred(value, now)
                if result is not True:
                    return result
            return True

        return conjunction

    def _operator(self, op: str, node: Any, ftype: FactType, line: int, field: str) -> Predicate:
        kind = ftype.kind
        if op == "count":
            if kind != "list":
                raise SpecError(line, field, f"count needs a list fact, this one is {kind}")
            return self._count(node, line, field)
        if kind in ("list", "struct", "dict"):
            raise SpecError(
                line, field, f"{op} cannot compare a {ftype.describe()} (use count or exists)"
            )
        if op in ("eq", "ne"):
            expected = self.operand(node, line, field)
            if kind in _TIME_KINDS or not _matches_kind(expected, ftype):
                raise SpecError(line, field, f"{expected!r} is not a {ftype.describe()} value")
            ok_types = _RUNTIME_TYPES[kind]
            if op == "eq":

                def equals(value: Any, now: float) -> bool | Reason:
                    if type(value) not in ok_types:
                        return _type_mismatch(op, ftype, value)
                    return bool(value == expected)

                return equals

            def differs(value: Any, now: float) -> bool | Reason:
                if type(value) not in ok_types:
                    return _type_mismatch(op, ftype, value)
                return bool(value != expected)

            return differs
        if op in ("in", "not_in"):
            values = self.operand(node, line, field)
            # not_in accepts an empty list (an empty allow-list: every value is outside it).
            if not isinstance(values, list) or (op == "in" and not values):
                raise SpecError(line, field, f"{op} needs a non-empty list of values")
            for value in values:
                if kind in _TIME_KINDS or not _matches_kind(value, ftype):
                    raise SpecError(line, field, f"{value!r} is not a {ftype.describe()} value")
            allowed = frozenset(values)
            member_types = _RUNTIME_TYPES[kind]

            if op == "in":

                def member(value: Any, now: float) -> bool | Reason:
                    if type(value) not in member_types:
                        return _type_mismatch(op, ftype, value)
                    return value in allowed

                return member

            def outsider(value: Any, now: float) -> bool | Reason:
                if type(value) not in member_types:
                    return _type_mismatch(op, ftype, value)
                return value not in allowed

            return outsider
        if op in ("lt", "le", "gt", "ge"):
            if kind in _TIME_KINDS:
                if op in ("le", "ge"):
                    raise SpecError(
                        line, field, f"{op} does not compare times: use lt or gt with days_ago"
                    )
                return self._age(op, node, kind, line, field)
            bound = self.operand(node, line, field)
            if kind not in ("int", "float", "any") or not _is_number(bound):
                raise SpecError(
                    line, field, f"{op} needs a number fact and a number, not {ftype.describe()}"
                )
            return _compare(op, bound, ftype)
        # regex: the only operator left.
        pattern = self.operand(node, line, field)
        if kind not in ("str", "any") or not isinstance(pattern, str):
            raise SpecError(line, field, f"regex needs a text fact and a pattern, not {kind}")
        try:
            search = re.compile(pattern).search
        except re.error as exc:
            raise SpecError(line, field, f"invalid regular expression {pattern!r}: {exc}") from exc

        def matches(value: Any, now: float) -> bool | Reason:
            if type(value) is not str:
                return _type_mismatch(op, ftype, value)
            return search(value) is not None

        return matches

    def _age(self, op: str, node: Any, kind: str, line: int, field: str) -> Predicate:
        if not isinstance(node, dict) or set(node) != {"days_ago"}:
            what = "date-time" if kind == "datetime" else kind
            raise SpecError(line, field, f"{op} on a {what} fact takes {{days_ago: N}}")
        days = self.operand(node["days_ago"], _line(node, "days_ago", line), f"{field}.days_ago")
        if not _is_number(days) or days < 0:
            raise SpecError(line, f"{field}.days_ago", f"{days!r} is not a number of days ≥ 0")
        seconds = float(days) * 86400.0
        older = op == "lt"

        def age(value: Any, now: float) -> bool | Reason:
            if type(value) is not str:
                return Reason(
                    "type_mismatch",
                    {
                        "operator": op,
                        "expected_type": kind,
                        "actual_type": type(value).__name__,
                    },
                )
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return Reason("bad_datetime", {"actual": value})
            # A date (or a time without offset) is UTC, never the controller's local time.
            stamp = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
            # lt: earlier than N days ago (too old); gt: later than N days ago (recent enough).
            return (stamp < now - seconds) if older else (stamp > now - seconds)

        return age

    def _count(self, node: Any, line: int, field: str) -> Predicate:
        if isinstance(node, dict) and set(node) != {"param"}:
            int_type = FactType("int")
            for op in node:
                if op not in COUNT_OPERATORS:
                    raise SpecError(
                        _line(node, op, line),
                        field,
                        f"count takes an integer or one of {', '.join(COUNT_OPERATORS)}, "
                        f"not {op!r}",
                    )
            compare = self.expression(node, int_type, line, field)

            def count_cmp(value: Any, now: float) -> bool | Reason:
                return compare(len(value), now)

            return count_cmp
        expected = self.operand(node, line, field)
        if type(expected) is not int or expected < 0:
            raise SpecError(line, field, f"count takes an integer ≥ 0, not {expected!r}")

        def count_eq(value: Any, now: float) -> bool | Reason:
            return len(value) == expected

        return count_eq

    def describe(self, node: Any) -> Any:
        """The expectation with parameters replaced by their values (for evidence)."""
        if isinstance(node, dict):
            if set(node) == {"param"} and node["param"] in self.params:
                return self.params[node["param"]]
            return {str(k): self.describe(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.describe(v) for v in node]
        return node
