"""Ingest for one controller process: the cheap checks on the event loop, the rest handed over."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from agent.envelope import Envelope
from controller.ingest.checks import (
    IngestError,
    Limits,
    check_sender,
    unavailable,
    verify_report,
)
from controller.ingest.credentials import CredentialCache
from controller.ingest.writer import (
    Answer,
    BatchWriter,
    DatabaseUnavailableError,
    ReportNow,
    StoreBatch,
    WriterBusyError,
    WriterClosedError,
)
from controller.store.agents import AgentCredentials, agent_credentials
from controller.store.db import is_unavailable
from controller.store.reports import Accepted, NewReport, SeqConflict

#: How long a request waits for its batch to commit before the agent is told to retry.
COMMIT_TIMEOUT_S: Final = 60.0


class CommitTimeoutError(RuntimeError):
    """The report was not committed within ``COMMIT_TIMEOUT_S`` (the database hangs)."""


class Ingest:
    """Ingest for one controller process: credential cache, checks and the batch writer."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        limits: Limits,
        *,
        batch_max: int,
        batch_wait_ms: int,
        clock: Callable[[], datetime] | None = None,
        commit_timeout_s: float = COMMIT_TIMEOUT_S,
        store: StoreBatch | None = None,
    ) -> None:
        self.sessions = sessions
        self.limits = limits
        self.credentials = CredentialCache()
        self._clock = clock or (lambda: datetime.now(UTC))
        self.writer = BatchWriter(
            sessions,
            batch_max=batch_max,
            batch_wait_ms=batch_wait_ms,
            clock=self._clock,
            store=store,
        )
        self._commit_timeout_s = commit_timeout_s
        # Futures waiting for a commit, oldest first, with their deadline. One sweep per second
        # replaces an ``asyncio.wait_for`` timer per request (30 µs each at thousands per second).
        self._waiting: collections.deque[tuple[float, asyncio.Future[Answer]]] = collections.deque()
        self._watchdog: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the writer thread and, inside an event loop, the commit-timeout watchdog."""
        self.writer.start()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._watchdog is None:
            self._watchdog = loop.create_task(self._sweep_forever(), name="ingest-watchdog")

    async def aclose(self) -> None:
        """Store what is queued and stop (the writer is joined in a worker thread)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        await asyncio.to_thread(self.writer.close)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.sweep()

    def sweep(self, now: float | None = None) -> None:
        """Fail requests whose report was not committed in time; forget answered ones."""
        moment = time.monotonic() if now is None else now
        waiting = self._waiting
        while waiting and (waiting[0][1].done() or waiting[0][0] <= moment):
            _, future = waiting.popleft()
            if not future.done():
                future.set_exception(CommitTimeoutError("no commit in time"))

    async def lookup(self, agent_id: str) -> AgentCredentials | None:
        """The agent's credentials, from the cache or the database (in a worker thread)."""
        creds = self.credentials.get(agent_id)
        if creds is not None:
            return creds
        try:
            creds = await asyncio.to_thread(self._load, agent_id)
        except Exception as exc:
            if is_unavailable(exc):
                raise unavailable() from exc
            raise
        if creds is not None:
            self.credentials.put(creds)
        return creds

    def _load(self, agent_id: str) -> AgentCredentials | None:
        with self.sessions() as session:
            return agent_credentials(session, agent_id)

    async def accept(
        self, env: Envelope, body: bytes, *, clock_header: str | None
    ) -> Accepted | ReportNow:
        """Check and store one report; resolves after the commit. Raises :class:`IngestError`.

        :class:`ReportNow` wraps the outcome when a remediation asked the agent for a fresh
        report (the reply tells it so).

        The sender is checked here (cheap, and a refusal then costs no queue slot); signature,
        body and schema are checked on the writer thread (see the module docstring).
        """
        received_at = self._clock()
        creds = check_sender(env, await self.lookup(env.agent_id))
        limits = self.limits

        def verify() -> NewReport:
            return verify_report(
                env, creds, body, limits, clock_header=clock_header, received_at=received_at
            )

        try:
            future = self.writer.submit(verify)
        except WriterBusyError as exc:
            raise unavailable("The controller is busy; try again later.") from exc
        except WriterClosedError as exc:
            raise unavailable("The controller is shutting down; try again later.") from exc
        self._waiting.append((time.monotonic() + self._commit_timeout_s, future))
        try:
            outcome = await future
        except DatabaseUnavailableError as exc:
            raise unavailable() from exc
        except WriterClosedError as exc:
            raise unavailable("The controller is shutting down; try again later.") from exc
        except CommitTimeoutError as exc:
            raise unavailable("Storing the report took too long; try again later.") from exc
        if isinstance(outcome, SeqConflict):
            raise IngestError(
                409,
                "seq_conflict",
                f"Sequence number {env.seq} of agent {env.agent_id} belongs to another report; "
                f"number the queued reports after {outcome.last_seq}.",
                last_seq=outcome.last_seq,
            )
        return outcome
