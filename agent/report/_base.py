"""Conventions shared by every section of the report.

Every field carries a description (``Annotated[..., Meta(description=...)]``): the JSON Schema
in ``docs/report-schema.json`` is generated from these models and a contract test fails on a
field without one. ``None`` always means *not determined*; the reason sits in the section's
``unknown`` map under the field's name. Defaults are omitted on the wire because commune links
are slow.
"""

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
