"""Start net-snmp's ``snmpd`` on a free loopback UDP port, with its own configuration.

It serves this machine's real IF-MIB and HOST-RESOURCES-MIB, read-only, to a v2c community and
to one SNMPv3 authPriv user (SHA/AES), both generated per run::

    with snmpd() as agent:
        agent.port, agent.community
        agent.user, agent.auth_key, agent.priv_key    # SHA / AES, read-only
        agent.user + "-rw"                            # the same keys, may SET

Nothing of the system's snmpd is used: ``-C`` reads no default configuration, the persistent
state (the v3 user's localised keys, engine boots) lives in a temporary folder, the process
runs in the foreground as a child of the test and is stopped on exit.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.snmpsim import LOOPBACK, free_udp_port, snmp_answers

__all__ = ["SNMPD", "Snmpd", "snmpd", "snmpd_available"]

SNMPD = "/usr/sbin/snmpd"
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Snmpd:
    """A running snmpd and the credentials it accepts."""

    host: str
    port: int
    community: str
    user: str
    auth_key: str
    priv_key: str


def snmpd_available() -> bool:
    """Whether net-snmp's agent is installed (Debian package ``snmpd``)."""
    return Path(SNMPD).is_file() or shutil.which("snmpd") is not None


@contextlib.contextmanager
def snmpd(host: str = LOOPBACK) -> Iterator[Snmpd]:
    """Run snmpd on a free UDP port of ``host`` until the block ends."""
    agent = Snmpd(
        host=host,
        port=free_udp_port(host),
        community="gg-" + secrets.token_hex(6),
        user="govguard",
        auth_key="auth-" + secrets.token_hex(8),
        priv_key="priv-" + secrets.token_hex(8),
    )
    with tempfile.TemporaryDirectory(prefix="govguard-snmpd-") as tmp:
        folder = Path(tmp)
        state = folder / "state"
        state.mkdir()
        conf = folder / "snmpd.conf"
        conf.write_text(
            "\n".join(
                [
                    f"rocommunity {agent.community} {host}",
                    # createUser in the agent's own configuration: net-snmp localises the keys
                    # into the persistent folder at start.
                    f'createUser {agent.user} SHA "{agent.auth_key}" AES "{agent.priv_key}"',
                    f"rouser {agent.user} priv",
                    # A second user that may write (snmpEnableAuthenTraps, for SET tests):
                    # the same keys, another name.
                    f'createUser {agent.user}-rw SHA "{agent.auth_key}" AES "{agent.priv_key}"',
                    f"rwuser {agent.user}-rw priv",
                    "sysName govguard-test-snmpd",
                    "sysLocation loopback",
                    "sysContact tests",
                    # No AgentX master, no traps: only the loopback port above.
                    "master no",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        env = {**os.environ, "SNMP_PERSISTENT_DIR": str(state), "MIBS": ""}
        log_path = folder / "snmpd.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    SNMPD,
                    "-f",  # foreground: a child of the test
                    "-Lo",  # log to stdout (the log file)
                    "-C",  # no default configuration files
                    "-c",
                    str(conf),
                    "-p",
                    str(folder / "snmpd.pid"),
                    "-I",
                    "-smux",  # no SMUX listener on tcp/199
                    f"udp:{host}:{agent.port}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not snmp_answers(host, agent.port, agent.community):
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = log_path.read_text(encoding="utf-8", errors="replace")
                    raise RuntimeError(f"snmpd did not start:\n{output[-3000:]}")
                time.sleep(0.1)
            yield agent
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
