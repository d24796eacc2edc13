"""Attachments by reference: a notice names a report archive row, never carries the bytes.

A notice's ``data`` may hold ``{"attachment": {"archive_id": 12, "sha256": "...",
"filename": "...", "size_bytes": 123}}``. The outbox stores only that reference; when the
e-mail is built, the file is read from the archive and checked against the SHA-256 recorded at
archiving *and* the one in the notice. A webhook gets the reference as it is (no file).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from controller.notify.content import Attachment, DeliveryError, Item

#: The key of :attr:`Item.data` holding an attachment reference.
KEY = "attachment"


def reference(
    archive_id: int, sha256: str, filename: str, size_bytes: int
) -> dict[str, dict[str, Any]]:
    """The ``data`` entry that attaches archive row ``archive_id`` to a notice."""
    return {
        KEY: {
            "archive_id": archive_id,
            "sha256": sha256,
            "filename": filename,
            "size_bytes": size_bytes,
        }
    }


def referenced(data: Any) -> tuple[int, str] | None:
    """``(archive_id, sha256)`` named by a notice's ``data``, or None."""
    if not isinstance(data, dict):
        return None
    ref = data.get(KEY)
    if not isinstance(ref, dict):
        return None
    archive_id, sha256 = ref.get("archive_id"), ref.get("sha256")
    if not isinstance(archive_id, int) or not isinstance(sha256, str):
        raise DeliveryError(f"attachment reference {ref!r} is not valid", permanent=True)
    return archive_id, sha256


def load(
    sessions: sessionmaker[Session], data_dir: Path, items: Sequence[Item]
) -> list[Attachment]:
    """The files ``items`` reference, verified; :class:`DeliveryError` (permanent) otherwise.

    A purged, missing or changed file cannot come back by retrying: the delivery fails for good
    with the reason, and nothing is sent without its report.
    """
    refs = [ref for item in items if (ref := referenced(item.data)) is not None]
    if not refs:
        return []
    # Imported here: only deliveries with attachments need the reports layer.
    from controller.reports.archive import ArchiveError, read_verified
    from controller.store import report_archive

    found: list[Attachment] = []
    with sessions() as s:
        for archive_id, sha256 in refs:
            row = report_archive.get(s, archive_id)
            if row is None:
                raise DeliveryError(
                    f"report archive {archive_id} no longer exists (purged?); not sent",
                    permanent=True,
                )
            if row.sha256 != sha256:
                raise DeliveryError(
                    f"report archive {archive_id}: recorded sha256 differs from the notice's; "
                    "not sent",
                    permanent=True,
                )
            try:
                archived = read_verified(data_dir, row)
            except ArchiveError as exc:
                raise DeliveryError(str(exc), permanent=True) from exc
            found.append(Attachment(archived.filename, archived.media_type, archived.content))
    return found
