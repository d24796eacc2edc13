"""Start snmpsim (the SNMP simulator) on a free loopback UDP port for the discovery tests.

snmpsim serves every ``.snmprec`` recording of its data directory; a v2c request picks the
recording by community, which is the file's path relative to the directory without
``.snmprec`` (``access-switch``, ``recorded/linux-full-walk``)::

    with snmpsim(FIXTURES) as sim:
        sim.port            # UDP port on 127.0.0.1
        sim.communities     # ("access-switch", "printer", ...)

The simulator runs as a child process (its own process group) and is killed on exit; the
``with`` body starts only once it answers a GET.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FIXTURES",
    "SHIPPED",
    "Simulator",
    "free_udp_port",
    "snmp_answers",
    "snmpsim",
]

LOOPBACK = "127.0.0.1"
#: The recordings the tests author (access switch, printer).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "snmp"
#: The recordings snmpsim ships: real devices' walks (``recorded/``) and its own samples.
SHIPPED = Path(importlib.util.find_spec("snmpsim").origin or "").parent / "data"  # type: ignore[union-attr]
#: Hang guard for a start: indexing the shipped full walks takes a few seconds.
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Simulator:
    """A running snmpsim."""

    host: str
    port: int
    data_dir: Path
    communities: tuple[str, ...]


def free_udp_port(host: str = LOOPBACK) -> int:
    """A UDP port on ``host`` that nothing is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def snmp_answers(host: str, port: int, community: str, timeout_s: float = 0.5) -> bool:
    """Whether an SNMPv2c agent at ``host:port`` answers a GET of sysUpTime.0 for
    ``community`` (a hand-made BER message, so the fixtures do not depend on the code under
    test)."""
    message = _get_request(community.encode(), request_id=0x4747)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.sendto(message, (host, port))
            data, _ = sock.recvfrom(65535)
        except OSError:
            return False
    return data[:1] == b"\x30" and b"\xa2" in data  # a SEQUENCE holding a GetResponse-PDU


def _tlv(tag: int, body: bytes) -> bytes:
    assert len(body) < 128  # short-form lengths are enough for one small GET
    return bytes([tag, len(body)]) + body


def _get_request(community: bytes, request_id: int) -> bytes:
    sys_uptime = bytes([0x2B, 6, 1, 2, 1, 1, 3, 0])  # 1.3.6.1.2.1.1.3.0
    varbind = _tlv(0x30, _tlv(0x06, sys_uptime) + b"\x05\x00")
    pdu = _tlv(
        0xA0,
        _tlv(0x02, request_id.to_bytes(2, "big"))
        + _tlv(0x02, b"\x00")
        + _tlv(0x02, b"\x00")
        + _tlv(0x30, varbind),
    )
    return _tlv(0x30, _tlv(0x02, b"\x01") + _tlv(0x04, community) + pdu)


def communities(data_dir: Path) -> tuple[str, ...]:
    """The v2c communities snmpsim makes of ``data_dir``'s recordings."""
    return tuple(
        sorted(
            path.relative_to(data_dir).with_suffix("").as_posix()
            for path in data_dir.rglob("*.snmprec")
        )
    )


@contextlib.contextmanager
def snmpsim(
    data_dir: Path, *, host: str = LOOPBACK, extra_args: Sequence[str] = ()
) -> Iterator[Simulator]:
    """Run snmpsim over ``data_dir`` on a free UDP port of ``host`` until the block ends."""
    names = communities(data_dir)
    if not names:
        raise RuntimeError(f"no .snmprec recordings under {data_dir}")
    responder = Path(sys.executable).with_name("snmpsim-command-responder")
    with tempfile.TemporaryDirectory(prefix="govguard-snmpsim-") as tmp:
        log_path = Path(tmp) / "snmpsim.log"
        cache = Path(tmp) / "cache"
        cache.mkdir()
        # snmpsim refuses to run as root unless told so; dropping to ``nobody`` fails here (it
        # then cannot import the standard library under /root/.pyenv), and it only ever binds
        # a loopback port for the test.
        env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        port = free_udp_port(host)
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    str(responder),
                    f"--data-dir={data_dir}",
                    f"--cache-dir={cache}",
                    f"--agent-udpv4-endpoint={host}:{port}",
                    "--log-level=error",
                    *extra_args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        try:
            _wait_ready(proc, host, port, names[0], log_path)
            yield Simulator(host=host, port=port, data_dir=data_dir, communities=names)
        finally:
            _stop(proc)


def _wait_ready(
    proc: subprocess.Popen[bytes], host: str, port: int, community: str, log_path: Path
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = log_path.read_text(encoding="utf-8", errors="replace")
            raise RuntimeError(f"snmpsim exited with {proc.returncode}:\n{output[-3000:]}")
        if snmp_answers(host, port, community):
            return
        time.sleep(0.1)
    output = log_path.read_text(encoding="utf-8", errors="replace")
    raise RuntimeError(f"snmpsim did not answer within {START_TIMEOUT_S:.0f} s:\n{output[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
