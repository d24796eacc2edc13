"""Small builders for store tests: a unit, agents with unique keys, reports with gzip bodies."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from controller.store import agents, units
from controller.store.models import Agent
from controller.store.reports import NewReport

T0 = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)
UNIT = "xa-an-binh"


def make_unit(s: Session) -> str:
    """The commune every test agent belongs to."""
    units.ensure_unit(s, UNIT, "Xã An Bình", kind="commune")
    return UNIT


def make_agent(s: Session, agent_id: str, **fields: Any) -> Agent:
    """An active agent with a key derived from its id; ``fields`` override any column."""
    make_unit(s)
    public_key = hashlib.sha256(agent_id.encode()).digest()
    values: dict[str, Any] = {
        "id": agent_id,
        "key_id": hashlib.sha256(public_key).hexdigest()[:16],
        "public_key": public_key,
        "status": "active",
        "unit_id": UNIT,
        "hostname": f"pc-{agent_id[:4]}",
        "macs": ["52:54:00:12:34:56"],
        "os": "linux",
        "agent_version": "0.1.0",
        "created_at": T0,
    }
    values.update(fields)
    return agents.add_agent(s, **values)


def gz(value: object) -> bytes:
    """Gzip JSON, as agents send report bodies."""
    return gzip.compress(json.dumps(value).encode())


def full(agent_id: str, seq: int, **sections: object) -> NewReport:
    """A full report whose body is a JSON object of ``sections``."""
    body = {"kind": "full", "seq": seq, **sections}
    sent = T0 + timedelta(minutes=seq)
    return NewReport(
        agent_id=agent_id,
        seq=seq,
        report_id=f"{seq:032x}",
        kind="full",
        sent_at=sent,
        received_at=sent + timedelta(seconds=2),
        collected_at=sent - timedelta(seconds=30),
        clock_skew_s=-2.0,
        body=gz(body),
    )


def heartbeat(agent_id: str, seq: int, **sections: object) -> NewReport:
    """A heartbeat carrying ``sections`` (None: no section at all)."""
    sent = T0 + timedelta(minutes=seq)
    return NewReport(
        agent_id=agent_id,
        seq=seq,
        report_id=f"{seq:032x}",
        kind="heartbeat",
        sent_at=sent,
        received_at=sent + timedelta(seconds=1),
        collected_at=None,
        clock_skew_s=0.5,
        body=gz({"kind": "heartbeat", **sections}),
        sections_json=json.dumps(sections).encode() if sections else None,
    )
