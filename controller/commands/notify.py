"""``govguard notify test`` and ``govguard notify run-once`` (docs/notifications.md)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from controller.commands.common import (
    CliError,
    open_engine,
    open_store,
    print_table,
    settings,
    when,
)
from controller.notify.content import DeliveryError, Item
from controller.notify.worker import deliver_due, send_items

_TEST_SUBJECT = {"vi": "Thư thử nghiệm của govguard", "en": "govguard test message"}
_TEST_BODY = {
    "vi": "Nếu bạn đọc được thư này, cấu hình thông báo của govguard đã hoạt động.",
    "en": "If you can read this, govguard's notification settings work.",
}


def test(args: argparse.Namespace) -> int:
    """Send one test message now, straight to the mail server or webhook (no queue)."""
    current = settings(args)
    config = current.notify
    if args.to is not None:
        if config.smtp is None:
            raise CliError(f"{current.config_path}: notify.smtp is not configured")
        channel, recipient = "email", args.to
        if "@" not in recipient or any(c.isspace() for c in recipient):
            raise CliError(f"--to: not an e-mail address: {recipient!r}")
    else:
        if config.webhook(args.webhook) is None:
            names = ", ".join(hook.name for hook in config.webhooks) or "none configured"
            raise CliError(f"--webhook: no webhook named {args.webhook!r} ({names})")
        channel, recipient = "webhook", args.webhook
    now = datetime.now(UTC)
    item = Item(
        key=f"test:{now:%Y%m%dT%H%M%S}",
        unit_id="-",
        severity="info",
        kind="notify.test",
        subject=_TEST_SUBJECT,
        body=_TEST_BODY,
        data={},
        occurred_at=now,
    )
    try:
        send_items(
            config, current.data_dir, channel, recipient, [item],
            lang=args.lang, digest=False, delivery=item.key,
        )  # fmt: skip
    except DeliveryError as exc:
        raise CliError(f"test message to {recipient} not delivered: {exc}") from exc
    print(f"test message delivered to {recipient}")
    return 0


def run_once(args: argparse.Namespace) -> int:
    """Deliver what is due now (for cron when `govguard serve` does not run here)."""
    current = settings(args)
    from controller.store import db

    with open_engine(current) as engine:
        result = deliver_due(db.session_factory(engine), current.notify, current.data_dir)
    print(f"sent {result.sent}, to retry {result.retried}, failed {result.failed}")
    return 1 if result.failed else 0


def status(args: argparse.Namespace) -> int:
    """Deliveries per status, and the newest failures with the server's answer."""
    from controller.store import notifications

    current = settings(args)
    with open_store(current) as session:
        counts = notifications.status_counts(session)
        failed = notifications.recent(session, "failed", args.limit)
    print(
        ", ".join(
            f"{name} {counts.get(name, 0)}" for name in ("queued", "sending", "sent", "failed")
        )
    )
    if failed:
        print()
        print_table(
            ("event", "to", "attempts", "due at", "error"),
            [
                (
                    row.event_key,
                    row.recipient,
                    str(row.attempts),
                    when(row.next_attempt_at),
                    (row.last_error or "")[:120],
                )
                for row in failed
            ],
            empty="",
        )
    return 0
