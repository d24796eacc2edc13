"""The controller's config.yaml: defaults, the file init writes, one clear error per mistake."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from agent.config import ProbeConfig
from controller.settings import (
    AgentsConfig,
    SettingsError,
    default_config_text,
    load_settings,
    settings_for,
)


def _data_dir(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_the_file_init_writes_loads_back(tmp_path: Path) -> None:
    text = default_config_text(["GovGuard.Local", "192.0.2.10", "2001:db8::1"])
    settings = load_settings(_data_dir(tmp_path, text))
    assert settings.server_names == ["govguard.local", "192.0.2.10", "2001:db8::1"]
    assert settings.database_url == f"sqlite:///{tmp_path.resolve()}/govguard.db"
    assert (settings.listen.agents.host, settings.listen.agents.port) == ("0.0.0.0", 8443)
    assert settings.listen.admin is None
    assert (settings.agents.interval_s, settings.agents.full_every_s) == (300, 86400)
    assert settings.ingest.max_body_bytes == 1048576
    assert settings.ingest.max_decompressed_bytes == 16777216
    assert settings.ingest.batch_max == 256
    assert settings.ingest.batch_wait_ms == 5
    assert settings.retention.reports_days == 90
    assert settings.tls_cert == tmp_path.resolve() / "tls" / "server.crt"
    assert settings.tls_key == tmp_path.resolve() / "tls" / "server.key"
    assert settings.ca_cert == tmp_path.resolve() / "tls" / "ca.crt"


def test_database_url_is_kept_when_given(tmp_path: Path) -> None:
    text = default_config_text(["ubnd"], "postgresql://gg@db.local/govguard")
    settings = load_settings(_data_dir(tmp_path, text))
    assert settings.database_url == "postgresql://gg@db.local/govguard"


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    settings = load_settings(_data_dir(tmp_path, "# nothing yet\n"))
    assert settings.server_names == ["localhost"]
    assert settings.agents == AgentsConfig()


def test_admin_listener_and_probes(tmp_path: Path) -> None:
    text = """\
server_names: [govguard.local]
listen:
  agents: {host: 0.0.0.0, port: 8443}
  admin: {host: 127.0.0.1, port: 9443}
agents:
  interval_s: 600
  probes:
    https: [{name: dvc, url: "https://dichvucong.gov.vn/", role: public_service}]
"""
    settings = load_settings(_data_dir(tmp_path, text))
    assert settings.listen.admin is not None
    assert settings.listen.admin.port == 9443
    sent = settings.agent_settings()
    assert sent.interval_s == 600
    assert sent.version == settings.settings_version
    assert sent.probes is not None
    assert sent.probes["https"][0]["url"] == "https://dichvucong.gov.vn/"
    # What agents receive is a valid probes block for their own config.
    assert msgspec.convert(sent.probes, ProbeConfig).https[0].name == "dvc"


def test_settings_version_follows_the_agents_block_only(tmp_path: Path) -> None:
    base = settings_for(tmp_path)
    assert base.settings_version > 0
    same = load_settings(
        _data_dir(tmp_path, "agents: {interval_s: 300}\nretention: {reports_days: 7}\n")
    )
    assert same.settings_version == base.settings_version
    changed = load_settings(_data_dir(tmp_path, "agents: {interval_s: 301}\n"))
    assert changed.settings_version != base.settings_version
    probes = load_settings(_data_dir(tmp_path, "agents: {probes: {gateway: false}}\n"))
    assert probes.settings_version not in (base.settings_version, changed.settings_version)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "agents: {interval_s: 5}\n",
            "config.yaml: agents.interval_s: Expected `int` >= 60",
            id="too small",
        ),
        pytest.param(
            # The agent would clamp 30 to 60 and report at another pace than configured.
            "agents: {interval_s: 30, full_every_s: 600}\n",
            "config.yaml: agents.interval_s: Expected `int` >= 60",
            id="below the agents' minimum",
        ),
        pytest.param(
            "agents: {interval_s: 86401}\n",
            "config.yaml: agents.interval_s: Expected `int` <= 86400",
            id="heartbeat less than daily",
        ),
        pytest.param(
            "agents: {full_every_s: 2592001}\n",
            "config.yaml: agents.full_every_s: Expected `int` <= 2592000",
            id="full inventory less than monthly",
        ),
        pytest.param(
            "agents: {full_every_s: 120}\n",
            "config.yaml: agents: full_every_s (120) must be at least interval_s (300)",
            id="full inventories more often than the default heartbeat",
        ),
        pytest.param(
            "listen: {agents: {host: 0.0.0.0, port: 70000}}\n",
            "listen.agents.port",
            id="port out of range",
        ),
        pytest.param("agent: {interval_s: 300}\n", "unknown field `agent`", id="typo in a key"),
        pytest.param(
            "ingest: {max_body: 10}\n",
            "ingest: Object contains unknown field `max_body`",
            id="unknown nested key",
        ),
        pytest.param(
            "server_names: [a..b]\n",
            "server_names[0]: not a DNS name or IP address",
            id="bad server name",
        ),
        pytest.param(
            "server_names: [10.0.0.300]\n",
            "server_names[0]: not a valid IP address",
            id="address typo",
        ),
        pytest.param("server_names: []\n", "server_names", id="no server name"),
        pytest.param(
            "database_url: mysql://x/y\n",
            "database_url must start with sqlite:///",
            id="unsupported database",
        ),
        pytest.param(
            "agents: {interval_s: 3600, full_every_s: 600}\n",
            "agents: full_every_s (600) must be at least interval_s (3600)",
            id="full less often than heartbeats",
        ),
        pytest.param(
            "listen: {agents: {host: 0.0.0.0, port: 8443}, admin: {host: 127.0.0.1, port: 8443}}\n",
            "admin.port (8443) must differ from agents.port",
            id="admin on the agents port",
        ),
        pytest.param(
            "ingest: {max_body_bytes: 2048, max_decompressed_bytes: 1024}\n",
            "max_decompressed_bytes must be at least",
            id="inflated limit below the body limit",
        ),
        pytest.param(
            "agents: {probes: {tcp: [{name: a}]}}\n",
            "agents.probes.tcp[0]: Object missing required field `host`",
            id="bad probe",
        ),
        pytest.param(
            "agents: {interval_s: 300}\nagents: {jitter: 0.2}\n",
            "config.yaml:2:1: not valid YAML: found duplicate key 'agents'",
            id="duplicate key with line",
        ),
        pytest.param("listen: [1\n", "config.yaml:2:1: not valid YAML", id="broken YAML with line"),
        pytest.param(
            "- a\n- b\n", "expected a mapping of options (key: value), got a list", id="a list"
        ),
        pytest.param(b"retention: {reports_days: 9\xff}\n", "not UTF-8 text", id="not UTF-8"),
        pytest.param("1: x\n", "option names must be text", id="numeric key"),
        pytest.param("ssh: {key_file: 5}\n", "expected a path, got 5", id="a path that is not"),
    ],
)
def test_errors_name_the_file_and_key(tmp_path: Path, text: str | bytes, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_data_dir(tmp_path, text))
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "config.yaml"))
    assert expected in message
    assert "\n" not in message


def test_paths_are_read_from_text(tmp_path: Path) -> None:
    text = "ssh: {key_file: /etc/govguard/id_ed25519, known_hosts: null}\n"
    current = load_settings(_data_dir(tmp_path, text))
    assert current.ssh.key_file == Path("/etc/govguard/id_ed25519")
    assert current.ssh.known_hosts is None


def test_missing_data_dir(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"data directory not found .*govguard init"):
        load_settings(tmp_path / "nope")


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"config\.yaml: config file not found"):
        load_settings(tmp_path)


def test_data_dir_key_is_not_an_option(tmp_path: Path) -> None:
    # The data directory comes from the command line, never from the file inside it.
    with pytest.raises(SettingsError, match="unknown field `data_dir`"):
        load_settings(_data_dir(tmp_path, "data_dir: /etc\n"))
