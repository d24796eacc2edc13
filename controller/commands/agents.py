"""``govguard agents list|show|approve|revoke``: enrolled computers and the pending queue."""

from __future__ import annotations

import argparse
import json
import sys

from controller import agent_admin
from controller.commands.common import CliError, actor, now, open_store, print_table, settings, when
from controller.store import agents, reports


def list_(args: argparse.Namespace) -> int:
    """Print the agents, optionally only those with one status."""
    with open_store(settings(args)) as session:
        rows = [
            (
                agent.id,
                agent.status,
                agent.unit_id,
                agent.hostname,
                agent.os or "-",
                when(agent.last_seen_at),
                agent.replaces or "-",
            )
            for agent in agents.list_agents(session, args.status)
        ]
    empty = f"no {args.status} agents" if args.status else "no agents"
    print_table(("ID", "STATUS", "UNIT", "HOSTNAME", "OS", "LAST SEEN", "REPLACES"), rows, empty)
    return 0


def show(args: argparse.Namespace) -> int:
    """One agent: who it is, its newest reports, and (``--facts``) its latest facts as JSON."""
    agent_id = args.id.strip().lower()
    with open_store(settings(args)) as session:
        agent = agents.get_agent(session, agent_id)
        if agent is None:
            raise CliError(f"no agent with id {agent_id!r} (see `govguard agents list`)")
        if args.facts:
            facts = reports.latest_facts(session, agent_id)
            if facts is None:
                raise CliError(f"agent {agent_id} has not sent a report yet")
            print(json.dumps(facts, indent=2, ensure_ascii=False))
            return 0
        total = reports.count_reports(session, agent_id)
        newest = reports.list_reports(session, agent_id, args.limit)
        fields = (
            ("agent", agent.id),
            ("status", agent.status),
            ("offline", "yes (reports by bundles)" if agent.offline else "no"),
            ("unit", agent.unit_id),
            ("hostname", agent.hostname),
            ("os", agent.os or "-"),
            ("agent version", agent.agent_version or "-"),
            ("machine id", agent.machine_id or "-"),
            ("serial", agent.system_serial or "-"),
            ("key id", agent.key_id),
            ("enrolled", when(agent.created_at)),
            ("last seen", when(agent.last_seen_at)),
            ("replaces", agent.replaces or "-"),
            ("reports stored", str(total)),
        )
        for name, value in fields:
            print(f"{name + ':':<16}{value}")
        rows = [
            (
                str(r.seq),
                r.kind,
                when(r.received_at),
                str(r.size_bytes),
                "-" if r.clock_skew_s is None else f"{r.clock_skew_s:+.0f}",
            )
            for r in newest
        ]
    print()
    print_table(("SEQ", "KIND", "RECEIVED", "BYTES", "CLOCK SKEW S"), rows, "no reports yet")
    return 0


def approve(args: argparse.Namespace) -> int:
    """Accept a pending agent; every other agent of the same computer is revoked."""
    try:
        with open_store(settings(args)) as session:
            done = agent_admin.approve(session, args.id, actor=actor(), source="cli", now=now())
    except agent_admin.AgentActionError as exc:
        raise CliError(str(exc)) from exc
    print(f"approved agent {done.agent_id}")
    for old_id, hostname in done.revoked:
        label = " (the old key)" if old_id == done.replaces else ""
        print(f"revoked agent {old_id}{label}: same computer ({hostname})")
    return 0


def revoke(args: argparse.Namespace) -> int:
    """Revoke an agent: its reports are refused from now on; it must enroll again."""
    try:
        with open_store(settings(args)) as session:
            agent = agent_admin.revoke(session, args.id, actor=actor(), source="cli", now=now())
            agent_id = agent.id
    except agent_admin.AgentActionError as exc:
        raise CliError(str(exc)) from exc
    print(f"revoked agent {agent_id}")
    return 0


def accept_offline(args: argparse.Namespace) -> int:
    """Register a classified computer from its carried request file, once the officer has
    compared the key fingerprint; writes the response file to carry back."""
    import msgspec

    from agent.errors import AgentError
    from agent.offline import OfflineError, OfflineRequest, fingerprint
    from agent.offline import read_json as read_offline
    from agent.state import write_atomic
    from controller import pki
    from controller.commands.bundles import TEXT
    from controller.offline import OfflineRefused, accept_request, check_request

    text = TEXT[args.lang]
    current = settings(args)
    try:
        request = read_offline(args.request, OfflineRequest, "request")
        assert isinstance(request, OfflineRequest)  # noqa: S101 - narrows for mypy
        public = check_request(request)
        ca = pki.ca_fingerprint(current.ca_cert.read_bytes())
    except (OfflineError, OfflineRefused) as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:
        raise CliError(f"{current.ca_cert}: cannot read the CA: {exc.strerror or exc}") from exc
    shown = fingerprint(public)
    ids = [request.machine_id, request.system_uuid, request.system_serial, *request.macs]
    print(text["request"])
    for label, value in (
        ("host", request.hostname),
        ("identity", ", ".join(v for v in ids if v) or "-"),
        ("key", request.key_id),
        ("unit", args.unit),
        ("fingerprint", shown),
    ):
        print(f"  {text[label] + ':':<22}{value}")
    _confirm(args.fingerprint, shown, text)
    out = args.out or args.request.with_name(args.request.stem + ".response.json")
    try:
        with open_store(current) as session:
            done = accept_request(session, request, args.unit, ca, now(), actor())
            revoked = [(old.id, old.hostname) for old in done.revoked]
    except OfflineRefused as exc:
        raise CliError(str(exc)) from exc
    response = done.response
    if done.created:
        print(text["accepted"].format(host=request.hostname, agent=response.agent_id,
                                      unit=response.unit))  # fmt: skip
    else:
        print(text["again"].format(agent=response.agent_id))
    for old_id, hostname in revoked:
        print(text["revoked"].format(agent=old_id, host=hostname))
    data = msgspec.json.format(msgspec.json.encode(response), indent=2) + b"\n"
    try:
        write_atomic(out, data, mode=0o644)
    except AgentError as exc:
        raise CliError(f"{out}: cannot write the response: {exc}") from exc
    print(text["response"].format(path=out, name=out.name))
    return 0


def _confirm(given: str | None, shown: str, text: dict[str, str]) -> None:
    """The officer's yes: ``--fingerprint`` equal to the key's, or "y" on a terminal."""
    from agent.offline import normal_fingerprint

    if given is not None:
        if normal_fingerprint(given) != normal_fingerprint(shown):
            raise CliError(f"--fingerprint {given!r} is not the request's key fingerprint; "
                           "nothing written")  # fmt: skip
        return
    if not sys.stdin.isatty():
        raise CliError("not a terminal: pass --fingerprint with the fingerprint the computer "
                       "printed (nothing written)")  # fmt: skip
    try:
        answer = input(text["confirm"])
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes", "c", "có", "co"):
        raise CliError(text["no"])
