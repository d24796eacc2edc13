"""``/api/v1/findings``: the findings list and its actions, as the dashboard's page does them.

The same parsing (:func:`controller.web.pages.findings.finding_query`), the same store
functions and the same refusals as the page; only the rendering differs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from controller.api import ApiError, json_response, read_body
from controller.auth import Permission
from controller.store.dashboard import FindingRow
from controller.web.forms import end_of_day
from controller.web.pages.findings import change_findings, load_findings
from controller.web.policies import rule_titles
from controller.web.security import Caller, actor, reader
from controller.web.templating import reason_text

router = APIRouter(prefix="/api/v1")


class Exemption(msgspec.Struct, forbid_unknown_fields=True):
    """The body of ``POST /api/v1/findings/{id}/exempt``."""

    reason: str
    until: str


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def finding_json(row: FindingRow, title: str, locale: str) -> dict[str, Any]:
    """One finding as the API returns it."""
    return {
        "id": row.id,
        "rule_id": row.rule_id,
        "title": title,
        "severity": row.severity,
        "status": row.status,
        "subject": row.subject,
        "agent_id": row.agent_id,
        "hostname": row.hostname,
        "unit_id": row.unit_id,
        "unit_name": row.unit_name,
        "opened_at": _iso(row.opened_at),
        "last_seen_at": _iso(row.last_seen_at),
        "resolved_at": _iso(row.resolved_at),
        "reason": reason_text(row.reason, locale),
        "reason_code": row.reason.get("code") if isinstance(row.reason, dict) else None,
        "evidence": row.evidence,
        "acknowledged_by": row.acknowledged_by,
        "exempt_reason": row.exempt_reason,
        "exempted_by": row.exempted_by,
        "exempt_until": _iso(row.exempt_until),
    }


@router.get("/findings")
def get_findings(request: Request, caller: Annotated[Caller, Depends(reader())]) -> Response:
    """A page of findings: the page's query parameters, JSON rows and the totals."""
    result = load_findings(request, caller)
    locale = caller.t.locale
    titles = rule_titles(request, locale)
    return json_response(
        200,
        {
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
            "by_severity": result.by_severity,
            "findings": [finding_json(r, titles.get(r.rule_id, ""), locale) for r in result.rows],
        },
    )


@router.post("/findings/{finding_id}/ack")
def post_ack(
    request: Request,
    finding_id: int,
    caller: Annotated[Caller, Depends(actor(Permission.FINDINGS_ACT))],
) -> Response:
    """Acknowledge a finding (204)."""
    change_findings(request, caller, [finding_id])
    return Response(status_code=204)


@router.post("/findings/{finding_id}/exempt")
async def post_exempt(
    request: Request,
    finding_id: int,
    caller: Annotated[Caller, Depends(actor(Permission.FINDINGS_ACT))],
) -> Response:
    """Exempt a finding: ``{"reason": "...", "until": "YYYY-MM-DD"}`` (204)."""
    try:
        body = msgspec.json.decode(await read_body(request, 16 * 1024), type=Exemption)
    except msgspec.DecodeError as exc:
        raise ApiError(400, "bad_request", f"Invalid exemption body: {exc}.") from None
    until = end_of_day(body.until, caller.t)
    await run_in_threadpool(
        change_findings, request, caller, [finding_id], reason=body.reason, until=until
    )
    return Response(status_code=204)
