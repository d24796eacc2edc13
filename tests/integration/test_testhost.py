"""The namespace test host (tests/support/testhost.py): reachable over SSH by its key only, its
writes confined to overlays, and nothing left behind after it closes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.netns import IP
from tests.support.testhost import TestHost, why_not_available

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(why_not_available() is not None, reason=str(why_not_available())),
]


def ssh(host: TestHost, command: str, key: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``ssh root@host command`` with the pinned host key and only the given client key."""
    return subprocess.run(
        [
            "ssh", "-i", str(key or host.key_file), "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={host.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-p", str(host.port),
            f"root@{host.address}", command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip


def test_host_is_reached_by_key_and_its_writes_stay_in_the_overlay(tmp_path: Path) -> None:
    canary = "govguard-testhost-canary.conf"
    with TestHost(tmp_path / "host") as host:
        assert host.reachable()
        assert host.address.startswith("10.231.")
        assert host.known_hosts.read_text().startswith(f"{host.address} ssh-ed25519 ")

        done = ssh(host, f"echo written > /etc/{canary} && ip -o link show")
        assert done.returncode == 0, done.stderr
        assert "lo:" in done.stdout  # the session runs in the host's network namespace
        assert (host.upper("/etc") / canary).read_text() == "written\n"
        assert not Path("/etc", canary).exists()  # the real /etc never saw it
        assert f"/etc/{canary}" in host.written()

        # run() enters the same namespaces as the SSH sessions.
        inside = host.run(["cat", f"/etc/{canary}"])
        assert (inside.returncode, inside.stdout) == (0, "written\n")
        links = host.run(["ip", "-o", "link", "show"]).stdout
        assert links.count(": ") >= 2 and "state UP" in links

        # Another key is refused: the generated one is the only way in.
        stranger = tmp_path / "stranger"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True
        )
        refused = ssh(host, "true", key=stranger)
        assert refused.returncode == 255
        assert "Permission denied" in refused.stderr

        inventory = host.ansible_inventory("pc-01", groups=("classified",))
        assert inventory["all"]["hosts"]["pc-01"]["ansible_host"] == host.address
        assert inventory["all"]["children"]["classified"]["hosts"] == {"pc-01": {}}
        namespace = host.namespace

        # Its veth end taken down inside, the host is no longer reachable from here.
        veth = next(
            name for name in host.run(["ls", "/sys/class/net"]).stdout.split() if name != "lo"
        )
        assert host.run(["ip", "link", "set", "dev", veth, "down"]).returncode == 0
        assert not host.reachable()

    assert IP is not None
    namespaces = subprocess.run([IP, "netns", "list"], capture_output=True, text=True).stdout
    assert namespace not in namespaces


def test_host_is_removed_after_a_failure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), TestHost(tmp_path / "host") as host:
        namespace = host.namespace
        raise RuntimeError("boom")
    assert IP is not None
    namespaces = subprocess.run([IP, "netns", "list"], capture_output=True, text=True).stdout
    assert namespace not in namespaces
