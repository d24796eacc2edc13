"""The agent's service loop: collect, queue signed reports, deliver them, obey the controller.

Every ``interval_s`` (± ``jitter``, so that a whole district does not report in the same
second) the daemon collects everything and queues either

* a **full** inventory, when the inventory changed (:func:`agent.digest.inventory_digest`
  ignores values that move on every run) or ``full_every_s`` passed since the last full one was
  queued, or when the size cap dropped the last one before the controller got it. (Measured
  from the last *queued* inventory, not the last acknowledged one, so an agent offline for a
  week queues one inventory a day instead of one every interval.) Or
* a **heartbeat**: schema version, kind, agent version, collection time and only the posture
  sections (connectivity, security) whose stable form changed since they were last queued
  (plus, then, any other posture section that still differs from the last inventory: see
  :meth:`Daemon._changed_sections`).
  Usually none, so an unchanged heartbeat is 348 bytes of payload (envelope header line and
  gzip body) and 476 bytes on the HTTP level, request and ``204`` reply together: 288 of them
  and one daily inventory come to about 148 KB a day, within the 150 KB per host per day commune
  links can afford (``bench/ingest.py`` measures it, TLS framing included; see bench/README.md).

Each report is signed when queued (:mod:`agent.envelope`, :func:`agent.keys.sign`) and kept in
the outbox (:mod:`agent.outbox`) with its header and gzip body, so a retry sends the same bytes.

Delivery sends queued reports oldest first and reads the status:

* 200 (stored or duplicate): acknowledged, deleted; settings in the reply are saved and applied;
  ``report_now`` (a remediation ran here and waits for proof) brings the next collection
  forward, a full inventory, at most one every ``REPORT_NOW_GAP_S``;
* 401/403 (unknown or revoked agent, approval pending): stop sending, keep the queue, try again
  after a long pause (an administrator has to act first);
* 400/413/422: this report can never be accepted: dropped, counted, error recorded;
* 409 ``seq_conflict`` with ``last_seq``: the controller already holds this sequence number
  for another report (the outbox was deleted or restored): every queued report is renumbered
  after ``last_seq``, signed again, and sent at once (:meth:`agent.outbox.Outbox.renumber`).
  Once per delivery round: a second conflict backs off like any other error, so a controller
  that keeps answering 409 cannot make the agent spin;
* anything else, or no answer at all: exponential backoff with full jitter (base 5 s, cap 1 h).

Every request says which settings version the agent has (``GG-Settings``); a report sent more
than 30 s after it was signed also carries the send-time clock (``GG-Clock``), otherwise the
signed envelope time already is that clock.

The collection schedule runs on a monotonic clock, so setting the wall clock (by hand, or an
NTP step after days on a dead CMOS battery) neither delays collections by the hours it went
back nor fires them early when it jumps ahead. The wall clock is used only for what the
controller reads (envelope times, ``GG-Clock``) and for the outbox's retry times, which the
outbox already treats as due when they lie beyond any backoff (the clock went back).

SIGTERM/SIGINT stop the loop between two steps (never in the middle of a database write).
The clocks, the sleep, the collector, the transport and the random source are parameters, so the
tests run the real loop against a real HTTPS server without waiting for real.
"""

from __future__ import annotations

import gzip
import logging
import random
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import msgspec

from agent import __version__
from agent.config import AgentConfig, ProbeConfig
from agent.digest import POSTURE_SECTIONS, inventory_digest, posture_digests
from agent.envelope import Envelope, body_digest, new_report_id, to_header, utc_stamp
from agent.errors import AgentError
from agent.outbox import MAX_RETRY_WAIT_S, Dropped, Item, Outbox
from agent.report import SCHEMA_VERSION, Delivery, Report, encode
from agent.state import (
    AgentState,
    load_key,
    load_state,
    save_state,
    state_paths,
    write_atomic,
)
from agent.transport import Reply, Transport, TransportError
from agent.wire import CLOCK_HEADER, SETTINGS_HEADER, AgentSettings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 5.0
BACKOFF_CAP_S = 3600.0
#: After 401/403 nothing changes until an administrator acts (approve, re-enroll): ask rarely.
AUTH_RETRY_S = 3600.0
#: A report sent later than this after it was signed carries ``GG-Clock``.
CLOCK_AFTER_S = 30.0
#: Bounds on the collection interval the controller may set.
MIN_INTERVAL_S = 60
MAX_INTERVAL_S = 86400
#: Never spin: the loop sleeps at least this long between two rounds.
MIN_SLEEP_S = 1.0
#: ``report_now`` never makes the agent collect more often than this (seconds).
REPORT_NOW_GAP_S = 10.0
#: Statuses that mean "this report is wrong and will always be": drop it.
REJECTED = frozenset({400, 413, 422})
AUTH_REFUSED = frozenset({401, 403})
# 401 codes that concern one report only (its digest, signature or envelope), not the agent: that
# report is dropped like a 400 so it does not block the reports queued behind it.
REPORT_REFUSED_CODES = frozenset({"bad_digest", "bad_signature", "bad_envelope"})
#: The controller holds this (agent, seq) for another report; its reply names its ``last_seq``.
SEQ_CONFLICT = (409, "seq_conflict")
#: Sequence numbers are signed 64-bit at the controller.
MAX_SEQ = 2**63 - 1

# Keys of the outbox's meta table where the daemon remembers what it queued last.
_FULL_DIGEST = "daemon.full_digest"
_FULL_AT = "daemon.full_queued_at"
_FULL_ACKED_AT = "daemon.full_acked_at"
_POSTURE = "daemon.posture."
_FULL_POSTURE = "daemon.full_posture."
# The controller asked for a full report now; kept until one is queued, so a restart (or a
# `run --once-cycle`) between the reply and the next collection does not lose the request.
_REPORT_NOW = "daemon.report_now"


class Sender(Protocol):
    """What delivery needs from :class:`agent.transport.Transport`."""

    def post_report(
        self, envelope_header: str, body: bytes, extra_headers: Mapping[str, str] | None = None
    ) -> Reply:
        """POST one signed report."""
        ...


def backoff_delay(
    attempt: int, rng: random.Random, *, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S
) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = first retry): full jitter.

    Uniform in ``[0, min(cap, base * 2**(attempt-1))]``: spreading retries over the whole window
    keeps a district's agents from hammering a controller that just came back all at once.
    """
    ceiling = min(cap, base * 2.0 ** min(max(attempt, 1) - 1, 30))
    return rng.uniform(0.0, ceiling)


def collect_fresh(config: AgentConfig) -> Report:
    """Collect a full report, forgetting what the previous collection cached."""
    from agent.collectors import collect_report
    from agent.platform import _portable

    _portable.clear_cache()
    if sys.platform == "win32":
        from agent.platform._windows import _ps

        _ps.clear_cache()
    return collect_report(config)


def heartbeat_report(report: Report, sections: Sequence[str], delivery: Delivery | None) -> Report:
    """The heartbeat sent instead of ``report``: its collection time and only ``sections``.

    A posture collector that failed leaves its section out; its error entries go with the
    heartbeat so the controller knows why.
    """
    out = Report(
        schema_version=SCHEMA_VERSION,
        kind="heartbeat",
        agent_version=__version__,
        collected_at=report.collected_at,
        delivery=delivery,
    )
    for name in sections:
        setattr(out, name, getattr(report, name))
    out.errors = [e for e in report.errors if e.collector in sections]
    return out


def gzip_body(report: Report) -> bytes:
    """The report as sent: compact JSON, gzip level 9, no timestamp in the gzip header."""
    return gzip.compress(encode(report), compresslevel=9, mtime=0)


@dataclass
class Cycle:
    """What one collect-and-deliver round did (for ``--once-cycle`` and tests)."""

    queued_seq: int | None = None
    queued_kind: str | None = None
    queued_bytes: int = 0
    sections: tuple[str, ...] = ()
    acked: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    #: ``(old, new)`` sequence numbers after a ``409 seq_conflict``.
    renumbered: list[tuple[int, int]] = field(default_factory=list)
    error: str | None = None
    sent_bytes: int = 0
    received_bytes: int = 0


class Daemon:
    """The service loop of one enrolled agent."""

    def __init__(
        self,
        state_dir: Path,
        *,
        state: AgentState,
        key: Ed25519PrivateKey,
        outbox: Outbox,
        sender: Sender,
        config: AgentConfig | None = None,
        collect: Callable[[AgentConfig], Report] = collect_fresh,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """Wire the loop; nothing runs before :meth:`run` or :meth:`cycle`.

        ``clock`` is the wall clock (report times, retry times); ``monotonic`` measures the
        collection schedule.
        """
        self.state_dir = state_dir
        self.state = state
        self.key = key
        self.outbox = outbox
        self.sender = sender
        self.local_config = config or AgentConfig()
        self.config = self.local_config
        self.collect = collect
        self.clock = clock
        self.monotonic = monotonic
        self._stop = threading.Event()
        # Default sleep wakes up at once when stop() is called (signal handler).
        self.sleep: Callable[[float], object] = sleep or self._stop.wait
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.settings = AgentSettings()
        #: The controller asked for a full report now (``report_now`` in an ingest reply).
        self.report_now = outbox.get(_REPORT_NOW) is not None
        # The last settings reported as clamped, so the same clamping is logged only once.
        self._clamp_logged: AgentSettings | None = None
        self._load_settings()

    # -- control ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to stop after the current step (safe from a signal handler)."""
        self._stop.set()

    def close(self) -> None:
        """Close the outbox and the connection to the controller."""
        self.outbox.close()
        close = getattr(self.sender, "close", None)
        if callable(close):
            close()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    def next_interval(self) -> float:
        """Seconds until the next collection: ``interval_s`` ± ``jitter``."""
        jitter = self.settings.jitter
        return self.settings.interval_s * (1.0 + self.rng.uniform(-jitter, jitter))

    def run(self, *, once: bool = False) -> Cycle | None:
        """Collect and deliver until stopped; with ``once``, one round only (returned)."""
        next_collect = self.monotonic()
        collected = -REPORT_NOW_GAP_S
        while not self.stopping:
            cycle = Cycle()
            started = self.monotonic()
            if started >= next_collect:
                self.collect_and_queue(cycle)
                next_collect = started + self.next_interval()
                collected = started
            if not self.stopping:
                self.deliver(cycle)
            if once:
                return cycle
            if self.report_now:
                # Not in a tight loop even if every reply asked: one collection per gap.
                next_collect = min(next_collect, collected + REPORT_NOW_GAP_S)
            wait = next_collect - self.monotonic()
            due = self.outbox.stats().next_attempt_at
            if due is not None:
                retry_in = due - self.clock()
                # Beyond any backoff: the wall clock went back, and the outbox sends it now.
                wait = min(wait, 0.0 if retry_in > MAX_RETRY_WAIT_S else retry_in)
            # Capped, so that settings or a retry time can never put the agent to sleep for
            # longer than one collection interval.
            longest = self.settings.interval_s * (1.0 + self.settings.jitter)
            self.sleep(min(max(wait, MIN_SLEEP_S), longest))
        return None

    def cycle(self) -> Cycle:
        """One collection and one delivery round."""
        cycle = Cycle()
        self.collect_and_queue(cycle)
        if not self.stopping:
            self.deliver(cycle)
        return cycle

    # -- collect and queue ------------------------------------------------------------------

    def collect_and_queue(self, cycle: Cycle) -> None:
        """Collect, decide full or heartbeat, sign and queue."""
        try:
            report = self.collect(self.config)
        except Exception as exc:  # a collector bug must not stop the service
            log.exception("collection failed")
            cycle.error = f"collection failed: {exc!r:.200}"
            self.outbox.note_error(cycle.error, now=self.clock())
            return
        now = self.clock()
        inventory = inventory_digest(report)
        posture = posture_digests(report)
        full_at = self.outbox.get(_FULL_AT)
        full = (
            self.report_now
            or inventory != self.outbox.get(_FULL_DIGEST)
            or full_at is None
            or now - float(full_at) >= self.settings.full_every_s
        )
        delivery = self.outbox.delivery()
        if full:
            sections = tuple(POSTURE_SECTIONS)
            out = msgspec.structs.replace(report, kind="full", delivery=delivery)
        else:
            sections = self._changed_sections(posture)
            out = heartbeat_report(report, sections, delivery)
        body = gzip_body(out)
        kind = out.kind
        # What was queued is remembered in the same transaction as the report itself, so a
        # crash can neither lose a change nor make the daemon believe it sent one.
        remember: dict[str, str | None] = {_POSTURE + name: posture[name] for name in sections}
        if full:
            remember.update({_FULL_DIGEST: inventory, _FULL_AT: repr(now), _REPORT_NOW: None})
            remember.update({_FULL_POSTURE + name: posture[name] for name in sections})
        seq, dropped = self.outbox.put(
            kind, body, self._sealer(kind, body, now), now=now, sections=sections, meta=remember
        )
        cycle.queued_seq, cycle.queued_kind, cycle.sections = seq, kind, sections
        cycle.queued_bytes = len(body)
        if full and self.report_now:
            self.report_now = False
            log.info("full report queued at the controller's request (report now)")
        log.info("queued %s report #%d (%d bytes, sections %s)", kind, seq, len(body), sections)
        self._forget(dropped, cycle, sent_now=sections)

    def _changed_sections(self, posture: Mapping[str, str]) -> tuple[str, ...]:
        """The posture sections a heartbeat carries: none when nothing changed since the last
        report, otherwise every one that differs from the last full inventory.

        The controller keeps the newest heartbeat's sections as one overlay on the full
        report (a heartbeat without sections leaves it alone). A heartbeat that carried only
        the section that just changed would wipe an earlier heartbeat's other section from
        that overlay, so a heartbeat with news repeats whatever else still differs.
        """
        changed = [n for n in POSTURE_SECTIONS if posture[n] != self.outbox.get(_POSTURE + n)]
        if not changed:
            return ()
        return tuple(
            n
            for n in POSTURE_SECTIONS
            if n in changed or posture[n] != self.outbox.get(_FULL_POSTURE + n)
        )

    def _sealer(self, kind: str, body: bytes, now: float) -> Callable[[int], tuple[str, str]]:
        from agent import keys

        digest = body_digest(body)
        stamp = utc_stamp(datetime.fromtimestamp(now, UTC))

        def seal(seq: int) -> tuple[str, str]:
            report_id = new_report_id()
            env = Envelope(
                agent_id=self.state.agent_id,
                key_id=self.state.key_id,
                seq=seq,
                report_id=report_id,
                time=stamp,
                kind=kind,
                digest=digest,
            )
            return report_id, to_header(keys.sign(self.key, env))

        return seal

    def _reseal(self, item: Item, seq: int) -> str:
        """``item``'s envelope signed again for sequence number ``seq``.

        Same report id, kind, body digest and time (the envelope time is the queuing time,
        which the outbox keeps as ``created_at``), so only the number and signature change.
        """
        from agent import keys

        env = Envelope(
            agent_id=self.state.agent_id,
            key_id=self.state.key_id,
            seq=seq,
            report_id=item.report_id,
            time=utc_stamp(datetime.fromtimestamp(item.created_at, UTC)),
            kind=item.kind,
            digest=body_digest(item.body),
        )
        return to_header(keys.sign(self.key, env))

    def _forget(self, dropped: list[Dropped], cycle: Cycle, sent_now: tuple[str, ...]) -> None:
        """Reports the size cap dropped before the controller got them: send their content again.

        A dropped heartbeat's sections are marked unsent, so the next heartbeat carries them
        even if they did not change again; a dropped inventory is queued again at the next
        collection unless another one is still on its way.
        """
        if not dropped:
            return
        cycle.dropped.extend(dropped)
        for item in dropped:
            log.warning("outbox dropped %s report #%d", item.kind, item.seq)
            for name in item.sections:
                if name not in sent_now:  # the report just queued carries it anyway
                    self.outbox.set(_POSTURE + name, None)
        if any(d.kind == "full" for d in dropped) and self.outbox.stats().queued_full == 0:
            # No inventory left on its way: the next collection queues one.
            self.outbox.set(_FULL_DIGEST, None)

    # -- deliver ----------------------------------------------------------------------------

    def deliver(self, cycle: Cycle) -> None:
        """Send due reports, oldest first, until the queue is empty, one fails or we stop."""
        renumbered = False
        while not self.stopping:
            now = self.clock()
            item = self.outbox.next_due(now)
            if item is None:
                return
            headers = {SETTINGS_HEADER: str(self.settings.version)}
            if now - item.created_at >= CLOCK_AFTER_S:
                # A report sent when it was signed already carries the clock in its envelope
                # time; only a delayed one needs the send-time clock for the skew estimate
                # (30 bytes saved on each of ~288 heartbeats a day).
                headers[CLOCK_HEADER] = utc_stamp(datetime.fromtimestamp(now, UTC))
            try:
                reply = self.sender.post_report(item.header, item.body, headers)
            except TransportError as exc:
                self._retry(item, str(exc), cycle)
                return
            cycle.sent_bytes += reply.sent_bytes
            cycle.received_bytes += reply.received_bytes
            if reply.status in (200, 204):  # 204: stored, settings current
                self.outbox.ack(item.seq, now=self.clock())
                if item.kind == "full":
                    self.outbox.set(_FULL_ACKED_AT, repr(self.clock()))
                cycle.acked.append(item.seq)
                if reply.data.get("report_now") is True:
                    self.report_now = True
                    self.outbox.set(_REPORT_NOW, "1")
                self._apply_settings(reply.data.get("settings"))
                self._approved()
                continue
            error = _describe(reply)
            if (reply.status, reply.data.get("error")) == SEQ_CONFLICT and not renumbered:
                renumbered = True
                if self._renumber(item, reply.data.get("last_seq"), cycle):
                    continue  # the same report under its new number, at once
            if reply.status in REJECTED or (
                reply.status in AUTH_REFUSED and reply.data.get("error") in REPORT_REFUSED_CODES
            ):
                log.error("controller refused report #%d for good: %s", item.seq, error)
                self.outbox.reject(item.seq, error, now=self.clock())
                cycle.rejected.append(item.seq)
                # Not _forget: the same content would be refused again, so it is sent again
                # only when it changes (or with the next daily inventory); the refusal is
                # counted in the next report's delivery section.
                continue
            if reply.status in AUTH_REFUSED:
                # Revoked, unknown or waiting for approval: nothing we send can succeed until an
                # administrator acts. Keep the queue, ask again much later.
                log.error("controller refuses this agent: %s", error)
                retry_at = self.clock() + AUTH_RETRY_S * self.rng.uniform(0.9, 1.1)
                self.outbox.fail(item.seq, error, retry_at, now=self.clock())
                cycle.error = error
                return
            self._retry(item, error, cycle)
            return

    def _renumber(self, item: Item, last_seq: object, cycle: Cycle) -> bool:
        """Renumber the queue after the controller's ``last_seq``; False if it cannot be done."""
        queued = self.outbox.stats().queued
        if (
            not isinstance(last_seq, int)
            or isinstance(last_seq, bool)
            or not 0 <= last_seq <= MAX_SEQ - queued
        ):
            log.warning(
                "report #%d: the controller reports a sequence conflict without a usable "
                "last_seq (%r); retrying later",
                item.seq,
                last_seq,
            )
            return False
        moves = self.outbox.renumber(last_seq + 1, self._reseal)
        if not moves:
            return False
        cycle.renumbered.extend(moves)
        log.warning(
            "the controller already has reports up to #%d from this agent (was the outbox "
            "deleted or restored from a backup?): renumbered %d queued reports, #%d..#%d are "
            "now #%d..#%d",
            last_seq,
            len(moves),
            moves[0][0],
            moves[-1][0],
            moves[0][1],
            moves[-1][1],
        )
        return True

    def _approved(self) -> None:
        """A report was accepted, so an agent enrolled as pending has been approved since."""
        if self.state.status == "active":
            return
        self.state = msgspec.structs.replace(self.state, status="active")
        try:
            save_state(self.state_dir, self.state)
        except AgentError as exc:
            log.warning("approved, but cannot record it: %s", exc)
        log.info("the controller accepts this agent now (approved)")

    def _retry(self, item: Item, error: str, cycle: Cycle) -> None:
        now = self.clock()
        delay = backoff_delay(item.attempts + 1, self.rng)
        log.warning("report #%d not delivered (%s); retry in %.0f s", item.seq, error, delay)
        self.outbox.fail(item.seq, error, now + delay, now=now)
        cycle.error = error

    # -- settings ---------------------------------------------------------------------------

    def _load_settings(self) -> None:
        path = state_paths(self.state_dir).settings
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("%s: cannot read saved settings: %s", path, exc.strerror)
            return
        try:
            settings = msgspec.json.decode(data, type=AgentSettings)
        except msgspec.DecodeError as exc:
            log.warning("%s: ignoring invalid saved settings: %s", path, exc)
            return
        self._use(settings)

    def _apply_settings(self, raw: object) -> None:
        """Adopt the settings of a 200 reply (present only when our version is outdated)."""
        if raw is None:
            return
        try:
            settings = msgspec.convert(raw, type=AgentSettings)
        except msgspec.ValidationError as exc:
            log.warning("ignoring invalid settings from the controller: %s", exc)
            return
        if not self._use(settings):
            return
        path = state_paths(self.state_dir).settings
        try:
            write_atomic(path, msgspec.json.encode(settings) + b"\n", mode=0o600)
        except AgentError as exc:
            log.warning("settings applied but not saved: %s", exc)
        log.info("settings version %d applied", settings.version)

    def _use(self, settings: AgentSettings) -> bool:
        """Apply ``settings``, timings clamped to sane bounds; False when the probes are invalid.

        Clamped rather than refused: a refused version would be sent again with every reply.
        """
        interval = min(max(settings.interval_s, MIN_INTERVAL_S), MAX_INTERVAL_S)
        clamped = msgspec.structs.replace(
            settings,
            interval_s=interval,
            full_every_s=max(settings.full_every_s, interval),
            jitter=min(max(settings.jitter, 0.0), 0.5),
        )
        if clamped != settings and settings != self._clamp_logged:
            # Defence only (the controller refuses such values): info, once per version.
            self._clamp_logged = settings
            log.info(
                "settings out of bounds (interval %d..%d s), using %s",
                MIN_INTERVAL_S,
                MAX_INTERVAL_S,
                clamped,
            )
        settings = clamped
        config = self.local_config
        if settings.probes is not None:
            try:
                probes = msgspec.convert(settings.probes, type=ProbeConfig)
            except (msgspec.ValidationError, ValueError) as exc:
                log.warning("ignoring invalid probe settings from the controller: %s", exc)
                return False
            config = msgspec.structs.replace(config, probes=probes)
        self.settings = settings
        self.config = config
        return True


def _describe(reply: Reply) -> str:
    code = reply.data.get("error")
    message = reply.data.get("message")
    text = f"HTTP {reply.status}"
    if isinstance(code, str):
        text += f" {code}"
    if isinstance(message, str):
        text += f": {message[:200]}"
    return text


def open_daemon(state_dir: Path, config: AgentConfig | None = None) -> Daemon:
    """A :class:`Daemon` for the enrolled agent in ``state_dir``; AgentError when not enrolled."""
    state = load_state(state_dir)
    if state is None:
        raise NotEnrolledError(state_dir)
    if state.offline:
        # A classified computer must never be on a network (Law 29/2018 Art. 5).
        raise AgentError(
            "this computer is enrolled offline: it never contacts the controller; "
            "carry its reports with `govguard-agent export --to DIR`"
        )
    paths = state_paths(state_dir)
    key = load_key(state_dir)
    transport = Transport(state.controller_url, paths.ca, server_hostname=state.server_hostname)
    return Daemon(
        state_dir,
        state=state,
        key=key,
        outbox=Outbox(paths.outbox, seq_ceiling=paths.seq_ceiling),
        sender=transport,
        config=config,
    )


class NotEnrolledError(AgentError):
    """The state directory has no identity: ``govguard-agent enroll`` first."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(
            f"this computer is not enrolled ({state_paths(state_dir).identity} is missing); "
            "run `govguard-agent enroll` first"
        )


__all__ = [
    "AUTH_RETRY_S",
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
    "MAX_SEQ",
    "SEQ_CONFLICT",
    "Cycle",
    "Daemon",
    "NotEnrolledError",
    "Sender",
    "backoff_delay",
    "collect_fresh",
    "gzip_body",
    "heartbeat_report",
    "open_daemon",
]
