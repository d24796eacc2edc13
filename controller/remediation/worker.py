"""The ``govguard worker`` thread that executes remediation runs (docs/remediation-runs.md).

Every :data:`POLL_S` seconds :class:`RemediationWorker`:

1. marks ``interrupted`` the runs whose worker is gone (no heartbeat for :data:`STALE_AFTER_S`,
   or a dead process of this machine) and lets the workflow move their jobs on;
2. calls :func:`controller.remediation.workflow.tick` (hosts back online, verification,
   automatic remediation);
3. claims queued runs up to ``remediation.max_concurrent`` (across all workers) and executes
   each in a thread of its own: events go to the database in small batches as they come, a
   heartbeat every :data:`HEARTBEAT_S`, a cancel request of the run or its job stops it; at the
   end the outcome is stored and :func:`~controller.remediation.workflow.run_finished` called in
   the same transaction (it sets each target's state from the stats and moves the job).

Who sets what: the worker sets runs (claim → ``running`` → end) and, at the claim of an apply
run, its hosts' targets and a ``queued`` job to ``running``; at the end the workflow sets the
targets' states from the stats and moves the job; hosts it left ``running`` (their job ended
meanwhile: cancelled) get theirs from the worker (:func:`runs.settle_targets`).

``govguard remediate --wait`` runs a job's runs in the foreground with
:meth:`RemediationWorker.drain`.
"""

from __future__ import annotations

import logging
import os
import secrets as tokens
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from controller.periodic import PeriodicThread
from controller.remediation import inventory, runner, workflow
from controller.remediation.model import (
    PLAYBOOK_NAME,
    RemediationError,
    RunEvent,
    RunOutcome,
    RunSpec,
    playbooks_dir,
)
from controller.remediation.secrets import load_secrets
from controller.settings import Settings
from controller.store import audit
from controller.store import remediation_runs as runs
from controller.store.db import write_session
from controller.store.models import RemediationJob, RemediationRun

log = logging.getLogger(__name__)

POLL_S = 5.0
#: A running run's worker writes its heartbeat this often ...
HEARTBEAT_S = 5.0
#: ... and a run without one for this long is declared ``interrupted`` by any worker.
STALE_AFTER_S = 120.0
#: Events are written when this many wait, or when the oldest waited this long (seconds).
EVENT_BATCH = 25
EVENT_FLUSH_S = 0.5
#: Events kept in memory while the database does not take them; older ones are then dropped.
EVENT_BACKLOG = 20_000
#: How often a running run asks the database whether it was cancelled.
CANCEL_CHECK_S = 1.0
ACTOR = "worker"


def holder_name() -> str:
    """``<hostname>:<pid>:<random>``: who holds a run (a restarted worker on the same machine
    recognises a dead predecessor's runs by the pid)."""
    return f"{socket.gethostname()}:{os.getpid()}:{tokens.token_hex(4)}"


def build_spec(s: Session, settings: Settings, run: RemediationRun, job: RemediationJob) -> RunSpec:
    """The run's specification; :class:`RemediationError` when it cannot run (a playbook name
    that is no file of the playbooks folder, an unknown host, unusable secrets)."""
    if not PLAYBOOK_NAME.fullmatch(job.playbook):
        raise RemediationError(f"{job.playbook!r} is not the name of a playbook file")
    folder = playbooks_dir(settings.remediation.playbooks_dir).resolve()
    path = folder / job.playbook
    if path.resolve().parent != folder or not path.is_file():
        raise RemediationError(f"no playbook {job.playbook} in {folder}")
    extra = dict(job.extra_vars or {})
    reserved = sorted(k for k in extra if k.startswith(("ansible_", "govguard_")))
    if reserved:
        raise RemediationError(f"extra variable {reserved[0]!r} is reserved")
    hosts = tuple(run.hosts)
    found = inventory.for_hosts(s, settings, hosts)
    secrets = load_secrets(settings)
    key: Path | None = secrets.key_file
    if key is not None and not key.is_file():
        over_ssh = [
            name
            for name, values in (found.get("all", {}).get("hosts") or {}).items()
            if (values or {}).get("ansible_connection", "ssh") == "ssh"
        ]
        if over_ssh:
            raise RemediationError(
                f"no SSH key at {key} to reach {over_ssh[0]} (`govguard ssh keygen`)"
            )
        key = None
    extra["govguard_job_id"] = job.id
    extra["govguard_run_id"] = run.id
    return RunSpec(
        run_id=run.id,
        playbook=path,
        mode="check" if run.mode == "check" else "apply",
        inventory=found,
        hosts=hosts,
        extra_vars=extra,
        private_dir=settings.data_dir / "remediation" / "runs" / str(run.id),
        timeout_s=run.timeout_s,
        ssh_key=key,
        known_hosts=secrets.known_hosts,
        passwords=secrets.passwords(),
        keep_dir=settings.remediation.keep_run_dirs,
    )


class _EventStream:
    """Buffers a run's events and writes them in small batches, one transaction each, so a
    page polling the job shows them while the run goes."""

    def __init__(self, sessions: sessionmaker[Session], run_id: int) -> None:
        self._sessions = sessions
        self._run_id = run_id
        self._buffer: list[RunEvent] = []
        self._oldest = 0.0
        self.dropped = 0

    def add(self, event: RunEvent) -> None:
        if not self._buffer:
            self._oldest = time.monotonic()
        self._buffer.append(event)
        if len(self._buffer) >= EVENT_BATCH or time.monotonic() - self._oldest >= EVENT_FLUSH_S:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        try:
            with self._sessions() as s, s.begin():
                runs.append_events(s, self._run_id, self._buffer)
        except Exception as exc:
            # Kept for the next try; the playbook goes on either way.
            log.warning(
                "run %s: %d events not stored yet: %s", self._run_id, len(self._buffer), exc
            )
            if len(self._buffer) > EVENT_BACKLOG:
                excess = len(self._buffer) - EVENT_BACKLOG
                del self._buffer[:excess]
                self.dropped += excess
            return
        self._buffer.clear()


class _Watch:
    """The runner's ``should_cancel``: writes pending events, beats the heart, reads the cancel
    request; True on a cancel, a stopping worker, or a run another process took away."""

    def __init__(self, worker: RemediationWorker, run_id: int, stream: _EventStream) -> None:
        self._worker = worker
        self._run_id = run_id
        self._stream = stream
        self._beat = self._checked = time.monotonic()
        #: ``cancel``, ``shutdown`` or ``lost`` once it said True.
        self.reason: str | None = None

    def __call__(self) -> bool:
        self._stream.flush()
        if self.reason is not None:
            return True
        if self._worker.stopping:
            self.reason = "shutdown"
            return True
        now = time.monotonic()
        if now - self._checked >= CANCEL_CHECK_S:
            self._checked = now
            try:
                self._check(now)
            except Exception as exc:
                # The playbook goes on; without heartbeats for STALE_AFTER_S another worker
                # declares the run interrupted, and the next check here then stops it.
                log.warning("run %s: the database did not answer: %s", self._run_id, exc)
        return self.reason is not None

    def _check(self, now: float) -> None:
        sessions = self._worker.sessions
        if now - self._beat >= HEARTBEAT_S:
            self._beat = now
            with sessions() as s, s.begin():
                ours = runs.heartbeat(s, self._run_id, self._worker.holder, self._worker.now())
            if not ours:
                self.reason = "lost"
                return
        with sessions() as s:
            if runs.cancel_requested(s, self._run_id):
                self.reason = "cancel"


class RemediationWorker(PeriodicThread):
    """Executes remediation runs in ``govguard worker`` (see the module's docstring)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        poll_s: float = POLL_S,
        stale_after_s: float = STALE_AFTER_S,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(name="remediation", what="remediation round", poll_s=poll_s)
        self.sessions = sessions
        self._settings = settings
        self._stale_after_s = stale_after_s
        self._clock = clock or (lambda: datetime.now(UTC))
        self._holder = holder_name()
        self._stopping = threading.Event()
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    @property
    def holder(self) -> str:
        """This worker's name on the runs it claims."""
        return self._holder

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called: running runs stop and end ``interrupted``."""
        return self._stopping.is_set()

    def now(self) -> datetime:
        """The worker's clock."""
        return self._clock()

    def start(self) -> None:
        """Mark at once the runs a dead worker of this machine left ``running``, then start."""
        self._stopping.clear()
        try:
            self.interrupt_stale()
        except Exception as exc:  # the first round tries again
            log.warning("remediation: runs of a stopped worker not checked yet: %s", exc)
        super().start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop claiming, stop the running playbooks (they end ``interrupted``: never run
        again by themselves) and wait up to ``timeout_s`` for their ends to be stored."""
        self._stopping.set()
        super().stop(timeout_s)
        deadline = time.monotonic() + timeout_s
        for thread in self.active_threads():
            thread.join(max(0.0, deadline - time.monotonic()))

    def active_threads(self) -> list[threading.Thread]:
        """The threads of the runs this worker executes now."""
        with self._lock:
            return [t for t in self._threads.values() if t.is_alive()]

    def run_once(self) -> list[int]:
        """One round: interrupt stale runs, tick the workflow, claim and start runs; the ids of
        the runs started (each in its own thread)."""
        self.interrupt_stale()
        try:
            with self.sessions() as s, s.begin():
                write_session(s)
                workflow.tick(s, self._settings, self.now())
        except Exception:
            log.exception("remediation tick failed")
        if self.stopping:
            return []
        started = []
        for run_id in self._claim():
            thread = threading.Thread(
                target=self.execute, args=(run_id,), name=f"remediation-run-{run_id}", daemon=True
            )
            with self._lock:
                self._threads = {k: t for k, t in self._threads.items() if t.is_alive()}
                self._threads[run_id] = thread
            thread.start()
            started.append(run_id)
        return started

    def interrupt_stale(self) -> list[int]:
        """Mark ``interrupted`` the runs whose worker is gone, and move their jobs on."""
        now = self.now()
        with self.sessions() as s, s.begin():
            write_session(s)
            gone = runs.interrupt_stale(s, now, self._stale_after_s, self._holder)
            for run in gone:
                self._audit_end(s, run, now)
                workflow.run_finished(s, self._settings, run, now)
                runs.settle_targets(s, run, now)
        for run in gone:
            log.warning("remediation run %s interrupted: %s", run.id, run.error)
        return [run.id for run in gone]

    def _claim(self, job_id: int | None = None, limit: int | None = None) -> list[int]:
        now = self.now()
        with self.sessions() as s, s.begin():
            write_session(s)
            claimed = runs.claim(
                s,
                self._holder,
                now,
                max_concurrent=self._settings.remediation.max_concurrent,
                limit=limit,
                job_id=job_id,
            )
            for run in claimed:
                audit.record(
                    s,
                    ACTOR,
                    "remediation.run.started",
                    f"remediation:{run.job_id}",
                    {"run": run.id, "mode": run.mode, "hosts": list(run.hosts)},
                    at=now,
                )
            return [run.id for run in claimed]

    def drain(self, job_id: int | None = None, *, wait_s: float = 1.0) -> list[int]:
        """Execute the queued runs (of ``job_id``, or all) in the foreground, one at a time,
        until none is queued; runs the workflow queues meanwhile (the apply run after a
        preview approved in advance) included. Waits while every slot of
        ``remediation.max_concurrent`` is taken by other workers. The ids of the runs executed.

        For ``govguard remediate --wait`` when no worker runs. Ctrl-C stops the running
        playbook; the run then ends ``interrupted``.
        """
        done: list[int] = []
        while not self.stopping:
            claimed = self._claim(job_id, limit=1)
            if not claimed:
                with self.sessions() as s:
                    if not runs.queued_ids(s, job_id):
                        break
                time.sleep(wait_s)
                continue
            thread = threading.Thread(target=self.execute, args=(claimed[0],), daemon=True)
            thread.start()
            try:
                thread.join()
            except KeyboardInterrupt:
                self._stopping.set()
                thread.join()
                raise
            done.append(claimed[0])
        return done

    def execute(self, run_id: int) -> RunOutcome | None:
        """Execute a run this worker claimed, store its end and move its job on; the outcome,
        or None when the run was no longer this worker's."""
        try:
            with self.sessions() as s:
                run = s.get(RemediationRun, run_id)
                job = s.get(RemediationJob, run.job_id) if run is not None else None
                if run is None or job is None:
                    return None
                spec = build_spec(s, self._settings, run, job)
        except RemediationError as exc:
            return self._finish(run_id, RunOutcome("failed", "error", None, {}, str(exc)))
        except Exception as exc:
            log.exception("remediation run %s could not start", run_id)
            outcome = RunOutcome("failed", "error", None, {}, f"could not start: {exc}")
            return self._finish(run_id, outcome)
        stream = _EventStream(self.sessions, run_id)
        watch = _Watch(self, run_id, stream)
        try:
            outcome = runner.execute(spec, stream.add, watch)
        except RemediationError as exc:
            outcome = RunOutcome("failed", "error", None, {}, str(exc))
        except Exception as exc:
            log.exception("remediation run %s failed in the worker", run_id)
            outcome = RunOutcome("failed", "error", None, {}, f"the worker failed: {exc}")
        stream.flush()
        if watch.reason == "shutdown" and outcome.state == "cancelled":
            outcome = replace(
                outcome,
                state="interrupted",
                status_text="interrupted",
                error="the worker stopped during the run; it is not started again",
            )
        if watch.reason == "lost":
            log.warning("remediation run %s was declared interrupted meanwhile", run_id)
        if stream.dropped:
            log.warning("remediation run %s: %d events lost", run_id, stream.dropped)
        return self._finish(run_id, outcome)

    def _finish(self, run_id: int, outcome: RunOutcome) -> RunOutcome | None:
        now = self.now()
        try:
            with self.sessions() as s, s.begin():
                write_session(s)
                run = runs.finish(s, run_id, self._holder, outcome, now)
                if run is None:
                    return None
                self._audit_end(s, run, now)
                workflow.run_finished(s, self._settings, run, now)
                runs.settle_targets(s, run, now)
        except Exception:
            # The run must not stay "running": store its end alone; the job is left to the
            # operator (and the error to the log).
            log.exception("remediation run %s: moving its job on failed", run_id)
            with self.sessions() as s, s.begin():
                write_session(s)
                run = runs.finish(s, run_id, self._holder, outcome, now)
                if run is not None:
                    self._audit_end(s, run, now)
                    runs.settle_targets(s, run, now)
        log.info(
            "remediation run %s %s%s",
            run_id,
            outcome.state,
            f": {outcome.error}" if outcome.error else "",
        )
        return outcome

    @staticmethod
    def _audit_end(s: Session, run: RemediationRun, now: datetime) -> None:
        audit.record(
            s,
            ACTOR,
            "remediation.run.finished",
            f"remediation:{run.job_id}",
            {
                "run": run.id,
                "mode": run.mode,
                "state": run.state,
                "status": run.status_text,
                "rc": run.rc,
                "error": run.error,
            },
            at=now,
        )
