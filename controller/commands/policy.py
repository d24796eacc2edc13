"""``govguard policy check|test``: validate policy packs, and try one on a report file.

Neither command needs a database: authors run them on their own PC against a report written by
``govguard-agent once --out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from agent.report import decode
from controller.commands.common import CliError, data_dir
from controller.policy import (
    DEFAULT_REFERENCES,
    OUTCOMES,
    SHIPPED_PACKS,
    HostContext,
    PolicyError,
    PolicySet,
    evaluate,
    load_policies,
    outcome_text,
    overrides_path,
    render,
)
from controller.policy.host_facts import ASSET_KINDS
from controller.policy.messages import SEVERITY_TEXT, Lang

HEADERS: dict[str, tuple[str, ...]] = {
    "vi": ("QUY TẮC", "MỨC ĐỘ", "KẾT QUẢ", "LÝ DO"),
    "en": ("RULE", "SEVERITY", "OUTCOME", "REASON"),
}
SUMMARY: dict[str, str] = {
    "vi": "{rules} quy tắc: {pass} đạt, {fail} không đạt, {not_applicable} không áp dụng, "
    "{error} lỗi",
    "en": "{rules} rules: {pass} pass, {fail} fail, {not_applicable} not applicable, {error} error",
}


def _load(args: argparse.Namespace, files: list[Path]) -> PolicySet:
    references = [DEFAULT_REFERENCES, *(args.references or [])]
    overrides: Path | None = args.overrides
    if not files:
        # No file named: what the controller runs, the shipped packs plus the operator's file.
        files = [SHIPPED_PACKS] if SHIPPED_PACKS.is_dir() else []
        if overrides is None and overrides_path(data_dir(args)).is_file():
            overrides = overrides_path(data_dir(args))
    for path in files:
        if not path.exists():
            raise CliError(f"{path}: no such file or directory")
    return load_policies(files, references=references, overrides=overrides)


def check(args: argparse.Namespace) -> int:
    """Validate packs; every error on stderr, one per line, and exit 1 when there is one."""
    try:
        policies = _load(args, list(args.files))
    except PolicyError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        print(f"govguard: {len(exc.errors)} error(s) in the policy files", file=sys.stderr)
        return 1
    for pack in policies.packs:
        print(f"{pack.path}: pack {pack.id} v{pack.version}, {len(pack.rules)} rules, valid")
    if policies.disabled:
        print(f"disabled by overrides: {', '.join(policies.disabled)}")
    if not policies.packs:
        print("no policy packs found")
    return 0


def _read_report(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        decode(data)  # the report schema first: a clear message instead of odd outcomes
        facts = json.loads(data)
    except (msgspec.DecodeError, ValueError) as exc:
        raise CliError(f"{path}: not a valid report: {exc}") from exc
    if not isinstance(facts, dict):  # pragma: no cover - decode() accepts only objects
        raise CliError(f"{path}: not a valid report")
    return facts


def test(args: argparse.Namespace) -> int:
    """Evaluate a pack on a report file and print rule, severity, outcome and reason."""
    lang: Lang = args.lang
    try:
        policies = _load(args, [args.file])
    except PolicyError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        raise CliError(f"{len(exc.errors)} error(s) in the policy files") from exc
    if args.kind is not None and args.kind not in ASSET_KINDS:
        raise CliError(f"--kind {args.kind}: not an asset kind ({', '.join(ASSET_KINDS)})")
    facts = _read_report(args.report)
    ctx = HostContext.from_facts(
        facts,
        classification=args.classification,
        kind=args.kind,
        units=tuple(args.unit or ()),
        tags=frozenset(args.tag or ()),
    )
    if args.os is not None:
        ctx = dataclasses.replace(ctx, os=args.os)
    results = evaluate(policies.rules, facts, ctx)
    severity = {rule.id: rule.severity for rule in policies.rules}
    rows = [
        (
            result.rule_id,
            SEVERITY_TEXT[severity[result.rule_id]].get(lang),
            outcome_text(result.outcome, lang),
            render(result.reason, lang),
        )
        for result in results
    ]
    _table(HEADERS[lang], rows)
    counts = Counter(result.outcome for result in results)
    print()
    print(SUMMARY[lang].format(rules=len(results), **{o: counts.get(o, 0) for o in OUTCOMES}))
    return 0


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    # The reason column is last and left unpadded, so long reasons do not widen every line.
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers) - 1)]
    for row in (headers, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
