"""The agent's configuration file: validated YAML, one clear error naming the file and key.

Probe targets live here until the controller sends them (a later issue). Every option has a
default that is safe on a real office PC; the file only says what differs.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml
from msgspec import Meta

from agent.errors import ConfigError

#: What a probe target stands for; the policy engine groups results by it (RULES.md CQĐT-01..04).
Role = Literal[
    "internet",  # public sites: CQĐT-01 (Internet connectivity)
    "lan",  # agency servers on the office LAN: CQĐT-02
    "controller",  # the govguard controller
    "document_system",  # QLVB&ĐH (VNPT-iOffice, VOffice, ...): CQĐT-04
    "public_service",  # public-service portals (Cổng DVC): CQĐT-04
    "email",  # official e-mail (thư công vụ): CQĐT-04
    "tslcd",  # specialised data network endpoints (mạng TSLCD): CQĐT-03
]


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Unknown keys are errors: a typo must not silently disable a probe."""


class HttpsTarget(_Strict):
    """An HTTPS endpoint to fetch: status, latency and certificate validity are reported."""

    name: Annotated[str, Meta(min_length=1, max_length=64)]
    url: Annotated[str, Meta(pattern=r"^https://[^\s/]+(/\S*)?$")]
    role: Role = "internet"
    ca_file: str | None = None
    timeout_seconds: Annotated[float, Meta(gt=0, le=60)] | None = None
    #: Statuses that count as success; empty means any 2xx or 3xx (CQĐT-04 names 200 and 302).
    ok_statuses: list[Annotated[int, Meta(ge=100, le=599)]] = []


class TcpTarget(_Strict):
    """A TCP endpoint to connect to: reachable or not, and the connect latency."""

    name: Annotated[str, Meta(min_length=1, max_length=64)]
    host: Annotated[str, Meta(min_length=1, max_length=253)]
    port: Annotated[int, Meta(ge=1, le=65535)]
    role: Role = "lan"
    timeout_seconds: Annotated[float, Meta(gt=0, le=60)] | None = None


class DnsProbe(_Strict):
    """Names to resolve; ``servers`` empty means the system's resolvers.

    A server is ``host``, ``host:port`` or ``[v6]:port`` (port 53 when omitted).
    """

    names: list[Annotated[str, Meta(min_length=1, max_length=253)]] = []
    servers: list[
        Annotated[
            str,
            Meta(pattern=r"^(\[[0-9A-Fa-f:.]+\](:\d{1,5})?|[0-9A-Fa-f:]+|[^\s:\[\]]+(:\d{1,5})?)$"),
        ]
    ] = []


class ProbeConfig(_Strict):
    """Connectivity probes. They run concurrently, each bounded by its timeout."""

    gateway: bool = True
    dns: DnsProbe = msgspec.field(default_factory=DnsProbe)
    https: list[HttpsTarget] = []
    tcp: list[TcpTarget] = []
    timeout_seconds: Annotated[float, Meta(gt=0, le=60)] = 3.0
    #: Hard limit for all probes together: a dead network must not hold the agent up.
    deadline_seconds: Annotated[float, Meta(gt=0, le=120)] = 10.0
    #: Internet-role HTTPS targets that must succeed (with DNS) for "Internet reachable";
    #: RULES.md CQĐT-01 asks for 2. Capped at the number of internet targets configured.
    min_internet: Annotated[int, Meta(ge=1, le=20)] = 2


class AgentConfig(_Strict):
    """The whole agent configuration."""

    probes: ProbeConfig = msgspec.field(default_factory=ProbeConfig)
    #: Extra name patterns for remote-control tools, added to the shipped list.
    remote_tools: list[str] = []
    #: Extra anti-malware product patterns, added to the shipped list.
    antimalware: list[str] = []
    #: Extra issuer markers of Vietnamese signing CAs, added to the shipped list.
    ca_markers: list[str] = []
    #: Local ports of signing middleware (VGCA Sign Service, VNPT-CA plugin).
    signing_ports: list[Annotated[int, Meta(ge=1, le=65535)]] = msgspec.field(
        default_factory=lambda: [8987, 4433]
    )


def load_config(path: Path | None) -> AgentConfig:
    """Load and validate the config file; ``None`` gives the defaults.

    Raises :class:`ConfigError` with one message naming the file and the offending key.
    """
    if path is None:
        return AgentConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}): save the file as UTF-8"
        ) from exc
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from exc
    if raw is None:
        return AgentConfig()
    if not isinstance(raw, dict):
        kind = "a list" if isinstance(raw, list) else f"a single value ({raw!r:.40})"
        raise ConfigError(f"{path}: expected a mapping of options (key: value), got {kind}")
    try:
        return msgspec.convert(raw, type=AgentConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {_readable(str(exc))}") from exc


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping.

    PyYAML keeps the last value silently; a second ``tcp:`` block would then drop the first
    one's probes without a word.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            with contextlib.suppress(TypeError):  # unhashable: the base class reports it
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep)


def _readable(message: str) -> str:
    """Turn msgspec's ``... - at `$.probes.https[0].url``` into ``probes.https[0].url: ...``."""
    text, sep, where = message.rpartition(" - at `")
    if not sep:
        return message
    key = where.rstrip("`").removeprefix("$").lstrip(".")
    return f"{key}: {text}" if key else text
