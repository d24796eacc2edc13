"""Notifications: e-mail over SMTP and signed webhooks, per unit and severity.

Operators: docs/notifications.md.

Producers call :func:`enqueue` with a :class:`Notice`; :func:`controller.notify.worker.deliver_due`
sends what is due (``govguard serve`` runs it in the background, ``govguard notify run-once``
from cron).
"""

from controller.notify.outbox import Notice, enqueue, enqueue_direct
from controller.notify.routing import Recipient

__all__ = ["Notice", "Recipient", "enqueue", "enqueue_direct"]
