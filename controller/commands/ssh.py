"""``govguard ssh keygen|trust|collect|list``: Linux hosts without an agent (docs/discovery.md)."""

from __future__ import annotations

import argparse

from controller.commands.common import (
    CliError,
    actor,
    now,
    open_engine,
    open_store,
    print_table,
    settings,
    when,
)
from controller.discovery import ssh
from controller.discovery import ssh_collect as collection
from controller.settings import Settings
from controller.store import audit


def _endpoint(args: argparse.Namespace, username: str = "root") -> ssh.Endpoint:
    try:
        return ssh.endpoint(args.host, args.port, username)
    except ssh.SshError as exc:
        raise CliError(exc.message) from exc


def keygen(args: argparse.Namespace) -> int:
    """Create the controller's Ed25519 key (0600) and print the public key to install."""
    current = settings(args)
    path = args.key or collection.key_file(current)
    if path.exists():
        try:
            line = ssh.public_line(ssh.load_private_key(path))
        except ssh.SshError as exc:
            raise CliError(exc.message) from exc
        print(f"{path} exists already and is kept; its public key:")
        print(line)
        return 0
    try:
        line = ssh.generate_key(path).strip()
    except ssh.SshError as exc:
        raise CliError(exc.message) from exc
    print(f"created {path} (mode 600); add this line to ~/.ssh/authorized_keys on each host:")
    print(line)
    return 0


def trust(args: argparse.Namespace) -> int:
    """Pin a host key: from the host's public key file, or the key the host presents when its
    fingerprint is the one the operator checked."""
    current = settings(args)
    target = _endpoint(args)
    try:
        if args.key_file is not None:
            key = ssh.read_public_key(args.key_file)
        else:
            wanted = ssh.check_fingerprint(args.fingerprint)
            key = ssh.fetch_host_key(target, current.ssh.connect_timeout_s)
            if ssh.fingerprint(key) != wanted:
                raise CliError(
                    f"{target.known_hosts_name} presents {ssh.fingerprint(key)}, not {wanted}; "
                    "nothing pinned (ask the host's administrator again)"
                )
        replaced = ssh.pin_host_key(collection.known_hosts(current), target, key)
    except ssh.SshError as exc:
        raise CliError(f"ssh {target.host}:{target.port}: {exc.code}: {exc.message}") from exc
    except OSError as exc:
        raise CliError(f"cannot write the known hosts file: {exc.strerror or exc}") from exc
    fp = ssh.fingerprint(key)
    details: dict[str, object] = {"host": target.host, "port": target.port, "fingerprint": fp}
    if replaced is not None:
        details["replaced"] = ssh.fingerprint(replaced)
    with open_store(current) as session:
        audit.record(
            session,
            actor(),
            "ssh.host_key_pinned",
            f"ssh:{target.host}:{target.port}",
            details,
            at=now(),
            source="cli",
        )
    print(f"pinned {key.get_name()} {fp} for {target.known_hosts_name}")
    if replaced is not None:
        print(f"it replaces {ssh.fingerprint(replaced)}")
    return 0


def ingest_writer(current: Settings) -> collection.Writer:
    """The online ingest writer: stored, tripwire, policies, notifications (controller.app)."""
    from controller.findings import FindingsWriter, PolicyCache
    from controller.findings.alerts import FindingAlerts

    policies = PolicyCache(current.data_dir)
    return FindingsWriter(policies, on_opened=FindingAlerts(current.notify, policies))


def collect(args: argparse.Namespace) -> int:
    """Collect one host over SSH and store its report; exit 1 with one line on any failure."""
    from controller.store.db import session_factory

    current = settings(args)
    target = _endpoint(args, args.user)
    with open_engine(current) as engine:
        try:
            report, stored = collection.collect_one(
                session_factory(engine),
                current,
                target,
                ingest_writer(current),
                actor=actor(),
                unit=args.unit,
                private_key=args.key,
            )
        except ssh.SshError as exc:
            raise CliError(f"ssh {target}: {exc.code}: {exc.message}") from exc
    missing = [e.collector for e in report.errors]
    note = f"; sections missing: {', '.join(missing)}" if missing else ""
    made = " (new host)" if stored.new_agent else ""
    ident = report.identity
    name = ident.hostname if ident is not None else target.host
    print(
        f"stored report {stored.seq} of {name} as agent {stored.agent_id}{made} "
        f"in unit {stored.unit_id}{note}"
    )
    return 0


def list_(args: argparse.Namespace) -> int:
    """The hosts collected over SSH, their last success and failure, and the pinned keys."""
    from controller.store import ssh_targets

    current = settings(args)
    try:
        pinned = ssh.pinned_hosts(collection.known_hosts(current))
    except ssh.SshError as exc:
        raise CliError(exc.message) from exc
    with open_store(current) as session:
        rows = []
        for target, agent in ssh_targets.list_targets(session):
            name = ssh.Endpoint(target.host, target.port, target.username).known_hosts_name
            error = (target.last_error or "-").split(":", 1)[0]
            rows.append(
                (
                    target.host,
                    str(target.port),
                    target.username,
                    target.unit_id,
                    agent.id if agent is not None else "-",
                    when(target.last_ok_at),
                    when(target.last_error_at),
                    error,
                    pinned.get(name, "-"),
                )
            )
    headers = ("HOST", "PORT", "USER", "UNIT", "AGENT", "LAST OK", "LAST ERROR", "ERROR", "KEY")
    print_table(headers, rows, "no hosts collected over SSH yet")
    return 0
