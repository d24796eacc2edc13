"""The SSH client's checks, keys and known_hosts handling (no connection; sshd is in
tests/integration/test_ssh_collect.py). Keys are made by the real ssh-keygen where OpenSSH's
view is the point."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from controller.discovery import ssh
from tests.support.sshd import keygen


@pytest.mark.parametrize(
    "host, expected",
    [
        pytest.param("127.0.0.1", "127.0.0.1", id="IPv4"),
        pytest.param("::1", "::1", id="IPv6"),
        pytest.param("Srv-VanThu.ubnd.local.", "srv-vanthu.ubnd.local", id="name, trailing dot"),
    ],
)
def test_check_host_accepts(host: str, expected: str) -> None:
    assert ssh.check_host(host) == expected


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("-oProxyCommand=touch /tmp/x", id="an ssh option"),
        pytest.param("a b", id="space"),
        pytest.param("a;b", id="shell"),
        pytest.param("[::1]:22", id="brackets"),
        pytest.param("a,b", id="known_hosts list"),
        pytest.param("", id="empty"),
        pytest.param("x" * 64 + ".vn", id="label too long"),
        pytest.param("-a.vn", id="label starts with -"),
    ],
)
def test_check_host_refuses(host: str) -> None:
    with pytest.raises(ssh.SshError) as caught:
        ssh.check_host(host)
    assert caught.value.code == "invalid"


def test_usernames_ports_and_fingerprints() -> None:
    assert ssh.check_username("backup_01") == "backup_01"
    for bad in ("-oX", "a b", "", "x" * 40, "root;id"):
        with pytest.raises(ssh.SshError):
            ssh.check_username(bad)
    for bad_port in (0, 65536):
        with pytest.raises(ssh.SshError):
            ssh.check_port(bad_port)
    good = "SHA256:" + "a" * 43
    assert ssh.check_fingerprint(f" {good} ") == good
    for bad in ("MD5:aa:bb", "SHA256:" + "a" * 42, "SHA256:" + "!" * 43):
        with pytest.raises(ssh.SshError):
            ssh.check_fingerprint(bad)


def test_endpoint_names_and_trust_command() -> None:
    assert ssh.endpoint("10.0.0.5").known_hosts_name == "10.0.0.5"
    target = ssh.endpoint("10.0.0.5", 2222, "backup")
    assert target.known_hosts_name == "[10.0.0.5]:2222" and str(target) == "backup@10.0.0.5:2222"
    assert ssh.trust_command(target, "SHA256:x") == (
        "govguard ssh trust 10.0.0.5 --port 2222 --fingerprint SHA256:x"
    )


def test_fingerprint_is_the_one_ssh_keygen_prints(tmp_path: Path) -> None:
    keygen(tmp_path / "k", "c")
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(tmp_path / "k.pub")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]
    assert ssh.fingerprint(ssh.read_public_key(tmp_path / "k.pub")) == printed
    assert ssh.fingerprint(ssh.load_private_key(tmp_path / "k")) == printed


def test_generated_key_is_private_and_openssh_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "ssh" / "id_ed25519"
    line = ssh.generate_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert line.startswith("ssh-ed25519 ") and line.endswith(" govguard\n")
    # OpenSSH derives the same public key from the private key file.
    derived = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(path)], check=True, capture_output=True, text=True
    ).stdout.split()[:2]
    assert derived == line.split()[:2]
    assert ssh.public_line(ssh.load_private_key(path)) == " ".join(derived)
    with pytest.raises(ssh.SshError, match="exists already"):
        ssh.generate_key(path)


def test_private_key_problems_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ssh.SshError, match="govguard ssh keygen"):
        ssh.load_private_key(tmp_path / "missing")
    keygen(tmp_path / "k", "c")
    (tmp_path / "k").chmod(0o640)
    with pytest.raises(ssh.SshError, match="readable by other users"):
        ssh.load_private_key(tmp_path / "k")
    junk = tmp_path / "junk"
    junk.write_text("not a key")
    junk.chmod(0o600)
    with pytest.raises(ssh.SshError, match="not a usable private key"):
        ssh.load_private_key(junk)
    with pytest.raises(ssh.SshError, match="not a usable public key"):
        ssh.read_public_key(junk)
    junk.write_text("oneword\n")
    with pytest.raises(ssh.SshError, match="not a public key file"):
        ssh.read_public_key(junk)


def test_pinning_replaces_the_old_key_and_says_which(tmp_path: Path) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    target = ssh.endpoint("10.0.0.5", 2222)
    other = ssh.endpoint("10.0.0.6")
    keygen(tmp_path / "a", "a")
    keygen(tmp_path / "b", "b")
    a, b = ssh.read_public_key(tmp_path / "a.pub"), ssh.read_public_key(tmp_path / "b.pub")
    assert ssh.pin_host_key(known, target, a) is None
    assert ssh.pin_host_key(known, other, b) is None
    assert stat.S_IMODE(known.stat().st_mode) == 0o600
    assert known.read_text().splitlines()[0] == f"[10.0.0.5]:2222 {ssh.public_line(a)}"
    # The same key again changes nothing; another one replaces it (one key per host).
    assert ssh.pin_host_key(known, target, a) is None
    replaced = ssh.pin_host_key(known, target, b)
    assert replaced is not None and ssh.fingerprint(replaced) == ssh.fingerprint(a)
    assert ssh.pinned_hosts(known) == {
        "[10.0.0.5]:2222": ssh.fingerprint(b),
        "10.0.0.6": ssh.fingerprint(b),
    }
    pinned = ssh.pinned_key(known, target)
    assert pinned is not None and ssh.fingerprint(pinned) == ssh.fingerprint(b)
    assert ssh.pinned_key(known, ssh.endpoint("10.0.0.7")) is None
