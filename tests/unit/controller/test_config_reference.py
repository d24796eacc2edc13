"""docs/configuration.md: current, complete, and its defaults are the models' own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from agent.config import AgentConfig, ProbeConfig
from controller import config_reference
from controller.config_reference import Key, field_comments, post_init_checks, sections, walk
from controller.settings import ControllerConfig, SnmpConfig

_CONTROLLER = list(walk(ControllerConfig, "", ControllerConfig(), {ProbeConfig: "probes"}))
_AGENT = list(walk(AgentConfig, "", AgentConfig(), {}))


def test_committed_page_is_current(repo_root: Path) -> None:
    committed = (repo_root / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == config_reference.render(), (
        "docs/configuration.md is out of date: run `make config-docs` and commit it"
    )


def test_check_mode_reports_a_stale_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "configuration.md"
    page.write_text("# an old page\n", encoding="utf-8")
    assert config_reference.main(["--check", "--out", str(page)]) == 1
    assert "run `make config-docs`" in capsys.readouterr().err
    assert config_reference.main(["--out", str(page)]) == 0
    assert config_reference.main(["--check", "--out", str(page)]) == 0


@pytest.mark.parametrize("key", [pytest.param(k, id=k.path) for k in _CONTROLLER + _AGENT])
def test_every_key_is_described(key: Key) -> None:
    assert key.description, (
        f"{key.path} has no description: write a `#:` comment above the field in its model"
    )


def test_every_model_key_is_listed() -> None:
    paths = {key.path for key in _CONTROLLER}
    for name in msgspec.structs.fields(SnmpConfig):
        assert f"snmp.{name.encode_name}" in paths
    assert {"listen.agents.port", "notify.webhooks[].url", "metrics.token_file"} <= paths
    # The agents' probe block is documented once, in the agent's part of the page.
    assert "agents.probes" in paths and not any(p.startswith("agents.probes.") for p in paths)
    assert "probes.https[].url" in {key.path for key in _AGENT}


def _by_path(path: str) -> Key:
    return next(key for key in _CONTROLLER + _AGENT if key.path == path)


@pytest.mark.parametrize(
    ("path", "type_", "default", "allowed"),
    [
        pytest.param("snmp.timeout_s", "number", "`2.0`", "> 0; ≤ 60", id="float bounds"),
        pytest.param("snmp.interval_s", "integer", "`900` (15 min)", "0 to 604800", id="seconds"),
        pytest.param(
            "ingest.max_body_bytes", "integer", "`1048576` (1 MiB)", "1024 to 268435456", id="bytes"
        ),
        pytest.param("snmp.v2c_codec", "text", "`builtin`", "`builtin` or `pysnmp`", id="literal"),
        pytest.param(
            "notify.routes[].min_severity",
            "text",
            "`high`",
            "`critical` or `high` or `medium` or `low` or `info`",
            id="literal in the source's order",
        ),
        pytest.param(
            "remediation.remote_user",
            "text",
            "`govguard`",
            "pattern `^[a-z_][a-z0-9_.-]{0,31}$`",
            id="pattern",
        ),
        pytest.param("database_url", "text or null", "`null`", "length ≥ 1", id="optional"),
        pytest.param(
            "server_names", "list of text", '`["localhost"]`', "at least 1 item", id="list length"
        ),
        pytest.param(
            "listen.agents.host",
            "text",
            "`0.0.0.0`",
            "length 1 to 253",
            id="default from the parent block",
        ),
        pytest.param(
            "listen.admin.port", "integer", "required", "1 to 65535", id="optional block's key"
        ),
        pytest.param(
            "signing_ports",
            "list of integer",
            "`[8987, 4433]`",
            "each item: 1 to 65535",
            id="list items",
        ),
    ],
)
def test_rows(path: str, type_: str, default: str, allowed: str) -> None:
    key = _by_path(path)
    assert (key.type, key.default, key.constraints) == (type_, default, allowed)


def _with(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    head, _, rest = path.partition(".")
    return {**config, head: _with(config[head], rest, value) if rest else value}


def _in_default_block(key: Key) -> bool:
    """A key with a value, not inside a list item or a block that is null by default."""
    nulls = {k.path for k in _CONTROLLER if k.default == "`null`"}
    parents = {key.path.rsplit(".", n)[0] for n in range(1, key.path.count(".") + 1)}
    return key.default.startswith("`") and "[]" not in key.path and not parents & nulls


@pytest.mark.parametrize(
    "key", [pytest.param(k, id=k.path) for k in _CONTROLLER if _in_default_block(k)]
)
def test_documented_defaults_load_as_the_defaults(key: Key) -> None:
    # The page's default, written into config.yaml (the other keys as built in), must load as
    # exactly the built-in configuration.
    literal = key.default.split("`")[1]
    raw = _with(msgspec.to_builtins(ControllerConfig()), key.path, yaml.safe_load(literal))
    loaded = msgspec.convert(raw, ControllerConfig, dec_hook=lambda _t, v: Path(v))
    assert msgspec.to_builtins(loaded) == msgspec.to_builtins(ControllerConfig())


def test_comments_describe_only_the_field_below() -> None:
    comments = field_comments(SnmpConfig)
    assert comments["timeout_s"] == "Per request: seconds to wait for an answer."
    assert comments["retries"] == "Times a request is sent again after a timeout."
    assert comments["enforce_units"].startswith("Units (and their sub-units)")


def test_cross_field_checks_are_listed() -> None:
    assert post_init_checks(SnmpConfig) == []
    checks = {check for s in sections(ControllerConfig, "top", {}) for check in s.checks}
    assert any(c.startswith("full_every_s (…) must be at least interval_s") for c in checks)
