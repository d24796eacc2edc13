"""The agent's own exceptions.

Two families on purpose: :class:`AgentError` means the agent itself failed (bad config, cannot
write its output) and makes the CLI exit non-zero; :class:`FactUnavailable` means one fact could
not be determined on this computer and becomes an ``unknown`` entry in the report, never a guess.
"""


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
