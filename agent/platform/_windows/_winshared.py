"""Helpers shared by the Windows areas: the pattern of a person's SID and checked batch parts.

Imported as a module (``from agent.platform._windows import _winshared``), never by name, so that
its functions are not mistaken for an area's facts by the platform contract test.
"""

from __future__ import annotations

import re
from typing import Any

from agent.errors import FactUnavailable
from agent.platform._windows import _ps

#: SIDs of people's accounts: local and Active Directory accounts (S-1-5-21-<domain>-<RID>) and
#: Microsoft Entra ID accounts (S-1-12-1-<four numbers>), "Well-known SIDs" and "Security
#: identifiers" on learn.microsoft.com. Service accounts (S-1-5-18/19/20), .DEFAULT and the
#: ``<SID>_Classes`` hives under HKU do not match.
USER_SID = re.compile(r"S-1-(?:5-21|12-1)(?:-\d+)+")


def is_user_sid(sid: Any) -> bool:
    """Whether ``sid`` is the SID of a person's account (local, domain or Entra ID)."""
    return isinstance(sid, str) and USER_SID.fullmatch(sid) is not None


def _is_error(item: Any) -> bool:
    return isinstance(item, dict) and set(item) == {"error"}


def part(name: str, script: str, key: str) -> Any:
    """One key of an area's batched query; an error object in it makes it unavailable.

    ``_ps.section`` already rejects a key that *is* an error object. A list that holds records
    *and* an error object is the output of a cmdlet that failed halfway (its script streamed
    what it had before the error): it is incomplete, so it is unavailable too, never read as
    "these are all of them".
    """
    value = _ps.section(name, script, key)
    if isinstance(value, list):
        error = next((item for item in value if _is_error(item)), None)
        if error is not None:
            raise FactUnavailable(f"{key}: {error['error']} (partial result discarded)")
    return value
