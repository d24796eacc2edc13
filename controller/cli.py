"""govguard: the controller's command line.

This module only builds the parser and dispatches; the commands live in
:mod:`controller.commands`, one module per group, imported only when their command runs (so
``govguard validate`` does not load the database layer, nor ``tokens list`` the web server).
Every failure the operator can fix is one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec

from agent import __version__
from agent.report import decode

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
#: controller.bundles.read.DEFAULT_MAX_FILE_BYTES, without importing the controller here.
DEFAULT_MAX_BUNDLE_BYTES = 20 * 1024 * 1024

log = logging.getLogger(__name__)


def _cmd_validate(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        try:
            report = decode(path.read_bytes())
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            failed += 1
            continue
        except msgspec.DecodeError as exc:
            print(f"{path}: not a valid report: {exc}", file=sys.stderr)
            failed += 1
            continue
        host = report.identity.hostname if report.identity else "?"
        print(f"{path}: valid report v{report.schema_version} from {host}")
    return 1 if failed else 0


def _build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="govguard", description="govguard controller")
    parser.add_argument("--version", action="version", version=f"govguard {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress (and tracebacks) to stderr"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    # Every command that works on a data directory takes --data-dir.
    dd = argparse.ArgumentParser(add_help=False)
    dd.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="the controller's data directory "
        "(default: $GOVGUARD_DATA_DIR, else /var/lib/govguard)",
    )

    validate = sub.add_parser("validate", help="check report files against the report schema")
    validate.add_argument("files", nargs="+", type=Path, metavar="REPORT.json")
    validate.set_defaults(handler=_cmd_validate)

    init = sub.add_parser(
        "init",
        parents=[dd],
        # No prefix matching: `--password x` must not be taken for `--password-file x`.
        allow_abbrev=False,
        help="create a data directory: config, CA and TLS certificate, database, administrator",
    )
    init.add_argument(
        "--server-name",
        action="append",
        required=True,
        metavar="NAME",
        help="DNS name or IP address agents use to reach the controller (repeatable)",
    )
    init.add_argument(
        "--database-url",
        metavar="URL",
        help="postgresql://user@host/db (default: SQLite file in the data directory)",
    )
    init.add_argument("--admin", default="admin", metavar="USER", help="administrator login")
    init.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="read the administrator's password from the first line of FILE (- = stdin) "
        "instead of asking",
    )
    init.add_argument("--unit-id", default="root", metavar="ID", help="id of the top unit")
    init.add_argument("--unit-name", default="Root unit", metavar="NAME", help="its name")
    init.add_argument("--unit-kind", default="organization", metavar="KIND", help="its kind")
    init.set_defaults(handler="init:run")

    serve = sub.add_parser("serve", parents=[dd], help="run the controller (HTTPS)")
    serve.set_defaults(handler="server:serve")

    demo = sub.add_parser(
        "demo",
        help="run the example district on this machine: controller, worker, snmpsim, this PC's "
        "agent and simulated PCs (Ctrl-C stops them; docs/demo.md)",
    )
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path(os.environ.get("GOVGUARD_DEMO_DIR") or ".demo"),
        metavar="DIR",
        help="the demo's folder (default: $GOVGUARD_DEMO_DIR, else .demo)",
    )
    demo.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GOVGUARD_DEMO_PORT") or 8443),
        metavar="PORT",
        help="the dashboard's HTTPS port on 127.0.0.1 (default: $GOVGUARD_DEMO_PORT, else 8443)",
    )
    demo.add_argument(
        "--organisation",
        type=Path,
        default=Path("inventory/example-district.yaml"),
        metavar="FILE",
        help="the district to simulate (default: inventory/example-district.yaml)",
    )
    demo.add_argument(
        "--agent-config",
        type=Path,
        default=Path("examples/agent-demo.yaml"),
        metavar="FILE",
        help="this PC's agent configuration (default: examples/agent-demo.yaml)",
    )
    demo.add_argument(
        "--smoke",
        action="store_true",
        help="bounded run (CI): wait until everything is stored, check it, stop, exit 0",
    )
    demo.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="with --smoke: the longest wait (default: 600)",
    )
    demo.add_argument(
        "--fleet-interval",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="seconds between the simulated PCs' reports (default: 300)",
    )
    demo.set_defaults(handler="demo:run")

    config = _group(sub, "config", "check the configuration")
    config.add_parser(
        "check",
        parents=[dd],
        help="validate config.yaml, the TLS certificate (CA, key, names, expiry) and the database",
    ).set_defaults(handler="server:check")

    tls = _group(sub, "tls", "the controller's TLS certificate")
    tls.add_parser(
        "renew",
        parents=[dd],
        help="issue a new server certificate from the existing CA for the current server_names "
        "(agents keep working; restart the controller afterwards)",
    ).set_defaults(handler="server:renew")

    units = _group(sub, "units", "organisation units (province, commune, department, ...)")
    add = units.add_parser("add", parents=[dd], help="add a unit")
    add.add_argument("id", metavar="ID", help="short id: lower-case letters, digits, '-'")
    add.add_argument("--name", required=True, help="the unit's name")
    add.add_argument("--parent", metavar="ID", help="the unit it belongs to")
    add.add_argument("--kind", default="unit", help="commune, department, ... (default: unit)")
    add.set_defaults(handler="units:add")
    units.add_parser("list", parents=[dd], help="list the units").set_defaults(
        handler="units:list_"
    )

    tokens = _group(sub, "tokens", "enrollment tokens for new computers")
    create = tokens.add_parser("create", parents=[dd], help="create an enrollment token")
    create.add_argument("--unit", required=True, metavar="ID", help="unit the computers join")
    create.add_argument(
        "--expires", default="72h", metavar="DURATION", help="30m, 72h, 7d, ... (default: 72h)"
    )
    create.add_argument(
        "--uses", type=int, default=1, metavar="N", help="how many computers may use it"
    )
    create.add_argument("--note", metavar="TEXT", help="a note shown by `tokens list`")
    create.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the token to FILE (mode 0600) for `govguard-agent enroll --token-file`",
    )
    create.set_defaults(handler="tokens:create")
    tokens.add_parser("list", parents=[dd], help="list tokens (never their secrets)").set_defaults(
        handler="tokens:list_"
    )
    revoke = tokens.add_parser("revoke", parents=[dd], help="revoke a token")
    revoke.add_argument("id", metavar="ID", help="token id (the 8 hex digits after gg1.)")
    revoke.set_defaults(handler="tokens:revoke")

    agents = _group(sub, "agents", "enrolled computers and the approval queue")
    listing = agents.add_parser("list", parents=[dd], help="list agents")
    listing.add_argument("--status", choices=("active", "pending", "revoked"))
    listing.set_defaults(handler="agents:list_")
    show = agents.add_parser("show", parents=[dd], help="one agent and its newest reports")
    show.add_argument("id", metavar="ID", help="agent id (see `govguard agents list`)")
    show.add_argument("--limit", type=int, default=10, metavar="N", help="reports shown (10)")
    show.add_argument("--facts", action="store_true", help="print its latest facts as JSON")
    show.set_defaults(handler="agents:show")
    for name, text in (
        ("approve", "approve a pending agent (revokes the one it replaces)"),
        ("revoke", "revoke an agent: its reports are refused from now on"),
    ):
        action = agents.add_parser(name, parents=[dd], help=text)
        action.add_argument("id", metavar="ID", help="agent id (see `govguard agents list`)")
        action.set_defaults(handler=f"agents:{name}")
    accept = agents.add_parser(
        "accept-offline",
        parents=[dd],
        help="register a classified computer from its carried request file (docs/bundles.md)",
    )
    accept.add_argument("request", type=Path, metavar="REQUEST", help="the computer's request file")
    accept.add_argument("--unit", required=True, metavar="UNIT", help="unit id of the computer")
    accept.add_argument(
        "--fingerprint",
        metavar="FP",
        help="the key fingerprint the computer printed (required when stdin is not a terminal)",
    )
    accept.add_argument(
        "--out", type=Path, metavar="RESPONSE", help="default: REQUEST's name + .response.json"
    )
    accept.add_argument(
        "--lang", choices=("vi", "en"), default="vi", help="language of messages (default: vi)"
    )
    accept.set_defaults(handler="agents:accept_offline")
    imp = sub.add_parser(
        "import", parents=[dd], help="import a report bundle carried from an offline computer"
    )
    imp.add_argument("bundle", type=Path, metavar="BUNDLE", help="a govguard-*.ggb file")
    imp.add_argument(
        "--max-size",
        type=int,
        default=DEFAULT_MAX_BUNDLE_BYTES,
        metavar="BYTES",
        help=f"refuse larger files (default: {DEFAULT_MAX_BUNDLE_BYTES})",
    )
    imp.add_argument(
        "--lang", choices=("vi", "en"), default="vi", help="language of messages (default: vi)"
    )
    imp.set_defaults(handler="bundles:import_")

    stored = _group(sub, "reports", "stored raw reports")
    purge = stored.add_parser(
        "purge", parents=[dd], help="delete raw reports older than the retention period"
    )
    purge.add_argument(
        "--older-than",
        metavar="DURATION",
        help="e.g. 30d (default: retention.reports_days of config.yaml)",
    )
    purge.set_defaults(handler="reports:purge")

    _add_report(sub, dd, argv)
    _add_policy(sub, dd)
    _add_findings(sub, dd)
    _add_inventory(sub, dd)
    _add_notify(sub, dd)
    _add_users(sub, dd)
    _add_figures(sub, dd)
    _add_ports(sub, dd)
    _add_ssh(sub, dd)
    _add_snmp(sub, dd)
    _add_remediation(sub, dd)
    _add_backup(sub, dd)
    return parser


def _command(argv: list[str] | None) -> str | None:
    """The command word of ``argv`` (``report`` in ``-v report readiness``)."""
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    return words[0] if words else None


def _add_report(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    dd: argparse.ArgumentParser,
    argv: list[str] | None,
) -> None:
    """``govguard report NAME`` (docs/reports.md): one sub-command per registered report.

    The report definitions load the database layer, so their names are only looked up when
    the command is ``report``. Other report sub-commands (schedules, the archive, declared
    figures) are added to ``group`` beside the names.
    """
    # Only argparse: the schedule and archive commands are cheap to describe on every start.
    from controller.commands.schedule_args import add_schedule_parsers

    group = _group(
        sub, "report", "compliance reports: make one (PDF, XLSX, CSV, HTML), schedule, archive"
    )
    add_schedule_parsers(group, dd)
    if _command(argv) != "report":
        return
    try:
        from controller.commands.report import add_arguments
        from controller.reports import registry
    except ImportError:
        return  # main() says the controller extra is missing when a command runs
    options = argparse.ArgumentParser(add_help=False, parents=[dd])
    add_arguments(options)
    for name in registry.names():
        definition = registry.get(name)
        report = group.add_parser(
            name,
            parents=[options],
            help=definition.title.en,
            description=f"{definition.title.en}: {definition.description.en}",
        )
        report.set_defaults(handler="report:run", report=name)


def _add_snmp(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], dd: argparse.ArgumentParser
) -> None:
    worker = sub.add_parser(
        "worker",
        parents=[dd],
        help="run SNMP rounds every snmp.interval_s and when the dashboard asks (SIGTERM stops)",
    )
    worker.set_defaults(handler="snmp:worker")
    snmp = _group(sub, "snmp", "SNMP polling of switches, routers and printers")
    poll = snmp.add_parser(
        "poll", parents=[dd], help="poll now (all devices, or those named) and store the results"
    )
    poll.add_argument("devices", nargs="*", metavar="DEVICE", help="network device id")
    poll.add_argument("--quiet", action="store_true", help="no line per device, only the summary")
    poll.set_defaults(handler="snmp:poll")
    snmp.add_parser(
        "devices", parents=[dd], help="network devices and their last poll"
    ).set_defaults(handler="snmp:devices")
    macs = snmp.add_parser(
        "macs", parents=[dd], help="the current MAC table and whom each MAC belongs to"
    )
    macs.add_argument("--device", metavar="DEVICE", help="only this device")
    macs.add_argument(
        "--unmanaged",
        action="store_true",
        help="only MACs on access ports that belong to no computer, asset or device",
    )
    macs.set_defaults(handler="snmp:macs")
    snmp.add_parser(
        "printers", parents=[dd], help="network printers: status, toner per colour, pages"
    ).set_defaults(handler="snmp:printers")


def _add_figures(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], dd: argparse.ArgumentParser
) -> None:
    """``govguard figures set|list|delete|import`` (docs/reports.md)."""
    group = _group(sub, "figures", "declared figures of the readiness report (documents, ISO...)")
    period = argparse.ArgumentParser(add_help=False, parents=[dd])
    period.add_argument(
        "--period", required=True, metavar="PERIOD", help="2026, 2026-Q4 or 2026-11"
    )
    put = group.add_parser("set", parents=[period], help="enter or replace one unit's figure")
    put.add_argument("unit", metavar="UNIT", help="unit id")
    put.add_argument("metric", metavar="METRIC", help="egov.17 or 17 (see docs/reports.md)")
    put.add_argument("value", metavar="NUMERATOR[/DENOMINATOR]", help="e.g. 45/50")
    put.add_argument("--source", metavar="TEXT", help="where the figure comes from")
    put.set_defaults(handler="figures:set_")
    drop = group.add_parser("delete", parents=[period], help="remove one unit's figure")
    drop.add_argument("unit", metavar="UNIT", help="unit id")
    drop.add_argument("metric", metavar="METRIC", help="egov.17 or 17")
    drop.set_defaults(handler="figures:delete")
    listing = group.add_parser("list", parents=[dd], help="list declared figures")
    listing.add_argument("--unit", metavar="ID", help="only this unit and the units below it")
    listing.add_argument("--period", metavar="PERIOD", help="only this period label")
    listing.set_defaults(handler="figures:list_")
    load = group.add_parser(
        "import", parents=[dd], help="enter the figures of a YAML file (all or nothing)"
    )
    load.add_argument("file", type=Path, metavar="FILE", help="the figures file (YAML)")
    load.set_defaults(handler="figures:import_")


def _add_users(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], dd: argparse.ArgumentParser
) -> None:
    """``govguard users add|passwd|disable|enable|list`` (docs/accounts.md)."""
    group = _group(sub, "users", "dashboard and API accounts")
    # No prefix matching: `--password x` must not be taken for `--password-file x`.
    secret = argparse.ArgumentParser(add_help=False, parents=[dd], allow_abbrev=False)
    secret.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="read the password from the first line of FILE (- = stdin); else "
        "$GOVGUARD_PASSWORD, else it is asked twice at the terminal",
    )
    add = group.add_parser("add", parents=[secret], allow_abbrev=False, help="add an account")
    add.add_argument("username", metavar="USERNAME", help="login name: a-z, 0-9, '.', '_', '-'")
    # controller.store.models.USER_ROLES, without importing the controller to build the parser.
    add.add_argument("--role", required=True, choices=("admin", "operator", "auditor"))
    add.add_argument("--unit", metavar="ID", help="the unit it sees, with the units below it "
                     "(default: the whole district)")  # fmt: skip
    add.add_argument("--locale", choices=("vi", "en"), default="vi", help="dashboard language")
    add.add_argument("--name", metavar="TEXT", help="the person's full name")
    add.set_defaults(handler="users:add")
    passwd = group.add_parser(
        "passwd", parents=[secret], allow_abbrev=False, help="set a password (ends its sessions)"
    )
    passwd.add_argument("username", metavar="USERNAME")
    passwd.set_defaults(handler="users:passwd")
    for name, text in (
        ("disable", "disable an account: no login, its sessions end"),
        ("enable", "enable a disabled account"),
    ):
        action = group.add_parser(name, parents=[dd], help=text)
        action.add_argument("username", metavar="USERNAME")
        action.set_defaults(handler=f"users:{name}")
    listing = group.add_parser("list", parents=[dd], help="list accounts (never passwords)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler="users:list_")


def _add_findings(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], dd: argparse.ArgumentParser
) -> None:
    """``govguard findings list|ack|exempt|evaluate`` (docs/findings.md)."""
    findings = _group(sub, "findings", "rule failures per computer and their lifecycle")
    listing = findings.add_parser("list", parents=[dd], help="list findings, most severe first")
    listing.add_argument("--unit", metavar="ID", help="only this unit and the units below it")
    listing.add_argument(
        "--status",
        action="append",
        choices=("open", "acknowledged", "exempted", "resolved"),
        help="repeatable (default: open, acknowledged and exempted)",
    )
    listing.add_argument(
        "--severity", action="append", choices=("critical", "high", "medium", "low", "info")
    )
    listing.add_argument("--rule", metavar="RULE", help="one rule id, e.g. ATTT-07")
    listing.add_argument("--agent", metavar="ID", help="one computer (agent id)")
    listing.add_argument("--limit", type=int, default=1000, metavar="N", help="at most N (1000)")
    listing.set_defaults(handler="findings:list_")
    ack = findings.add_parser("ack", parents=[dd], help="acknowledge a finding")
    ack.add_argument("id", metavar="ID", help="finding id (see `govguard findings list`)")
    ack.set_defaults(handler="findings:ack")
    exempt = findings.add_parser(
        "exempt", parents=[dd], help="exempt a finding until a date, with a reason"
    )
    exempt.add_argument("id", metavar="ID", help="finding id")
    exempt.add_argument("--reason", required=True, metavar="TEXT", help="why (kept in the audit)")
    exempt.add_argument("--until", metavar="YYYY-MM-DD", help="last day of the exemption (UTC)")
    exempt.add_argument("--for", dest="duration", metavar="DURATION", help="e.g. 30d")
    exempt.set_defaults(handler="findings:exempt")
    close = findings.add_parser(
        "resolve",
        parents=[dd],
        help="close a finding the controller raised (a classified PC seen on the network)",
    )
    close.add_argument("id", metavar="ID", help="finding id")
    close.add_argument("--reason", required=True, metavar="TEXT", help="what was found and done")
    close.set_defaults(handler="findings:resolve")
    evaluate = findings.add_parser(
        "evaluate",
        parents=[dd],
        help="re-evaluate every computer against the installed policies (after a change)",
    )
    evaluate.add_argument(
        "--workers", type=int, metavar="N", help="processes (default: one per CPU core)"
    )
    evaluate.set_defaults(handler="findings:evaluate")


def _add_inventory(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], dd: argparse.ArgumentParser
) -> None:
    """``govguard inventory import|export|ansible`` (docs/inventory.md)."""
    inventory = _group(sub, "inventory", "the organisation file: units, staff, assets, devices")
    lang = argparse.ArgumentParser(add_help=False, parents=[dd])
    lang.add_argument(
        "--lang", choices=("vi", "en"), default="vi", help="language of messages (default: vi)"
    )
    load = inventory.add_parser(
        "import",
        parents=[lang],
        help="check an organisation file and apply it: show what is added, changed, retired",
    )
    load.add_argument("file", type=Path, metavar="FILE", help="the organisation file (YAML)")
    load.add_argument(
        "--dry-run", action="store_true", help="show what would change, write nothing"
    )
    load.set_defaults(handler="inventory:import_")
    dump = inventory.add_parser(
        "export", parents=[lang], help="write the stored organisation as a file to re-import"
    )
    dump.add_argument("--out", type=Path, metavar="FILE", help="write to FILE (default: stdout)")
    dump.add_argument("--title", metavar="TEXT", help="the file's title line")
    dump.set_defaults(handler="inventory:export")
    ansible = inventory.add_parser(
        "ansible", parents=[lang], help="write the district's Ansible inventory (static)"
    )
    ansible.add_argument("--output", type=Path, metavar="FILE", help="default: stdout")
    ansible.add_argument("--format", choices=("yaml", "json"), default="yaml", help="default: yaml")
    ansible.set_defaults(handler="inventory:ansible")


def _add_notify(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], dd: argparse.ArgumentParser
) -> None:
    """``govguard notify test|run-once`` (docs/notifications.md)."""
    notify = _group(sub, "notify", "e-mail and webhook notifications")
    test = notify.add_parser(
        "test", parents=[dd], help="send a test message now (exit 1 with the reason on failure)"
    )
    target = test.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", metavar="ADDRESS", help="an e-mail address (uses notify.smtp)")
    target.add_argument("--webhook", metavar="NAME", help="a webhook of notify.webhooks")
    test.add_argument(
        "--lang", choices=("vi", "en"), default="vi", help="language of the message (default: vi)"
    )
    test.set_defaults(handler="notify:test")
    notify.add_parser(
        "run-once", parents=[dd], help="deliver what is due now (for cron); exit 1 if any failed"
    ).set_defaults(handler="notify:run_once")
    status = notify.add_parser(
        "status", parents=[dd], help="deliveries per status and the newest failures"
    )
    status.add_argument(
        "--limit", type=int, default=10, metavar="N", help="failures shown (default: 10)"
    )
    status.set_defaults(handler="notify:status")


def _add_policy(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], dd: argparse.ArgumentParser
) -> None:
    """``govguard policy check|test`` (docs/policies.md)."""
    policy = _group(sub, "policy", "policy packs: validate them, try them on a report")
    # Options both commands share: extra references files and an operator's overrides file.
    common = argparse.ArgumentParser(add_help=False, parents=[dd])
    common.add_argument(
        "--references",
        type=Path,
        action="append",
        metavar="FILE",
        help="a references file besides the shipped one (repeatable)",
    )
    common.add_argument(
        "--overrides",
        type=Path,
        metavar="FILE",
        help="an overrides file (disable rules, set parameters, add packs)",
    )
    check = policy.add_parser(
        "check",
        parents=[common],
        help="validate policy packs; with no FILE, the shipped packs and the data directory's "
        "policies/overrides.yaml",
    )
    check.add_argument("files", nargs="*", type=Path, metavar="FILE", help="pack file or directory")
    check.set_defaults(handler="policy:check")
    test = policy.add_parser(
        "test", parents=[common], help="evaluate a pack on a report file and show each outcome"
    )
    test.add_argument("file", type=Path, metavar="FILE", help="pack file or directory")
    test.add_argument(
        "--report",
        type=Path,
        required=True,
        metavar="REPORT.json",
        help="a report written by `govguard-agent once --out`",
    )
    test.add_argument(
        "--classification",
        choices=("normal", "classified"),
        help="the computer's classification (default: the report's asset.classification, else "
        "normal)",
    )
    test.add_argument(
        "--kind",
        metavar="KIND",
        help="the asset kind (laptop, desktop, ...) for rules limited by kind (default: the "
        "report's asset.kind)",
    )
    test.add_argument(
        "--os", choices=("windows", "linux"), help="OS family (default: read from the report)"
    )
    test.add_argument(
        "--unit", action="append", metavar="ID", help="unit path, top first (repeatable)"
    )
    test.add_argument("--tag", action="append", metavar="TAG", help="a tag of the computer")
    test.add_argument(
        "--lang", choices=("vi", "en"), default="vi", help="language of the table (default: vi)"
    )
    test.set_defaults(handler="policy:test")


def _add_ports(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], dd: argparse.ArgumentParser
) -> None:
    """``govguard ports list|request|approve|reject|undo|apply`` (docs/discovery.md)."""
    group = _group(sub, "ports", "switch-port shutdowns by SNMP SET: request, approve, undo")
    # controller.store.port_actions.STATES, without importing the controller here.
    states = ("pending", "approved", "applying", "applied", "failed", "rejected")
    listing = group.add_parser("list", parents=[dd], help="list port actions, newest first")
    listing.add_argument("--state", action="append", choices=states, help="repeatable")
    listing.add_argument("--device", metavar="ID", help="only this network device")
    listing.add_argument("--limit", type=int, default=200, metavar="N", help="at most N (200)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler="snmp_ports:list_")
    ask = group.add_parser(
        "request", parents=[dd], help="ask for a port to be shut down (waits for an approval)"
    )
    ask.add_argument("device", metavar="DEVICE", help="network device id")
    ask.add_argument("port", metavar="PORT", help="ifIndex, or the port's name (Gi1/0/5)")
    ask.add_argument("--reason", metavar="TEXT", help="why (kept with the action and audited)")
    ask.add_argument(
        "--force",
        action="store_true",
        help="even an uplink or a port no poll has seen (cuts off everything behind it; audited)",
    )
    ask.set_defaults(handler="snmp_ports:request")
    apply_now = argparse.ArgumentParser(add_help=False, parents=[dd])
    apply_now.add_argument(
        "--apply-now",
        action="store_true",
        help="send the SNMP SET now instead of leaving it to `govguard worker`",
    )
    for name, text in (
        ("approve", "approve a pending action (or retry a failed one)"),
        ("undo", "switch an applied shutdown's port back on (approved at once)"),
    ):
        decide = group.add_parser(name, parents=[apply_now], help=text)
        decide.add_argument("id", metavar="ID", help="port action id (see `govguard ports list`)")
        decide.set_defaults(handler=f"snmp_ports:{name}")
    no = group.add_parser("reject", parents=[dd], help="reject a pending or approved action")
    no.add_argument("id", metavar="ID", help="port action id")
    no.add_argument("--reason", metavar="TEXT", help="why (kept with the action and audited)")
    no.set_defaults(handler="snmp_ports:reject")
    group.add_parser(
        "apply", parents=[dd], help="send the SET of every approved action now (as the worker)"
    ).set_defaults(handler="snmp_ports:apply")


def _add_ssh(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], dd: argparse.ArgumentParser
) -> None:
    """``govguard ssh keygen|trust|collect|list`` (docs/discovery.md, agentless collection)."""
    group = _group(sub, "ssh", "Linux hosts without an agent, collected over SSH")
    key = argparse.ArgumentParser(add_help=False, parents=[dd])
    key.add_argument(
        "--key",
        type=Path,
        metavar="FILE",
        help="the controller's private key (default: ssh.key_file, else <data-dir>/ssh/id_ed25519)",
    )
    host = argparse.ArgumentParser(add_help=False)
    host.add_argument("host", metavar="HOST", help="host name or IP address")
    host.add_argument("--port", type=int, default=22, metavar="PORT", help="SSH port (22)")
    group.add_parser(
        "keygen", parents=[key], help="create the controller's Ed25519 key, print its public key"
    ).set_defaults(handler="ssh:keygen")
    trust = group.add_parser(
        "trust",
        parents=[dd, host],
        help="pin a host's key after checking it (unknown keys are always refused)",
    )
    source = trust.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--key-file", type=Path, metavar="PUBKEY", help="the host's public key file (.pub)"
    )
    source.add_argument(
        "--fingerprint",
        metavar="SHA256:...",
        help="the fingerprint checked with the host's administrator; the key the host "
        "presents is pinned only if it matches",
    )
    trust.set_defaults(handler="ssh:trust")
    collect = group.add_parser(
        "collect", parents=[key, host], help="collect a host's report over SSH and store it"
    )
    collect.add_argument("--user", default="root", metavar="USER", help="login name (root)")
    collect.add_argument(
        "--unit", metavar="UNIT", help="its unit (default: the unit of its asset, matched by "
        "machine id, serial or MAC)"
    )  # fmt: skip
    collect.set_defaults(handler="ssh:collect")
    group.add_parser(
        "list", parents=[dd], help="hosts collected over SSH, their last result, pinned keys"
    ).set_defaults(handler="ssh:list_")


def _add_remediation(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], dd: argparse.ArgumentParser
) -> None:
    """``govguard remediate`` and ``govguard jobs list|show|approve|reject|cancel``
    (docs/remediation.md)."""
    fix = sub.add_parser(
        "remediate",
        parents=[dd],
        help="fix a failed rule with its Ansible playbook: preview, approval, run, verification",
    )
    fix.add_argument(
        "target", nargs="?", metavar="RULE|FINDING", help="a rule id (ATTT-07) or a finding (#12)"
    )
    fix.add_argument(
        "--hosts", nargs="+", metavar="HOST", help="agent ids, asset ids or inventory names"
    )
    fix.add_argument("--playbook", metavar="NAME", help="a playbook of the playbooks folder")
    fix.add_argument("--check", action="store_true", help="preview only (waits for an approval)")
    fix.add_argument(
        "--approve", action="store_true", help="approve in advance: the run follows the preview"
    )
    fix.add_argument("--wait", action="store_true", help="run it here with a live log, then verify")
    fix.add_argument("--yes", action="store_true", help="do not ask before --approve")
    fix.set_defaults(handler="remediate:run")
    jobs = _group(sub, "jobs", "remediation jobs: list, show (live log), approve, reject, cancel")
    # controller.store.models.REMEDIATION_JOB_STATUSES, without importing the controller here.
    statuses = (
        "previewing", "awaiting_approval", "queued", "running", "verifying", "fixed",
        "not_fixed", "failed", "cancelled", "rejected", "interrupted",
    )  # fmt: skip
    listing = jobs.add_parser("list", parents=[dd], help="list jobs, newest first")
    listing.add_argument("--status", action="append", choices=statuses, help="repeatable")
    listing.add_argument("--rule", metavar="RULE", help="one rule id")
    listing.add_argument("--host", metavar="HOST", help="one host (inventory name, agent, asset)")
    listing.add_argument("--limit", type=int, default=200, metavar="N", help="at most N (200)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler="jobs:list_")
    show = jobs.add_parser("show", parents=[dd], help="a job: hosts, verification, runs, log")
    show.add_argument("id", metavar="ID", help="job id")
    show.add_argument("--follow", action="store_true", help="stream the log until the job ends")
    show.add_argument("--lines", type=int, default=200, metavar="N", help="last log events (200)")
    show.set_defaults(handler="jobs:show")
    for name, text in (
        ("approve", "approve a job awaiting approval (its run is queued)"),
        ("reject", "reject a job awaiting approval"),
        ("cancel", "cancel a job (a running playbook is stopped)"),
    ):
        decide = jobs.add_parser(name, parents=[dd], help=text)
        decide.add_argument("id", metavar="ID", help="job id (see `govguard jobs list`)")
        decide.set_defaults(handler=f"jobs:{name}")

    periodic = _group(
        sub, "periodic", "the leased periodic jobs several processes share: list, runs"
    )
    listing = periodic.add_parser(
        "list", parents=[dd], help="each job: lease holder, last run, next due"
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler="periodic:list_")
    history = periodic.add_parser("runs", parents=[dd], help="who ran which job when, newest first")
    history.add_argument("--job", metavar="NAME", help="one job (see `govguard periodic list`)")
    history.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (50)")
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")
    history.set_defaults(handler="periodic:runs")


def _add_backup(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], dd: argparse.ArgumentParser
) -> None:
    """``govguard backup`` and ``govguard restore`` (docs/backup.md)."""
    pg = argparse.ArgumentParser(add_help=False, parents=[dd])
    pg.add_argument(
        "--pg-bindir",
        type=Path,
        metavar="DIR",
        help="where pg_dump/pg_restore are (default: the server version's own client, else PATH)",
    )
    save = sub.add_parser(
        "backup",
        parents=[pg],
        help="write one archive (mode 0600) with the database, config, TLS keys and secrets; "
        "safe while the controller runs",
    )
    save.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="the archive to write (default: ./govguard-backup-<UTC time>.tar.gz); never "
        "overwritten",
    )
    save.add_argument(
        "--with-reports",
        action="store_true",
        help="include the archive of generated reports (<data-dir>/reports, can be large)",
    )
    save.set_defaults(handler="backup:backup")
    back = sub.add_parser(
        "restore",
        parents=[pg],
        help="check a backup archive and restore it into --data-dir and its database "
        "(stop the controller first)",
    )
    back.add_argument("file", type=Path, metavar="FILE", help="an archive of `govguard backup`")
    back.add_argument(
        "--yes",
        action="store_true",
        help="replace a data directory or database that is not empty (the old directory is "
        "kept beside it)",
    )
    back.add_argument(
        "--database-url",
        metavar="URL",
        help="restore the database there instead of the backup's database_url (written into "
        "the restored config.yaml)",
    )
    back.set_defaults(handler="backup:restore")


def _group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    group = sub.add_parser(name, help=text)
    group.set_defaults(handler=None, group_parser=group)
    return group.add_subparsers(dest="action", metavar="ACTION")


def _resolve(handler: str) -> Callable[[argparse.Namespace], int]:
    module_name, _, function = handler.partition(":")
    module = importlib.import_module(f"controller.commands.{module_name}")
    func: Callable[[argparse.Namespace], int] = getattr(module, function)
    return func


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``govguard``; returns the process exit status."""
    parser = _build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # `govguard report` promises exit 1 for every bad input, an unknown report included
        # (docs/reports.md); the other commands keep argparse's 2 for usage errors.
        if exc.code == EXIT_USAGE and _command(argv) == "report":
            return EXIT_FAILURE
        raise
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        # No command, or a group without its action (`govguard tokens`).
        getattr(args, "group_parser", parser).print_help(sys.stderr)
        return EXIT_USAGE
    if callable(handler):
        return int(handler(args))
    try:
        from controller.commands.common import CliError
        from controller.settings import SettingsError

        run = _resolve(handler)
    except ImportError as exc:
        print(
            f"govguard: error: cannot load the controller ({exc}); "
            "is govguard installed with its controller extra?",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    try:
        return run(args)
    except (CliError, SettingsError) as exc:
        print(f"govguard: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("govguard: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (`govguard agents list | head`); see agent.cli for the dup2.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except Exception as exc:
        # A bug must still end in one line; -v shows the traceback for the report.
        if args.verbose:
            log.error("unexpected error", exc_info=True)
        print(f"govguard: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
