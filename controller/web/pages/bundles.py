"""Offline bundles: the imported bundles of the caller's units and the upload form.

An upload goes through :func:`controller.bundles.import_bundle`, exactly the checks of
``govguard import`` (signature, agent, numbering, size limits), plus the caller's unit scope.
The uploaded file lives in a temporary folder of the data directory and is removed afterwards;
a refused bundle is first copied to the quarantine folder with its reason, as the command does.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Depends, File, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from controller.auth import Permission
from controller.bundles import BundleLimits, BundleRefused, import_bundle, quarantine
from controller.bundles.read import DEFAULT_MAX_FILE_BYTES
from controller.bundles.store import bundle_writer
from controller.store import bundles as bundle_store
from controller.store.units import list_units
from controller.web.security import Caller, actor, now, reader, reading, transaction
from controller.web.view import page

router = APIRouter()
UPLOADS = Path("bundles") / "uploads"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class BundleResult:
    """What happened to one uploaded bundle."""

    accepted: bool
    file: str
    #: Refused: the English reason and where the copy is kept.
    reason: str = ""
    kept: str = ""
    agent_id: str = ""
    hostname: str = ""
    seq: int = 0
    reports: int = 0
    #: False: this bundle was imported before; nothing was written.
    stored: bool = False
    gap: int = 0
    broken_chain: bool = False
    opened: list[str] = field(default_factory=list)


def limits_of(request: Request) -> BundleLimits:
    """The import's limits: ``govguard import``'s default file size and the ingest limits."""
    ingest = request.app.state.govguard.settings.ingest
    return BundleLimits(
        max_file_bytes=DEFAULT_MAX_FILE_BYTES,
        max_body_bytes=ingest.max_body_bytes,
        max_decompressed_bytes=ingest.max_decompressed_bytes,
    )


def safe_name(name: str | None) -> str:
    """The uploaded file's base name, reduced to safe characters (it names the quarantine copy)."""
    base = Path((name or "").replace("\\", "/")).name
    cleaned = _SAFE.sub("_", base).lstrip(".")[:100]
    return cleaned or "bundle.ggb"


def _copy(source: BinaryIO, target: Path, limit: int) -> None:
    """Copy at most ``limit + 1`` bytes: enough for the import to refuse an oversized file."""
    left = limit + 1
    with target.open("wb") as out:
        while left > 0:
            chunk = source.read(min(1024 * 1024, left))
            if not chunk:
                break
            out.write(chunk)
            left -= len(chunk)


def import_upload(
    request: Request, caller: Caller, upload: BinaryIO, name: str | None
) -> BundleResult:
    """Import an uploaded bundle as ``govguard import`` does; the temporary file is removed."""
    settings = request.app.state.govguard.settings
    limits = limits_of(request)
    folder = settings.data_dir / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    filename = safe_name(name)
    at = now()
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = Path(tmp) / filename
        _copy(upload, path, limits.max_file_bytes)
        try:
            # transaction() takes SQLite's write lock first: the import reads, then writes.
            with transaction(request) as s:
                done = import_bundle(
                    s, path, limits, bundle_writer(settings), at, caller.actor,
                    source=caller.address, scope=caller.principal.scope,
                )  # fmt: skip
                agent = done.verified.agent
                opened = bundle_store.opened_at(s, agent.id, at) if done.stored else []
        except BundleRefused as exc:
            kept = quarantine(settings.data_dir, path, str(exc), at, limits)
            return BundleResult(False, filename, reason=str(exc), kept=str(kept))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return BundleResult(
        True,
        filename,
        agent_id=agent.id,
        hostname=agent.hostname,
        seq=done.verified.manifest.seq,
        reports=len(done.verified.reports),
        stored=done.stored,
        gap=done.gap,
        broken_chain=done.broken_chain,
        opened=opened,
    )


@router.get("/bundles")
def bundles_page(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """The imported bundles of the caller's units and the upload form."""
    with reading(request) as s:
        rows = bundle_store.list_bundles(s, caller.principal.scope)
        names = {u.id: u.name for u in list_units(s)}
    return page(
        request,
        caller,
        "bundles.html",
        {
            "rows": rows,
            "unit_names": names,
            "max_mb": DEFAULT_MAX_FILE_BYTES // (1024 * 1024),
            "can_import": caller.principal.can(Permission.BUNDLES_IMPORT),
        },
        active="/bundles",
    )


@router.post("/bundles")
async def upload_bundle(
    request: Request,
    caller: Annotated[Caller, Depends(actor(Permission.BUNDLES_IMPORT))],
    bundle: Annotated[UploadFile, File()],
) -> Response:
    """Import an uploaded bundle; the result page says what was imported or why not."""
    result = await run_in_threadpool(import_upload, request, caller, bundle.file, bundle.filename)
    # page() reads the caller's unit name from the database: off the event loop too.
    return await run_in_threadpool(
        page,
        request,
        caller,
        "bundle_result.html",
        {"result": result},
        active="/bundles",
        status=200 if result.accepted else 400,
    )
