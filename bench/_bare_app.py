"""The bare baseline of bench/ingest.py: FastAPI reading a report body and discarding it.

Served by the same uvicorn with the same TLS certificate and header settings as the controller,
so the only difference in the comparison is what the controller does with a report.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.post("/api/v1/reports")
async def reports(request: Request) -> JSONResponse:
    """Read the whole body, keep nothing, answer like the controller does."""
    await request.body()
    return JSONResponse({"status": "stored", "seq": 0})
