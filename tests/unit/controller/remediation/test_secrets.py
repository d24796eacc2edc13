"""The become and WinRM secrets (controller.remediation.secrets): the 0600 file, the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.remediation.model import RemediationError
from controller.remediation.secrets import ENV, load_secrets, secrets_path
from controller.settings import ControllerConfig, RemediationConfig, SshConfig, settings_for


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ENV.values():
        monkeypatch.delenv(variable, raising=False)


def _write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = secrets_path(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_a_file_others_may_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = _write(tmp_path, "become_password: bí-mật-sudo\n", mode=0o644)
    with pytest.raises(RemediationError) as err:
        load_secrets(settings_for(tmp_path))
    assert str(err.value) == f"{path}: other users may read it (mode 0644); run chmod 600 {path}"
    assert "bí-mật" not in str(err.value)


def test_the_file_gives_the_passwords_and_keeps_them_out_of_repr(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "become_password: bí-mật-sudo\nwinrm_user: 'QUANTRI\\govguard'\nwinrm_password: 'w1n'\n",
    )
    secrets = load_secrets(settings_for(tmp_path))
    assert secrets.passwords() == {"become_password": "bí-mật-sudo", "winrm_password": "w1n"}
    assert secrets.winrm_user == "QUANTRI\\govguard"
    assert "bí-mật" not in repr(secrets) and "w1n" not in repr(secrets)


def test_the_environment_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, "become_password: from-file\nwinrm_password: from-file\n")
    monkeypatch.setenv("GOVGUARD_ANSIBLE_BECOME_PASSWORD", "from-env")
    monkeypatch.setenv("GOVGUARD_ANSIBLE_WINRM_USER", "govguard@xa.lan")
    secrets = load_secrets(settings_for(tmp_path))
    assert secrets.passwords() == {"become_password": "from-env", "winrm_password": "from-file"}
    assert secrets.winrm_user == "govguard@xa.lan"


def test_no_file_and_no_environment_is_no_password(tmp_path: Path) -> None:
    assert load_secrets(settings_for(tmp_path)).passwords() == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("sudo_password: x\n", "unknown field 'sudo_password'", id="unknown field"),
        pytest.param("become_password: [a, b]\n", "become_password must be a string", id="list"),
        pytest.param("winrm_user: 'a b'\n", "is not a Windows account", id="bad account"),
        pytest.param("become_password: [\n", "not valid YAML", id="not YAML"),
    ],
)
def test_a_bad_file_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    _write(tmp_path, text)
    with pytest.raises(RemediationError) as err:
        load_secrets(settings_for(tmp_path))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_ssh_key_and_known_hosts_default_to_govguard_ssh_s(tmp_path: Path) -> None:
    secrets = load_secrets(settings_for(tmp_path))
    assert secrets.key_file == tmp_path / "ssh" / "id_ed25519"
    assert secrets.known_hosts == tmp_path / "ssh" / "known_hosts"
    ssh = SshConfig(key_file=tmp_path / "k", known_hosts=tmp_path / "kh")
    assert (
        load_secrets(settings_for(tmp_path, ControllerConfig(ssh=ssh))).key_file == tmp_path / "k"
    )
    own = RemediationConfig(key_file=tmp_path / "a", known_hosts=tmp_path / "b")
    secrets = load_secrets(settings_for(tmp_path, ControllerConfig(remediation=own, ssh=ssh)))
    assert (secrets.key_file, secrets.known_hosts) == (tmp_path / "a", tmp_path / "b")
