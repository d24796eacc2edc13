"""``govguard reports purge``: keep raw reports only as long as the retention period says.

The same daily run also forgets dashboard sessions and login attempts older than a month, and
removes archived report files older than ``reports.archive_days``.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from controller.auth.sessions import purge_sessions
from controller.auth.throttle import purge_attempts
from controller.commands.common import actor, now, older_than, open_store, settings
from controller.reports import archive
from controller.store import audit, reports

#: Days ended dashboard sessions and login attempts are kept by ``reports purge``.
SESSIONS_KEPT_DAYS = 30


def purge(args: argparse.Namespace) -> int:
    """Delete raw reports received before the cut-off; the latest facts of each host stay.

    Meant for a daily timer (packaging/govguard-purge.timer); safe to run from several hosts at
    once, since a report deleted twice is simply gone.
    """
    current = settings(args)
    age = older_than(args.older_than, timedelta(days=current.retention.reports_days))
    cutoff = now() - age
    # Dashboard sessions and login attempts only matter for a day; a month of them stays for
    # investigations (the audit log keeps every login for as long as it is kept).
    session_cutoff = now() - timedelta(days=SESSIONS_KEPT_DAYS)
    with open_store(current) as session:
        removed = reports.purge_reports(session, cutoff)
        sessions = purge_sessions(session, session_cutoff)
        attempts = purge_attempts(session, session_cutoff)
        # Generated compliance reports have their own, longer retention (DTI evidence).
        archive_cutoff = now() - timedelta(days=current.reports.archive_days)
        archived = archive.purge(session, current.data_dir, before=archive_cutoff)
        audit.record(
            session,
            actor(),
            "reports.purged",
            "reports",
            {
                "before": cutoff.isoformat(),
                "removed": removed,
                "sessions_removed": sessions,
                "login_attempts_removed": attempts,
                "archived_reports_removed": archived.rows,
            },
            source="cli",
        )
    print(f"removed {removed} raw reports received before {cutoff:%Y-%m-%d %H:%M}Z")
    print(
        f"removed {sessions} dashboard sessions and {attempts} login attempts older than "
        f"{SESSIONS_KEPT_DAYS} days"
    )
    print(
        f"removed {archived.rows} archived compliance reports generated before "
        f"{archive_cutoff:%Y-%m-%d %H:%M}Z"
    )
    return 0
