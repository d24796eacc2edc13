"""What the remediation parts exchange: a run's specification, its events and its outcome.

Kept free of the database and of ansible_runner, so the runner, the worker, the workflow and
the dashboard agree on these shapes without importing each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

#: The one playbook allowed to target classified computers: it cuts them off every network.
ISOLATION_PLAYBOOK: Final = "isolate_classified_host.yml"
#: The inventory group of classified computers; every other playbook refuses it
#: (``hosts: all:!classified`` and the workflow's check before ansible starts).
CLASSIFIED_GROUP: Final = "classified"
#: A playbook is named by a file name in the playbooks directory, never a path.
PLAYBOOK_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}\.ya?ml")
#: Inventory host names: asset ids (organisation-file slugs) or ``agent-<agent id>``. Never a
#: hostname an agent reported: those are hostile input (ARCHITECTURE.md, trust model).
HOST_NAME: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?|agent-[A-Za-z0-9_-]{1,64}")

RunMode = Literal["check", "apply"]
RunState = Literal["queued", "running", "succeeded", "failed", "interrupted", "cancelled"]


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Everything one ansible-runner execution needs; written into its private data directory.

    ``inventory`` is Ansible's JSON inventory (``{"all": {"hosts": {...}, "children": ...}}``)
    limited to the run's hosts; ``ssh_key`` and ``passwords`` come from the controller's data
    directory (never from the database or an agent); ``extra_vars`` hold only values from the
    policy, the settings or the operator.
    """

    run_id: int
    playbook: Path
    mode: RunMode
    inventory: dict[str, Any]
    hosts: tuple[str, ...]
    extra_vars: dict[str, Any] = field(default_factory=dict)
    private_dir: Path = Path()
    timeout_s: int = 1800
    ssh_key: Path | None = None
    known_hosts: Path | None = None
    #: ``{"become_password": ..., "winrm_password": ...}``; written 0600, never logged.
    passwords: dict[str, str] = field(default_factory=dict)
    keep_dir: bool = False


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One ansible event as stored (:class:`controller.store.models.RemediationEvent`)."""

    seq: int
    at: datetime
    event: str
    host: str | None = None
    task: str | None = None
    changed: bool = False
    failed: bool = False
    stdout: str | None = None
    diff: str | None = None


@dataclass(frozen=True, slots=True)
class HostStats:
    """One host's totals at the end of a run (ansible's play recap)."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended: ``succeeded``, ``failed`` (a task failed, a host was unreachable, the
    timeout struck), ``cancelled``; ``status_text`` is ansible-runner's status
    (``successful``, ``failed``, ``timeout``, ``canceled``) and ``error`` one line for people."""

    state: RunState
    status_text: str
    rc: int | None
    stats: dict[str, HostStats]
    error: str | None = None


class RemediationError(Exception):
    """A request that cannot be honoured (unknown playbook, classified host, no address, ...):
    one line for the operator; the CLI exits 1, the dashboard answers 4xx."""


def playbooks_dir(configured: Path | None) -> Path:
    """The playbooks folder: ``remediation.playbooks_dir``, else the one shipped with govguard.

    The shipped folder is ``controller/remediation/playbooks``: in a checkout a link to the
    repository's ``playbooks/`` (resolved, so ansible-runner and error messages show the real
    folder), in an installed wheel a copy of it (package data).
    """
    if configured is not None:
        return configured
    return (Path(__file__).resolve().parent / "playbooks").resolve()
