"""The controller's data directory and its validated ``config.yaml``.

Layout of a data directory (``govguard init`` creates it)::

    <data_dir>/config.yaml        this module's ControllerConfig
    <data_dir>/tls/ca.crt         the CA agents pin (its SHA-256 is in every enrollment token)
    <data_dir>/tls/ca.key         0600; used only to issue server certificates
    <data_dir>/tls/server.crt     the HTTPS certificate (DNS and IP SANs from server_names)
    <data_dir>/tls/server.key     0600
    <data_dir>/govguard.db        SQLite database, unless database_url points elsewhere

Unknown keys are errors (a typo must not silently fall back to a default), and every error is
one line naming the file and the key, like the agent's config.
"""

from __future__ import annotations

import ipaddress
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

# Shared with the agent's config so both report YAML errors the same way.
from agent.config import ProbeConfig, load_yaml_struct
from agent.wire import AgentSettings
from controller.notify.config import NotifyConfig
from controller.pki import PkiError, check_server_name
from controller.store.db import sqlite_url

CONFIG_FILE = "config.yaml"
TLS_DIR = "tls"
DB_FILE = "govguard.db"

_ANY = "0.0.0.0"  # noqa: S104 - the agents' listener must be reachable from the LAN
_Port = Annotated[int, Meta(ge=1, le=65535)]


class SettingsError(Exception):
    """The data directory or its config file is missing or invalid; the message is one line."""


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Unknown keys are errors."""


class Endpoint(_Strict):
    """An address to listen on."""

    #: An IP address (0.0.0.0 or :: for all) or a host name of this machine.
    host: Annotated[str, Meta(min_length=1, max_length=253)]
    #: The TCP port.
    port: _Port

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            try:
                check_server_name(self.host)
            except PkiError:
                raise ValueError(f"not an IP address or host name: {self.host!r}") from None


class ListenConfig(_Strict):
    """Where the controller listens: agents always, the admin UI/API optionally on its own port."""

    #: All addresses by default: agents connect from every office LAN.
    agents: Endpoint = msgspec.field(default_factory=lambda: Endpoint(host=_ANY, port=8443))
    #: None: the admin UI/API is served on the agents' listener.
    admin: Endpoint | None = None

    def __post_init__(self) -> None:
        if self.admin is not None and self.admin.port == self.agents.port:
            # Two listeners on one port fail at start-up with an obscure "address in use".
            raise ValueError(
                f"admin.port ({self.admin.port}) must differ from agents.port; "
                "set admin to null to serve both on one port"
            )


#: Bounds of the agents' timings. The agent clamps what it is sent to the same interval range
#: (agent.daemon MIN_INTERVAL_S / MAX_INTERVAL_S); refusing it here tells the operator instead of
#: every agent silently using another value.
MIN_INTERVAL_S = 60
MAX_INTERVAL_S = 86400
#: A full inventory at least monthly: older facts are not worth keeping a host for.
MAX_FULL_EVERY_S = 30 * 86400


class AgentsConfig(_Strict):
    """What agents are told to do (sent to them as ``agent.wire.AgentSettings``)."""

    #: Seconds between heartbeats.
    interval_s: Annotated[int, Meta(ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S)] = 300
    #: Seconds between full inventories (at least interval_s).
    full_every_s: Annotated[int, Meta(ge=MIN_INTERVAL_S, le=MAX_FULL_EVERY_S)] = 86400
    #: Random spread of each interval (0.1 = ±10 %), so thousands of PCs do not report at once.
    jitter: Annotated[float, Meta(ge=0, le=0.5)] = 0.1
    #: Probe targets for every agent (the agent config's ``probes`` block); null keeps the
    #: agents' local configuration.
    probes: ProbeConfig | None = None

    def __post_init__(self) -> None:
        if self.full_every_s < self.interval_s:
            raise ValueError(
                f"full_every_s ({self.full_every_s}) must be at least interval_s "
                f"({self.interval_s}): agents send at most one report per interval"
            )


class IngestConfig(_Strict):
    """Limits on what agents may send, and how reports are written in batches."""

    #: Largest compressed report body accepted (413 above).
    max_body_bytes: Annotated[int, Meta(ge=1024, le=256 * 1024 * 1024)] = 1024 * 1024
    #: Largest report once decompressed (a gzip bomb gets 413).
    max_decompressed_bytes: Annotated[int, Meta(ge=1024, le=1024 * 1024 * 1024)] = 16 * 1024 * 1024
    #: Reports written per database transaction at most.
    batch_max: Annotated[int, Meta(ge=1, le=10000)] = 256
    #: How long the writer waits for more reports to fill a batch.
    batch_wait_ms: Annotated[int, Meta(ge=0, le=1000)] = 5

    def __post_init__(self) -> None:
        if self.max_decompressed_bytes < self.max_body_bytes:
            raise ValueError(
                "max_decompressed_bytes must be at least max_body_bytes "
                f"({self.max_decompressed_bytes} < {self.max_body_bytes})"
            )


class RetentionConfig(_Strict):
    """How long stored reports are kept (the latest facts of each host are always kept)."""

    #: Raw reports older than this are deleted by ``govguard reports purge``.
    reports_days: Annotated[int, Meta(ge=1, le=36500)] = 90


class DashboardConfig(_Strict):
    """Dashboard sessions and login throttling (docs/accounts.md)."""

    #: Minutes without a request after which a session ends.
    session_idle_minutes: Annotated[int, Meta(ge=1, le=24 * 60)] = 30
    #: Hours after login after which a session ends, however active.
    session_absolute_hours: Annotated[int, Meta(ge=1, le=24 * 7)] = 8
    #: Failed logins in the window after which an account, or an address, must wait.
    login_failures_per_account: Annotated[int, Meta(ge=1, le=1000)] = 5
    #: ... and after which a client address must wait, whatever the account.
    login_failures_per_address: Annotated[int, Meta(ge=1, le=10000)] = 20
    #: The sliding window in which failed logins are counted.
    login_window_minutes: Annotated[int, Meta(ge=1, le=24 * 60)] = 15

    @property
    def session_idle(self) -> timedelta:
        """``session_idle_minutes`` as a duration."""
        return timedelta(minutes=self.session_idle_minutes)

    @property
    def session_absolute(self) -> timedelta:
        """``session_absolute_hours`` as a duration."""
        return timedelta(hours=self.session_absolute_hours)

    @property
    def login_window(self) -> timedelta:
        """``login_window_minutes`` as a duration."""
        return timedelta(minutes=self.login_window_minutes)


class ReportsConfig(_Strict):
    """Compliance reports: the readiness formulas' parameters, schedules' archive."""

    #: A computer is *active* when its agent reported within this many days (RULES.md).
    active_days: Annotated[int, Meta(ge=1, le=365)] = 7
    #: ... or, for a classified computer, its last offline bundle is this recent.
    classified_attestation_days: Annotated[int, Meta(ge=1, le=3650)] = 90
    #: Computers older than this (purchase date, else BIOS date) count as ageing (metric 29).
    ageing_years: Annotated[int, Meta(ge=1, le=50)] = 5
    #: Weights of the composite security score (metric 28) by rule severity.
    severity_weights: dict[str, Annotated[float, Meta(ge=0)]] = msgspec.field(
        default_factory=lambda: {
            "critical": 4.0,
            "high": 3.0,
            "medium": 2.0,
            "low": 1.0,
            "info": 0.0,
        }
    )
    #: Targets per readiness metric number, as shares (0.95 = 95 %), over the shipped ones.
    targets: dict[str, Annotated[float, Meta(ge=0)]] = msgspec.field(default_factory=dict)
    #: Generated reports are kept in ``<data_dir>/reports/`` this many days, then purged.
    archive_days: Annotated[int, Meta(ge=1, le=36500)] = 730


class SnmpConfig(_Strict):
    """SNMP polling of the organisation file's network devices (docs/discovery.md)."""

    #: Seconds between rounds of ``govguard worker`` (0: only on demand).
    interval_s: Annotated[int, Meta(ge=0, le=7 * 86400)] = 900
    #: Per request: seconds to wait for an answer.
    timeout_s: Annotated[float, Meta(gt=0, le=60)] = 2.0
    #: Times a request is sent again after a timeout.
    retries: Annotated[int, Meta(ge=0, le=5)] = 1
    #: Devices polled at once (a dead device costs one slot for its timeouts, never the round).
    concurrency: Annotated[int, Meta(ge=1, le=1024)] = 64
    #: GETBULK max-repetitions (rows asked per request in a table walk).
    max_repetitions: Annotated[int, Meta(ge=1, le=100)] = 32
    #: Who encodes and decodes SNMPv2c messages: ``builtin`` (govguard's small BER codec, several
    #: times cheaper in CPU) or ``pysnmp`` (the library, for a device the codec does not suit).
    #: SNMPv3 always goes through pysnmp.
    v2c_codec: Literal["builtin", "pysnmp"] = "builtin"
    #: More device profiles (YAML) besides the shipped ones; a profile here with a shipped
    #: name replaces it.
    profiles_dir: Path | None = None
    #: A port with more MAC addresses than this is an uplink, where no PC is located.
    uplink_mac_threshold: Annotated[int, Meta(ge=2, le=100000)] = 8
    #: A MAC unseen this long leaves the current MAC table (it stays in the history).
    sighting_stale_s: Annotated[int, Meta(ge=60, le=365 * 86400)] = 3 * 3600
    #: A toner or drum at or below this percentage opens a low-severity finding.
    toner_low_percent: Annotated[int, Meta(ge=0, le=100)] = 10
    #: Units (and their sub-units) where a classified PC's switch port may be shut down by
    #: SNMP SET, after an operator approves. Empty: never (the default).
    enforce_units: list[str] = msgspec.field(default_factory=list)


class SshConfig(_Strict):
    """Agentless collection over SSH (``govguard ssh collect``)."""

    #: Seconds between collections of every known SSH host by ``govguard worker`` (0: only
    #: ``govguard ssh collect``).
    interval_s: Annotated[int, Meta(ge=0, le=7 * 86400)] = 3600

    #: Seconds for the TCP connection and the SSH handshake.
    connect_timeout_s: Annotated[float, Meta(gt=0, le=120)] = 10.0
    #: Seconds each remote command may take.
    command_timeout_s: Annotated[float, Meta(gt=0, le=600)] = 30.0
    #: The private key (default ``<data_dir>/ssh/id_ed25519``) and the pinned host keys
    #: (default ``<data_dir>/ssh/known_hosts``); an unknown or changed host key is refused.
    key_file: Path | None = None
    #: The pinned host keys (default ``<data_dir>/ssh/known_hosts``).
    known_hosts: Path | None = None


class RemediationConfig(_Strict):
    """Ansible remediation run by ``govguard worker`` (docs/remediation.md)."""

    #: Apply and check runs at once across all workers (more wait ``queued``).
    max_concurrent: Annotated[int, Meta(ge=1, le=64)] = 2
    #: A run still going after this many seconds is stopped and ends ``failed`` (timeout).
    run_timeout_s: Annotated[int, Meta(ge=10, le=24 * 3600)] = 1800
    #: The playbooks (default: the ``playbooks/`` folder shipped with govguard).
    playbooks_dir: Path | None = None
    #: SSH key and pinned host keys for Ansible (default: those of ``govguard ssh``,
    #: ``<data_dir>/ssh/id_ed25519`` and ``<data_dir>/ssh/known_hosts``); never from agents.
    key_file: Path | None = None
    #: Pinned host keys for Ansible (default ``<data_dir>/ssh/known_hosts``).
    known_hosts: Path | None = None
    #: Who Ansible logs in as when the organisation file's ``connection`` names nobody, and
    #: how it becomes root/Administrator. The become and WinRM passwords are secrets:
    #: ``<data_dir>/secrets/ansible.yaml`` (0600) or ``GOVGUARD_ANSIBLE_<FIELD>``.
    remote_user: Annotated[str, Meta(pattern=r"^[a-z_][a-z0-9_.-]{0,31}$")] = "govguard"
    #: Become root (or Administrator) to run the playbook.
    become: bool = True
    #: How to become root on Linux.
    become_method: Literal["sudo", "su", "doas"] = "sudo"
    #: A host whose agent reported within this many seconds is online; others wait for their
    #: next report, then run (``waiting``), or expire after ``offline_wait_s``.
    online_window_s: Annotated[int, Meta(ge=60, le=7 * 86400)] = 900
    #: A host still silent this long after the approval expires (counts as not fixed).
    offline_wait_s: Annotated[int, Meta(ge=60, le=90 * 86400)] = 7 * 86400
    #: After an apply run, wait this long for each host's next report (verification), then
    #: conclude ``unknown``.
    verify_timeout_s: Annotated[int, Meta(ge=60, le=30 * 86400)] = 3600
    #: Rules remediated automatically when they fail (only rules whose remediation needs no
    #: approval run unattended; the others get a preview awaiting approval), at most
    #: ``auto_per_hour`` new jobs an hour.
    auto_rules: list[str] = msgspec.field(default_factory=list)
    #: New automatic jobs an hour at most, across all workers.
    auto_per_hour: Annotated[int, Meta(ge=0, le=10000)] = 10
    #: Use an IP address the agent reported when the organisation file gives no ``connection``
    #: (off by default: an agent could name another machine's address).
    address_from_reports: bool = False
    #: Keep each run's private data directory (``<data_dir>/remediation/runs/<id>``) after
    #: it finished (debugging); its events are in the database either way.
    keep_run_dirs: bool = False


class MetricsConfig(_Strict):
    """Prometheus metrics at ``/metrics`` (docs/metrics.md).

    Served on the admin listener when ``listen.admin`` is set, else on the only listener; never
    on an agents-only listener.
    """

    #: Serve ``/metrics`` at all.
    enabled: bool = True
    #: A file holding a bearer token; when set, a scrape without ``Authorization: Bearer <token>``
    #: gets 401. Relative paths are inside the data directory.
    token_file: Path | None = None


class PeriodicConfig(_Strict):
    """The periodic jobs several controller processes share through leases (docs/scale-out.md).

    Each job (re-evaluation, report schedules, SNMP and SSH rounds, ...) is run by one process
    at a time; ``govguard periodic list`` shows who holds which and when it runs next.
    """

    #: Seconds between re-evaluations of every host: what turns a computer that stopped
    #: reporting into a finding.
    reevaluate_every_s: Annotated[int, Meta(ge=1, le=7 * 86400)] = 3600
    #: Seconds between looks for due report schedules.
    report_schedules_every_s: Annotated[int, Meta(ge=1, le=86400)] = 300
    #: How often each process looks whether a job is due, in seconds; null: each job's own
    #: (5 to 60 s). Small values are for tests.
    poll_s: Annotated[float, Meta(ge=0.1, le=3600)] | None = None
    #: Seconds a claimed job stays a process's without renewal: a process that dies mid-run
    #: blocks its job this long. A running job renews its lease every third of it.
    lease_s: Annotated[int, Meta(ge=1, le=86400)] = 300

    @property
    def lease(self) -> timedelta:
        """``lease_s`` as a duration."""
        return timedelta(seconds=self.lease_s)


class ControllerConfig(_Strict):
    """Everything ``config.yaml`` may hold."""

    #: null: SQLite in the data directory. Otherwise ``sqlite:///PATH`` or ``postgresql://...``.
    database_url: Annotated[str, Meta(min_length=1)] | None = None
    #: DNS names and IP addresses agents use to reach the controller (in the TLS certificate).
    server_names: Annotated[list[str], Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["localhost"]
    )
    listen: ListenConfig = msgspec.field(default_factory=ListenConfig)
    agents: AgentsConfig = msgspec.field(default_factory=AgentsConfig)
    ingest: IngestConfig = msgspec.field(default_factory=IngestConfig)
    retention: RetentionConfig = msgspec.field(default_factory=RetentionConfig)
    #: E-mail and webhook notifications (docs/notifications.md); no routes = none sent.
    notify: NotifyConfig = msgspec.field(default_factory=NotifyConfig)
    #: Dashboard sessions and login throttling.
    dashboard: DashboardConfig = msgspec.field(default_factory=DashboardConfig)
    #: Compliance reports (docs/reports.md).
    reports: ReportsConfig = msgspec.field(default_factory=ReportsConfig)
    #: SNMP polling and agentless SSH collection (docs/discovery.md).
    snmp: SnmpConfig = msgspec.field(default_factory=SnmpConfig)
    ssh: SshConfig = msgspec.field(default_factory=SshConfig)
    #: Ansible remediation (docs/remediation.md).
    remediation: RemediationConfig = msgspec.field(default_factory=RemediationConfig)
    #: Prometheus metrics (docs/metrics.md).
    metrics: MetricsConfig = msgspec.field(default_factory=MetricsConfig)
    #: Intervals and leases of the shared periodic jobs (docs/scale-out.md).
    periodic: PeriodicConfig = msgspec.field(default_factory=PeriodicConfig)

    def __post_init__(self) -> None:
        for i, name in enumerate(self.server_names):
            try:
                check_server_name(name)
            except PkiError as exc:
                raise ValueError(f"server_names[{i}]: {exc}") from None
        if self.database_url is not None:
            scheme = self.database_url.partition("://")[0].partition("+")[0]
            if scheme not in ("sqlite", "postgresql") or "://" not in self.database_url:
                raise ValueError(
                    "database_url must start with sqlite:/// or postgresql:// "
                    "(or be null for SQLite in the data directory)"
                )


class Settings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The loaded configuration of one data directory; what every controller part receives."""

    data_dir: Path
    #: Resolved: never None (SQLite in the data directory when config.yaml says null).
    database_url: str
    server_names: list[str]
    listen: ListenConfig
    agents: AgentsConfig
    ingest: IngestConfig
    retention: RetentionConfig
    notify: NotifyConfig = msgspec.field(default_factory=NotifyConfig)
    dashboard: DashboardConfig = msgspec.field(default_factory=DashboardConfig)
    reports: ReportsConfig = msgspec.field(default_factory=ReportsConfig)
    snmp: SnmpConfig = msgspec.field(default_factory=SnmpConfig)
    ssh: SshConfig = msgspec.field(default_factory=SshConfig)
    remediation: RemediationConfig = msgspec.field(default_factory=RemediationConfig)
    metrics: MetricsConfig = msgspec.field(default_factory=MetricsConfig)
    periodic: PeriodicConfig = msgspec.field(default_factory=PeriodicConfig)

    @property
    def config_path(self) -> Path:
        """``<data_dir>/config.yaml``."""
        return self.data_dir / CONFIG_FILE

    @property
    def tls_dir(self) -> Path:
        """``<data_dir>/tls``."""
        return self.data_dir / TLS_DIR

    @property
    def ca_cert(self) -> Path:
        """The CA certificate agents pin."""
        return self.tls_dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        """The CA private key (0600)."""
        return self.tls_dir / "ca.key"

    @property
    def tls_cert(self) -> Path:
        """The HTTPS server certificate."""
        return self.tls_dir / "server.crt"

    @property
    def tls_key(self) -> Path:
        """The HTTPS server private key (0600)."""
        return self.tls_dir / "server.key"

    @property
    def settings_version(self) -> int:
        """A number that changes whenever what agents are told (the ``agents`` block) changes.

        Derived instead of stored, so editing config.yaml and restarting is enough; several
        controller processes with the same file agree on it. Never 0, the version of an agent
        that has no settings yet.
        """
        block = msgspec.json.encode(msgspec.to_builtins(self.agents), order="deterministic")
        return (zlib.crc32(block) & 0x7FFFFFFF) or 1

    def agent_settings(self) -> AgentSettings:
        """What the controller sends agents (enroll reply, ingest reply on a version change)."""
        probes = self.agents.probes
        return AgentSettings(
            version=self.settings_version,
            interval_s=self.agents.interval_s,
            full_every_s=self.agents.full_every_s,
            jitter=self.agents.jitter,
            probes=None if probes is None else msgspec.to_builtins(probes),
        )


def settings_for(data_dir: Path, config: ControllerConfig | None = None) -> Settings:
    """Settings of ``data_dir`` from an already validated config (defaults when None)."""
    config = config or ControllerConfig()
    data_dir = data_dir.absolute()
    return Settings(
        data_dir=data_dir,
        database_url=config.database_url or sqlite_url(data_dir / DB_FILE),
        server_names=[check_server_name(name) for name in config.server_names],
        listen=config.listen,
        agents=config.agents,
        ingest=config.ingest,
        retention=config.retention,
        notify=config.notify,
        dashboard=config.dashboard,
        reports=config.reports,
        snmp=config.snmp,
        ssh=config.ssh,
        remediation=config.remediation,
        metrics=config.metrics,
        periodic=config.periodic,
    )


def load_settings(data_dir: Path) -> Settings:
    """Load and validate ``<data_dir>/config.yaml``.

    Raises :class:`SettingsError` with one line naming the file (and line or key) at fault.
    """
    if not data_dir.is_dir():
        raise SettingsError(
            f"{data_dir}: data directory not found (create one with `govguard init`, "
            "or pass --data-dir / set GOVGUARD_DATA_DIR)"
        )
    path = data_dir / CONFIG_FILE
    missing = f"config file not found (is {data_dir} a govguard data directory?)"
    config = load_yaml_struct(path, ControllerConfig, SettingsError, missing=missing)
    return settings_for(data_dir, config)


def default_config_text(server_names: list[str], database_url: str | None = None) -> str:
    """The commented ``config.yaml`` that ``govguard init`` writes."""
    names = ", ".join(_yaml_scalar(check_server_name(name)) for name in server_names)
    db = "null" if database_url is None else _yaml_scalar(database_url)
    return f"""\
# govguard controller configuration. Unknown keys are errors.
# After editing, check it with `govguard config check` and restart the service.

# null = SQLite in this directory (govguard.db). PostgreSQL: postgresql://user@host/dbname
# (put the password in ~/.pgpass or PGPASSWORD, not here).
database_url: {db}

# Names and addresses agents use to reach this controller; they are in the TLS certificate.
# Changing them needs a new server certificate.
server_names: [{names}]

listen:
  agents: {{host: 0.0.0.0, port: 8443}}
  # {{host: 127.0.0.1, port: 9443}} serves the admin UI/API on its own port; null = same port.
  admin: null

# What agents are told: seconds between heartbeats and full inventories, random spread.
# A `probes:` block here (same shape as the agent config's) replaces the agents' own probes.
agents: {{interval_s: 300, full_every_s: 86400, jitter: 0.1}}

ingest:
  max_body_bytes: 1048576           # compressed report size limit
  max_decompressed_bytes: 16777216
  batch_max: 256                    # reports written per transaction
  batch_wait_ms: 5

retention: {{reports_days: 90}}

# E-mail and webhook notifications (docs/notifications.md). Without routes nothing is sent.
# notify:
#   smtp: {{host: mail.example.gov.vn, port: 587, username: govguard,
#          password_file: secrets/smtp-password, from_address: govguard@example.gov.vn}}
#   routes:
#     - {{min_severity: high, email: [cntt@example.gov.vn], language: vi}}

# Compliance reports (docs/reports.md). Schedules are added with `govguard report schedule add`.
# reports:
#   active_days: 7                    # a computer is active when its agent reported this recently
#   classified_attestation_days: 90   # ... or, when classified, its last offline bundle is
#   ageing_years: 5                   # computers older than this count as ageing
#   archive_days: 730                 # generated reports are kept in reports/ this many days

# Dashboard sessions and login throttling (docs/accounts.md).
dashboard:
  session_idle_minutes: 30          # a session ends after this long without a request
  session_absolute_hours: 8         # ... and this long after login, however active
  login_failures_per_account: 5     # failed logins in the window before an account must wait
  login_failures_per_address: 20    # ... before an address must wait
  login_window_minutes: 15

# Periodic jobs, shared by every controller process through database leases (docs/scale-out.md).
# periodic:
#   reevaluate_every_s: 3600          # re-evaluate every host: computers that went silent
#   report_schedules_every_s: 300     # look for due report schedules
#   lease_s: 300                      # a job whose process died waits this long for another
"""


def _yaml_scalar(text: str) -> str:
    # json is a subset of YAML flow style: a quoted string can never break the document.
    return msgspec.json.encode(text).decode("utf-8")
