"""SNMP secrets: the 0600 file, the environment, and one clear error for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.discovery.credentials import (
    Credential,
    CredentialError,
    credentials_path,
    env_name,
    load_credentials,
)

V3 = """\
snmp-huyen-v3:
  version: v3
  user: govguard
  auth_protocol: sha-256
  auth_key: "auth pass phrase"
  priv_protocol: aes128
  priv_key: "priv pass phrase"
snmp-xa-v2c:
  community: "xa-ro-community"
"""


def write(data_dir: Path, text: str, mode: int = 0o600) -> Path:
    path = credentials_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GOVGUARD_SNMP_* of the machine running the tests leaks in."""
    import os

    for name in list(os.environ):
        if name.startswith("GOVGUARD_SNMP_"):
            monkeypatch.delenv(name)


def test_file_credentials(tmp_path: Path) -> None:
    write(tmp_path, V3)
    creds = load_credentials(tmp_path)
    assert creds["snmp-xa-v2c"] == Credential("snmp-xa-v2c", "v2c", community="xa-ro-community")
    v3 = creds["snmp-huyen-v3"]
    assert (v3.version, v3.user, v3.auth_protocol, v3.priv_protocol) == (
        "v3",
        "govguard",
        "SHA256",
        "AES",
    )
    assert "pass phrase" not in repr(v3) and "xa-ro-community" not in repr(creds)


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert load_credentials(tmp_path) == {}


def test_environment_overrides_and_adds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, V3)
    monkeypatch.setenv(f"GOVGUARD_SNMP_{env_name('snmp-xa-v2c')}_COMMUNITY", "from-env")
    monkeypatch.setenv("GOVGUARD_SNMP_LAB_SWITCHES_COMMUNITY", "lab")
    creds = load_credentials(tmp_path)
    assert creds["snmp-xa-v2c"].community == "from-env"
    assert creds["lab-switches"] == Credential("lab-switches", "v2c", community="lab")


def test_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, V3, mode=0o644)
    with pytest.raises(CredentialError) as err:
        load_credentials(tmp_path)
    assert str(err.value) == (f"{path}: other users may read it (mode 0644); run chmod 600 {path}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a: [1", "not valid YAML", id="not YAML"),
        pytest.param("- a\n- b\n", "expected a mapping of credential names", id="a list"),
        pytest.param(
            "a: {version: v1, community: x}", "a: version 'v1' is not v2c or v3", id="SNMPv1"
        ),
        pytest.param(
            "a: {version: v2c}", "a: a v2c credential needs a community", id="no community"
        ),
        pytest.param(
            "a: {community: x, colour: red}", "a: unknown field 'colour'", id="unknown field"
        ),
        pytest.param(
            "a: {user: u, auth_key: 12345678}",
            "a: a v3 credential needs priv_key",
            id="authNoPriv",
        ),
        pytest.param(
            "a: {user: u, auth_key: short, priv_key: 12345678}",
            "a: auth_key is shorter than 8 characters",
            id="short key",
        ),
        pytest.param(
            "a: {user: u, auth_key: 12345678, priv_key: 12345678, priv_protocol: rc4}",
            "a: priv_protocol 'RC4' is not one of",
            id="unknown cipher",
        ),
    ],
)
def test_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CredentialError) as err:
        load_credentials(tmp_path)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)
    assert "12345678" not in str(err.value)
