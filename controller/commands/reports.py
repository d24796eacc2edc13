"""``govguard reports purge``: keep raw reports only as long as the retention period says."""

from __future__ import annotations

import argparse
from datetime import timedelta

from controller import tokens
from controller.commands.common import CliError, actor, now, open_store, settings
from controller.store import audit, reports


def purge(args: argparse.Namespace) -> int:
    """Delete raw reports received before the cut-off; the latest facts of each host stay.

    Meant for a daily timer (packaging/govguard-purge.timer); safe to run from several hosts at
    once, since a report deleted twice is simply gone.
    """
    current = settings(args)
    if args.older_than is None:
        age = timedelta(days=current.retention.reports_days)
    else:
        try:
            age = tokens.parse_duration(args.older_than)
        except tokens.TokenError as exc:
            raise CliError(f"--older-than: {exc}") from exc
    cutoff = now() - age
    with open_store(current) as session:
        removed = reports.purge_reports(session, cutoff)
        audit.record(
            session,
            actor(),
            "reports.purged",
            "reports",
            {"before": cutoff.isoformat(), "removed": removed},
        )
    print(f"removed {removed} raw reports received before {cutoff:%Y-%m-%d %H:%M}Z")
    return 0
