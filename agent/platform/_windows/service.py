"""The agent as a Windows service: the Service Control Manager starts, stops and restarts it.

``packaging/windows/install-agent.ps1`` registers the service with the command line

    "C:\\Program Files\\govguard-agent\\python\\python.exe" -m agent.platform._windows.service

so the interpreter the Service Control Manager starts is the process that talks to it. (A
virtual environment's ``python.exe`` is a launcher that runs the real interpreter as a child:
the manager would wait for a process that never answers, error 1053.) :func:`main` hands that
process to pywin32's ``servicemanager`` (``PrepareToHostSingle`` and
``StartServiceCtrlDispatcher``: pywin32's way of hosting a service in an interpreter other than
its ``pythonservice.exe``); :class:`GovguardAgentService` answers start and stop.

Stop (``sc.exe stop``, shutdown) calls :meth:`AgentService.stop`, which makes the daemon's loop
end between two steps, never inside an outbox write, exactly as SIGTERM does for
``govguard-agent run``. :class:`AgentService` holds that logic without any pywin32 import, so it
is tested on every platform; the pywin32 class around it is a few lines.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agent.config import load_config

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from agent.daemon import Daemon

log = logging.getLogger(__name__)

SERVICE_NAME = "govguard-agent"
DISPLAY_NAME = "govguard agent"
DESCRIPTION = (
    "Collects this computer's inventory, connectivity and security posture and sends signed "
    "reports to the govguard controller. Never takes commands."
)
#: How long the service asks the manager to wait for a stop (one step of the loop).
STOP_WAIT_HINT_MS = 30_000


def default_config_path() -> Path:
    """``%ProgramData%\\govguard\\agent.yaml``, where the installer writes the config."""
    return Path(os.environ.get("PROGRAMDATA") or r"C:\ProgramData") / "govguard" / "agent.yaml"


def _open_daemon(state_dir: Path, config: AgentConfig) -> Daemon:
    from agent.daemon import open_daemon

    return open_daemon(state_dir, config)


class AgentService:
    """Runs the daemon until :meth:`stop`; free of pywin32 so every platform can test it.

    ``open_daemon`` is a parameter so that tests point it at a daemon whose collector and clock
    they own; the service passes :func:`agent.daemon.open_daemon`.
    """

    def __init__(
        self,
        state_dir: Path,
        config_path: Path | None,
        *,
        open_daemon: Callable[[Path, AgentConfig], Daemon] = _open_daemon,
    ) -> None:
        """Remember where the state and the config are; nothing is opened before :meth:`run`."""
        self.state_dir = state_dir
        self.config_path = config_path
        self._open_daemon = open_daemon
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._daemon: Daemon | None = None

    def run(self) -> None:
        """Open the daemon and run its loop until :meth:`stop`; errors propagate (logged by the
        caller: an unreadable config or a computer that is not enrolled stops the service)."""
        config = load_config(self.config_path)
        with self._lock:
            if self._stopped.is_set():
                return
            daemon = self._daemon = self._open_daemon(self.state_dir, config)
        try:
            daemon.run()
        finally:
            daemon.close()

    def stop(self) -> None:
        """Ask the loop to end between two steps; safe from any thread, before or during run."""
        with self._lock:
            self._stopped.set()
            if self._daemon is not None:
                self._daemon.stop()


if sys.platform == "win32":  # pragma: no cover - needs Windows and its Service Control Manager
    import servicemanager
    import win32service
    import win32serviceutil

    class GovguardAgentService(win32serviceutil.ServiceFramework):  # type: ignore[misc]
        """The Service Control Manager's view of :class:`AgentService`."""

        _svc_name_ = SERVICE_NAME
        _svc_display_name_ = DISPLAY_NAME
        _svc_description_ = DESCRIPTION

        def __init__(self, args: list[str]) -> None:
            super().__init__(args)
            from agent.state import default_state_dir

            self.core = AgentService(default_state_dir(), default_config_path())

        def SvcStop(self) -> None:  # noqa: N802 - pywin32's method name
            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=STOP_WAIT_HINT_MS)
            self.core.stop()

        # Defining it makes the framework accept SERVICE_CONTROL_SHUTDOWN: at shutdown the loop
        # ends between two steps as on a stop, instead of being killed mid-write.
        SvcShutdown = SvcStop

        def SvcDoRun(self) -> None:  # noqa: N802 - pywin32's method name
            servicemanager.LogInfoMsg(f"{SERVICE_NAME}: started")
            try:
                self.core.run()
            except Exception as exc:
                # The event log is the only place a service can say why it stopped. Raising lets
                # pywin32 report SERVICE_STOPPED with a non-zero exit code, which the installer's
                # `sc.exe failureflag 1` makes count as a failure: the recovery actions restart
                # the service. AgentService.run closed the outbox already.
                servicemanager.LogErrorMsg(f"{SERVICE_NAME}: stopped: {exc}")
                raise
            servicemanager.LogInfoMsg(f"{SERVICE_NAME}: stopped")


def main() -> int:
    """Host the service when the Service Control Manager starts this module."""
    if sys.platform == "win32":
        servicemanager.Initialize()
        servicemanager.PrepareToHostSingle(GovguardAgentService)
        servicemanager.StartServiceCtrlDispatcher()
        return 0
    print("govguard-agent service: Windows only; use `govguard-agent run`", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
