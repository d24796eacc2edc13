"""The agent's configuration file: validated YAML, one clear error naming the file and key.

Probe targets live here until the controller sends them (a later issue). Every option has a
default that is safe on a real office PC; the file only says what differs.
"""

from __future__ import annotations

import contextlib
import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec
import yaml
from msgspec import Meta

from agent.errors import ConfigError

_T = TypeVar("_T")

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

    #: A short name, shown in reports and findings.
    name: Annotated[str, Meta(min_length=1, max_length=64)]
    #: The address to fetch (https:// only).
    url: Annotated[str, Meta(pattern=r"^https://[^\s/]+(/\S*)?$")]
    #: What the target stands for; the policy rules group probe results by it (CQĐT-01..04).
    role: Role = "internet"
    #: CA certificates (PEM) of a server with a private CA; null = the system's trust store.
    ca_file: str | None = None
    #: Seconds for this target; null = ``probes.timeout_seconds``.
    timeout_seconds: Annotated[float, Meta(gt=0, le=60)] | None = None
    #: Statuses that count as success; empty means any 2xx or 3xx (CQĐT-04 names 200 and 302).
    ok_statuses: list[Annotated[int, Meta(ge=100, le=599)]] = []

    def __post_init__(self) -> None:
        # An out-of-range port would reach socket.connect as OverflowError (not OSError).
        hostport = self.url.removeprefix("https://").partition("/")[0]
        port = hostport.rpartition("]")[2] if hostport.startswith("[") else hostport
        if ":" in port:
            _check_port(port.rpartition(":")[2], "url")


class TcpTarget(_Strict):
    """A TCP endpoint to connect to: reachable or not, and the connect latency."""

    #: A short name, shown in reports and findings.
    name: Annotated[str, Meta(min_length=1, max_length=64)]
    #: Host name or IP address to connect to.
    host: Annotated[str, Meta(min_length=1, max_length=253)]
    #: The TCP port.
    port: Annotated[int, Meta(ge=1, le=65535)]
    #: What the target stands for; the policy rules group probe results by it (CQĐT-01..04).
    role: Role = "lan"
    #: Seconds for this target; null = ``probes.timeout_seconds``.
    timeout_seconds: Annotated[float, Meta(gt=0, le=60)] | None = None


class DnsProbe(_Strict):
    """Names to resolve; ``servers`` empty means the system's resolvers.

    A server is ``host``, ``host:port`` or ``[v6]:port`` (port 53 when omitted).
    """

    #: Names to resolve.
    names: list[Annotated[str, Meta(min_length=1, max_length=253)]] = []
    #: DNS servers to ask (IP addresses); empty = the system's resolvers.
    servers: list[Annotated[str, Meta(min_length=1, max_length=64)]] = []

    def __post_init__(self) -> None:
        for i, entry in enumerate(self.servers):
            _check_server(entry, f"servers[{i}]")


class ProbeConfig(_Strict):
    """Connectivity probes. They run concurrently, each bounded by its timeout."""

    #: Ping the default gateway.
    gateway: bool = True
    dns: DnsProbe = msgspec.field(default_factory=DnsProbe)
    https: list[HttpsTarget] = []
    tcp: list[TcpTarget] = []
    #: Seconds for each probe without a timeout of its own.
    timeout_seconds: Annotated[float, Meta(gt=0, le=60)] = 3.0
    #: Hard limit for all probes together: a dead network must not hold the agent up.
    deadline_seconds: Annotated[float, Meta(gt=0, le=120)] = 10.0
    #: Internet-role HTTPS targets that must succeed (with DNS) for "Internet reachable";
    #: RULES.md CQĐT-01 asks for 2. Capped at the number of internet targets configured.
    min_internet: Annotated[int, Meta(ge=1, le=20)] = 2

    def __post_init__(self) -> None:
        # A probe longer than the deadline would always be cut off, and so never decide anything.
        timeouts = [("timeout_seconds", self.timeout_seconds)]
        timeouts += [(f"https[{i}].timeout_seconds", t.timeout_seconds) for i, t in
                     enumerate(self.https) if t.timeout_seconds is not None]  # fmt: skip
        timeouts += [(f"tcp[{i}].timeout_seconds", t.timeout_seconds) for i, t in
                     enumerate(self.tcp) if t.timeout_seconds is not None]  # fmt: skip
        for key, timeout in timeouts:
            if timeout > self.deadline_seconds:
                raise ValueError(
                    f"deadline_seconds ({self.deadline_seconds:g}) must be at least {key} "
                    f"({timeout:g}): a probe longer than the deadline is always cut off"
                )


def _check_port(text: str, key: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{key}: port must be a number from 1 to 65535, got {text!r}")
    return int(text)


def _check_server(entry: str, key: str) -> None:
    """``v4``, ``v4:port``, ``v6`` or ``[v6]:port``: an IP literal, since the probes send the
    queries themselves and there is nothing to resolve a server name with."""
    host, port = entry, None
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{key}: expected [IPv6]:port, got {entry!r}")
            port = rest[1:]
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{key}: DNS server must be an IP address, got {entry!r}") from None
    if entry.startswith("[") and ip.version != 6:
        raise ValueError(f"{key}: brackets are for IPv6 addresses, got {entry!r}")
    if port is not None:
        _check_port(port, key)


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
    return load_yaml_struct(path, AgentConfig, ConfigError)


def load_yaml_struct(
    path: Path,
    kind: type[_T],
    error: type[Exception],
    *,
    missing: str = "config file not found",
) -> _T:
    """Read a YAML mapping from ``path`` and convert it to the msgspec struct ``kind``.

    Every problem becomes one ``error`` naming the file and the line or key at fault: missing or
    unreadable file (``missing`` says what to do), not UTF-8, YAML syntax, duplicate keys, a
    top level that is not a mapping, and msgspec validation. Shared with the controller's
    settings so both explain mistakes the same way.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise error(f"{path}: {missing}") from exc
    except OSError as exc:
        raise error(f"{path}: cannot read config file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}): save the file as UTF-8") from exc
    try:
        # Safe: _UniqueKeyLoader is yaml.SafeLoader (plain data only) plus a duplicate-key check.
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{path}{where}: not valid YAML: {problem}") from exc
    except RecursionError as exc:  # PyYAML's composer recurses once per nesting level
        raise error(f"{path}: lists or mappings nested too deeply") from exc
    except Exception as exc:  # a PyYAML bug on odd input must not become a traceback
        raise error(f"{path}: cannot be read as a config: {exc!r:.80}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        what = "a list" if isinstance(raw, list) else f"a single value ({raw!r:.40})"
        raise error(f"{path}: expected a mapping of options (key: value), got {what}")
    try:
        return msgspec.convert(raw, type=kind, dec_hook=_path_hook)
    except msgspec.ValidationError as exc:
        raise error(f"{path}: {_readable(str(exc), raw)}") from exc
    except RecursionError as exc:
        raise error(f"{path}: lists or mappings nested too deeply") from exc
    except Exception as exc:  # backstop: one clear line, never a traceback
        raise error(f"{path}: cannot be read as a config: {exc!r:.80}") from exc


def _path_hook(kind: type, value: object) -> object:
    """Paths are written as strings in YAML; msgspec converts only the types it knows."""
    if kind is Path and isinstance(value, str) and value:
        return Path(value)
    raise ValueError(f"expected a path, got {value!r:.40}")


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


def _readable(message: str, raw: object = None) -> str:
    """Turn msgspec's ``... - at `$.probes.https[0].url``` into ``probes.https[0].url: ...``.

    A mapping key that is not a string (``1: x``) comes as ``Expected `str` - at `key` in
    `$.probes```: that one is said in words, with the key found in ``raw``.
    """
    text, sep, where = message.rpartition(" - at `")
    if not sep:
        return message
    if where.startswith("key` in `"):
        path = where.removeprefix("key` in `").rstrip("`").removeprefix("$").lstrip(".")
        bad = _non_text_key(raw, path)
        got = f", got {bad[0]!r:.40}" if bad else ""
        return f"{path or 'top level'}: option names must be text{got}"
    key = where.rstrip("`").removeprefix("$").lstrip(".")
    return f"{key}: {text}" if key else text


def _non_text_key(raw: object, path: str) -> tuple[object] | None:
    """The first key that is not a string in the mapping at ``path`` (``probes.https[0]``)."""
    node = raw
    for part in path.replace("[", ".[").split(".") if path else []:
        if not part:
            continue
        if part.startswith("[") and isinstance(node, list):
            index = int(part.strip("[]"))
            node = node[index] if index < len(node) else None
        elif isinstance(node, dict):
            node = node.get(part)
    if isinstance(node, dict):
        return next(((k,) for k in node if not isinstance(k, str)), None)
    return None
