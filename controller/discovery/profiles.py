"""Device profiles: which scalars and table columns to ask a device for (YAML, in ``profiles/``).

After DataDog's SNMP profiles. A profile file ``<name>.yaml``::

    description: Cisco Business switches (CBS250/350)
    extends: [generic-switch]            # profiles whose metrics this one adds to
    sysobjectid: [1.3.6.1.4.1.9.6.1.*]   # the devices it is for (``*``: any rest)
    device: {vendor: Cisco, kind: switch}
    metrics:
      - MIB: SNMPv2-MIB
        symbol: {OID: 1.3.6.1.2.1.1.5.0, name: sysName}
      - MIB: IF-MIB
        table: {OID: 1.3.6.1.2.1.2.2, name: ifTable}
        symbols:
          - {OID: 1.3.6.1.2.1.2.2.1.2, name: ifDescr}
        metric_tags:
          - {tag: if_index, index: 1}

A symbol's ``name`` must be one the poller decodes (:data:`SYMBOLS`); its ``OID`` may differ
from the standard one (a vendor that keeps the same value elsewhere). ``metric_tags`` describe
the table's index (documentation, checked for shape). A file whose name starts with ``_`` is
only a base to extend. Everything is validated when loaded: the first problem raises
:class:`ProfileError` naming the file and the line.

The device's sysObjectID picks the profile whose pattern matches most specifically; ``generic``
(pattern ``*``) takes the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.discovery.snmp import Oid, format_oid, parse_oid
from controller.policy.yamlsrc import LineDict, LineList, YamlError, load_yaml

__all__ = [
    "FALLBACK",
    "SHIPPED",
    "SYMBOLS",
    "Profile",
    "ProfileError",
    "ProfileSet",
    "Symbol",
    "Table",
    "load_profiles",
]

#: The shipped profiles.
SHIPPED = Path(__file__).resolve().parent / "profiles"
#: The profile of a device no other profile matches.
FALLBACK = "generic"

PROFILE_KEYS = ("description", "extends", "sysobjectid", "device", "metrics")
METRIC_KEYS = ("MIB", "symbol", "table", "symbols", "metric_tags")
SYMBOL_KEYS = ("OID", "name")
TAG_KEYS = ("tag", "index")
DEVICE_KEYS = ("vendor", "kind")
_NAME = re.compile(r"_?[a-z0-9][a-z0-9-]{0,62}")
_PATTERN = re.compile(r"(\d+)(\.\d+)*(\.\*)?|\*")

#: Every symbol the poller decodes, by name: whether it is a table column, and its standard OID
#: (what the shipped profiles ask for; a profile may point a name elsewhere).
SYMBOLS: dict[str, tuple[bool, str]] = {
    # SNMPv2-MIB system group (RFC 3418)
    "sysDescr": (False, "1.3.6.1.2.1.1.1.0"),
    "sysObjectID": (False, "1.3.6.1.2.1.1.2.0"),
    "sysUpTime": (False, "1.3.6.1.2.1.1.3.0"),
    "sysContact": (False, "1.3.6.1.2.1.1.4.0"),
    "sysName": (False, "1.3.6.1.2.1.1.5.0"),
    "sysLocation": (False, "1.3.6.1.2.1.1.6.0"),
    # IF-MIB ifTable and ifXTable (RFC 2863)
    "ifDescr": (True, "1.3.6.1.2.1.2.2.1.2"),
    "ifType": (True, "1.3.6.1.2.1.2.2.1.3"),
    "ifSpeed": (True, "1.3.6.1.2.1.2.2.1.5"),
    "ifPhysAddress": (True, "1.3.6.1.2.1.2.2.1.6"),
    "ifAdminStatus": (True, "1.3.6.1.2.1.2.2.1.7"),
    "ifOperStatus": (True, "1.3.6.1.2.1.2.2.1.8"),
    "ifInErrors": (True, "1.3.6.1.2.1.2.2.1.14"),
    "ifOutErrors": (True, "1.3.6.1.2.1.2.2.1.20"),
    "ifName": (True, "1.3.6.1.2.1.31.1.1.1.1"),
    "ifHighSpeed": (True, "1.3.6.1.2.1.31.1.1.1.15"),
    "ifAlias": (True, "1.3.6.1.2.1.31.1.1.1.18"),
    # BRIDGE-MIB (RFC 4188) and Q-BRIDGE-MIB (RFC 4363)
    "dot1dBasePortIfIndex": (True, "1.3.6.1.2.1.17.1.4.1.2"),
    "dot1dTpFdbPort": (True, "1.3.6.1.2.1.17.4.3.1.2"),
    "dot1dTpFdbStatus": (True, "1.3.6.1.2.1.17.4.3.1.3"),
    "dot1qTpFdbPort": (True, "1.3.6.1.2.1.17.7.1.2.2.1.2"),
    "dot1qTpFdbStatus": (True, "1.3.6.1.2.1.17.7.1.2.2.1.3"),
    "dot1qVlanFdbId": (True, "1.3.6.1.2.1.17.7.1.4.2.1.3"),
    # LLDP-MIB (IEEE 802.1AB-2005)
    "lldpRemChassisIdSubtype": (True, "1.0.8802.1.1.2.1.4.1.1.4"),
    "lldpRemChassisId": (True, "1.0.8802.1.1.2.1.4.1.1.5"),
    "lldpRemPortIdSubtype": (True, "1.0.8802.1.1.2.1.4.1.1.6"),
    "lldpRemPortId": (True, "1.0.8802.1.1.2.1.4.1.1.7"),
    "lldpRemSysName": (True, "1.0.8802.1.1.2.1.4.1.1.9"),
    "lldpRemSysCapEnabled": (True, "1.0.8802.1.1.2.1.4.1.1.12"),
    # IP-MIB (RFC 4293)
    "ipNetToPhysicalPhysAddress": (True, "1.3.6.1.2.1.4.35.1.4"),
    "ipNetToMediaPhysAddress": (True, "1.3.6.1.2.1.4.22.1.2"),
    # ENTITY-MIB (RFC 6933)
    "entPhysicalClass": (True, "1.3.6.1.2.1.47.1.1.1.1.5"),
    "entPhysicalSerialNum": (True, "1.3.6.1.2.1.47.1.1.1.1.11"),
    # HOST-RESOURCES-MIB (RFC 2790)
    "hrDeviceType": (True, "1.3.6.1.2.1.25.3.2.1.2"),
    "hrDeviceDescr": (True, "1.3.6.1.2.1.25.3.2.1.3"),
    "hrDeviceStatus": (True, "1.3.6.1.2.1.25.3.2.1.5"),
    "hrPrinterStatus": (True, "1.3.6.1.2.1.25.3.5.1.1"),
    "hrPrinterDetectedErrorState": (True, "1.3.6.1.2.1.25.3.5.1.2"),
    # Printer-MIB (RFC 3805)
    "prtMarkerLifeCount": (True, "1.3.6.1.2.1.43.10.2.1.4"),
    "prtMarkerSuppliesColorantIndex": (True, "1.3.6.1.2.1.43.11.1.1.3"),
    "prtMarkerSuppliesType": (True, "1.3.6.1.2.1.43.11.1.1.5"),
    "prtMarkerSuppliesDescription": (True, "1.3.6.1.2.1.43.11.1.1.6"),
    "prtMarkerSuppliesMaxCapacity": (True, "1.3.6.1.2.1.43.11.1.1.8"),
    "prtMarkerSuppliesLevel": (True, "1.3.6.1.2.1.43.11.1.1.9"),
    "prtMarkerColorantValue": (True, "1.3.6.1.2.1.43.12.1.1.4"),
    "prtAlertSeverityLevel": (True, "1.3.6.1.2.1.43.18.1.1.2"),
    "prtAlertDescription": (True, "1.3.6.1.2.1.43.18.1.1.8"),
}


class ProfileError(Exception):
    """A profile that cannot be used: ``FILE:LINE: what``."""


@dataclass(frozen=True, slots=True)
class Symbol:
    """A named scalar or column."""

    name: str
    oid: Oid


@dataclass(frozen=True, slots=True)
class Table:
    """A table and the columns of it to walk (together, in one GETBULK walk)."""

    name: str
    oid: Oid
    columns: tuple[Symbol, ...]


@dataclass(frozen=True, slots=True)
class Profile:
    """A resolved profile: its own metrics plus those of every profile it extends."""

    name: str
    source: Path
    description: str
    sysobjectids: tuple[str, ...]
    vendor: str | None
    kind: str | None
    scalars: tuple[Symbol, ...]
    tables: tuple[Table, ...]

    def column_names(self) -> frozenset[str]:
        """The names of every column the profile walks."""
        return frozenset(c.name for t in self.tables for c in t.columns)


def _specificity(pattern: str) -> tuple[int, int]:
    """Exact patterns beat wildcards; then more literal sub-identifiers beat fewer."""
    if pattern == "*":
        return (0, 0)
    if pattern.endswith(".*"):
        return (1, pattern.count("."))
    return (2, pattern.count(".") + 1)


def _matches(pattern: str, sys_object_id: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return sys_object_id.startswith(pattern[:-1])
    return sys_object_id == pattern


@dataclass(frozen=True)
class ProfileSet:
    """Every usable profile by name, and the choice of one for a device."""

    profiles: Mapping[str, Profile]

    def __post_init__(self) -> None:
        if FALLBACK not in self.profiles:
            raise ProfileError(f"no profile named {FALLBACK!r} (the fallback for any device)")

    def match(self, sys_object_id: str | None) -> Profile:
        """The profile for a device with ``sys_object_id`` (the fallback when none matches)."""
        best: tuple[tuple[int, int], str] | None = None
        if sys_object_id:
            oid = sys_object_id.lstrip(".")
            for profile in self.profiles.values():
                for pattern in profile.sysobjectids:
                    if pattern != "*" and _matches(pattern, oid):
                        key = (_specificity(pattern), profile.name)
                        if best is None or key[0] > best[0]:
                            best = key
        return self.profiles[best[1] if best else FALLBACK]

    def __getitem__(self, name: str) -> Profile:
        return self.profiles[name]


# -- loading -------------------------------------------------------------------------------


@dataclass
class _Raw:
    name: str
    path: Path
    data: LineDict


def load_profiles(extra_dir: Path | None = None) -> ProfileSet:
    """The shipped profiles, plus those of ``extra_dir`` (a name there replaces a shipped one).

    Raises :class:`ProfileError` with ``FILE:LINE: what`` for the first problem found.
    """
    raws: dict[str, _Raw] = {}
    dirs = [SHIPPED] if extra_dir is None else [SHIPPED, extra_dir]
    for directory in dirs:
        if not directory.is_dir():
            raise ProfileError(f"{directory}: no such profiles directory")
        for path in sorted(directory.glob("*.yaml")):
            raw = _read(path)
            raws[raw.name] = raw
    resolved: dict[str, Profile] = {}
    for name in sorted(raws):
        _resolve(name, raws, resolved, ())
    return ProfileSet({n: p for n, p in resolved.items() if not n.startswith("_")})


def _read(path: Path) -> _Raw:
    name = path.stem
    if not _NAME.fullmatch(name):
        raise ProfileError(f"{path}: a profile's file name is lower-case letters, digits and '-'")
    try:
        data = load_yaml(path)
    except YamlError as exc:
        raise ProfileError(str(exc)) from None
    if not isinstance(data, LineDict):
        raise ProfileError(f"{path}:1: a profile is a mapping ({', '.join(PROFILE_KEYS)})")
    _known_keys(path, data, PROFILE_KEYS, "profile")
    return _Raw(name, path, data)


def _known_keys(path: Path, data: LineDict, keys: Iterable[str], what: str) -> None:
    allowed = tuple(keys)
    for key in data:
        if key not in allowed:
            raise ProfileError(
                f"{path}:{data.line_of(key)}: unknown {what} key {key!r} "
                f"(known: {', '.join(allowed)})"
            )


def _resolve(
    name: str, raws: Mapping[str, _Raw], done: dict[str, Profile], chain: tuple[str, ...]
) -> Profile:
    if name in done:
        return done[name]
    raw = raws[name]
    path, data = raw.path, raw.data
    if name in chain:
        cycle = " -> ".join((*chain[chain.index(name) :], name))
        raise ProfileError(f"{path}:{data.line_of('extends')}: cycle in extends: {cycle}")
    scalars: dict[str, Symbol] = {}
    tables: dict[str, Table] = {}
    for parent_name in _names(path, data, "extends"):
        parent_key = parent_name.removesuffix(".yaml")
        if parent_key not in raws:
            raise ProfileError(
                f"{path}:{data.line_of('extends')}: extends unknown profile {parent_name!r}"
            )
        parent = _resolve(parent_key, raws, done, (*chain, name))
        scalars.update((s.name, s) for s in parent.scalars)
        for table in parent.tables:
            tables[table.name] = _merge(tables.get(table.name), table)
    own_scalars, own_tables = _metrics(path, data.get("metrics"), data.line_of("metrics"))
    scalars.update((s.name, s) for s in own_scalars)
    for table in own_tables:
        tables[table.name] = _merge(tables.get(table.name), table)
    patterns = _names(path, data, "sysobjectid")
    for pattern in patterns:
        if not _PATTERN.fullmatch(pattern):
            raise ProfileError(
                f"{path}:{data.line_of('sysobjectid')}: sysobjectid {pattern!r} is not a "
                "numeric OID, optionally ending in .*"
            )
    device = data.get("device")
    vendor = kind = None
    if device is not None:
        if not isinstance(device, LineDict):
            raise ProfileError(
                f"{path}:{data.line_of('device')}: device is a mapping (vendor, kind)"
            )
        _known_keys(path, device, DEVICE_KEYS, "device")
        vendor, kind = _optional_str(path, device, "vendor"), _optional_str(path, device, "kind")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ProfileError(f"{path}:{data.line_of('description')}: description is a string")
    profile = Profile(
        name=name,
        source=path,
        description=description,
        sysobjectids=tuple(patterns),
        vendor=vendor,
        kind=kind,
        scalars=tuple(scalars.values()),
        tables=tuple(tables.values()),
    )
    done[name] = profile
    return profile


def _merge(old: Table | None, new: Table) -> Table:
    if old is None:
        return new
    columns = {c.name: c for c in old.columns}
    columns.update((c.name, c) for c in new.columns)
    return Table(name=new.name, oid=new.oid, columns=tuple(columns.values()))


def _optional_str(path: Path, data: LineDict, key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ProfileError(f"{path}:{data.line_of(key)}: {key} is a string")
    return value


def _names(path: Path, data: LineDict, key: str) -> list[str]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"{path}:{data.line_of(key)}: {key} is a string or a list of strings")
    return list(value)


def _metrics(path: Path, metrics: Any, line: int) -> tuple[list[Symbol], list[Table]]:
    if metrics is None:
        return [], []
    if not isinstance(metrics, LineList):
        raise ProfileError(f"{path}:{line}: metrics is a list")
    scalars: list[Symbol] = []
    tables: list[Table] = []
    for i, metric in enumerate(metrics):
        where = f"{path}:{metrics.line_of(i)}"
        if not isinstance(metric, LineDict):
            raise ProfileError(f"{where}: a metric is a mapping (symbol, or table with symbols)")
        _known_keys(path, metric, METRIC_KEYS, "metric")
        if ("symbol" in metric) == ("table" in metric):
            raise ProfileError(f"{where}: a metric has either a symbol or a table (with symbols)")
        if "symbol" in metric:
            if "symbols" in metric or "metric_tags" in metric:
                raise ProfileError(f"{where}: symbols and metric_tags belong to a table metric")
            scalars.append(_symbol(path, metric["symbol"], metric.line_of("symbol"), False))
            continue
        table = _symbol(path, metric["table"], metric.line_of("table"), None)
        columns = metric.get("symbols")
        if not isinstance(columns, LineList) or not columns:
            raise ProfileError(
                f"{path}:{metric.line_of('symbols')}: table {table.name} needs a list of symbols"
            )
        symbols = tuple(
            _symbol(path, column, columns.line_of(j), True) for j, column in enumerate(columns)
        )
        for symbol in symbols:
            if symbol.oid[: len(table.oid)] != table.oid:
                raise ProfileError(
                    f"{where}: column {symbol.name} ({format_oid(symbol.oid)}) is not inside "
                    f"table {table.name} ({format_oid(table.oid)})"
                )
        _tags(path, metric.get("metric_tags", []), metric.line_of("metric_tags"))
        tables.append(Table(name=table.name, oid=table.oid, columns=symbols))
    return scalars, tables


def _symbol(path: Path, data: Any, line: int, column: bool | None) -> Symbol:
    if not isinstance(data, LineDict):
        raise ProfileError(f"{path}:{line}: expected a mapping with OID and name")
    _known_keys(path, data, SYMBOL_KEYS, "symbol")
    name, text = data.get("name"), data.get("OID")
    if not isinstance(name, str) or not name:
        raise ProfileError(f"{path}:{data.line_of('name')}: a symbol needs a name")
    if not isinstance(text, str):
        raise ProfileError(f"{path}:{data.line_of('OID')}: {name}: OID is a dotted string")
    try:
        oid = parse_oid(text)
    except ValueError:
        raise ProfileError(
            f"{path}:{data.line_of('OID')}: {name}: bad OID {text!r} (numeric, dotted)"
        ) from None
    if column is None:  # a table's own name and OID: any name
        return Symbol(name, oid)
    known = SYMBOLS.get(name)
    if known is None:
        raise ProfileError(
            f"{path}:{data.line_of('name')}: unknown symbol {name!r}: the poller decodes only "
            f"{', '.join(n for n, (c, _) in SYMBOLS.items() if c == column)}"
        )
    if known[0] != column:
        kind = "a table column" if known[0] else "a scalar"
        raise ProfileError(f"{path}:{data.line_of('name')}: {name} is {kind}")
    return Symbol(name, oid)


def _tags(path: Path, tags: Any, line: int) -> None:
    if not isinstance(tags, list):
        raise ProfileError(f"{path}:{line}: metric_tags is a list of {{tag, index}}")
    for i, tag in enumerate(tags):
        where = tags.line_of(i) if isinstance(tags, LineList) else line
        if not isinstance(tag, LineDict):
            raise ProfileError(f"{path}:{where}: a metric tag is a mapping (tag, index)")
        _known_keys(path, tag, TAG_KEYS, "metric tag")
        if not isinstance(tag.get("tag"), str):
            raise ProfileError(f"{path}:{tag.line_of('tag')}: a metric tag needs a tag name")
        index = tag.get("index")
        bounds: list[Any] = index if isinstance(index, list) and len(index) == 2 else [index]
        positions = [b for b in bounds if isinstance(b, int) and not isinstance(b, bool) and b >= 1]
        if len(positions) != len(bounds) or positions != sorted(positions):
            raise ProfileError(
                f"{path}:{tag.line_of('index')}: index is a position in the row index (from 1), "
                "or [first, last] for a value that spans several"
            )
