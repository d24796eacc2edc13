"""Loading the agent's config file: defaults, valid files, and one clear error per mistake.

Every error must name the file and, where there is one, the offending key (or line:column for
YAML syntax), so an operator can fix it without reading code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.config import AgentConfig, load_config
from agent.errors import ConfigError

FULL = """\
# Trạm: UBND xã Phú Lương, bộ phận Một cửa
probes:
  gateway: true
  timeout_seconds: 4
  dns:
    names: [dichvucong.gov.vn, thainguyen.gov.vn]
    servers: ["10.10.0.1", "203.162.4.190:53"]
  https:
    - {name: dichvucong, url: "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html",
       role: public_service}
    - {name: cổng-tỉnh, url: "https://thainguyen.gov.vn/", role: internet}
    - {name: qlvb, url: "https://qlvb.thainguyen.gov.vn/", role: document_system,
       timeout_seconds: 8}
  tcp:
    - {name: tslcd, host: 10.160.0.10, port: 443, role: tslcd}
remote_tools: [Phần mềm điều khiển XYZ]
antimalware: [CMC Endpoint Security]
ca_markers: [Cơ quan chứng thực số chuyên dùng Chính phủ]
signing_ports: [8987]
"""


def _write(tmp_path: Path, text: str | bytes, name: str = "agent.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_no_file_gives_the_defaults() -> None:
    config = load_config(None)
    assert config == AgentConfig()
    assert config.probes.gateway is True
    assert config.probes.timeout_seconds == 3.0
    assert config.signing_ports == [8987, 4433]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty file"),
        pytest.param("# chỉ có chú thích\n", id="only a comment"),
        pytest.param("---\n", id="empty document"),
    ],
)
def test_an_empty_file_gives_the_defaults(tmp_path: Path, text: str) -> None:
    assert load_config(_write(tmp_path, text)) == AgentConfig()


def test_a_full_file_is_read_as_written(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, FULL))
    probes = config.probes
    assert probes.timeout_seconds == 4
    assert probes.dns.names == ["dichvucong.gov.vn", "thainguyen.gov.vn"]
    assert probes.dns.servers == ["10.10.0.1", "203.162.4.190:53"]
    assert [(t.name, t.role) for t in probes.https] == [
        ("dichvucong", "public_service"),
        ("cổng-tỉnh", "internet"),
        ("qlvb", "document_system"),
    ]
    assert probes.https[1].timeout_seconds is None
    assert probes.https[2].timeout_seconds == 8
    assert [(t.host, t.port, t.role) for t in probes.tcp] == [("10.160.0.10", 443, "tslcd")]
    assert config.remote_tools == ["Phần mềm điều khiển XYZ"]
    assert config.antimalware == ["CMC Endpoint Security"]
    assert config.ca_markers == ["Cơ quan chứng thực số chuyên dùng Chính phủ"]
    assert config.signing_ports == [8987]


@pytest.mark.parametrize(
    ("text", "defaults"),
    [
        pytest.param(
            "probes: {https: [{name: a, url: 'https://a.test/'}]}",
            {"role": "internet", "timeout": None},
            id="https target defaults to the internet role",
        ),
        pytest.param(
            "probes: {tcp: [{name: a, host: a.test, port: 1}]}",
            {"role": "lan", "timeout": None},
            id="tcp target defaults to the lan role",
        ),
    ],
)
def test_target_defaults(tmp_path: Path, text: str, defaults: dict[str, object]) -> None:
    probes = load_config(_write(tmp_path, text)).probes
    target = (probes.https or probes.tcp)[0]
    assert target.role == defaults["role"]
    assert target.timeout_seconds == defaults["timeout"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "probes:\n  gatway: false\n",
            r"agent\.yaml: probes: .*unknown field `gatway`",
            id="misspelt nested key",
        ),
        pytest.param(
            "probe:\n  gateway: false\n",
            r"agent\.yaml: .*unknown field `probe`",
            id="misspelt top-level key",
        ),
        pytest.param(
            "probes:\n  timeout_seconds: nhanh\n",
            r"agent\.yaml: probes\.timeout_seconds: Expected `float`, got `str`",
            id="wrong type",
        ),
        pytest.param(
            "probes:\n  timeout_seconds: 0\n",
            r"agent\.yaml: probes\.timeout_seconds: Expected `float` > 0",
            id="timeout zero",
        ),
        pytest.param(
            "probes:\n  timeout_seconds: 600\n",
            r"agent\.yaml: probes\.timeout_seconds: Expected `float` <= 60",
            id="timeout too long",
        ),
        pytest.param(
            "probes:\n  gateway: có\n",
            r"agent\.yaml: probes\.gateway: Expected `bool`, got `str`",
            id="Vietnamese yes is not a boolean",
        ),
        pytest.param(
            "probes:\n  https:\n    - {name: dvc, url: 'http://dichvucong.gov.vn/'}\n",
            r"agent\.yaml: probes\.https\[0\]\.url: Expected `str` matching regex",
            id="plain http url",
        ),
        pytest.param(
            "probes:\n  https:\n    - {url: 'https://dichvucong.gov.vn/'}\n",
            r"agent\.yaml: probes\.https\[0\]: Object missing required field `name`",
            id="https target without a name",
        ),
        pytest.param(
            "probes:\n  https:\n    - {name: dvc, url: 'https://dichvucong.gov.vn/', role: web}\n",
            r"agent\.yaml: probes\.https\[0\]\.role: Invalid enum value 'web'",
            id="unknown role",
        ),
        pytest.param(
            "probes:\n  tcp:\n    - {name: tslcd, host: 10.160.0.10, port: 70000}\n",
            r"agent\.yaml: probes\.tcp\[0\]\.port: Expected `int` <= 65535",
            id="port out of range",
        ),
        pytest.param(
            "probes:\n  tcp:\n    - {name: tslcd, host: 10.160.0.10, port: '443'}\n",
            r"agent\.yaml: probes\.tcp\[0\]\.port: Expected `int`, got `str`",
            id="quoted port",
        ),
        pytest.param(
            "probes:\n  tcp: []\n  tcp:\n    - {name: tslcd, host: 10.160.0.10, port: 443}\n",
            r"agent\.yaml:3:3: not valid YAML: found duplicate key 'tcp'",
            id="key given twice",
        ),
        pytest.param(
            "signing_ports: [8987, 0]\n",
            r"agent\.yaml: signing_ports\[1\]: Expected `int` >= 1",
            id="signing port zero",
        ),
        pytest.param(
            "probes:\n  gateway: [\n",
            r"agent\.yaml:3:1: not valid YAML: expected the node content",
            id="unclosed bracket, line and column",
        ),
        pytest.param(
            "probes:\n\tgateway: false\n",
            r"agent\.yaml:2:1: not valid YAML: found character '\\t'",
            id="tab indentation",
        ),
        pytest.param(
            "- probes\n- gateway\n",
            r"agent\.yaml: expected a mapping of options \(key: value\), got a list",
            id="top level is a list",
        ),
        pytest.param(
            "gateway\n",
            r"agent\.yaml: expected a mapping of options \(key: value\), got a single value",
            id="top level is a word",
        ),
        pytest.param(
            "probes:\n  timeout_seconds: 5\n  deadline_seconds: 2\n",
            r"agent\.yaml: probes: deadline_seconds \(2\) must be at least timeout_seconds \(5\)",
            id="deadline shorter than the timeout",
        ),
        pytest.param(
            "probes:\n  tcp:\n    - {name: a, host: 10.0.0.1, port: 1, timeout_seconds: 30}\n",
            r"agent\.yaml: probes: deadline_seconds \(10\) must be at least "
            r"tcp\[0\]\.timeout_seconds \(30\)",
            id="target timeout longer than the deadline",
        ),
        pytest.param(
            "probes:\n  dns:\n    servers: ['10.0.0.53:99999']\n",
            r"agent\.yaml: probes\.dns: servers\[0\]: port must be a number from 1 to 65535, "
            r"got '99999'",
            id="DNS server port too large",
        ),
        pytest.param(
            "probes:\n  dns:\n    servers: ['[2001:db8::53]:0']\n",
            r"agent\.yaml: probes\.dns: servers\[0\]: port must be a number from 1 to 65535",
            id="DNS server port zero",
        ),
        pytest.param(
            "probes:\n  dns:\n    servers: [10.0.0.53, dns.ubnd.test]\n",
            r"agent\.yaml: probes\.dns: servers\[1\]: DNS server must be an IP address, "
            r"got 'dns\.ubnd\.test'",
            id="DNS server by name",
        ),
        pytest.param(
            "probes:\n  dns:\n    servers: ['[10.0.0.53]:53']\n",
            r"agent\.yaml: probes\.dns: servers\[0\]: brackets are for IPv6 addresses",
            id="IPv4 DNS server in brackets",
        ),
        pytest.param(
            "probes:\n  https:\n    - {name: dvc, url: 'https://dichvucong.gov.vn:99999/'}\n",
            r"agent\.yaml: probes\.https\[0\]: url: port must be a number from 1 to 65535",
            id="URL port too large",
        ),
        pytest.param(
            "probes:\n  https:\n    - {name: dvc, url: 'https://[2001:db8::1]:0/'}\n",
            r"agent\.yaml: probes\.https\[0\]: url: port must be a number from 1 to 65535",
            id="URL port zero, IPv6 host",
        ),
        pytest.param(
            "remote_tools: " + "[" * 5000 + "]" * 5000 + "\n",
            r"agent\.yaml: lists or mappings nested too deeply",
            id="nested 5000 levels deep",
        ),
        pytest.param(
            "1: x\n",
            r"agent\.yaml: top level: option names must be text, got 1$",
            id="number as an option name",
        ),
        pytest.param(
            "probes:\n  https:\n    - {name: a, url: 'https://a.vn/', true: 1}\n",
            r"agent\.yaml: probes\.https\[0\]: option names must be text, got True$",
            id="boolean as a nested option name",
        ),
    ],
)
def test_mistakes_name_the_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert re.search(expected, message), message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "khong-co.yaml"
    with pytest.raises(ConfigError, match=r"khong-co\.yaml: config file not found$"):
        load_config(path)


def test_a_folder_instead_of_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r": cannot read config file: Is a directory$"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("probes:\n  gateway: không\n".encode("cp1258"), id="Windows-1258"),
        pytest.param(b"\xff\xfep\x00r\x00", id="UTF-16 with BOM"),
    ],
)
def test_a_file_that_is_not_utf8(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError, match=r"agent\.yaml: not UTF-8 text \(byte \d+\)"):
        load_config(path)


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    text = (
        "probes:\n"
        "  https:\n"
        "    - &base {name: dvc, url: 'https://dichvucong.gov.vn/', role: public_service}\n"
        "    - {<<: *base, name: dvc-2}\n"
    )
    https = load_config(_write(tmp_path, text)).probes.https
    assert [(t.name, t.role) for t in https] == [
        ("dvc", "public_service"),
        ("dvc-2", "public_service"),
    ]


def test_the_demo_config_loads(repo_root: Path) -> None:
    config = load_config(repo_root / "examples" / "agent-demo.yaml")
    assert config.probes.gateway is False
    assert [(t.host, t.port) for t in config.probes.tcp] == [("127.0.0.1", 22)]


def _doc_examples(repo_root: Path) -> list[str]:
    """The YAML blocks of docs/agent.md that follow a ``<!-- config-example -->`` marker."""
    text = (repo_root / "docs" / "agent.md").read_text(encoding="utf-8")
    return re.findall(r"<!-- config-example -->\s*```yaml\n(.*?)```", text, flags=re.S)


def test_the_documented_example_loads(repo_root: Path, tmp_path: Path) -> None:
    examples = _doc_examples(repo_root)
    assert examples, "docs/agent.md has no <!-- config-example --> block"
    for n, text in enumerate(examples):
        config = load_config(_write(tmp_path, text, f"example-{n}.yaml"))
        assert config.probes.https, "the documented example should configure HTTPS targets"


@pytest.mark.parametrize(
    "servers",
    [
        pytest.param(["10.0.0.53"], id="IPv4"),
        pytest.param(["10.0.0.53:5353"], id="IPv4 with port"),
        pytest.param(["2001:db8::53"], id="IPv6"),
        pytest.param(["[2001:db8::53]:53", "[::1]"], id="IPv6 in brackets"),
    ],
)
def test_dns_server_forms_accepted(tmp_path: Path, servers: list[str]) -> None:
    text = "probes:\n  dns:\n    servers: [" + ", ".join(f"'{s}'" for s in servers) + "]\n"
    assert load_config(_write(tmp_path, text)).probes.dns.servers == servers


def test_deadline_equal_to_the_timeout_is_accepted(tmp_path: Path) -> None:
    probes = load_config(_write(tmp_path, "probes:\n  timeout_seconds: 5\n  deadline_seconds: 5\n"))
    assert (probes.probes.timeout_seconds, probes.probes.deadline_seconds) == (5, 5)


def test_unexpected_loader_failure_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> object:
        raise TypeError("bug in the YAML library")

    monkeypatch.setattr("agent.config.yaml.load", broken)
    path = _write(tmp_path, "probes: {}\n")
    with pytest.raises(ConfigError, match=r"agent\.yaml: cannot be read as a config"):
        load_config(path)
