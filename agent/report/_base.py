"""Conventions shared by every section of the report.

Every field carries a description (``Annotated[..., Meta(description=...)]``): the JSON Schema
in ``docs/report-schema.json`` is generated from these models and a contract test fails on a
field without one. ``None`` always means *not determined*; the reason sits in the section's
``unknown`` map under the field's name. Defaults are omitted on the wire because commune links
are slow.

Every report module starts with ``from __future__ import annotations``: the agent only encodes
reports, which needs no type information, so the ~90 ``Annotated[...]`` expressions are then
never evaluated on a PC (about 20 ms of CPU per run). Decoding and the schema export resolve
them on first use.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

__all__ = ["Meta", "Record", "Section", "Unknown"]

Unknown = Annotated[
    dict[str, str],
    Meta(
        description=(
            "Facts of this section that could not be determined, by field name, with the reason "
            "(no permission, command missing, unsupported OS). A field listed here is never a pass."
        )
    ),
]


class Record(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of every record in the report."""


class Section(Record, kw_only=True):
    """Base of the report's top-level sections."""

    unknown: Unknown = {}
