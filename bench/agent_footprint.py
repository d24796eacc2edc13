"""Footprint of one ``govguard-agent once`` next to the Debian inventory agents, in one run.

Runs, each ``--runs`` times and interleaved round by round (so a noisy moment hits every tool),
after one unmeasured warm-up run of each:

- ``govguard-agent once``: a FULL collection, every probe target answering: an HTTPS server
  (certificate from a throw-away test CA), a DNS responder and a TCP listener on 127.0.0.1;
- ``psutil baseline``: a bare psutil inventory one-liner in the same interpreter, the floor any
  Python agent starts from;
- ``fusioninventory-agent --local DIR`` and ``ocsinventory-agent --local=DIR``: the peers, in
  local mode (inventory written to a file, nothing sent anywhere).

For each it prints the median wall time, CPU time (user+sys of the process and every child it
waited for, from ``os.wait4``) and peak RSS (``ru_maxrss``: the largest single process of the
tree; ``bench/_measure.py`` says why a small launcher stands between this script and the
command),
the ratios ours/peer, and the size of our report raw and gzipped. Nothing here asserts on speed:
it is a measurement, not a test. Exit status 1 only when our agent failed to run.

    .venv/bin/python bench/agent_footprint.py [--runs N] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere: the test helpers live in tests/
    sys.path.insert(0, str(REPO))

from bench._measure import Tool, run_once  # noqa: E402
from tests.support.servers import (  # noqa: E402
    DnsServer,
    HttpsServer,
    TcpListener,
    dns_server,
    https_server,
    tcp_listener,
)

AGENT = Path(sys.executable).with_name("govguard-agent")

GOAL_CPU_S = 0.3
GOAL_RSS_MIB = 40.0
GOAL_REPORT_GZIP_KB = 50.0
#: gzip level of the comparison; 6 is what HTTP servers and clients commonly use.
GZIP_LEVEL = 6

#: A bare psutil inventory, roughly the facts a minimal Python agent would gather.
PSUTIL_BASELINE = (
    "import json, platform, psutil; "
    "print(json.dumps({'host': platform.node(), 'cpus': psutil.cpu_count(), "
    "'memory': psutil.virtual_memory().total, "
    "'disks': [(p.mountpoint, p.fstype) for p in psutil.disk_partitions()], "
    "'nics': {n: [a.address for a in al] for n, al in psutil.net_if_addrs().items()}, "
    "'boot': psutil.boot_time(), 'users': [u.name for u in psutil.users()], "
    "'processes': sorted({p.info['name'] for p in psutil.process_iter(['name'])} - {None}), "
    "'listening': len([c for c in psutil.net_connections('inet') if c.status == 'LISTEN'])}))"
)


# --------------------------------------------------------------------------- loopback targets
# --------------------------------------------------------------------------- loopback targets

#: Names the DNS probe resolves; the loopback DNS responder answers them with 127.0.0.1.
DNS_NAMES = ("dichvucong.gov.vn", "thainguyen.gov.vn")


@dataclass
class Targets:
    """The running loopback servers the probes point at."""

    web: HttpsServer
    dns: DnsServer
    tcp: TcpListener


@contextlib.contextmanager
def probe_targets() -> Iterator[Targets]:
    """HTTPS (certificate from a throw-away trustme CA), DNS and TCP servers on 127.0.0.1."""
    records = {name: ["127.0.0.1"] for name in DNS_NAMES}
    with (
        https_server("127.0.0.1", 0) as web,
        dns_server("127.0.0.1", 0, records) as dns,
        tcp_listener("127.0.0.1", 0) as tcp,
    ):
        yield Targets(web=web, dns=dns, tcp=tcp)


def agent_config(t: Targets) -> str:
    """A commune-office config (docs/agent.md) whose every target is a loopback server.

    The gateway probe is off: the host's gateway is not ours to probe.
    """
    base, ca = t.web.url.rstrip("/"), t.web.ca_file
    return f"""\
probes:
  gateway: false
  timeout_seconds: 3
  dns:
    names: [{", ".join(DNS_NAMES)}]
    servers: ["{t.dns.address}"]
  https:
    - {{name: dichvucong, url: "{base}/dvc", role: public_service, ca_file: "{ca}"}}
    - {{name: cong-tinh, url: "{base}/portal", role: internet, ca_file: "{ca}"}}
    - {{name: qlvb-tinh, url: "{base}/qlvb", role: document_system, ca_file: "{ca}"}}
    - {{name: thu-cong-vu, url: "{base}/mail", role: email, ca_file: "{ca}"}}
    - {{name: govguard, url: "{base}/api/health", role: controller, ca_file: "{ca}"}}
  tcp:
    - {{name: tslcd-trung-tam-du-lieu, host: 127.0.0.1, port: {t.tcp.port}, role: tslcd}}
    - {{name: may-chu-xa, host: 127.0.0.1, port: {t.tcp.port}, role: lan}}
"""


# --------------------------------------------------------------------------- our report


def report_check(report: dict[str, Any], sections: tuple[str, ...]) -> list[str]:
    """Why this report is not a full collection with every probe answering (empty: it is)."""
    problems = [
        f"collector {e['collector']} failed: {e['message']}" for e in report.get("errors", [])
    ]
    ran = {c["name"] for c in report.get("collectors", [])}
    problems += [f"section {name} did not run" for name in sections if name not in ran]
    conn = report.get("connectivity") or {}
    results = [r for key in ("dns", "https", "tcp") for r in conn.get(key) or []]
    if not results:
        problems.append("connectivity section has no probe results")
    problems += [
        f"probe {r.get('name')} ({r.get('server') or r.get('url') or r.get('port')}) failed: "
        f"{r.get('error') or r.get('verify_error') or r.get('status')}"
        for r in results
        if not r.get("ok")
    ]
    derived = [("internet", conn.get("internet")), ("lan", conn.get("lan"))]
    derived += [(f"roles.{k}", v) for k, v in (conn.get("roles") or {}).items()]
    problems += [f"connectivity.{k}: not reachable" for k, v in derived if v and not v["reachable"]]
    problems += [
        f"connectivity.{k} unknown: {why}"
        for k, why in conn.get("unknown", {}).items()
        if k != "gateways"  # the bench turns the gateway probe off on purpose
    ]
    return problems


def unknown_counts(report: dict[str, Any], sections: tuple[str, ...]) -> dict[str, int]:
    """Facts each section could not determine on this machine."""
    return {s: len((report.get(s) or {}).get("unknown", {})) for s in sections}


def sizes(path: Path) -> tuple[int, int]:
    """Raw and gzipped size of a file, in bytes."""
    data = path.read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))


# --------------------------------------------------------------------------- output


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _cell(tool: Tool, attr: str, digits: int) -> str:
    med, spread = tool.median(attr), tool.spread(attr)
    if med is None or spread is None:
        return "failed" if tool.available else "not installed"
    return f"{_fmt(med, digits)} ({_fmt(spread[0], digits)}–{_fmt(spread[1], digits)})"


def table(tools: list[Tool], runs: int) -> list[str]:
    """The figures as aligned text lines."""
    head = ("tool", "wall s", "CPU s (user+sys)", "peak RSS MiB")
    rows = [head] + [
        (t.name, _cell(t, "wall_s", 2), _cell(t, "cpu_s", 2), _cell(t, "maxrss_mib", 1))
        for t in tools
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [f"median (min–max) of {runs} runs each"]
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def ratio(ours: Tool, peer: Tool, attr: str) -> float | None:
    """ours / peer of the medians, or None when either is missing."""
    a, b = ours.median(attr), peer.median(attr)
    return None if a is None or not b else a / b


# --------------------------------------------------------------------------- main


def build_tools(work: Path, config: Path, agent: Path = AGENT) -> list[Tool]:
    """Our agent, the psutil baseline and the two peers (marked unavailable when missing)."""
    fusion_dir, ocs_dir = work / "fusioninventory", work / "ocsinventory"
    tools = [
        Tool(
            "govguard-agent once",
            [str(agent), "once", "--config", str(config), "--out", str(work / "report.json")],
            report=work / "report.json",
        ),
        # The same binary doing (almost) nothing but start: what interpreter start-up and imports
        # cost, which every full run pays before it reads a single fact.
        Tool(
            "govguard start-up only",
            [str(agent), "once", "--config", str(config), "--section", "identity"],
        ),
        Tool("psutil baseline", [sys.executable, "-c", PSUTIL_BASELINE]),
        # --local writes the inventory to a file and never contacts a server; --tasks=inventory
        # skips the other tasks; --no-httpd keeps its embedded web server from listening
        # (fusioninventory-agent(1)).
        Tool(
            "fusioninventory-agent",
            [
                "fusioninventory-agent",
                "--local",
                str(fusion_dir),
                "--tasks=inventory",
                "--no-httpd",
                "--logger=stderr",
            ],
            out_dir=fusion_dir,
            peer=True,
        ),
        # --local=DIR: "do not contact server" (ocsinventory-agent(1)); its Download and
        # SnmpScan modules disable themselves in local mode (Ocsinventory/Agent/Modules/*.pm).
        # --basevardir keeps its state files out of /var/lib.
        Tool(
            "ocsinventory-agent",
            ["ocsinventory-agent", f"--local={ocs_dir}", f"--basevardir={work / 'ocs-var'}"],
            out_dir=ocs_dir,
            peer=True,
        ),
    ]
    for tool in tools:
        if shutil.which(tool.argv[0]) is None:
            tool.available = False
            tool.note = f"{tool.argv[0]} not installed (apt-get install {tool.argv[0]})"
    return tools


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per tool (default 5)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument(
        "--timeout", type=float, default=120, help="seconds before a run is killed (default 120)"
    )
    parser.add_argument(
        "--agent",
        type=Path,
        default=AGENT,
        help=(
            "the govguard-agent to measure (default: the one beside this Python); `make bench` "
            "passes one installed with its runtime dependencies only, as on an office PC"
        ),
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    from agent.report import SECTION_NAMES

    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
    }
    with tempfile.TemporaryDirectory(prefix="govguard-bench-") as tmp:
        work = Path(tmp)
        with probe_targets() as targets:
            config = work / "agent.yaml"
            config_text = agent_config(targets)
            config.write_text(config_text, encoding="utf-8")
            tools = build_tools(work, config, args.agent.resolve())
            live = [t for t in tools if t.available]
            for tool in live:  # warm-up: page cache, Python bytecode, perl modules
                run_once(tool, work, env, args.timeout)
            for _ in range(args.runs):
                for tool in live:
                    tool.samples.append(run_once(tool, work, env, args.timeout))
            ours = tools[0]
            report_path = ours.report
            assert report_path is not None
            report: dict[str, Any] = {}
            if report_path.exists():
                report = json.loads(report_path.read_bytes())
                raw, gz = sizes(report_path)
            else:
                raw = gz = 0
            peer_sizes = {}
            for tool in tools:
                files = sorted(tool.out_dir.glob("*")) if tool.out_dir else []
                if files:
                    peer_sizes[tool.name] = sizes(files[-1])
            agent_runs = len(ours.samples) + 1  # with the warm-up
            contacted = {
                "HTTPS requests": (len(targets.web.requests), 5 * agent_runs),
                "DNS queries": (len(targets.dns.queries), len(DNS_NAMES) * agent_runs),
                "TCP connections": (targets.tcp.accepted, 2 * agent_runs),
            }

    problems = report_check(report, SECTION_NAMES) if report else ["no report written"]
    problems += [
        f"the loopback servers saw {got} {what}, expected at least {want} ({agent_runs} agent runs)"
        for what, (got, want) in contacted.items()
        if got < want
    ]
    served = (
        "loopback servers on 127.0.0.1 (tests/support/servers.py) answered "
        + ", ".join(f"{got} {what}" for what, (got, _) in contacted.items())
        + f" over {agent_runs} agent runs; gateway probe off (the host's gateway is not ours "
        "to probe)"
    )
    result = summarise(tools, args.runs, raw, gz, peer_sizes, report, problems, served)
    result["agent_config"] = config_text
    print("\n".join(render(result, tools)))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
        print(f"\nfigures written to {args.json}")
    return 0 if ours.ok_samples() and len(ours.ok_samples()) == args.runs else 1


def summarise(
    tools: list[Tool],
    runs: int,
    raw: int,
    gz: int,
    peer_sizes: dict[str, tuple[int, int]],
    report: dict[str, Any],
    problems: list[str],
    served: str,
) -> dict[str, Any]:
    """Everything the bench found, as plain data (the --json output)."""
    from agent.report import SECTION_NAMES

    ours = tools[0]
    peers = [t for t in tools if t.peer and t.ok_samples()]
    cpu, rss = ours.median("cpu_s"), ours.median("maxrss_mib")
    return {
        "machine": {
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
        },
        "runs": runs,
        "tools": {
            t.name: {
                "argv": t.argv,
                "available": t.available,
                "note": t.note,
                "median": {a: t.median(a) for a in ("wall_s", "cpu_s", "maxrss_mib")},
                "samples": [asdict(s) for s in t.samples],
                "stderr_tail": t.stderr_tail,
            }
            for t in tools
        },
        "ratios_ours_over_peer": {
            p.name: {a: ratio(ours, p, a) for a in ("wall_s", "cpu_s", "maxrss_mib")} for p in peers
        },
        "goals": {
            "cpu_s": {
                "goal": GOAL_CPU_S,
                "value": cpu,
                "met": cpu is not None and cpu <= GOAL_CPU_S,
            },
            "maxrss_mib": {
                "goal": GOAL_RSS_MIB,
                "value": rss,
                "met": rss is not None and rss <= GOAL_RSS_MIB,
            },
            "report_gzip_kb": {
                "goal": GOAL_REPORT_GZIP_KB,
                "value": gz / 1000,
                "met": 0 < gz <= GOAL_REPORT_GZIP_KB * 1000,
            },
        },
        "report": {
            "raw_bytes": raw,
            "gzip_bytes": gz,
            "gzip_level": GZIP_LEVEL,
            "full_collection": not problems,
            "problems": problems,
            "unknown_facts": unknown_counts(report, SECTION_NAMES) if report else {},
            "collector_ms": {c["name"]: c["duration_ms"] for c in report.get("collectors", [])},
        },
        "peer_inventory_bytes": {n: {"raw": r, "gzip": g} for n, (r, g) in peer_sizes.items()},
        "probe_targets": served,
    }


def slowest(durations: dict[str, float], n: int = 3) -> str:
    """The ``n`` slowest collectors of the last run, as text (wall time, threads overlap)."""
    top = sorted(durations.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{name} {ms:.0f}" for name, ms in top) or "—"


def render(result: dict[str, Any], tools: list[Tool]) -> list[str]:
    """The human-readable output."""
    m = result["machine"]
    lines = [
        f"govguard agent footprint — {m['host']}, {m['cpus']} CPUs, Linux {m['kernel']}, "
        f"Python {m['python']}",
        f"agent measured: {tools[0].argv[0]}",
        "",
        *table(tools, result["runs"]),
    ]
    for tool in tools:
        if tool.note:
            lines.append(f"  {tool.name}: {tool.note}")
        if tool.stderr_tail:
            lines.append(f"  {tool.name} failed; stderr ends with: {tool.stderr_tail.strip()}")
    lines += ["", "ours / peer (medians; below 1 = ours uses less):"]
    for peer, r in result["ratios_ours_over_peer"].items():
        lines.append(
            f"  vs {peer:<22} wall ×{_fmt(r['wall_s'])}  CPU ×{_fmt(r['cpu_s'])}  "
            f"RSS ×{_fmt(r['maxrss_mib'])}"
        )
    if not result["ratios_ours_over_peer"]:
        lines.append("  no peer ran")
    g = result["goals"]

    def verdict(key: str) -> str:
        return "met" if g[key]["met"] else "NOT MET"

    rep = result["report"]
    lines += [
        "",
        "goals for govguard-agent once (median):",
        f"  {verdict('cpu_s'):<8} CPU        {_fmt(g['cpu_s']['value'])} s"
        f"   (goal ≤ {GOAL_CPU_S} s)",
        f"  {verdict('maxrss_mib'):<8} peak RSS   {_fmt(g['maxrss_mib']['value'], 1)} MiB"
        f" (goal ≤ {GOAL_RSS_MIB:.0f} MiB)",
        f"  {verdict('report_gzip_kb'):<8} report     {rep['gzip_bytes'] / 1000:.1f} KB"
        f" gzip -{GZIP_LEVEL} (goal ≤ {GOAL_REPORT_GZIP_KB:.0f} KB),"
        f" {rep['raw_bytes'] / 1000:.1f} KB raw JSON",
    ]
    for name, s in result["peer_inventory_bytes"].items():
        lines.append(
            f"  for scale: {name} inventory file {s['gzip'] / 1000:.1f} KB gzip, "
            f"{s['raw'] / 1000:.1f} KB raw XML"
        )
    unknown = rep["unknown_facts"]
    lines += [
        "",
        "our run: " + ("FULL collection, every probe target answered" if rep["full_collection"]
                       else "NOT a full collection:"),
    ]  # fmt: skip
    lines += [f"  - {p}" for p in rep["problems"]]
    if unknown:
        listed = ", ".join(f"{k} {v}" for k, v in unknown.items() if v) or "none"
        lines.append(f"  facts this machine could not provide (unknown): {listed}")
    lines.append(f"  probe targets: {result['probe_targets']}")
    lines.append(f"  slowest collectors, ms: {slowest(rep['collector_ms'])}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
