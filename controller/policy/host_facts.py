"""The facts a rule sees besides the agent's report: ``asset.*`` and ``controller.*``.

The controller evaluates rules on one document per host: the agent's latest report plus two
top-level keys the agent never sends. ``asset`` is the host's record in the organisation file
(inventory), when one matches; ``controller`` is what the controller itself observed about the
host. This module is the schema of those two keys (the contract with the inventory engine,
``docs/policies.md``); :mod:`controller.policy.facts` resolves rule paths against it alongside
the report schema, so a misspelt ``asset.*`` path is a load error like a misspelt report path.

Dates (``YYYY-MM-DD``) compare with ``days_ago`` like the report's date-times.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

from agent.report import schema_of

AssetKind = Literal[
    "desktop",
    "laptop",
    "all_in_one",
    "server",
    "printer",
    "scanner",
    "copier",
    "switch",
    "router",
    "other",
]
ASSET_KINDS: tuple[str, ...] = AssetKind.__args__  # type: ignore[attr-defined]
AssetState = Literal["in_use", "spare", "repair", "repurposed", "disposed"]
UserRole = Literal["key_official", "signing_leader", "clerk"]


class Asset(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The host's record in the organisation file (inventory).

    Every field defaults to None, lists included: a record that lacks a field says nothing about
    it, so a rule on it reports the fact missing rather than reading an empty list.
    """

    id: str | None = None
    kind: AssetKind | None = None
    classification: Literal["normal", "classified"] | None = None
    state: AssetState | None = None
    hostname: str | None = None
    macs: list[str] | None = None
    serial: str | None = None
    machine_id: str | None = None
    unit: str | None = None
    office: str | None = None
    assigned_user: str | None = None
    # Roles as free text, not a Literal: the inventory may add roles before the engine knows them.
    assigned_user_roles: list[str] | None = None
    tags: list[str] | None = None
    for_secret_use: bool | None = None
    security_plan_ref: str | None = None
    security_plan_approved_at: date | None = None
    security_plan_reviewed_at: date | None = None
    sanitisation_ref: str | None = None
    purchased_at: date | None = None


class ControllerFacts(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the controller itself observed about the host."""

    last_report_at: datetime | None = None
    last_bundle_at: datetime | None = None
    network_sightings: int | None = None
    office_computers: int | None = None
    office_printers: int | None = None


class HostFacts(msgspec.Struct, kw_only=True):
    """The two keys the controller adds to a report before evaluating rules."""

    asset: Asset | None = None
    controller: ControllerFacts | None = None


#: The top-level keys of :class:`HostFacts`; a report never has them.
HOST_KEYS: tuple[str, ...] = ("asset", "controller")


def json_schema() -> dict[str, object]:
    """The JSON Schema (draft 2020-12) of these facts, committed as docs/host-facts-schema.json."""
    return schema_of(HostFacts, "https://govguard.invalid/schema/host-facts-v1.json")
