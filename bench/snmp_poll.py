"""SNMP polling at fleet size: govguard's poller next to net-snmp's ``snmpbulkwalk``.

Generates N simulated 48-port access switches (``controller.discovery.recordings``: ifTable and
ifXTable, a Q-BRIDGE MAC table with ~60 MACs, LLDP, ENTITY-MIB), serves them all from a few
snmpsim processes on loopback (one recording per community), then polls every switch twice in
the same run, with the same concurrency, timeout, retries and GETBULK max-repetitions:

- **net-snmp** (the peer): per device, one ``snmpget`` of the system group and then one
  ``snmpbulkwalk -v2c -c COMMUNITY -Cr<reps> -On -Oq`` per column the poller's profile asks for,
  in the poller's order (a fallback table only when the table it stands in for was empty);
  ``--concurrency`` devices in flight. CPU: its children's rusage (RUSAGE_CHILDREN);
- **govguard**: ``controller.discovery.poller.poll_round`` over the same devices. CPU: this
  process's ``time.process_time()``.

snmpsim's own CPU is the simulated network: in neither figure, printed beside them.

Goal (issue 7): a full round of 1,000 switches with 48 ports (system, the interface columns
needed, MAC table) in under 2 minutes and under 1 CPU-minute.

Usage: ``.venv/bin/python bench/snmp_poll.py [--devices N] [--quick] [--addressing
community|shared] [--sim-procs P] [--concurrency C] [--reps R] [--work DIR] [--profile OUT]
[--json OUT]`` (bench/README.md lists every option).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import hashlib
import json
import os
import pstats
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the test helpers live in tests/
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import psutil  # noqa: E402

from controller.discovery.credentials import Credential  # noqa: E402
from controller.discovery.poller import FALLBACKS, SYSTEM, poll_round  # noqa: E402
from controller.discovery.profiles import Profile, load_profiles  # noqa: E402
from controller.discovery.recordings import (  # noqa: E402
    SwitchSpec,
    switch_recording,
    synthetic_switch,
)
from controller.discovery.results import DeviceResult  # noqa: E402
from controller.discovery.snmp import Target  # noqa: E402
from controller.settings import SnmpConfig  # noqa: E402
from tests.support.snmpsim import LOOPBACK, free_udp_port, snmp_answers  # noqa: E402

GOAL_DEVICES = 1_000
GOAL_WALL_S = 120.0
GOAL_CPU_S = 60.0
PORTS = 48
#: How long the simulators may take to index their recordings (about 0.15 s per file each).
START_TIMEOUT_S = 1_800.0

#: The simulator, with two changes to snmpsim 1.2 as installed:
#: - it keeps at most 31 recordings open and reopens (re-reads the index of) any other on each
#:   request (``DataFile.max_queue_entries``); with a thousand devices in turn that would make
#:   the simulated network, not the pollers, the figure: the limit is lifted;
#: - its choice of a recording by the endpoint a request came in on (``probe_hash_context``)
#:   overrides ``handleMgmtOperation``, which pysnmp 7 no longer calls (it calls
#:   ``handle_management_operation``): the same choice is made again here, so that devices
#:   sharing a community can each answer with their own recording (``--addressing shared``).
SIMULATOR = """\
import hashlib, sys
import snmpsim.datafile
from snmpsim.commands import responder
snmpsim.datafile.DataFile.max_queue_entries = 1_000_000

def by_endpoint(base):
    def handle_management_operation(self, engine, state, context_name, pdu):
        request = engine.observer.get_execution_context("rfc3412.receiveMessage:request")
        domain = ".".join(str(arc) for arc in request["transportDomain"])
        name = f"{request['contextName'].prettyPrint()}/{domain}"
        variant = hashlib.md5(name.encode()).hexdigest().encode()
        if variant in self.snmpContext.context_names:
            context_name = variant
        base.handle_management_operation(self, engine, state, context_name, pdu)
    return handle_management_operation

for kind in ("Get", "Set", "Next", "Bulk"):
    cls = getattr(responder, kind + "CommandResponder")
    cls.handle_management_operation = by_endpoint(cls.__mro__[1])
sys.argv[0] = "snmpsim-command-responder"
sys.exit(responder.main())
"""


@dataclass(frozen=True)
class Device:
    """One simulated switch: where it answers, to which community."""

    name: str
    community: str
    host: str
    port: int
    spec: SwitchSpec


@dataclass
class Phase:
    """One measured round."""

    tool: str
    wall_s: float
    cpu_s: float
    values: int
    sim_cpu_s: float
    ok: int
    failed: int
    problems: list[str] = field(default_factory=list)
    #: govguard only: var-binds received in all, past each table's end included.
    received: int | None = None
    #: UDP datagrams dropped on a full receive buffer during the round (any socket).
    udp_drops: int = 0


# --- the simulated network ------------------------------------------------------------------

#: ``--addressing shared``: every switch answers the same community on its own loopback address
#: (as a district's devices share a few credentials). snmpsim then picks the recording by the
#: endpoint's transport ID (its n-th ``--agent-udpv4-endpoint`` is ``1.3.6.1.6.1.1.<n>``): for
#: a v2c community C it looks for ``<md5 hex of C>/1.3.6.1.6.1.1.<n>.snmprec`` (snmpsim's
#: ``probe_hash_context``, redone in :data:`SIMULATOR`: v1/v2c context names are the
#: community's MD5), and ``C.snmprec`` must exist for C to be accepted at all.
SHARED_COMMUNITY = "bench"
SHARED_FOLDER = hashlib.md5(SHARED_COMMUNITY.encode()).hexdigest()  # noqa: S324 - snmpsim's name
TRANSPORT_DOMAIN = "1.3.6.1.6.1.1"


def _address(i: int) -> str:
    return f"127.42.{i // 250}.{i % 250 + 1}"


def generate(work: Path, devices: int, procs: int, shared: bool) -> list[list[Device]]:
    """Write the recordings, round-robin over ``procs`` data folders (one per simulator). A file
    whose content is unchanged is left alone, so snmpsim's index of it (``--work``) is reused.
    Ports are filled in when the simulators start."""
    shards: list[list[Device]] = [[] for _ in range(procs)]
    if shared:
        for p in range(procs):
            top = work / "shared" / f"p{p}" / f"{SHARED_COMMUNITY}.snmprec"
            top.parent.mkdir(parents=True, exist_ok=True)
            top.write_text("1.3.6.1.2.1.1.1.0|4|no such device\n", encoding="ascii")
    for i in range(devices):
        name = f"sw{i:05d}"
        spec = synthetic_switch(name, ports=PORTS)
        shard = shards[i % procs]
        folder = work / ("shared" if shared else "community") / f"p{i % procs}"
        if shared:
            path = folder / SHARED_FOLDER / f"{TRANSPORT_DOMAIN}.{len(shard)}.snmprec"
            shard.append(Device(name, SHARED_COMMUNITY, _address(i), 0, spec))
        else:
            path = folder / f"{name}.snmprec"
            shard.append(Device(name, name, LOOPBACK, 0, spec))
        text = switch_recording(spec).text()
        if not path.exists() or path.read_text(encoding="ascii") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="ascii")
    return shards


@contextlib.contextmanager
def simulators(
    work: Path, shards: Sequence[Sequence[Device]], shared: bool, max_var_binds: int
) -> Iterator[tuple[list[Device], list[psutil.Process]]]:
    """One snmpsim per shard until the block ends: on one loopback port (a recording per
    community), or with ``shared`` on one address per device (a shared community)."""
    env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}  # see tests/support/snmpsim.py
    procs: list[subprocess.Popen[bytes]] = []
    devices: list[Device] = []
    layout = "shared" if shared else "community"
    lasts: list[Device] = []
    try:
        port = free_udp_port(_address(0) if shared else LOOPBACK)
        for shard, members in enumerate(shards):
            if not shared:
                port = free_udp_port()
            members = [replace(d, port=port) for d in members]
            devices += members
            cache = work / "cache" / layout / f"p{shard}"
            cache.mkdir(parents=True, exist_ok=True)
            hosts = [d.host for d in members] if shared else [LOOPBACK]
            # One endpoint per device can exceed a command line: snmpsim reads them from a file.
            args = work / f"snmpsim-p{shard}.args"
            endpoints = [f"--agent-udpv4-endpoint={h}:{port}" for h in hosts]
            args.write_text(
                "\n".join([f"--data-dir={work / layout / f'p{shard}'}", *endpoints]) + "\n",
                encoding="utf-8",
            )
            log = (work / f"snmpsim-p{shard}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        SIMULATOR,
                        f"--cache-dir={cache}",
                        "--log-level=error",
                        f"--max-var-binds={max_var_binds}",
                        f"--args-from-file={args}",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            )
            lasts.append(members[-1])
        started = time.monotonic()
        for proc, last in zip(procs, lasts, strict=True):
            while not snmp_answers(last.host, last.port, last.community):
                if proc.poll() is not None or time.monotonic() - started > START_TIMEOUT_S:
                    raise RuntimeError(f"snmpsim for {last.name} did not start (see {work})")
                time.sleep(0.5)
        print(f"  simulators ready in {time.monotonic() - started:.1f} s", flush=True)
        yield devices, [psutil.Process(p.pid) for p in procs]
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def cpu_of(processes: Sequence[psutil.Process]) -> float:
    """User + system seconds of the simulators so far."""
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def udp_drops() -> int:
    """Datagrams the kernel dropped for a full socket receive buffer (``RcvbufErrors`` of
    /proc/net/snmp: every socket of this network namespace, the simulators' and the pollers')."""
    rows = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    header, values = (row for row in rows if row[0] == "Udp:")
    return int(values[header.index("RcvbufErrors")])


# --- the peer: net-snmp ---------------------------------------------------------------------


def dotted(oid: Sequence[int]) -> str:
    """``(1, 3, 6)`` → ``.1.3.6``."""
    return "." + ".".join(str(arc) for arc in oid)


def walk_plan(profile: Profile) -> tuple[list[str], list[tuple[str, str | None]]]:
    """What the poller asks of a device with ``profile``: the system GET, then each column as
    (OID, the column whose emptiness it waits for, or None), in the poller's order."""
    scalars = [dotted(oid) for oid in SYSTEM.values()]
    scalars += [dotted(s.oid) for s in profile.scalars if SYSTEM.get(s.name) != s.oid]
    names = profile.column_names()
    by_name = {c.name: dotted(c.oid) for t in profile.tables for c in t.columns}
    first: list[tuple[str, str | None]] = []
    later: list[tuple[str, str | None]] = []
    for table in profile.tables:
        for column in table.columns:
            primary = FALLBACKS.get(column.name)
            if primary in names:
                later.append((dotted(column.oid), by_name[primary]))
            else:
                first.append((dotted(column.oid), None))
    return scalars, first + later


async def _run(argv: list[str]) -> tuple[int, int]:
    """Run one net-snmp command: (values printed, exit status)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        out, _ = await proc.communicate()
    except asyncio.CancelledError:  # the bench is stopping: leave no walk behind
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    values = sum(1 for line in out.splitlines() if line.startswith(b".") and b"No Such" not in line)
    return values, proc.returncode or 0


async def _peer_round(
    devices: Sequence[Device], plan: tuple[list[str], list[tuple[str, str | None]]],
    config: SnmpConfig,
) -> tuple[int, int, list[str]]:  # fmt: skip
    scalars, columns = plan
    limit = asyncio.Semaphore(config.concurrency)
    common = ["-v2c", "-On", "-Oq", "-t", str(config.timeout_s), "-r", str(config.retries)]
    problems: list[str] = []

    async def one(device: Device) -> int:
        address = f"{device.host}:{device.port}"
        async with limit:
            base = [*common, "-c", device.community]
            got, status = await _run(["snmpget", *base, address, *scalars])
            if status != 0:
                problems.append(f"{device.name}: snmpget exit {status}")
                return 0
            total, per_oid = got, dict[str, int]()
            for oid, waits_for in columns:
                if waits_for is not None and per_oid.get(waits_for):
                    continue
                argv = ["snmpbulkwalk", *base, f"-Cr{config.max_repetitions}", address, oid]
                got, status = await _run(argv)
                if status != 0:
                    problems.append(f"{device.name}: snmpbulkwalk {oid} exit {status}")
                per_oid[oid] = got
                total += got
            return total

    counts = await asyncio.gather(*(one(d) for d in devices))
    ok = sum(1 for c in counts if c)
    return sum(counts), ok, problems


def run_peer(
    devices: Sequence[Device], profile: Profile, config: SnmpConfig,
    sims: Sequence[psutil.Process],
) -> Phase:  # fmt: skip
    """One round of net-snmp commands; CPU from the children's rusage."""
    plan = walk_plan(profile)
    drops = udp_drops()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sim_before = cpu_of(sims)
    start = time.perf_counter()
    values, ok, problems = asyncio.run(_peer_round(devices, plan, config))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    sim_cpu = cpu_of(sims) - sim_before
    return Phase(
        "net-snmp", wall, cpu, values, sim_cpu, ok, len(devices) - ok, problems,
        udp_drops=udp_drops() - drops,
    )  # fmt: skip


# --- govguard -------------------------------------------------------------------------------


def check(device: Device, result: DeviceResult) -> str | None:
    """What the poller missed on one device, if anything."""
    if not result.ok:
        return f"{device.name}: {result.error}"
    expected_fdb = sum(len(hosts) for hosts in device.spec.learnt.values())
    if len(result.interfaces) != device.spec.model.ports + 1:
        return f"{device.name}: {len(result.interfaces)} interfaces"
    if len(result.fdb) != expected_fdb:
        return f"{device.name}: {len(result.fdb)} of {expected_fdb} MACs"
    if len(result.lldp) != len(device.spec.neighbours) or result.serial != device.spec.serial:
        return f"{device.name}: LLDP or serial missing"
    return None


def run_govguard(
    devices: Sequence[Device], config: SnmpConfig, sims: Sequence[psutil.Process],
    profile_to: Path | None = None, tool: str = "govguard",
) -> Phase:  # fmt: skip
    """One ``poll_round``; CPU of this process. ``profile_to``: run it under cProfile (which
    slows it down) and write the statistics there."""
    profiles = load_profiles(None)
    # One Credential per community, as an organisation file's credential names give.
    credentials = {
        c: Credential(name=c, version="v2c", community=c) for c in {d.community for d in devices}
    }
    targets = [Target(d.name, d.host, d.port, credentials[d.community]) for d in devices]
    drops = udp_drops()
    sim_before = cpu_of(sims)
    cpu_before = time.process_time()
    # CPU time, not wall time, per function: the machine may be busy with other work.
    profiler = cProfile.Profile(time.process_time) if profile_to is not None else None
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    results = poll_round(targets, config=config, profiles=profiles)
    if profiler is not None:
        profiler.disable()
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_before
    if profiler is not None and profile_to is not None:
        profiler.dump_stats(profile_to)
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(30)
    problems = [p for d, r in zip(devices, results, strict=True) if (p := check(d, r))]
    ok = sum(1 for r in results if r.ok)
    received = sum(r.values for r in results)
    return Phase(
        tool, wall, cpu, received, cpu_of(sims) - sim_before, ok, len(results) - ok,
        problems, received, udp_drops() - drops,
    )  # fmt: skip


# --- report ---------------------------------------------------------------------------------


def show(
    phases: Sequence[Phase], devices: int, sim_procs: int, config: SnmpConfig, max_var_binds: int
) -> list[str]:
    """The table, the ratio and the goals."""
    peer = next(p for p in phases if p.tool == "net-snmp")
    ours = next(p for p in phases if p.tool == "govguard")
    # Both asked for the same columns of the same recordings: the peer's count (values inside
    # the asked subtrees) is the like-for-like denominator for both.
    values = peer.values
    lines = [
        f"{'tool':<10} {'wall s':>8} {'dev/min':>9} {'values/s':>10} {'CPU s':>8} "
        f"{'µs/value':>9} {'CPU s/dev':>10} {'sim CPU s':>10} {'ok':>6}",
    ]
    for p in phases:
        lines.append(
            f"{p.tool:<10} {p.wall_s:>8.1f} {devices / p.wall_s * 60:>9,.0f} "
            f"{values / p.wall_s:>10,.0f} {p.cpu_s:>8.2f} {p.cpu_s / values * 1e6:>9.1f} "
            f"{p.cpu_s / devices:>10.4f} {p.sim_cpu_s:>10.1f} {p.ok:>6}"
        )
    lines.append("")
    lines.append(
        f"values: {peer.values:,} in the asked columns (net-snmp's count); govguard received "
        f"{ours.received or 0:,} var-binds (GETBULK rows past each table's end included)"
    )
    for p in phases:
        if p is not peer:
            lines.append(f"CPU ratio {p.tool} / net-snmp: ×{p.cpu_s / peer.cpu_s:.2f}")
    lines.append(
        f"UDP datagrams dropped on full receive buffers: {peer.udp_drops:,} during net-snmp's "
        f"round, {ours.udp_drops:,} during govguard's (each costs a timeout and a retry)"
    )
    lines.append(
        f"simulators: {sim_procs} snmpsim process(es), busy {ours.sim_cpu_s / ours.wall_s:.0%} "
        f"of a core in all during govguard's round ({ours.sim_cpu_s / ours.wall_s / sim_procs:.0%}"
        f" each), {peer.sim_cpu_s / peer.wall_s:.0%} during net-snmp's"
    )
    lines.append(
        f"settings: concurrency {config.concurrency}, max-repetitions {config.max_repetitions}, "
        f"timeout {config.timeout_s} s, retries {config.retries}, simulator max var-binds "
        f"{max_var_binds}; load average now " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    scale = GOAL_DEVICES / devices
    wall, cpu = ours.wall_s * scale, ours.cpu_s * scale
    what = "" if devices == GOAL_DEVICES else f" (projected linearly from {devices:,} devices)"
    lines.append(f"goal, a round of {GOAL_DEVICES:,} × {PORTS}-port switches{what}:")
    lines.append(
        f"  wall {wall:.1f} s (goal < {GOAL_WALL_S:.0f} s): "
        f"{'met' if wall < GOAL_WALL_S else 'NOT MET'}"
    )
    lines.append(
        f"  CPU  {cpu:.1f} s (goal < {GOAL_CPU_S:.0f} s): "
        f"{'met' if cpu < GOAL_CPU_S else 'NOT MET'}"
    )
    for p in (peer, ours):
        if p.problems:
            lines.append(f"NOT a full round for {p.tool}: {len(p.problems)} device(s), e.g.")
            lines += [f"  {problem}" for problem in p.problems[:5]]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devices", type=int, default=GOAL_DEVICES, help="switches (1,000)")
    parser.add_argument("--quick", action="store_true", help="50 devices")
    parser.add_argument("--sim-procs", type=int, default=2, help="snmpsim processes (2)")
    parser.add_argument("--concurrency", type=int, default=64, help="devices in flight (64)")
    parser.add_argument("--reps", type=int, default=SnmpConfig().max_repetitions)
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, s (10)")
    parser.add_argument("--retries", type=int, default=1)
    parser.add_argument(
        "--addressing", choices=("community", "shared"), default="community",
        help="a community per device on one port per simulator (default), or one shared "
        "community and a loopback address per device",
    )  # fmt: skip
    parser.add_argument(
        "--sim-max-var-binds", type=int, default=256,
        help="snmpsim's cap on var-binds per response (its own default, 64, would cut the "
        "poller's multi-column GETBULK replies short, not the peer's one-column ones)",
    )  # fmt: skip
    parser.add_argument("--order", choices=("peer-first", "ours-first"), default="peer-first")
    parser.add_argument(
        "--with-pysnmp",
        action="store_true",
        help="also a round of govguard's poller with snmp.v2c_codec: pysnmp (the library's codec)",
    )
    parser.add_argument("--work", type=Path, help="keep recordings and indexes here for reuse")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--profile", type=Path, help="run govguard under cProfile, stats here")
    args = parser.parse_args(argv)
    # A TERM (a kill, a timeout) still stops the simulators: the ``finally`` blocks run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    devices = 50 if args.quick else args.devices
    if devices < 1 or args.sim_procs < 1:
        parser.error("--devices and --sim-procs must be at least 1")
    config = SnmpConfig(
        concurrency=args.concurrency, max_repetitions=args.reps, timeout_s=args.timeout,
        retries=args.retries,
    )  # fmt: skip
    with contextlib.ExitStack() as stack:
        if args.work is not None:
            work = args.work
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="snmp-bench-")))
        procs = min(args.sim_procs, devices)
        print(f"writing {devices:,} recordings of {PORTS}-port switches ...", flush=True)
        shared = args.addressing == "shared"
        shards = generate(work, devices, procs, shared)
        print(f"starting {procs} snmpsim process(es) (indexing the recordings) ...", flush=True)
        fleet, sims = stack.enter_context(simulators(work, shards, shared, args.sim_max_var_binds))
        profile = load_profiles(None).match(fleet[0].spec.info.object_id)
        print(f"  profile {profile.name}: {len(walk_plan(profile)[1])} columns", flush=True)
        # A warm-up GET per device: snmpsim opens each recording's index on first use, one
        # at a time, so the first requests wait long (patient settings, few in flight).
        patient = SnmpConfig(concurrency=8, timeout_s=60.0, retries=2)
        warm = asyncio.run(_peer_round(fleet, ([dotted(SYSTEM["sysName"])], []), patient))
        print(f"  warm-up: {warm[1]:,} of {len(fleet):,} devices answer", flush=True)
        order = ["net-snmp", "govguard"]
        if args.order == "ours-first":
            order.reverse()
        if args.with_pysnmp:
            order.append("pysnmp")
        phases = []
        for tool in order:
            print(f"round: {tool} ...", flush=True)
            if tool == "net-snmp":
                phases.append(run_peer(fleet, profile, config, sims))
            elif tool == "pysnmp":
                library = msgspec.structs.replace(config, v2c_codec="pysnmp")
                phases.append(run_govguard(fleet, library, sims, None, tool="pysnmp"))
            else:
                phases.append(run_govguard(fleet, config, sims, args.profile))
            done = phases[-1]
            print(
                f"  {done.wall_s:.1f} s wall, {done.cpu_s:.2f} s CPU, {done.values:,} values, "
                f"{done.ok:,} ok, simulators {done.sim_cpu_s:.1f} s CPU",
                flush=True,
            )
    print()
    lines = show(phases, devices, procs, config, args.sim_max_var_binds)
    print("\n".join(lines))
    if args.json is not None:
        figures = {
            "devices": devices,
            "sim_procs": procs,
            "settings": {"concurrency": config.concurrency, "reps": config.max_repetitions},
            "phases": [asdict(p) for p in phases],
        }
        args.json.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
