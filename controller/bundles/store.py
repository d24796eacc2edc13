"""Import a verified bundle in one transaction, or keep a refused one aside for inspection.

The reports go through the same writer as online reports (stored, host facts, findings), in
the same transaction as the ``bundles`` row and the audit entry: the bundle is imported whole
or not at all, and the highest imported number moves only when that commit succeeds.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent.state import file_stamp
from controller.bundles.read import BundleLimits, BundleRefused, read_bundle
from controller.bundles.verify import Verified, verify_bundle
from controller.findings import FindingsWriter, PolicyCache
from controller.findings.alerts import FindingAlerts
from controller.settings import Settings
from controller.store import audit
from controller.store import bundles as bundle_store
from controller.store.models import Bundle
from controller.store.reports import NewReport, outcomes
from controller.store.scope import UnitScope, in_scope

#: The ingest writer: stores a batch and returns the (agent, seq) pairs inserted.
Writer = Callable[[Session, Sequence[NewReport], datetime], set[tuple[str, int]]]
QUARANTINE_DIR = Path("bundles") / "quarantine"
#: A refused file larger than this many times the limit is not copied (only its reason).
_COPY_FACTOR = 4


def bundle_writer(settings: Settings) -> FindingsWriter:
    """The ingest writer for bundle reports: stored and evaluated like online ones, notices
    queued for the findings they open, without the online tripwire: a bundle is how a
    classified computer lawfully reports; what it shows about its network is for the BMNN
    rules to judge."""
    policies = PolicyCache(settings.data_dir)
    alerts = FindingAlerts(settings.notify, policies)
    return FindingsWriter(policies, on_opened=alerts, online=False)


@dataclass(frozen=True)
class Imported:
    """What :func:`import_bundle` did with one bundle file."""

    verified: Verified
    #: False: this bundle number was imported before; nothing was written.
    stored: bool
    #: Bundle numbers missing between the previous highest and this one.
    gap: int
    #: The previous bundle's digest named in the manifest differs from the one imported.
    broken_chain: bool


def import_bundle(
    s: Session,
    path: Path,
    limits: BundleLimits,
    writer: Writer,
    at: datetime,
    actor: str,
    *,
    source: str | None = None,
    scope: UnitScope = None,
) -> Imported:
    """Check and store the bundle at ``path`` in ``s`` (the caller commits).

    ``source`` is where the import came from (the audit entry's); ``scope`` the units the
    importing dashboard account may see (None: every unit, the command line): a bundle of a
    computer outside it is refused like any other bad bundle.
    Raises :class:`BundleRefused`; the caller then rolls back and calls :func:`quarantine`.
    """
    members = read_bundle(path, limits)
    verified = verify_bundle(s, members, limits, at)
    manifest, agent_id = verified.manifest, verified.agent.id
    if not in_scope(scope, verified.agent.unit_id):
        raise BundleRefused(
            f"agent {agent_id} belongs to a unit outside your account's units; "
            "an officer of its unit or of the district must import it"
        )
    _lock_agent(s, agent_id)
    existing = bundle_store.get_bundle(s, agent_id, manifest.seq)
    if existing is not None:
        if existing.digest != verified.digest:
            raise BundleRefused(
                f"bundle {manifest.seq} of agent {agent_id} was imported before with other "
                "content (a reused bundle number)"
            )
        return Imported(verified, stored=False, gap=0, broken_chain=False)
    highest = bundle_store.last_seq(s, agent_id)
    gap = max(0, manifest.seq - highest - 1)
    previous = bundle_store.get_bundle(s, agent_id, manifest.seq - 1)
    broken = previous is not None and previous.digest != manifest.prev_digest
    # The bundle first: the policies evaluated on its reports see it as the newest accepted
    # (controller.last_bundle_at for BMNN-01); a refusal below rolls both back.
    bundle_store.add_bundle(
        s,
        Bundle(
            agent_id=agent_id,
            seq=manifest.seq,
            digest=verified.digest,
            prev_digest=manifest.prev_digest,
            created_at=_stamp(manifest.created_at),
            imported_at=at,
            reports=len(verified.reports),
            gap=gap,
        ),
    )
    s.flush()
    inserted = writer(s, verified.reports, at)
    for report, outcome in zip(
        verified.reports, outcomes(s, verified.reports, inserted), strict=True
    ):
        if outcome not in ("stored", "duplicate"):
            raise BundleRefused(
                f"report {report.seq} of agent {agent_id} is already stored as another report"
            )
    details: dict[str, object] = {
        "seq": manifest.seq,
        "digest": verified.digest,
        "reports": len(verified.reports),
        "file": path.name,
    }
    if gap:
        details["gap"] = gap
    if broken:
        details["broken_chain"] = True
    audit.record(s, actor, "bundle.imported", f"agent:{agent_id}", details, at=at, source=source)
    return Imported(verified, stored=True, gap=gap, broken_chain=broken)


def quarantine(data_dir: Path, path: Path, reason: str, at: datetime, limits: BundleLimits) -> Path:
    """Keep a refused bundle as ``<data-dir>/bundles/quarantine/<time>-<name>`` with a
    ``.reason`` file beside it; returns the copy's path (it may be absent: see below).

    A file far beyond the size limit is not copied (it could fill the disk); its reason says so.
    """
    folder = data_dir / QUARANTINE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{file_stamp(at)}-{path.name}"
    n = 1
    while target.exists() or target.with_name(target.name + ".reason").exists():
        n += 1
        target = folder / f"{file_stamp(at)}-{n}-{path.name}"
    text = reason
    try:
        size = path.stat().st_size
        if size > _COPY_FACTOR * limits.max_file_bytes:
            text += f"\n(not copied: {size} bytes)"
        else:
            shutil.copyfile(path, target)
    except OSError as exc:
        text += f"\n(not copied: {exc.strerror or exc})"
    target.with_name(target.name + ".reason").write_text(f"{path}\n{text}\n", encoding="utf-8")
    return target


def _lock_agent(s: Session, agent_id: str) -> None:
    """PostgreSQL: two imports of one agent's bundles at once are decided one after the other
    (the second then sees the first's row). SQLite: the command's transaction already holds the
    write lock from its start."""
    if s.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"govguard-bundle\0{agent_id}".encode()).digest()
    s.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True))))


def _stamp(text: str) -> datetime:
    from controller.ingest.checks import stamp_time

    moment = stamp_time(text)
    if moment is None:
        raise BundleRefused(f"the manifest's created_at {text[:40]!r} is not a UTC time")
    return moment
