"""``govguard inventory import|export|ansible``: the district's organisation file and its Ansible
inventory (docs/inventory.md)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import yaml

from controller.commands.common import CliError, actor, now, open_store, settings
from controller.findings.assets import link_agents
from controller.findings.scheduler import request_reevaluation
from controller.inventory import (
    InventoryError,
    Plan,
    apply_plan,
    export_yaml,
    load_inventory,
    make_plan,
)
from controller.remediation import inventory as ansible_inventory
from controller.store import audit
from controller.store.inventory import load_inventory_rows, unit_users

KIND_NAMES: dict[str, dict[str, str]] = {
    "vi": {
        "units": "Đơn vị",
        "offices": "Phòng, bộ phận",
        "officials": "Cán bộ",
        "snmp_credentials": "Thông tin xác thực SNMP",
        "assets": "Tài sản",
        "network_devices": "Thiết bị mạng",
    },
    "en": {
        "units": "Units",
        "offices": "Offices",
        "officials": "Officials",
        "snmp_credentials": "SNMP credentials",
        "assets": "Assets",
        "network_devices": "Network devices",
    },
}
TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "counts": "{kind}: thêm {added}, sửa {changed}, ngừng sử dụng {retired}",
        "nothing": "{file}: không có thay đổi",
        "dry_run": "chạy thử: chưa ghi gì vào cơ sở dữ liệu",
        "applied": "{file}: đã nhập (thêm {added}, sửa {changed}, ngừng sử dụng {retired})",
        "errors": "govguard: {n} lỗi trong {file}; không nhập gì",
        "exported": "đã xuất {units} đơn vị, {assets} tài sản vào {file}",
        "ansible": "đã ghi kho máy Ansible vào {file}: {hosts} máy, {reachable} có địa chỉ",
        "in_use": "chú ý: đơn vị {unit} ngừng sử dụng nhưng còn {agents} máy đang báo cáo và "
        "{tokens} mã đăng ký còn hiệu lực",
    },
    "en": {
        "counts": "{kind}: {added} added, {changed} changed, {retired} retired",
        "nothing": "{file}: no changes",
        "dry_run": "dry run: nothing written to the database",
        "applied": "{file}: imported ({added} added, {changed} changed, {retired} retired)",
        "errors": "govguard: {n} error(s) in {file}; nothing imported",
        "exported": "exported {units} units, {assets} assets to {file}",
        "ansible": "wrote the Ansible inventory to {file}: {hosts} hosts, {reachable} with an "
        "address",
        "in_use": "note: unit {unit} is retired but still has {agents} active agent(s) and "
        "{tokens} usable enrollment token(s)",
    },
}


def _print_plan(plan: Plan, lang: str) -> None:
    text = TEXT[lang]
    for kind, part in plan.kinds.items():
        if part.empty:
            continue
        counts = {"added": len(part.add), "changed": len(part.change), "retired": len(part.retire)}
        print(text["counts"].format(kind=KIND_NAMES[lang][kind], **counts))
        for key in sorted(part.add):
            print(f"  + {key}")
        for change in part.change:
            print(f"  ~ {change.key}: {', '.join(change.fields)}")
        for key in part.retire:
            print(f"  - {key}")


def import_(args: argparse.Namespace) -> int:
    """Check the file, show what changes, and apply it in one transaction (unless --dry-run)."""
    path: Path = args.file
    text = TEXT[args.lang]
    try:
        inventory = load_inventory(path)
    except InventoryError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        print(text["errors"].format(n=len(exc.errors), file=path), file=sys.stderr)
        return 1
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:  # removed or replaced since it was read
        raise CliError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with open_store(settings(args)) as session:
        stored = load_inventory_rows(session)
        plan = make_plan(inventory, stored)
        if plan.empty:
            print(text["nothing"].format(file=path))
            return 0
        _print_plan(plan, args.lang)
        retired_units = plan.kinds["units"].retire
        for unit, (agents, tokens) in unit_users(session, retired_units, now()).items():
            print(text["in_use"].format(unit=unit, agents=agents, tokens=tokens))
        if args.dry_run:
            session.rollback()
            print(text["dry_run"])
            return 0
        at = now()
        apply_plan(session, plan, stored, at)
        # Computers may now match (or stop matching) an asset, and classifications or units
        # may have changed: link them, and have the controller re-evaluate every host.
        link_agents(session)
        request_reevaluation(session, at)
        counts = plan.counts()
        audit.record(
            session, actor(), "inventory.imported", f"inventory:{path.name}",
            {"sha256": digest, "counts": counts},
        )  # fmt: skip
    totals = {
        what: sum(kind[what] for kind in counts.values())
        for what in ("added", "changed", "retired")
    }
    print(text["applied"].format(file=path, **totals))
    return 0


def export(args: argparse.Namespace) -> int:
    """Write the stored organisation as YAML to --out (or standard output)."""
    with open_store(settings(args)) as session:
        body = export_yaml(session, args.title)
        stored = load_inventory_rows(session)
        counts = {
            kind: sum(
                1
                for row in stored.rows[kind].values()
                if row.retired_at is None and getattr(row, "inventory_managed", True)
            )
            for kind in ("units", "assets")
        }
    out: Path | None = args.out
    if out is None:
        sys.stdout.write(body)
        return 0
    try:
        out.write_text(body, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{out}: cannot write: {exc.strerror or exc}") from exc
    print(TEXT[args.lang]["exported"].format(file=out, **counts))
    return 0


def ansible(args: argparse.Namespace) -> int:
    """Write the district's Ansible inventory (YAML, or JSON) to --output or standard output."""
    current = settings(args)
    with open_store(current) as session:
        built = ansible_inventory.district(session, current)
    vietnamese, english = ansible_inventory.notice(now())
    # JSON holds no comment: the notice is also a variable (`ansible-inventory --host` shows it).
    built["all"]["vars"] = {"govguard_inventory": english}
    if args.format == "json":
        body = json.dumps(built, indent=2, ensure_ascii=False) + "\n"
    else:
        dumped = yaml.safe_dump(built, allow_unicode=True, sort_keys=False, width=100)
        body = f"# {vietnamese}\n# {english}\n{dumped}"
    out: Path | None = args.output
    if out is None:
        sys.stdout.write(body)
        return 0
    try:
        out.write_text(body, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{out}: cannot write: {exc.strerror or exc}") from exc
    hosts = built["all"]["hosts"]
    reachable = sum(1 for host in hosts.values() if host["govguard_reachable"])
    print(TEXT[args.lang]["ansible"].format(file=out, hosts=len(hosts), reachable=reachable))
    return 0
