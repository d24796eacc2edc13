"""Measuring one command: wall time, CPU time of its whole process tree and peak RSS.

Each command is forked from a bare ``python -I -S`` launcher so that no figure carries the
bench's own memory (on exec the kernel folds the old image's peak RSS into the new program's).
"""

import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Sample:
    """One run of one tool."""

    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    maxrss_mib: float
    returncode: int
    timed_out: bool


#: Forks and execs the command, then writes its rusage. The measured process must not be a
#: direct child of this (large) Python process: on exec the kernel folds the old address space's
#: high-water RSS into the process's ru_maxrss, so a fork of the bench (servers, TLS libraries
#: loaded) would report at least the bench's own RSS (exec_mmap in fs/exec.c). This launcher is a
#: bare ``python -I -S`` (about 6 MiB), a floor far below every tool measured here.
LAUNCHER = """\
import os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(out, "w") as f:
    code = os.waitstatus_to_exitcode(status)
    f.write(f"{wall} {ru.ru_utime} {ru.ru_stime} {ru.ru_maxrss} {code}")
"""


def measure(
    argv: list[str], *, timeout: float, cwd: Path, env: dict[str, str], out: Path, err: Path
) -> Sample:
    """Run ``argv`` once through :data:`LAUNCHER` and return its rusage.

    ``os.wait4`` in the launcher gives the rusage of the command plus every descendant it waited
    for (the RUSAGE_CHILDREN accounting, wait4(2)); ``ru_maxrss`` is then the largest single
    process of that tree, in KiB on Linux (getrusage(2)). Wall time is taken in the launcher
    around fork and wait, so the launcher's own start-up is in no figure. The launcher gets its
    own process group, which the command inherits, so a timeout kills everything it spawned.
    """
    stats = out.with_suffix(".rusage")
    stats.unlink(missing_ok=True)
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", LAUNCHER, str(stats), *argv],
            stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
            cwd=cwd, env=env, start_new_session=True,
        )  # fmt: skip
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
    if killed.is_set() or not stats.exists():
        return Sample(timeout, 0.0, 0.0, 0.0, 0.0, proc.returncode or -9, timed_out=True)
    wall, user, system, maxrss_kib, code = stats.read_text(encoding="ascii").split()
    return Sample(
        wall_s=float(wall),
        cpu_s=float(user) + float(system),
        user_s=float(user),
        sys_s=float(system),
        maxrss_mib=int(maxrss_kib) / 1024,
        returncode=int(code),
        timed_out=False,
    )


@dataclass
class Tool:
    """A command to measure, and where its output lands."""

    name: str
    argv: list[str]
    #: Folder the tool writes its inventory file into (peers), emptied before each run.
    out_dir: Path | None = None
    #: File our agent writes its report to.
    report: Path | None = None
    available: bool = True
    note: str = ""
    #: A peer product we compare with (the ratios), not one of our own reference rows.
    peer: bool = False
    samples: list[Sample] = field(default_factory=list)
    stderr_tail: str = ""

    def ok_samples(self) -> list[Sample]:
        return [s for s in self.samples if s.returncode == 0 and not s.timed_out]

    def median(self, attr: str) -> float | None:
        values = [getattr(s, attr) for s in self.ok_samples()]
        return statistics.median(values) if values else None

    def spread(self, attr: str) -> tuple[float, float] | None:
        values = [getattr(s, attr) for s in self.ok_samples()]
        return (min(values), max(values)) if values else None


def run_once(tool: Tool, work: Path, env: dict[str, str], timeout: float) -> Sample:
    """One measured run of ``tool``, with its output folder emptied first."""
    if tool.out_dir is not None:
        shutil.rmtree(tool.out_dir, ignore_errors=True)
        tool.out_dir.mkdir(parents=True)
    err = work / f"{tool.name.split()[0]}.stderr"
    sample = measure(tool.argv, timeout=timeout, cwd=work, env=env, out=work / "stdout", err=err)
    if sample.returncode != 0 or sample.timed_out:
        tool.stderr_tail = err.read_text(encoding="utf-8", errors="replace")[-600:]
    return sample
