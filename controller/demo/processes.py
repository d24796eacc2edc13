"""The demo's child processes: started in their own sessions, stopped in reverse order.

Each child (``govguard serve``, ``govguard worker``, snmpsim, the local agent) runs in a new
session, so a Ctrl-C in the terminal reaches only the demo, which then stops its children
itself, last started first, with SIGTERM to each one's whole process group and SIGKILL for
one that does not end in time. Each runs under the remediation's guard
(:mod:`controller.remediation.procguard`), which asks for SIGTERM when its parent dies: a demo
killed by SIGKILL leaves nothing running either, and whatever a child started goes with it.
Their output goes to a log file each, which a failure quotes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from controller.remediation import procguard

#: How long a child may take to end after SIGTERM before it gets SIGKILL.
STOP_TIMEOUT_S = 15.0


class DemoError(Exception):
    """The demo cannot go on; the message says why (one line, then a log tail at most)."""


@dataclass
class Child:
    """A running child process and the file its output goes to."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 15) -> str:
        """The last lines of its log."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Children:
    """The child processes of one demo run."""

    def __init__(self, pid_dir: Path) -> None:
        """``pid_dir`` keeps the guards' pid files."""
        self._running: list[Child] = []
        self._pid_dir = pid_dir

    def start(
        self, name: str, argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None
    ) -> Child:
        """Start ``argv`` (its program an absolute path) under the guard, in a new session,
        with its output in ``log``."""
        self._pid_dir.mkdir(parents=True, exist_ok=True)
        pid_file = self._pid_dir / f"{name.replace(' ', '-')}.pid"
        guard = [sys.executable, "-I", str(procguard.__file__), str(os.getpid()), str(pid_file)]
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [*guard, *argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=dict(env) if env is not None else None,
            )
        child = Child(name, proc, log)
        self._running.append(child)
        return child

    def check(self) -> None:
        """Raise :class:`DemoError` when a child has ended on its own."""
        for child in self._running:
            code = child.proc.poll()
            if code is not None:
                raise DemoError(
                    f"{child.name} stopped on its own (exit status {code}); "
                    f"the end of {child.log}:\n{child.tail()}"
                )

    def stop_all(self) -> list[str]:
        """Stop every child, last started first; returns their names."""
        stopped = []
        while self._running:
            child = self._running.pop()
            stop(child.proc)
            stopped.append(child.name)
        return stopped


def stop(proc: subprocess.Popen[bytes], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM to the process group of ``proc`` (a session leader), then SIGKILL if needed."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout_s)
    # Helpers of the group that outlived their leader (uvicorn's workers, for one).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
