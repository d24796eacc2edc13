"""agent.platform._portable: sockets, processes, remote-tool matching and sshd_config parsing."""

from __future__ import annotations

import socket
import sys
from collections import namedtuple
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from agent import catalog
from agent.errors import FactUnavailable
from agent.platform import _common, _portable
from agent.report.security import ListeningPort, RemoteTool

Addr = namedtuple("Addr", "ip port")
Conn = namedtuple("Conn", "fd family type laddr raddr status pid")


def tcp(ip: str, port: int, pid: int | None, status: str = psutil.CONN_LISTEN) -> Conn:
    """A TCP socket as psutil.net_connections returns it."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    raddr = () if status == psutil.CONN_LISTEN else Addr("10.20.1.5", 51000)
    return Conn(-1, family, socket.SOCK_STREAM, Addr(ip, port), raddr, status, pid)


def udp(ip: str, port: int, pid: int | None, peer: Addr | tuple[()] = ()) -> Conn:
    """A UDP socket; with a peer it is a connected client socket, not a listener."""
    return Conn(-1, socket.AF_INET, socket.SOCK_DGRAM, Addr(ip, port), peer, psutil.CONN_NONE, pid)


@dataclass
class FakePsutil:
    """What the tests make psutil report: processes by pid, and sockets."""

    processes: dict[int, str] = field(default_factory=dict)
    sockets: list[Conn] = field(default_factory=list)
    denied_pids: set[int] = field(default_factory=set)
    sockets_denied: bool = False
    iter_calls: int = 0


class _Proc:
    def __init__(self, fake: FakePsutil, pid: int) -> None:
        self.fake, self.pid = fake, pid
        self.info = {"name": fake.processes.get(pid)}

    def name(self) -> str:
        if self.pid in self.fake.denied_pids:
            raise psutil.AccessDenied(self.pid)
        if self.pid not in self.fake.processes:
            raise psutil.NoSuchProcess(self.pid)
        return self.fake.processes[self.pid]


def install_fake_psutil(monkeypatch: pytest.MonkeyPatch, fake: FakePsutil) -> FakePsutil:
    """Route the psutil calls _portable makes to ``fake``."""

    def process_iter(attrs: list[str] | None = None) -> Iterator[_Proc]:
        fake.iter_calls += 1
        return iter([_Proc(fake, pid) for pid in sorted(fake.processes)])

    def net_connections(kind: str = "inet") -> list[Conn]:
        if fake.sockets_denied:
            raise psutil.AccessDenied()
        return list(fake.sockets)

    monkeypatch.setattr(psutil, "process_iter", process_iter)
    monkeypatch.setattr(_portable, "list_process_names", _portable.psutil_process_names)
    monkeypatch.setattr(psutil, "net_connections", net_connections)
    monkeypatch.setattr(psutil, "Process", lambda pid: _Proc(fake, pid))
    _portable.clear_cache()
    return fake


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    _portable.clear_cache()
    yield
    _portable.clear_cache()


# --- listening ports ---------------------------------------------------------------------------


def test_listening_ports_keeps_listeners_and_bound_udp_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_fake_psutil(
        monkeypatch,
        FakePsutil(
            processes={612: "sshd", 613: "sshd", 845: "chronyd", 1290: "VGCASignService"},
            sockets=[
                tcp("0.0.0.0", 22, 612),
                tcp("::", 22, 612),
                tcp("0.0.0.0", 22, 612),  # the same socket seen through a second fd
                tcp("10.20.1.15", 22, 613, status=psutil.CONN_ESTABLISHED),
                udp("127.0.0.1", 323, 845),
                udp("10.20.1.15", 40112, 845, peer=Addr("10.20.1.1", 53)),
                tcp("127.0.0.1", 8987, 1290),
                tcp("0.0.0.0", 631, None),  # another user's socket, seen unprivileged
            ],
        ),
    )
    assert _portable.listening_ports() == [
        ListeningPort(protocol="tcp", address="0.0.0.0", port=22, process="sshd", pid=612),
        ListeningPort(protocol="tcp", address="::", port=22, process="sshd", pid=612),
        ListeningPort(protocol="tcp", address="0.0.0.0", port=631, process=None, pid=None),
        ListeningPort(
            protocol="tcp", address="127.0.0.1", port=8987, process="VGCASignService", pid=1290
        ),
        ListeningPort(protocol="udp", address="127.0.0.1", port=323, process="chronyd", pid=845),
    ]


def test_listening_ports_tolerates_vanished_and_denied_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_fake_psutil(
        monkeypatch,
        FakePsutil(
            processes={700: "cupsd"},
            denied_pids={700},
            sockets=[tcp("127.0.0.1", 631, 700), tcp("0.0.0.0", 5900, 4242)],  # 4242 exited
        ),
    )
    ports = _portable.listening_ports()
    assert [(p.port, p.pid, p.process) for p in ports] == [(631, 700, None), (5900, 4242, None)]


def test_listening_ports_denied_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_psutil(monkeypatch, FakePsutil(sockets_denied=True))
    with pytest.raises(FactUnavailable, match="run as root"):
        _portable.listening_ports()


# --- processes ---------------------------------------------------------------------------------


def test_process_names_is_one_snapshot_per_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install_fake_psutil(
        monkeypatch, FakePsutil(processes={1: "systemd", 900: "clamd", 901: "AnyDesk.exe"})
    )
    assert _portable.process_names() == {"systemd", "clamd", "AnyDesk.exe"}
    fake.processes[902] = "teamviewerd"
    assert "teamviewerd" not in _portable.process_names()  # same collection: cached
    assert fake.iter_calls == 1
    _portable.clear_cache()
    assert "teamviewerd" in _portable.process_names()


def test_process_names_failure_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(attrs: Any = None) -> Any:
        raise psutil.AccessDenied()

    monkeypatch.setattr(psutil, "process_iter", broken)
    monkeypatch.setattr(_portable, "list_process_names", _portable.psutil_process_names)
    with pytest.raises(FactUnavailable, match="cannot list processes"):
        _portable.process_names()


def _proc_tree(root: Path, processes: dict[str, tuple[str, bytes]]) -> None:
    """A /proc with comm and cmdline files, as proc(5) describes them."""
    (root / "proc" / "self").mkdir(parents=True)  # not a pid: skipped
    for pid, (comm, cmdline) in processes.items():
        folder = root / "proc" / pid
        folder.mkdir()
        (folder / "comm").write_text(comm + "\n", encoding="utf-8")
        (folder / "cmdline").write_bytes(cmdline)


def test_proc_comm_names_completes_truncated_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _proc_tree(
        tmp_path,
        {
            "1": ("systemd", b"/sbin/init\0splash\0"),
            "812": ("clamd", b"/usr/sbin/clamd\0--foreground=true\0"),
            # comm keeps 15 characters; cmdline gives the whole name (psutil does the same).
            "1604": ("chrome-remote-d", b"/opt/google/chrome-remote-desktop-host\0"),
            # a kernel thread: empty cmdline, the comm name stays.
            "25": ("kworker/0:1-eve", b""),
        },
    )
    (tmp_path / "proc" / "999").mkdir()  # a process that ended between listdir and read
    monkeypatch.setattr(_common, "HOST_ROOT", tmp_path)
    assert _portable.proc_comm_names() == {
        "systemd",
        "clamd",
        "chrome-remote-desktop-host",
        "kworker/0:1-eve",
    }


def test_proc_comm_names_agrees_with_psutil_on_this_machine() -> None:
    """The point of this one is the real /proc: both readers must see the same processes."""
    if not sys.platform.startswith("linux"):
        pytest.skip("/proc is Linux")
    ours, theirs = _portable.proc_comm_names(), _portable.psutil_process_names()
    # Processes start and end between the two listings; the long-lived ones must agree.
    assert {"python", "python3", "pytest"} & (ours | theirs)
    assert len(ours ^ theirs) <= max(3, len(ours) // 10), ours ^ theirs


# --- remote tools ------------------------------------------------------------------------------

TOOLS = catalog.remote_tools(["Zoho Assist"])


@pytest.mark.parametrize(
    ("installed", "services", "processes", "expected"),
    [
        pytest.param(
            ["UltraViewer version 6.6.49", "Unikey 4.3 RC5", "Bkav Pro Internet Security"],
            ["Spooler", "UltraViewService", "UltraViewer Service"],  # names and display names
            {"UltraViewer_Desktop.exe": 4100},
            [
                RemoteTool(
                    name="UltraViewer",
                    evidence=["installed", "service", "process"],
                    running=True,
                    detail="UltraViewer version 6.6.49; service UltraViewer Service",
                )
            ],
            id="UltraViewer installed, service and running on Windows",
        ),
        pytest.param(
            [],
            [],
            {"AnyDesk.exe": 5000},
            [
                RemoteTool(
                    name="AnyDesk", evidence=["process"], running=True, detail="process AnyDesk.exe"
                )
            ],
            id="portable AnyDesk run from Downloads: process only",
        ),
        pytest.param(
            ["teamviewer", "libreoffice-writer"],
            ["teamviewerd"],
            {},
            [
                RemoteTool(
                    name="TeamViewer",
                    evidence=["installed", "service"],
                    running=False,
                    detail="teamviewer; service teamviewerd",
                )
            ],
            id="TeamViewer package and unit on Linux, not running",
        ),
        pytest.param(
            ["Zoho Assist Unattended Agent"],
            [],
            {},
            [
                RemoteTool(
                    name="Zoho Assist",
                    evidence=["installed"],
                    running=False,
                    detail="Zoho Assist Unattended Agent",
                )
            ],
            id="operator-added tool",
        ),
        pytest.param(
            ["Microsoft Office Professional Plus 2019", "VNPT-CA Plugin"],
            ["Spooler"],
            {"rustdesk-updater": 1, "notepad.exe": 2},
            [],
            id="nothing matches (a similar process name is not the tool)",
        ),
    ],
)
def test_find_remote_tools(
    monkeypatch: pytest.MonkeyPatch,
    installed: list[str],
    services: list[str],
    processes: dict[str, int],
    expected: list[RemoteTool],
) -> None:
    install_fake_psutil(monkeypatch, FakePsutil(processes={v: k for k, v in processes.items()}))
    assert _portable.find_remote_tools(TOOLS, installed, services) == expected


def test_find_remote_tools_without_process_list(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(attrs: Any = None) -> Any:
        raise OSError("no /proc")

    monkeypatch.setattr(psutil, "process_iter", broken)
    found = _portable.find_remote_tools(TOOLS, ["RustDesk 1.2.3"], [])
    assert found == [
        RemoteTool(name="RustDesk", evidence=["installed"], running=False, detail="RustDesk 1.2.3")
    ]


# --- sshd_config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "PermitRootLogin no\nPermitRootLogin yes\n",
            {"permitrootlogin": ["no"]},
            id="first value wins",
        ),
        pytest.param(
            "Port 22\nport=2222\n  PORT = 2200\n",
            {"port": ["22", "2222", "2200"]},
            id="Port accumulates, case-insensitive, with =",
        ),
        pytest.param(
            '# comment\n\nPasswordAuthentication "no"  # trailing\nAcceptEnv LANG LC_*\n',
            {"passwordauthentication": ["no"], "acceptenv": ["LANG", "LC_*"]},
            id="quotes and comments",
        ),
        pytest.param(
            "Subsystem\tsftp\t/usr/lib/openssh/sftp-server\n",
            {"subsystem": ["sftp", "/usr/lib/openssh/sftp-server"]},
            id="tab separated",
        ),
        pytest.param(
            "PasswordAuthentication no\nMatch User quantri\n  PasswordAuthentication yes\n"
            "  PermitRootLogin yes\n",
            {"passwordauthentication": ["no"]},
            id="Match block ignored",
        ),
        pytest.param(
            'Banner "/etc/issue.net\nUsePAM yes\n',
            {"banner": ['"/etc/issue.net'], "usepam": ["yes"]},
            id="unbalanced quote kept raw",
        ),
        pytest.param("\x00\x01garbage\n===\n", {}, id="garbage"),
    ],
)
def test_parse_sshd_config(text: str, expected: dict[str, list[str]]) -> None:
    assert _portable.parse_sshd_config(text) == expected
