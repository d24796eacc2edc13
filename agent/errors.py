"""The agent's own exceptions.

Two families on purpose: :class:`AgentError` means the agent itself failed (bad config, cannot
write its output) and makes the CLI exit non-zero; :class:`FactUnavailable` means one fact could
not be determined on this computer and becomes an ``unknown`` entry in the report, never a guess.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class AgentError(Exception):
    """The agent could not do its job; the CLI prints the message and exits non-zero."""


class ConfigError(AgentError):
    """The agent's configuration file is missing or invalid."""


class FactUnavailable(Exception):  # noqa: N818 - a state, not an error of the agent
    """A fact cannot be determined here (no permission, command missing, unsupported OS).

    ``reason`` is a short English sentence for the report's ``unknown`` map.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Where :func:`note_unknown` records reasons: set by the collector around each fact it gathers
#: (``(section unknown map, fact name)``). A context variable, because collectors run in threads.
_unknown_sink: ContextVar[tuple[dict[str, str], str] | None] = ContextVar(
    "govguard_unknown_sink", default=None
)


def note_unknown(field: str, reason: str) -> None:
    """Record that one field of the record being built could not be determined.

    For a record that is mostly known but has a field the agent cannot know (Windows pending
    updates without an online search): the field stays ``None`` and the reason lands in the
    section's ``unknown`` map as ``<fact>.<field>``, so the field is never read as a pass.
    Outside a collection (unit tests of platform code) it is a no-op.
    """
    sink = _unknown_sink.get()
    if sink is not None:
        unknown, fact = sink
        unknown[f"{fact}.{field}"] = reason


@contextmanager
def collecting_fact(unknown: dict[str, str], fact: str) -> Iterator[None]:
    """Direct :func:`note_unknown` calls made while gathering ``fact`` into ``unknown``."""
    token = _unknown_sink.set((unknown, fact))
    try:
        yield
    finally:
        _unknown_sink.reset(token)
