"""The bare baseline of bench/ingest.py: FastAPI reading a report body and discarding it.

Served by the same uvicorn with the same TLS certificate and header settings as the controller
(and, with ``--workers N``, as many worker processes), so the only difference in the comparison
is what the controller does with a report.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.post("/api/v1/reports")
async def reports(request: Request) -> Response:
    """Read the whole body, keep nothing, answer like the controller does for a stored report
    from an agent whose settings are current: ``204 No Content``."""
    await request.body()
    return Response(status_code=204)
