"""JSON bodies exchanged between agent and controller (besides the report itself).

Shared by both sides so they cannot drift apart. The signed report envelope is in
:mod:`agent.envelope`, the enrollment token in :mod:`agent.token`.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

API_PREFIX = "/api/v1"
CA_PATH = f"{API_PREFIX}/ca"
ENROLL_PATH = f"{API_PREFIX}/enroll"
REPORTS_PATH = f"{API_PREFIX}/reports"
CLOCK_HEADER = "GG-Clock"
SETTINGS_HEADER = "GG-Settings"


class AgentSettings(msgspec.Struct, kw_only=True):
    """What the controller tells agents to do: how often to report, what to probe."""

    version: int = 0
    interval_s: int = 300
    full_every_s: int = 86400
    jitter: float = 0.1
    # The agent config's `probes` mapping (agent.config.ProbeConfig); None keeps the local one.
    probes: dict[str, Any] | None = None


class EnrollRequest(msgspec.Struct, kw_only=True):
    """An agent asks to be enrolled with a token, its public key and hardware identity."""

    token: str
    public_key: str  # standard base64 of the raw 32-byte Ed25519 public key
    hostname: str
    machine_id: str | None = None
    system_uuid: str | None = None
    system_serial: str | None = None
    macs: list[str] = []  # msgspec copies mutable defaults per instance
    os: str = ""
    agent_version: str = ""


class EnrollReply(msgspec.Struct, kw_only=True):
    """The controller's answer to a successful (201) or pending (202) enrollment."""

    agent_id: str
    key_id: str
    status: Literal["active", "pending"]
    settings: AgentSettings | None = None
    message: str | None = None


class IngestReply(msgspec.Struct, kw_only=True):
    """The controller's answer to a report it accepted: stored now or already stored."""

    status: Literal["stored", "duplicate"]
    seq: int
    settings: AgentSettings | None = None
    #: A remediation ran on this computer: collect and send a full report now (issue 8).
    report_now: bool = False


class ErrorReply(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Every refusal: a stable code for programs and a sentence for people."""

    error: str
    message: str
    #: ``409 seq_conflict`` only: the highest sequence number the controller holds for the
    #: agent, which renumbers its queued reports after it.
    last_seq: int | None = None
