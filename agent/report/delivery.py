"""How the agent's outbox fared since the controller last acknowledged a report.

Reports wait in the agent's outbox (``agent.outbox``) while the controller cannot be reached.
The outbox has a size cap; when it is full it drops queued heartbeats first (a newer heartbeat
supersedes them) and an inventory only when nothing else is left. Every drop is counted and the
counts travel in the next report, so the controller knows that something is missing instead of
reading a silent gap. The section is left out when there is nothing to tell.
"""

from __future__ import annotations

from typing import Annotated

from agent.report._base import Meta, Record


class Delivery(Record, kw_only=True):
    """Reports the agent's outbox lost or held back since the last acknowledged report."""

    dropped_heartbeats: Annotated[
        int,
        Meta(
            ge=0,
            description=(
                "Queued heartbeats dropped because the outbox was full (a newer heartbeat "
                "superseded them), since the last report the controller acknowledged."
            ),
        ),
    ] = 0
    dropped_full: Annotated[
        int,
        Meta(
            ge=0,
            description=(
                "Queued full inventories dropped because the outbox was full of inventories "
                "only (the oldest goes first), since the last acknowledged report."
            ),
        ),
    ] = 0
    rejected: Annotated[
        int,
        Meta(
            ge=0,
            description=(
                "Reports the controller refused as invalid (HTTP 400, 413, 422) and the agent "
                "therefore dropped, since the last acknowledged report."
            ),
        ),
    ] = 0
    queued: Annotated[
        int,
        Meta(
            ge=0,
            description=(
                "Reports waiting in the outbox ahead of this one when it was queued: a backlog "
                "the agent is still sending."
            ),
        ),
    ] = 0
