"""The demo's children: stopped with their process group, reported when they end on their own,
and gone when the demo itself is killed (the guard's parent-death signal)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.demo.processes import Children, DemoError
from controller.remediation.procguard import descendants

SLEEP = shutil.which("sleep") or "/bin/sleep"
FALSE = shutil.which("false") or "/bin/false"
#: Hang guard of the waits below (they end as soon as the processes are gone).
WAIT_S = 30.0


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"  # a zombie has ended


def _wait_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + WAIT_S
    while (left := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_stop_all_stops_each_child_and_what_it_started(tmp_path: Path) -> None:
    children = Children(tmp_path / "pids")
    first = children.start("first sleeper", [SLEEP, "300"], tmp_path / "first.log")
    second = children.start("second sleeper", [SLEEP, "300"], tmp_path / "second.log")
    deadline = time.monotonic() + WAIT_S
    while len(descendants(first.proc.pid) + descendants(second.proc.pid)) < 2:
        assert time.monotonic() < deadline, "the sleepers did not start"
        time.sleep(0.05)
    sleepers = descendants(first.proc.pid) + descendants(second.proc.pid)
    children.check()  # both running: nothing to say

    assert children.stop_all() == ["second sleeper", "first sleeper"]
    assert first.proc.returncode is not None and second.proc.returncode is not None
    assert _wait_gone(sleepers) == []


def test_a_child_that_ends_on_its_own_is_reported(tmp_path: Path) -> None:
    children = Children(tmp_path / "pids")
    child = children.start("quitter", [FALSE], tmp_path / "quitter.log")
    child.proc.wait(timeout=WAIT_S)
    with pytest.raises(DemoError, match=r"quitter stopped on its own \(exit status 1\)"):
        children.check()
    children.stop_all()


def test_children_do_not_outlive_a_killed_demo(tmp_path: Path) -> None:
    # A demo process that starts a child and is then killed with SIGKILL (no clean-up runs).
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from controller.demo.processes import Children\n"
        "base = Path(sys.argv[1])\n"
        "child = Children(base / 'pids').start('sleeper', [sys.argv[2], '300'], base / 's.log')\n"
        "print(child.proc.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    demo = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path), SLEEP],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[4],
    )
    assert demo.stdout is not None
    guard = int(demo.stdout.readline())
    deadline = time.monotonic() + WAIT_S
    while not (below := descendants(guard)):
        assert time.monotonic() < deadline, "the sleeper did not start"
        time.sleep(0.05)
    demo.kill()
    demo.wait(timeout=WAIT_S)
    assert _wait_gone([guard, *below]) == []
