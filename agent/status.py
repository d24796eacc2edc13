"""``govguard-agent status``: enrollment, outbox and the last delivery outcome, read-only.

Safe to run while the service runs: the outbox is in WAL mode, so reading does not block it.
The outbox file is never created here (a computer that never ran the service has none), nor
checked for damage or moved aside (the service does that when it starts); an outbox that
cannot be read is one line of the status, not a failure of the command. Corrupt outboxes the
service moved aside are listed, one line each, until an administrator removes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.daemon import NotEnrolledError
from agent.errors import AgentError
from agent.i18n import Translate, english
from agent.outbox import Outbox, OutboxError, quarantined_files
from agent.state import load_state, state_paths


def read_status(state_dir: Path) -> dict[str, Any]:
    """The status as a JSON-ready mapping; :class:`NotEnrolledError` when not enrolled."""
    state = load_state(state_dir)
    if state is None:
        raise NotEnrolledError(state_dir)
    out: dict[str, Any] = {
        "agent_id": state.agent_id,
        "key_id": state.key_id,
        "controller": state.controller_url,
        "status": state.status,
        "enrolled_at": state.enrolled_at,
        "last_success_at": None,
        "last_full_acked_at": None,
        "queued": 0,
        "queued_bytes": 0,
        "queued_full": 0,
        "next_attempt_at": None,
        "dropped_heartbeats": 0,
        "dropped_full": 0,
        "rejected": 0,
        "next_seq": 1,
        "last_error": None,
        "last_error_at": None,
        "outbox_error": None,
        "quarantined": [],
        "offline": state.offline,
    }
    if state.offline:
        from agent.bundle import load_bundle_state

        try:
            counter = load_bundle_state(state_dir)
            out["last_bundle"] = {"seq": counter.prev_seq, "digest": counter.prev_digest}
        except AgentError as exc:
            out["last_bundle"] = {"error": str(exc)}
    paths = state_paths(state_dir)
    path = paths.outbox
    out["quarantined"] = [str(p) for p in quarantined_files(path)]
    if not path.exists():
        return out
    try:
        with Outbox(path, seq_ceiling=paths.seq_ceiling, quarantine=False) as outbox:
            stats = outbox.stats()
            full_acked = outbox.get("daemon.full_acked_at")
    except OutboxError as exc:
        out["outbox_error"] = str(exc)
        return out
    out.update(
        last_success_at=_stamp(stats.last_success_at),
        last_full_acked_at=_stamp(float(full_acked) if full_acked else None),
        queued=stats.queued,
        queued_bytes=stats.queued_bytes,
        queued_full=stats.queued_full,
        next_attempt_at=_stamp(stats.next_attempt_at) if stats.queued else None,
        dropped_heartbeats=stats.dropped_heartbeats,
        dropped_full=stats.dropped_full,
        rejected=stats.rejected,
        next_seq=stats.next_seq,
        last_error=stats.last_error,
        last_error_at=_stamp(stats.last_error_at),
    )
    return out


DROPPED_TEXT = "{hb} heartbeats, {full} full inventories, {rejected} refused by the controller"


def format_status(info: dict[str, Any], t: Translate = english) -> str:
    """Human-readable lines of :func:`read_status`'s mapping, in ``t``'s language."""
    never = t("never")
    queue = t("{queued} reports ({full} full), {size} bytes").format(
        queued=info["queued"], full=info["queued_full"], size=info["queued_bytes"]
    )
    if info["next_attempt_at"]:
        queue += t(", next attempt {when}").format(when=info["next_attempt_at"])
    lines = [
        (t("Agent"), t("{agent} (key {key})").format(agent=info["agent_id"], key=info["key_id"])),
        (t("Controller"), info["controller"] or t("none: offline, reports by USB bundles")),
        (
            t("Enrollment"),
            t("{status} since {when}").format(status=t(info["status"]), when=info["enrolled_at"]),
        ),
        (t("Last delivery"), info["last_success_at"] or never),
        (t("Last inventory"), info["last_full_acked_at"] or never),
        (t("Queue"), queue),
        (
            t("Dropped"),
            t(
                "{hb} heartbeats, {full} full inventories, {rejected} refused by the controller"
            ).format(
                hb=info["dropped_heartbeats"], full=info["dropped_full"], rejected=info["rejected"]
            ),
        ),
        (
            t("Last error"),
            f"{info['last_error']} ({info['last_error_at']})" if info["last_error"] else t("none"),
        ),
    ]
    bundle = info.get("last_bundle")
    if bundle is not None:
        last = bundle.get("error") or (
            t("number {seq}, SHA-256 {digest}").format(**bundle) if bundle["seq"] else never
        )
        lines.append((t("Last bundle"), last))
    if info.get("outbox_error"):
        lines.append((t("Outbox"), t("cannot be read: {error}").format(error=info["outbox_error"])))
    for moved in info.get("quarantined") or ():
        lines.append(
            (
                t("Corrupt outbox"),
                t("{path} (moved aside; its reports were not sent)").format(path=moved),
            )
        )
    width = max(len(label) for label, _ in lines)
    return "".join(f"{label.ljust(width)}  {value}\n" for label, value in lines)


def _stamp(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
