"""One ansible-runner execution (owned by the runner work of issue 8; the only module that
imports ``ansible_runner``)."""

from __future__ import annotations

from collections.abc import Callable

from controller.remediation.model import RunEvent, RunOutcome, RunSpec


def execute(
    spec: RunSpec,
    on_event: Callable[[RunEvent], None],
    should_cancel: Callable[[], bool],
) -> RunOutcome:
    """Run ``spec`` to its end; ``on_event`` gets each event as it happens, ``should_cancel``
    is polled and a True stops the run (``cancelled``); ``spec.timeout_s`` ends it ``failed``.
    """
    raise NotImplementedError
