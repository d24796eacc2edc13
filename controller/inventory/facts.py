"""The ``asset.*`` facts a policy rule sees for a host matched to an inventory asset.

The document is a contract with the policy engine (``docs/inventory.md``, "Facts for policies"):
each key below is the part after ``asset.``; a fact with no value is left out, so a rule sees it
as missing and decides with its ``if_missing``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from controller.store.models import Asset


def _text(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def asset_facts(
    asset: Asset, macs: Iterable[str], assigned_user_roles: Iterable[str] = ()
) -> dict[str, Any]:
    """The ``asset`` value of a host's facts, e.g. ``{"id": "xa-thanh-mai-pc-03", ...}``.

    ``macs`` come from :func:`controller.store.inventory.asset_macs`, the roles from
    :func:`controller.store.inventory.official_roles` for ``asset.assigned_user``.
    """
    facts: dict[str, Any] = {
        "id": asset.id,
        "kind": asset.kind,
        "classification": asset.classification,
        "state": asset.state,
        "hostname": asset.hostname,
        "macs": sorted(macs),
        "serial": asset.serial,
        "machine_id": asset.machine_id,
        "unit": asset.unit_id,
        "office": asset.office_id,
        "assigned_user": asset.assigned_user,
        "assigned_user_roles": sorted(assigned_user_roles) if asset.assigned_user else None,
        "tags": sorted(asset.tags or []),
        "for_secret_use": bool(asset.for_secret_use),
        "security_plan_ref": asset.security_plan_ref,
        "security_plan_approved_at": _text(asset.security_plan_approved_at),
        "security_plan_reviewed_at": _text(asset.security_plan_reviewed_at),
        "sanitisation_ref": asset.sanitisation_ref,
        "purchased_at": _text(asset.purchased_at),
    }
    return {key: value for key, value in facts.items() if value is not None}
