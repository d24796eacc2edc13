"""The report schema: one versioned shape for every source (online agent, USB bundle, SSH probe).

The controller validates against these same models. ``docs/report-schema.json`` is generated from
them (``govguard-agent schema``) and a test fails when the committed copy differs.
"""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from agent.report._base import Meta, Record
from agent.report.connectivity import Connectivity
from agent.report.delivery import Delivery
from agent.report.hardware import Hardware
from agent.report.identity import Identity
from agent.report.network import Network
from agent.report.os_info import OperatingSystem
from agent.report.peripherals import Peripherals
from agent.report.security import Security
from agent.report.software import Software

#: Bump on any incompatible change; additive changes keep the number.
SCHEMA_VERSION = 1

SECTION_NAMES = (
    "identity",
    "hardware",
    "os",
    "software",
    "network",
    "connectivity",
    "security",
    "peripherals",
)


class CollectorRun(Record, kw_only=True):
    """How one collector ran."""

    name: Annotated[str, Meta(description="Collector name, equal to the section it fills.")]
    duration_ms: Annotated[float, Meta(description="Wall time the collector took, milliseconds.")]
    ok: Annotated[bool, Meta(description="False when the collector failed as a whole.")]


class CollectorError(Record, kw_only=True):
    """A collector that failed as a whole; its section is missing from the report."""

    collector: Annotated[str, Meta(description="Name of the collector that failed.")]
    error: Annotated[str, Meta(description="Exception type, for grouping.")]
    message: Annotated[str, Meta(description="What went wrong, in English.")]


class Report(Record, kw_only=True):
    """A full report of one computer."""

    # Required, never defaulted: defaults are omitted on the wire, and a report must always say
    # which schema it follows so that a controller never misreads a newer agent's report.
    schema_version: Annotated[
        int, Meta(ge=1, description="Version of this schema the report follows.")
    ]
    kind: Annotated[
        Literal["full", "heartbeat"],
        Meta(
            description=(
                "full: every section (the daily inventory, or sooner when it changed); "
                "heartbeat: between inventories; no section when nothing changed, else the "
                "connectivity and security sections that changed or still differ from the last "
                "full report."
            )
        ),
    ]
    agent_version: Annotated[str, Meta(description="Version of govguard-agent that wrote it.")]
    collected_at: Annotated[datetime, Meta(description="When collection started, UTC, RFC 3339.")]
    identity: Annotated[Identity | None, Meta(description="Identity section.")] = None
    hardware: Annotated[Hardware | None, Meta(description="Hardware section.")] = None
    os: Annotated[OperatingSystem | None, Meta(description="Operating system section.")] = None
    software: Annotated[Software | None, Meta(description="Software section.")] = None
    network: Annotated[Network | None, Meta(description="Network section.")] = None
    connectivity: Annotated[
        Connectivity | None, Meta(description="Connectivity probes section.")
    ] = None
    security: Annotated[Security | None, Meta(description="Security posture section.")] = None
    peripherals: Annotated[Peripherals | None, Meta(description="Peripherals section.")] = None
    collectors: Annotated[
        list[CollectorRun], Meta(description="Every collector that ran, with its duration.")
    ] = []
    errors: Annotated[
        list[CollectorError], Meta(description="Collectors that failed as a whole.")
    ] = []
    delivery: Annotated[
        Delivery | None,
        Meta(description="Reports the agent's outbox dropped or holds back; absent when none."),
    ] = None


def schema_of(kind: type, schema_id: str) -> dict[str, object]:
    """The JSON Schema (draft 2020-12) of the msgspec type ``kind``, with ``$id`` set.

    Descriptions that come from class docstrings are dedented here: msgspec 0.23 dedents them
    and 0.22 does not, and the committed schema files must not depend on which one is installed.
    """
    schema: dict[str, object] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
    }
    schema.update(msgspec.json.schema(kind))
    dedented = _dedented(schema)
    assert isinstance(dedented, dict)  # noqa: S101 - a dict maps to a dict
    return dedented


def _dedented(node: object) -> object:
    if isinstance(node, dict):
        return {
            key: inspect.cleandoc(value) if key == "description" and isinstance(value, str)
            else _dedented(value)
            for key, value in node.items()
        }  # fmt: skip
    if isinstance(node, list):
        return [_dedented(item) for item in node]
    return node


def json_schema() -> dict[str, object]:
    """Return the report's JSON Schema (draft 2020-12) as a dict."""
    return schema_of(Report, f"https://govguard.invalid/schema/report-v{SCHEMA_VERSION}.json")


def encode(report: Report) -> bytes:
    """Serialise a report to compact JSON."""
    return msgspec.json.encode(report)


def decode(data: bytes | str) -> Report:
    """Parse and validate a report; raises :class:`msgspec.ValidationError` with a JSON path."""
    return msgspec.json.decode(data, type=Report)


__all__ = [
    "SCHEMA_VERSION",
    "SECTION_NAMES",
    "CollectorError",
    "CollectorRun",
    "Connectivity",
    "Delivery",
    "Hardware",
    "Identity",
    "Network",
    "OperatingSystem",
    "Peripherals",
    "Report",
    "Security",
    "Software",
    "decode",
    "encode",
    "json_schema",
]
