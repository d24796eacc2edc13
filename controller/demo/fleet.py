"""The demo's simulated office PCs: chosen from the organisation file, enrolled and reporting
through the agent's own code.

Every live, non-classified computer of the file (desktops, laptops, all-in-ones with a MAC)
becomes a :class:`~controller.demo.reports.SimulatedPc` with a seeded set of faults (about half
the fleet has none). Each one has a state directory of its own: an Ed25519 key made by
:func:`agent.enrollment.enroll` with a real token of its unit, an outbox, and the pinned CA.
A round hands each PC's report to :class:`agent.daemon.Daemon`, which decides full or
heartbeat, signs it, queues it and delivers it over :class:`agent.transport.Transport`, as
the agent service does. Rounds run on a few threads; a PC that fails is counted and tried
again at the next round.
"""

from __future__ import annotations

import logging
import random
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from urllib3.exceptions import InsecureRequestWarning

from agent.daemon import Daemon
from agent.enrollment import enroll
from agent.errors import AgentError
from agent.outbox import Outbox
from agent.state import load_key, load_state, state_paths
from agent.transport import Transport
from controller.demo.reports import FAULTS, SimulatedPc, build_report, identity
from controller.inventory.records import Record

log = logging.getLogger(__name__)

#: Asset kinds the demo plays an agent for.
COMPUTER_KINDS = frozenset({"desktop", "laptop", "all_in_one"})
#: Share of the fleet without any fault.
COMPLIANT_SHARE = 0.5
#: Share of the fleet running Linux (the others run Windows).
LINUX_SHARE = 0.12
#: Threads that enroll and deliver at once (the controller batches the writes).
THREADS = 4


def plan_fleet(assets: Mapping[str, Record], *, seed: int = 2026) -> list[SimulatedPc]:
    """A simulated PC for every live, non-classified computer with a MAC, in asset order."""
    fleet = []
    for asset_id in sorted(assets):
        asset = assets[asset_id]
        if (
            asset["kind"] not in COMPUTER_KINDS
            or asset["classification"] != "normal"
            or asset["state"] != "in_use"
            or not asset["macs"]
        ):
            continue
        rng = random.Random(f"{seed}:{asset_id}")  # noqa: S311 - a stable demo, not a secret
        tags = tuple(asset.get("tags") or ())
        purchased = asset.get("purchased_at")
        connection = asset.get("connection") or {}
        fleet.append(
            SimulatedPc(
                asset_id=asset_id,
                unit_id=str(asset["unit_id"]),
                hostname=str(asset.get("hostname") or asset_id.upper()),
                kind=str(asset["kind"]),
                macs=tuple(asset["macs"]),
                serial=asset.get("serial"),
                machine_id=asset.get("machine_id"),
                model=asset.get("model"),
                purchased_at=purchased if isinstance(purchased, date) else None,
                family="linux" if rng.random() < LINUX_SHARE else "windows",
                faults=_faults(rng, str(asset["kind"]), tags),
                tags=tags,
                address=connection.get("address"),
            )
        )
    return fleet


def _faults(rng: random.Random, kind: str, tags: Sequence[str]) -> frozenset[str]:
    if rng.random() < COMPLIANT_SHARE:
        return frozenset()
    possible = [
        fault
        for fault in FAULTS
        if (fault != "unencrypted_laptop" or kind == "laptop")
        and (fault != "signing_certificate_expiring" or "signing-pc" in tags)
    ]
    return frozenset(rng.sample(possible, rng.choice((1, 1, 1, 2, 2, 3))))


@dataclass(frozen=True)
class RoundResult:
    """What one round of the fleet did."""

    enrolled: int
    delivered: int
    failed: int
    #: The first few failures, for the log.
    errors: tuple[str, ...]
    seconds: float = 0.0


class Fleet:
    """The simulated PCs of one demo and their state directories under ``base``."""

    def __init__(
        self,
        pcs: Sequence[SimulatedPc],
        base: Path,
        controller_url: str,
        token_for: Callable[[str], str],
    ) -> None:
        """``token_for(unit_id)`` gives an enrollment token of that unit (made on demand)."""
        self.pcs = list(pcs)
        self.base = base
        self.controller_url = controller_url
        self._token_for = token_for

    def state_dir(self, pc: SimulatedPc) -> Path:
        """Where ``pc`` keeps its key, identity and outbox."""
        return self.base / pc.asset_id

    def agent_ids(self) -> list[str]:
        """The agent ids of the PCs enrolled so far."""
        ids = []
        for pc in self.pcs:
            state = load_state(self.state_dir(pc))
            if state is not None:
                ids.append(state.agent_id)
        return ids

    def run_round(self, stop: threading.Event | None = None) -> RoundResult:
        """Enroll the PCs not enrolled yet, then let every PC collect and deliver once
        (the PCs not started yet are skipped once ``stop`` is set)."""
        stop = stop or threading.Event()
        # The enrollment's one unverified request (the CA, checked against the token's
        # fingerprint) silences urllib3's warning with catch_warnings, which is not thread-safe:
        # with several PCs enrolling at once the warning would leak to the terminal.
        warnings.filterwarnings("ignore", category=InsecureRequestWarning)
        self.base.mkdir(parents=True, exist_ok=True)
        # Tokens are made up front, one per unit, so the threads only talk HTTPS.
        waiting = [pc for pc in self.pcs if load_state(self.state_dir(pc)) is None]
        tokens = {unit: self._token_for(unit) for unit in sorted({pc.unit_id for pc in waiting})}
        with ThreadPoolExecutor(THREADS, thread_name_prefix="demo-fleet") as pool:
            outcomes = list(
                pool.map(
                    lambda pc: (False, None) if stop.is_set() else self._one(pc, tokens), self.pcs
                )
            )
        errors = tuple(error for _, error in outcomes if error)
        return RoundResult(
            enrolled=sum(1 for pc in waiting if load_state(self.state_dir(pc)) is not None),
            delivered=sum(1 for ok, _ in outcomes if ok),
            failed=len(errors),
            errors=errors[:5],
        )

    def _one(self, pc: SimulatedPc, tokens: Mapping[str, str]) -> tuple[bool, str | None]:
        state_dir = self.state_dir(pc)
        try:
            state = load_state(state_dir)
            if state is None:
                state = enroll(
                    self.controller_url, tokens[pc.unit_id], state_dir, identity=identity(pc)
                )
            if state.status != "active":
                return False, f"{pc.hostname}: enrollment is {state.status}"
            paths = state_paths(state_dir)
            daemon = Daemon(
                state_dir,
                state=state,
                key=load_key(state_dir),
                outbox=Outbox(paths.outbox, seq_ceiling=paths.seq_ceiling),
                sender=Transport(
                    state.controller_url, paths.ca, server_hostname=state.server_hostname
                ),
                collect=lambda _config: build_report(pc),
            )
            try:
                cycle = daemon.cycle()
                left = daemon.outbox.stats().queued
            finally:
                daemon.close()
        except (AgentError, OSError) as exc:
            return False, f"{pc.hostname}: {exc}"
        if cycle.error or left:
            return False, f"{pc.hostname}: {cycle.error or f'{left} report(s) still queued'}"
        return True, None
