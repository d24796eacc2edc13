"""Delivering what is due: one pass (:func:`deliver_due`), run periodically by ``govguard serve``
(:class:`Runner`) or from cron (``govguard notify run-once``).

A pass claims due rows, sends one e-mail or webhook call per batch (a critical notice alone, a
digest per recipient), and records each outcome: sent; queued again with exponential back-off;
or failed for good (a permanent error, or ``max_attempts`` used up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from controller.notify import attachments, mail, webhook
from controller.notify.config import NotifyConfig, SecretError, read_secret
from controller.notify.content import Attachment, DeliveryError, Item, mail_text, webhook_body
from controller.notify.digest import batches
from controller.store import notifications as store
from controller.store.models import Notification

log = logging.getLogger(__name__)

#: The longest back-off between two attempts.
MAX_BACKOFF = timedelta(hours=6)
#: A claim's lease before its sends are counted in.
_LEASE_MIN = timedelta(seconds=60)


@dataclass
class PassResult:
    """What one pass did, counted in rows (a digest of three notices sent counts 3)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def worker_id() -> str:
    """A name unique to this pass: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def backoff(config: NotifyConfig, attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    seconds = config.retry_base_s * 2 ** min(max(attempts - 1, 0), 20)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def deliver_due(
    sessions: sessionmaker[Session],
    config: NotifyConfig,
    data_dir: Path,
    *,
    now: datetime | None = None,
    limit: int = 500,
) -> PassResult:
    """Send every due delivery once (up to ``limit`` rows) and record the outcomes.

    Safe to run in several processes at once: each row is claimed by one of them.
    """
    now = now or datetime.now(UTC)
    me = worker_id()
    with sessions() as s:
        # Most passes find nothing: do not take SQLite's write lock from ingest for that.
        if not store.any_due(s, now):
            return PassResult()
    with sessions() as s:
        rows = store.claim_due(s, worker=me, now=now, lease=_LEASE_MIN, limit=limit)
        planned = batches(rows)
        if rows:
            # The claim must outlive the slowest pass (every send timing out), or another
            # process would take the rows over and send them a second time.
            per_send = 2 * _longest_timeout(config) + 5
            until = now + _LEASE_MIN + timedelta(seconds=per_send * len(planned))
            store.extend_claim(s, [row.id for row in rows], worker=me, until=until)
        s.commit()
    result = PassResult()
    for batch in planned:
        ids = [row.id for row in batch]
        failure = _attempt(batch, config, data_dir, sessions)
        if failure is not None:
            attempts = max(row.attempts for row in batch)
            error = str(failure)[:1000]
            with sessions() as s:
                if failure.permanent or attempts >= config.max_attempts:
                    store.mark_failed(s, ids, worker=me, error=error)
                    result.failed += len(ids)
                    log.error("notification to %s failed for good: %s", batch[0].recipient, error)
                else:
                    retry_at = now + backoff(config, attempts)
                    store.mark_retry(s, ids, worker=me, error=error, retry_at=retry_at)
                    result.retried += len(ids)
                    log.warning("notification to %s will be retried: %s", batch[0].recipient, error)
                s.commit()
            continue
        with sessions() as s:
            store.mark_sent(s, ids, worker=me, now=datetime.now(UTC))
            s.commit()
        result.sent += len(ids)
    return result


def _attempt(
    batch: list[Notification],
    config: NotifyConfig,
    data_dir: Path,
    sessions: sessionmaker[Session],
) -> DeliveryError | None:
    """Send one batch; the error, or None when it was delivered."""
    try:
        _send(batch, config, data_dir, sessions)
    except DeliveryError as exc:
        return exc
    except Exception as exc:
        # A bug must not leave the rows claimed until their lease ends: they are retried.
        log.exception("notification to %s: unexpected error", batch[0].recipient)
        return DeliveryError(f"internal error: {type(exc).__name__}: {exc}")
    return None


def _longest_timeout(config: NotifyConfig) -> float:
    timeouts = [hook.timeout_s for hook in config.webhooks]
    if config.smtp is not None:
        timeouts.append(config.smtp.timeout_s)
    return max(timeouts, default=30.0)


def _item(row: Notification) -> Item:
    return Item(
        key=row.event_key,
        unit_id=row.unit_id,
        severity=row.severity,
        kind=row.kind,
        subject=row.subject,
        body=row.body,
        data=row.data,
        occurred_at=row.occurred_at,
    )


def _send(
    batch: list[Notification],
    config: NotifyConfig,
    data_dir: Path,
    sessions: sessionmaker[Session],
) -> None:
    first = batch[0]
    items = [_item(row) for row in batch]
    # Files are read (and their digests checked) only for e-mail: a webhook gets the reference.
    files = attachments.load(sessions, data_dir, items) if first.channel == "email" else []
    # The delivery id names the first row: stable across retries of the same batch.
    delivery = first.dedupe_key if len(batch) == 1 else f"digest|{first.id}|{len(batch)}"
    send_items(
        config,
        data_dir,
        first.channel,
        first.recipient,
        items,
        lang=first.language,
        digest=first.digest,
        delivery=delivery,
        attachments=files,
    )


def send_items(
    config: NotifyConfig,
    data_dir: Path,
    channel: str,
    recipient: str,
    items: list[Item],
    *,
    lang: str,
    digest: bool,
    delivery: str,
    attachments: Sequence[Attachment] = (),
) -> None:
    """Send ``items`` as one e-mail or one webhook call; :class:`DeliveryError` on failure.

    ``attachments`` go with an e-mail only (webhooks carry the reference in ``data``).
    """
    if channel == "email":
        if config.smtp is None:
            raise DeliveryError("no smtp section in notify:", permanent=True)
        subject, body = mail_text(items, lang, digest=digest)
        message = mail.build(
            config.smtp, recipient, subject, body, key=delivery, attachments=attachments
        )
        mail.send(config.smtp, data_dir, message)
        return
    hook = config.webhook(recipient)
    if hook is None:
        raise DeliveryError(f"no webhook named {recipient!r} in notify.webhooks", permanent=True)
    try:
        secret = read_secret(data_dir, hook.secret_file, hook.secret_env, f"webhook {hook.name}")
    except SecretError as exc:
        raise DeliveryError(str(exc)) from exc
    body_bytes = webhook_body(items, lang, digest=digest, delivery=delivery)
    ca_file = None
    if hook.ca_file is not None:
        ca_file = str(hook.ca_file if Path(hook.ca_file).is_absolute() else data_dir / hook.ca_file)
    webhook.post(
        hook.url, secret, body_bytes, delivery=delivery, timeout_s=hook.timeout_s, ca_file=ca_file
    )


class Runner:
    """Runs :func:`deliver_due` every ``interval_s`` in a thread, off the request path."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: NotifyConfig,
        data_dir: Path,
        *,
        on_pass: Callable[[PassResult | None], None] | None = None,
    ) -> None:
        """``on_pass`` hears each pass's result (None when it raised): the metrics count them."""
        self._sessions = sessions
        self._on_pass = on_pass
        self._config = config
        self._data_dir = data_dir
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the periodic task (no-op when nothing can be sent: no route, server or hook)."""
        config = self._config
        # Scheduled reports queue deliveries to their own recipients, without any route.
        sends = bool(config.routes or config.webhooks) or config.smtp is not None
        if sends and self._task is None:
            self._stop.clear()
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def aclose(self) -> None:
        """Stop; a pass in progress finishes first (its rows are claimed, never half-sent)."""
        if self._task is not None:
            self._stop.set()
            await self._task
            self._task = None

    async def _loop(self) -> None:
        while not self._stop.is_set():
            result: PassResult | None = None
            try:
                result = await asyncio.to_thread(
                    deliver_due, self._sessions, self._config, self._data_dir
                )
            except Exception:
                # A database outage must not end the loop; the next pass tries again.
                log.exception("notification pass failed")
            if self._on_pass is not None:
                self._on_pass(result)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._config.interval_s)
