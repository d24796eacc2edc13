"""The controller's web application: wiring only (settings, database, ingest, routers).

``surface`` picks what one listener serves: ``"all"`` (one port for everything), ``"agents"``
(the port agents reach from every office LAN) or ``"admin"`` (the port of the admin UI/API,
when ``listen.admin`` gives it its own). Each surface is its own application, so an admin route
can never be reached through the agents' port by mistake.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Literal

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from agent.wire import REPORTS_PATH
from controller.api import Context, install_error_handlers
from controller.api import agents as agents_api
from controller.findings import FindingsWriter, PolicyCache
from controller.findings.alerts import FindingAlerts
from controller.findings.scheduler import POLL_S as REEVALUATE_POLL_S
from controller.findings.scheduler import Reevaluator
from controller.ingest import Ingest, Limits
from controller.metrics import Metrics
from controller.metrics import http as metrics_http
from controller.notify.worker import Runner
from controller.reports.runner import ReportJobs
from controller.settings import Settings
from controller.store.db import make_engine, session_factory

log = logging.getLogger(__name__)

Surface = Literal["all", "agents", "admin"]


class ControllerApp(FastAPI):
    """FastAPI with the reports hot path answered before routing (:class:`ReportEndpoint`)."""

    reports: agents_api.ReportEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand ``POST /api/v1/reports`` to the bare handler, everything else to FastAPI."""
        if (
            self.reports is not None
            and scope["type"] == "http"
            and scope["path"] == REPORTS_PATH
            and scope["method"] == "POST"
        ):
            await self.reports(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    surface: Surface = "all",
    metrics: Metrics | None = None,
) -> FastAPI:
    """Build the application for ``settings``.

    ``engine`` lets the caller share one engine between listeners (and tests pass their own);
    an engine created here is disposed of when the application shuts down. ``metrics`` is the
    process's registry, shared the same way (one of its own otherwise). The schema must
    already be migrated (``govguard init`` / ``serve`` do it). An unusable
    ``metrics.token_file`` raises :class:`controller.metrics.token.MetricsTokenError`.
    """
    own_engine = engine is None
    db = engine if engine is not None else make_engine(settings.database_url)
    sessions = session_factory(db)
    metrics = metrics if metrics is not None else Metrics(sessions)
    # Never on an agents-only listener: that port faces every office LAN.
    serves_metrics = settings.metrics.enabled and surface in ("all", "admin")
    metrics_token = metrics_http.read_token(settings) if serves_metrics else None
    takes_reports = surface in ("all", "agents")
    ingest = None
    reevaluator = None
    report_jobs = None
    alerts = None
    if takes_reports:
        policies = PolicyCache(settings.data_dir)
        alerts = FindingAlerts(settings.notify, policies)
        # Hosts that stop reporting and policy changes are caught by a periodic re-evaluation;
        # a lease in the database lets one process of the controller run it at a time.
        periodic = settings.periodic
        reevaluator = Reevaluator(
            sessions,
            policies,
            on_opened=alerts,
            every=timedelta(seconds=periodic.reevaluate_every_s),
            lease=periodic.lease,
            poll_s=periodic.poll_s or REEVALUATE_POLL_S,
        )
        # Report schedules and the archive's purge, leased the same way.
        report_jobs = ReportJobs(sessions, settings)
        ingest = Ingest(
            sessions,
            Limits(
                max_body_bytes=settings.ingest.max_body_bytes,
                max_decompressed_bytes=settings.ingest.max_decompressed_bytes,
            ),
            batch_max=settings.ingest.batch_max,
            batch_wait_ms=settings.ingest.batch_wait_ms,
            # Every stored report is evaluated against the policies in the same transaction.
            store=FindingsWriter(policies, on_opened=alerts),
        )
    # One delivery loop per process, on the listener that always exists (agents or all).
    notifier = (
        Runner(sessions, settings.notify, settings.data_dir, on_pass=metrics.live.notification_pass)
        if takes_reports
        else None
    )
    agent_settings = settings.agent_settings()
    ctx = Context(
        settings=settings,
        engine=db,
        sessions=sessions,
        ingest=ingest,
        ca_pem=_read_ca(settings) if takes_reports else None,
        agent_settings=agent_settings,
        settings_version=str(agent_settings.version),
        on_opened=alerts,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if ingest is not None:
            ingest.start()
        if reevaluator is not None:
            reevaluator.start()
        if report_jobs is not None:
            report_jobs.start()
        if notifier is not None:
            notifier.start()
        try:
            yield
        finally:
            if notifier is not None:
                await notifier.aclose()
            if report_jobs is not None:
                await asyncio.to_thread(report_jobs.stop)
            if reevaluator is not None:
                await asyncio.to_thread(reevaluator.stop)
            if ingest is not None:
                await ingest.aclose()  # stores what is queued first
            if own_engine:
                db.dispose()

    app = ControllerApp(
        title="govguard controller",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.govguard = ctx
    if takes_reports:
        app.include_router(agents_api.router)
    if ingest is not None:
        app.reports = agents_api.ReportEndpoint(ctx, ingest, metrics.live)
    else:
        app.add_api_route("/api/v1/health", agents_api.get_health, methods=["GET"])
    install_error_handlers(app)
    if serves_metrics:
        metrics_http.install(app, metrics, metrics_token)
    if surface in ("all", "admin"):
        # Imported here: the agents-only listener never loads templates or catalogues.
        from controller import web

        web.install(app)
    return app


def _read_ca(settings: Settings) -> bytes | None:
    try:
        return settings.ca_cert.read_bytes()
    except OSError as exc:
        log.warning("no CA certificate at %s (%s): agents cannot bootstrap", settings.ca_cert, exc)
        return None
