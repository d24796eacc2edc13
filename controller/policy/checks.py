"""One check of a rule (``{fact, where, expect, if_missing}``) compiled into a closure.

Missing facts: a fact that is absent or null is *missing*. ``exists`` tests exactly that (so
``exists: false`` passes on an absent fact), except when the report says it could not determine
the fact (its section's ``unknown`` map, or its collector failed): then the check is an
``error``. Every other operator needs a value, so a missing fact makes the check an ``error``
(``fact_unknown`` with the report's reason, or ``fact_missing``). A check may declare
``if_missing: fail`` to count a missing fact as a violation instead (e.g. "no firewall found").
"""

from __future__ import annotations

from typing import Any, Literal

from controller.policy.facts import (
    MISSING,
    FactPathError,
    FactType,
    getter,
    resolve,
    unknown_reason,
)
from controller.policy.model import Check, Reason
from controller.policy.operators import Compiler, Predicate, SpecError

CHECK_KEYS = ("fact", "where", "expect", "if_missing")
#: The reason codes of a missing fact (``if_missing: fail`` turns them into a violation).
MISSING_CODES = ("fact_missing", "fact_unknown")
#: How many list items evidence keeps (a report can list hundreds of ports or packages).
EVIDENCE_ITEMS = 20


def _line(node: Any, key: Any, default: int) -> int:
    line_of = getattr(node, "line_of", None)
    return int(line_of(key)) if line_of is not None else default


def _missing_reason(facts: dict[str, Any], fact: str) -> Reason:
    why = unknown_reason(facts, fact)
    if why is None:
        return Reason("fact_missing", {"fact": fact})
    return Reason("fact_unknown", {"fact": fact, "why": why})


def _where_part(
    compiler: Compiler, item: FactType, key: str, node: Any, line: int, field: str
) -> tuple[Any, Predicate | None, bool | None]:
    try:
        resolved = resolve(key, root=item)
    except FactPathError as exc:
        raise SpecError(line, field, f"list item: {exc}") from exc
    get = getter(resolved.steps)
    if isinstance(node, dict) and "exists" in node:
        if set(node) != {"exists"} or type(node["exists"]) is not bool:
            raise SpecError(line, f"{field}.exists", "exists takes true or false, alone")
        return get, None, node["exists"]
    expression = node if isinstance(node, dict) and set(node) != {"param"} else {"eq": node}
    return get, compiler.expression(expression, resolved.type, line, field), None


def compile_where(
    compiler: Compiler, node: Any, item: FactType, line: int, field: str
) -> Predicate:
    """A predicate over one list item; an item lacking a filtered field does not match."""
    if not isinstance(node, dict) or not node:
        raise SpecError(line, field, "where needs a mapping")
    if item.kind != "struct":
        # A list of plain values (admins, DNS servers): where is an expression on each value.
        expression = compiler.expression(node, item, line, field)

        def plain(value: Any, now: float) -> bool | Reason:
            return False if value is None else expression(value, now)

        return plain
    parts = tuple(
        _where_part(compiler, item, str(key), value, _line(node, key, line), f"{field}.{key}")
        for key, value in node.items()
    )
    get_one, pred_one, _ = parts[0]
    if len(parts) == 1 and pred_one is not None:
        # The common case, one filtered field: no loop, no tuple unpacking per item.
        only: Predicate = pred_one

        def one(value: Any, now: float) -> bool | Reason:
            found = get_one(value)
            return False if found is MISSING else only(found, now)

        return one

    def record(value: Any, now: float) -> bool | Reason:
        for get, pred, exists in parts:
            found = get(value)
            if pred is None:
                if (found is not MISSING) is not exists:
                    return False
                continue
            if found is MISSING:
                return False
            result = pred(found, now)
            if result is not True:
                return result
        return True

    return record


def compile_check(
    compiler: Compiler,
    node: Any,
    index: int,
    match: Literal["all", "any", "none"],
    line: int,
) -> Check:
    """Validate and compile ``checks[index]``; raises :class:`SpecError`."""
    field = f"checks[{index}]"
    if not isinstance(node, dict):
        raise SpecError(line, field, "expected a mapping {fact: ..., expect: {...}}")
    for key in node:
        if key not in CHECK_KEYS:
            raise SpecError(
                _line(node, key, line),
                f"{field}.{key}",
                f"unknown key (allowed: {', '.join(CHECK_KEYS)})",
            )
    for key in ("fact", "expect"):
        if key not in node:
            raise SpecError(line, f"{field}.{key}", "missing")
    fact = node["fact"]
    if not isinstance(fact, str):
        raise SpecError(_line(node, "fact", line), f"{field}.fact", "expected a dotted path")
    try:
        resolved = resolve(fact)
    except FactPathError as exc:
        raise SpecError(_line(node, "fact", line), f"{field}.fact", str(exc)) from exc
    ftype = resolved.type
    get = getter(resolved.steps)

    if_missing = node.get("if_missing", "error")
    if if_missing not in ("error", "fail"):
        raise SpecError(
            _line(node, "if_missing", line), f"{field}.if_missing", "expected error or fail"
        )
    # A missing fact counted as a violation: "not satisfied" for all/any, "matched" for none.
    violation: bool | None = (match == "none") if if_missing == "fail" else None

    expect = node["expect"]
    expect_line = _line(node, "expect", line)
    where = node.get("where")
    filt: Predicate | None = None
    if where is not None:
        if ftype.kind != "list" or ftype.item is None:
            raise SpecError(
                _line(node, "where", line),
                f"{field}.where",
                f"where filters a list, {fact} is a {ftype.describe()}",
            )
        filt = compile_where(
            compiler, where, ftype.item, _line(node, "where", line), f"{field}.where"
        )

    if isinstance(expect, dict) and "exists" in expect:
        wanted = expect["exists"]
        if set(expect) != {"exists"} or type(wanted) is not bool or filt is not None:
            raise SpecError(
                _line(expect, "exists", expect_line),
                f"{field}.expect.exists",
                "exists takes true or false, alone and without where (use count)",
            )

        def run_exists(facts: dict[str, Any], now: float) -> bool | Reason:
            if get(facts) is not MISSING:
                return wanted
            reason = unknown_reason(facts, fact)
            if reason is None:
                return not wanted
            if violation is not None:
                return violation
            return Reason("fact_unknown", {"fact": fact, "why": reason})

        def found(facts: dict[str, Any], now: float) -> Any:
            value = get(facts)
            return None if value is MISSING else value

        return Check(index, fact, compiler.describe(expect), run_exists, found)

    pred = compiler.expression(expect, ftype, expect_line, f"{field}.expect")
    is_list = ftype.kind == "list"

    def run(facts: dict[str, Any], now: float) -> bool | Reason:
        value = get(facts)
        if value is MISSING:
            return violation if violation is not None else _missing_reason(facts, fact)
        if is_list:
            if type(value) is not list:
                return Reason(
                    "type_mismatch",
                    {
                        "fact": fact,
                        "operator": "count",
                        "expected_type": "list",
                        "actual_type": type(value).__name__,
                    },
                )
            if filt is not None:
                kept = []
                for item in value:
                    hit = filt(item, now)
                    if hit is True:
                        kept.append(item)
                    elif hit is not False:
                        return hit
                value = kept
        return pred(value, now)

    def actual(facts: dict[str, Any], now: float) -> Any:
        value = get(facts)
        if value is MISSING:
            return None
        if is_list and type(value) is list:
            if filt is not None:
                value = [item for item in value if filt(item, now) is True]
            return value[:EVIDENCE_ITEMS]
        return value

    return Check(index, fact, compiler.describe(expect), run, actual)
