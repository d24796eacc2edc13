"""Agent credentials cached for a few seconds (one lookup per agent, not per heartbeat)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from controller.store.agents import AgentCredentials

#: Several controller processes share one database, so an agent revoked through another process
#: (or the CLI) is only seen here when this cache entry expires: revocation takes effect within
#: this many seconds. Short enough for that, long enough to spare the database one query per
#: heartbeat (thousands per second at peak).
CREDENTIALS_TTL_S: Final = 3.0
#: Bound on cached agents; past it the cache starts over (a flood of distinct agent ids must not
#: grow memory without limit).
CREDENTIALS_MAX: Final = 200_000


class CredentialCache:
    """Agent credentials by agent id, each kept for a few seconds (see ``CREDENTIALS_TTL_S``).

    Used from the event loop thread only. Unknown agents are not cached, so an agent enrolled a
    moment ago is found at once.
    """

    def __init__(
        self,
        ttl_s: float = CREDENTIALS_TTL_S,
        max_entries: int = CREDENTIALS_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, AgentCredentials]] = {}

    def get(self, agent_id: str) -> AgentCredentials | None:
        """The cached credentials, or None when absent or expired."""
        entry = self._entries.get(agent_id)
        if entry is None:
            return None
        if entry[0] < self._clock():
            del self._entries[agent_id]
            return None
        return entry[1]

    def put(self, creds: AgentCredentials) -> None:
        """Remember ``creds`` for the cache's lifetime."""
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[creds.id] = (self._clock() + self._ttl_s, creds)

    def clear(self) -> None:
        """Forget everything (tests, and after an administrator's change in this process)."""
        self._entries.clear()
