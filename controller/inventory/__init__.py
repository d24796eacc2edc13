"""The district's organisation file: load and check it, plan and apply an import, export it.

``docs/inventory.md`` describes the format; ``inventory/schema.json`` is its JSON Schema. The
store side (tables and queries) is :mod:`controller.store.inventory`.
"""

from controller.inventory.apply import apply_plan
from controller.inventory.document import Inventory, InventoryError, load_inventory, office_key
from controller.inventory.export import export_document, export_yaml
from controller.inventory.facts import asset_facts
from controller.inventory.plan import Change, KindPlan, Plan, make_plan

__all__ = [
    "Change",
    "Inventory",
    "InventoryError",
    "KindPlan",
    "Plan",
    "apply_plan",
    "asset_facts",
    "export_document",
    "export_yaml",
    "load_inventory",
    "make_plan",
    "office_key",
]
