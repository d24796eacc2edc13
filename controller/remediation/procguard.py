"""Runs one command so that nothing it starts outlives it, its parent, or a stop request.

``python -I procguard.py PARENT_PID PID_FILE COMMAND [ARG...]`` (standard library only: it runs
as a script, started by :mod:`controller.remediation.runner` through ansible-runner):

- it becomes a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``, Linux 3.4): every process
  of the command's tree whose parent dies is re-parented to the guard, not to init. Killing a
  process group is not enough for ansible-playbook: since ansible-core 2.15 each of its
  workers calls ``setsid()`` (``WorkerProcess._detach``), so the module processes a worker
  starts (a ``sleep``, a package manager, an ``ssh``) are in groups of their own;
- it asks for SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``): a worker process
  killed by SIGKILL or the OOM killer does not leave a playbook running;
- on SIGTERM (that signal, or the runner's cancel and timeout) it sends SIGTERM to the command
  (ansible-playbook then stops its workers), waits :data:`GRACE_S`, and kills whatever is left
  of the tree with SIGKILL;
- when the command exits by itself, whatever it left running is killed too; the guard exits
  with the command's status.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
#: How long ansible-playbook gets to stop its workers after SIGTERM.
GRACE_S = 5.0


def descendants(root: int) -> list[int]:
    """The processes below ``root`` (from ``/proc``: parent of each process)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        # proc(5): "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def reap() -> None:
    """Collect every child that has ended (adopted orphans included)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_tree() -> None:
    """SIGKILL every descendant, again until none is left (a process may fork meanwhile)."""
    for _ in range(50):
        pids = descendants(os.getpid())
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
        reap()


def main(argv: list[str]) -> int:
    """Run ``argv[3:]`` under guard; its exit status (128 + N when killed by signal N)."""
    parent, pid_file, command = int(argv[1]), argv[2], argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        return 128 + signal.SIGTERM
    spawned: list[int] = []

    def stop(_signum: int, _frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in spawned:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + GRACE_S
            while time.monotonic() < deadline:
                try:
                    done, _ = os.waitpid(child, os.WNOHANG)
                except ChildProcessError:
                    break
                if done:
                    break
                time.sleep(0.1)
        kill_tree()
        sys.exit(128 + signal.SIGTERM)

    # Before anything starts: a SIGTERM from now on stops the tree, never the guard alone.
    signal.signal(signal.SIGTERM, stop)
    Path(pid_file).write_text(str(os.getpid()), encoding="ascii")
    spawned.append(os.posix_spawn(command[0], command, dict(os.environ)))
    child = spawned[0]
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == child:
            break
    kill_tree()
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
