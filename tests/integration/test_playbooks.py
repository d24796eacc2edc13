"""The remediation playbooks, run by the real ``ansible-playbook`` against a namespace test host.

Every playbook passes ``--syntax-check`` and ``ansible-lint`` (production profile). Each Linux
playbook then runs against :class:`tests.support.testhost.TestHost` (sshd in its own network
namespace, /etc, /usr, /var... overlays, so nothing reaches this machine): in ``--check --diff``
mode it reports the change it would make and writes nothing (the overlays' upper directories and
the nft ruleset are compared before and after); applied, the change is there, and the agent run
inside the host reads the rule's fact as fixed; applied again, nothing changes.

Not applied here, and why: ``install_updates.yml`` (no package mirror in a namespace: check mode
only), ``deploy_agent.yml`` (pip needs the agent's dependencies from an index: check mode only),
``restart_agent.yml`` (the test host has no systemd: the play stops with its clear message).
Windows tasks are syntax- and lint-checked only. The isolation playbook runs last, on its own
classified host: afterwards the host's links are down and it cannot be reached.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.testhost import TestHost, why_not_available

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks"
VENV_BIN = REPO / ".venv" / "bin"
ANSIBLE_PLAYBOOK = VENV_BIN / "ansible-playbook"
AGENT = VENV_BIN / "govguard-agent"
NAMES = sorted(p.name for p in PLAYBOOKS.glob("*.yml"))
#: What a run writes that no playbook does: sshd's login records and Ansible's own temporary
#: and async-status files (under /root), apt's simulation log of a check run (/var/log/apt).
NOT_THE_PLAYBOOK = ("/root/", "/var/log/")
#: A package whose name the remote-tool catalogue matches (VNC: ``x11vnc``).
FAKE_TOOL = "govguard-test-x11vnc"

pytestmark = [pytest.mark.integration]
needs_host = pytest.mark.skipif(why_not_available() is not None, reason=str(why_not_available()))


def ansible_env(tmp: Path) -> dict[str, str]:
    """The environment of an ansible command: the venv first on PATH, its own temp folders."""
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_PIPELINING": "1",
    }


class Run:
    """One ``ansible-playbook`` run: exit status, output and the play recap of host ``pc``."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        found = re.search(r"^pc\s+:\s+(.*)$", proc.stdout, re.MULTILINE)
        pairs = re.findall(r"(\w+)=(\d+)", found.group(1)) if found else []
        self.recap = {key: int(value) for key, value in pairs}

    def __repr__(self) -> str:  # shown by a failing assertion
        return (
            f"Run(rc={self.rc}, recap={self.recap})\n{self.stdout[-4000:]}\n{self.stderr[-2000:]}"
        )


class Playbooks:
    """Runs playbooks against one test host as ``pc``."""

    def __init__(self, host: TestHost, folder: Path, groups: tuple[str, ...] = ()) -> None:
        self.host = host
        self.folder = folder
        self.inventory = folder / "inventory.json"
        self.inventory.write_text(json.dumps(host.ansible_inventory("pc", groups=groups)))

    def run(self, name: str, *args: str, extra: dict[str, Any] | None = None) -> Run:
        argv = [str(ANSIBLE_PLAYBOOK), "-i", str(self.inventory), str(PLAYBOOKS / name), *args]
        if extra:
            argv += ["--extra-vars", json.dumps(extra)]
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=600,
            env=ansible_env(self.folder),
            check=False,
        )
        return Run(proc)

    def written(self) -> dict[str, bytes | str]:
        """What playbooks wrote into the host's overlays so far."""
        return {
            path: data
            for path, data in self.host.written().items()
            if not f"{path}/".startswith(NOT_THE_PLAYBOOK)
        }

    def ruleset(self) -> str:
        return self.host.run(["nft", "list", "ruleset"]).stdout

    def security(self) -> dict[str, Any]:
        """The security section as the agent collects it inside the host."""
        done = self.host.run([str(AGENT), "once", "--section", "security"], timeout=120)
        assert done.returncode == 0, done.stderr
        section: dict[str, Any] = json.loads(done.stdout)["security"]
        return section

    def check_then_apply(self, name: str, extra: dict[str, Any] | None = None) -> Run:
        """Check mode changes nothing but reports changes; apply; apply again changes nothing.

        Returns the check run (its diff is the preview an operator sees).
        """
        before, rules_before = self.written(), self.ruleset()
        check = self.run(name, "--check", "--diff", extra=extra)
        assert check.rc == 0 and check.recap.get("failed") == 0, check
        assert check.recap["changed"] > 0, check
        assert self.written() == before, "check mode wrote files"
        assert self.ruleset() == rules_before, "check mode changed the ruleset"

        applied = self.run(name, extra=extra)
        assert applied.rc == 0 and applied.recap["changed"] > 0, applied
        again = self.run(name, extra=extra)
        assert again.rc == 0 and again.recap["changed"] == 0, again
        return check


# -- static checks -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_syntax_check(name: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "--syntax-check", "-i", "localhost,", str(PLAYBOOKS / name)],
        capture_output=True,
        text=True,
        timeout=300,
        env=ansible_env(tmp_path),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ansible_lint_passes(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-lint"), "--nocolor", "playbooks/"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,  # a safety net: the linter loads every collection's plugin index
        env=ansible_env(tmp_path),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr


# -- against the test host ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playbooks]:
    """One test host (not classified) for the module's Linux playbooks."""
    folder = tmp_path_factory.mktemp("playbooks")
    with TestHost(folder / "host") as host:
        yield Playbooks(host, folder)


@needs_host
def test_enable_firewall(books: Playbooks) -> None:
    assert books.security()["firewall"]["enabled"] is False
    check = books.check_then_apply("enable_firewall.yml")
    assert "--- before: /etc/nftables.conf" in check.stdout and "policy drop;" in check.stdout

    assert "policy drop;" in (books.host.upper("/etc") / "nftables.conf").read_text()
    ruleset = books.ruleset()
    assert "hook input priority filter; policy drop;" in ruleset
    # Ansible came from the root namespace's end of the veth: SSH from there stays open.
    assert f"ip saddr {books.host.gateway} tcp dport 22 accept" in ruleset
    assert books.host.reachable()
    # ATTT-07 reads this, as root, from the kernel ruleset.
    assert books.security()["firewall"]["enabled"] is True

    # A management network that is not one never reaches the ruleset file.
    bad = books.run("enable_firewall.yml", extra={"govguard_mgmt_networks": ["0/0 accept; x"]})
    assert bad.rc != 0 and "govguard_mgmt_networks must be addresses" in bad.stdout
    assert "accept; x" not in (books.host.upper("/etc") / "nftables.conf").read_text()


@needs_host
def test_block_usb_storage(books: Playbooks) -> None:
    check = books.check_then_apply("block_usb_storage.yml")
    assert "govguard-usb-storage.conf" in check.stdout
    conf = (books.host.upper("/etc") / "modprobe.d" / "govguard-usb-storage.conf").read_text()
    assert "install usb-storage /bin/false" in conf and "blacklist usb-storage" in conf
    usb = books.security()["usb_storage"]
    if Path("/sys/module/usb_storage").exists():
        pytest.skip("usb_storage is loaded or built into this machine's kernel")  # shared kernel
    assert usb["policy"] == "blocked"  # BMNN-05
    assert "modprobe install /bin/false" in usb["mechanism"]


@needs_host
@pytest.mark.parametrize(
    ("name", "files"),
    [
        pytest.param(
            "enable_screen_lock.yml",
            ["00-govguard-screen-lock", "locks/govguard-screen-lock"],
            id="screen lock",
        ),
        pytest.param(
            "disable_autorun.yml", ["00-govguard-autorun", "locks/govguard-autorun"], id="autorun"
        ),
    ],
)
def test_gnome_settings(books: Playbooks, name: str, files: list[str]) -> None:
    books.check_then_apply(name)
    local = books.host.upper("/etc") / "dconf" / "db" / "local.d"
    for file in files:
        assert (local / file).is_file()
    profile = (books.host.upper("/etc") / "dconf" / "profile" / "user").read_text().split()
    assert profile[0] == "user-db:user" and "system-db:local" in profile
    if name == "enable_screen_lock.yml":
        text = (local / "00-govguard-screen-lock").read_text()
        assert "lock-enabled=true" in text and "idle-delay=uint32 600" in text
    else:
        assert "autorun-never=true" in (local / "00-govguard-autorun").read_text()
    # No GNOME here: the agent reads these keyfiles only where a desktop is installed.


@needs_host
def test_time_sync(books: Playbooks) -> None:
    servers = {"govguard_time_servers": ["ntp.tinh.test", "10.231.0.123"]}
    check = books.check_then_apply("time_sync.yml", extra=servers)
    assert "NTP=ntp.tinh.test 10.231.0.123" in check.stdout
    conf = books.host.upper("/etc") / "systemd" / "timesyncd.conf.d" / "govguard.conf"
    assert conf.read_text().splitlines()[-1] == "NTP=ntp.tinh.test 10.231.0.123"
    # A bad server name never reaches a file.
    bad = books.run("time_sync.yml", extra={"govguard_time_servers": ["x; rm -rf /"]})
    assert bad.rc != 0 and "govguard_time_servers must be" in bad.stdout


def fake_tool_package(folder: Path) -> Path:
    """A tiny .deb whose name the remote-tool catalogue matches."""
    root = folder / FAKE_TOOL
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {FAKE_TOOL}\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: govguard tests <tests@govguard.invalid>\n"
        "Description: stands for a VNC server in the remediation tests\n"
    )
    subprocess.run(["dpkg-deb", "--build", str(root)], check=True, capture_output=True)
    return folder / f"{FAKE_TOOL}.deb"


@needs_host
@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")
def test_remove_remote_tools(books: Playbooks) -> None:
    package = fake_tool_package(books.folder)
    installed = books.host.run(["dpkg", "-i", str(package)])
    assert installed.returncode == 0, installed.stderr
    assert [t["name"] for t in books.security()["remote_tools"]] == ["VNC"]

    check = books.check_then_apply("remove_remote_tools.yml")
    assert FAKE_TOOL in check.stdout
    status = books.host.run(["dpkg-query", "-W", "-f", "${Status}", FAKE_TOOL]).stdout
    assert "installed" not in status.split()
    assert books.security()["remote_tools"] == []  # ATTT-12


@needs_host
def test_install_updates_check_mode_only(books: Playbooks) -> None:
    # No package mirror is reachable from a namespace: the real upgrade is not run here.
    before = books.written()
    check = books.run("install_updates.yml", "--check", "--diff")
    assert check.rc == 0 and check.recap["failed"] == 0, check
    assert "List the upgradable packages that come from a security suite" in check.stdout
    assert books.written() == before


@needs_host
def test_deploy_agent_check_mode(books: Playbooks) -> None:
    wheel_dir = books.folder / "wheel"
    subprocess.run(
        [str(VENV_BIN / "pip"), "wheel", "--no-deps", "--quiet", "-w", str(wheel_dir), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheel = next(wheel_dir.glob("govguard-*.whl"))
    token = "gg1-one-time-token-canary"  # noqa: S105 - a canary, not a credential
    extra = {
        "govguard_agent_package": str(wheel),
        "govguard_controller_url": f"https://{books.host.gateway}:8443",
        "govguard_enroll_token": token,
        "govguard_controller_ca": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    }
    before = books.written()
    check = books.run("deploy_agent.yml", "--check", "--diff", extra=extra)
    assert check.rc == 0 and check.recap["changed"] > 0, check
    assert "/etc/govguard/agent.yaml" not in before
    # The unit's diff: packaging/govguard-agent.service, started with the written config.
    unit_line = (
        "ExecStart=/opt/govguard/bin/govguard-agent run --state-dir /var/lib/govguard-agent "
        "--config /etc/govguard/agent.yaml"
    )
    assert unit_line in check.stdout
    assert token not in check.stdout + check.stderr  # no_log on every task that holds it
    assert books.written() == before

    missing = books.run("deploy_agent.yml", "--check")
    assert missing.rc != 0 and "deploy_agent.yml needs govguard_agent_package" in missing.stdout


@needs_host
def test_restart_agent_needs_systemd(books: Playbooks) -> None:
    # The namespace host runs no systemd: the play says so instead of pretending.
    run = books.run("restart_agent.yml", "--check")
    assert run.rc != 0 and "the govguard-agent service runs under systemd" in run.stdout


@pytest.fixture(scope="module")
def classified_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playbooks]:
    """A second test host, in the ``classified`` group."""
    folder = tmp_path_factory.mktemp("classified")
    with TestHost(folder / "host") as host:
        yield Playbooks(host, folder, groups=("classified",))


@needs_host
@pytest.mark.parametrize("name", [n for n in NAMES if n != "isolate_classified_host.yml"])
def test_guard_task_stops_a_play_aimed_at_a_classified_host(
    classified_host: Playbooks, name: str, tmp_path: Path
) -> None:
    # Belt and braces: even with its `hosts:` exclusion removed, the first task stops the play.
    text = (PLAYBOOKS / name).read_text(encoding="utf-8")
    assert "  hosts: all:!classified\n" in text
    copy = tmp_path / name
    copy.write_text(text.replace("  hosts: all:!classified\n", "  hosts: all\n"))
    (tmp_path / "templates").symlink_to(PLAYBOOKS / "templates")
    before = classified_host.written()
    argv = [str(ANSIBLE_PLAYBOOK), "-i", str(classified_host.inventory), str(copy)]
    run = Run(
        subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=300,
            env=ansible_env(tmp_path),
            check=False,
        )
    )
    assert run.rc != 0 and run.recap["failed"] == 1 and run.recap["ok"] == 0, run
    assert "classified computers are changed only by isolate_classified_host.yml" in run.stdout
    assert classified_host.written() == before


@needs_host
def test_other_playbooks_never_touch_a_classified_host(classified_host: Playbooks) -> None:
    before = classified_host.written()
    run = classified_host.run("enable_firewall.yml")
    assert run.rc == 0 and run.recap == {}, run  # no host matched: nothing ran on it
    assert "skipping: no hosts matched" in run.stdout
    assert classified_host.written() == before
    assert "govguard" not in classified_host.ruleset()


@needs_host
def test_isolate_classified_host(tmp_path: Path) -> None:
    with TestHost(tmp_path / "host") as host:
        books = Playbooks(host, tmp_path, groups=("classified",))
        before = books.written()
        check = books.run("isolate_classified_host.yml", "--check", "--diff")
        assert check.rc == 0 and check.recap["changed"] > 0, check
        assert "govguard-isolation.service" in check.stdout
        assert books.written() == before
        assert host.reachable()

        applied = books.run("isolate_classified_host.yml")
        assert applied.rc == 0 and applied.recap["failed"] == 0, applied
        # The links go down a few seconds after the play (its own session ends first).
        deadline = time.monotonic() + 60  # a safety net, not a timing assertion
        while host.reachable(timeout_s=1) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not host.reachable()
        links = host.run(["ip", "-o", "link", "show", "up"]).stdout.splitlines()
        assert [line.split(": ")[1] for line in links] == ["lo"]
        unit = host.upper("/etc") / "systemd" / "system" / "govguard-isolation.service"
        assert "ip link set dev" in unit.read_text()
        wants = host.upper("/etc") / "systemd" / "system" / "sysinit.target.wants"
        assert (wants / "govguard-isolation.service").is_symlink()
        # BMNN-01 reads this: no interface up but loopback.
        done = host.run([str(AGENT), "once", "--section", "network"], timeout=120)
        assert done.returncode == 0, done.stderr
        interfaces = json.loads(done.stdout)["network"]["interfaces"]
        assert [i["name"] for i in interfaces if i["up"] and i["kind"] != "loopback"] == []
