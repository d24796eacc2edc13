"""The notify section of config.yaml: what loads, and one clear line for each mistake."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from controller.notify.config import SecretError, read_secret
from controller.settings import SettingsError, default_config_text, load_settings

GOOD = """\
notify:
  smtp: {host: mail.phudo.gov.vn, username: govguard, password_file: secrets/smtp,
         from_address: govguard@phudo.gov.vn}
  webhooks:
    - {name: chat, url: "https://chat.phudo.gov.vn/hook", secret_env: GOVGUARD_HOOK_CHAT}
  routes:
    - {min_severity: high, email: [cntt@phudo.gov.vn], webhooks: [chat]}
    - {unit: xa-an-binh, min_severity: medium, email: [vanthu@anbinh.gov.vn], language: en}
  digest_hour: 8
"""


def test_a_full_notify_section_loads(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, GOOD))
    notify = settings.notify
    assert notify.smtp is not None
    assert (notify.smtp.port, notify.smtp.starttls, notify.smtp.password_env) == (
        587, True, "GOVGUARD_SMTP_PASSWORD",
    )  # fmt: skip
    assert [route.language for route in notify.routes] == ["vi", "en"]
    assert (notify.digest_hour, notify.timezone) == (8, "Asia/Ho_Chi_Minh")


def test_the_file_init_writes_has_no_routes(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, default_config_text(["govguard.test"])))
    assert settings.notify.routes == []


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        pytest.param(
            "notify: {smtp: {host: m.test, from_address: a@b.vn, password: x}}",
            "unknown field `password`",
            id="inline password",
        ),
        pytest.param(
            "notify: {routes: [{email: [a@b.vn]}]}",
            "email recipients need an smtp section",
            id="mail route without smtp",
        ),
        pytest.param(
            "notify: {routes: [{webhooks: [chat]}]}",
            "no webhook named 'chat'",
            id="unknown webhook",
        ),
        pytest.param(
            "notify: {smtp: {host: m.test, from_address: 'a@b.vn\\nBcc: x@y.vn'}}",
            "not a plain e-mail address",
            id="header injection in the sender",
        ),
        pytest.param(
            "notify: {smtp: {host: m.test, from_address: a@b.vn, starttls: false, username: u}}",
            "credentials are never sent in clear",
            id="login without TLS",
        ),
        pytest.param(
            "notify: {webhooks: [{name: chat, url: 'ftp://x.vn/'}]}",
            "url must be https://",
            id="webhook url scheme",
        ),
        pytest.param(
            "notify: {webhooks: [{name: chat, url: 'https://x.vn/'}]}",
            "exactly one of secret_file, secret_env",
            id="webhook without a key",
        ),
        pytest.param("notify: {timezone: Mars/Olympus}", "unknown time zone", id="time zone"),
        pytest.param("notify: {digest_hour: 24}", "digest_hour", id="digest hour"),
        pytest.param(
            "notify: {routes: [{min_severity: urgent, webhooks: []}]}",
            "min_severity",
            id="unknown severity",
        ),
    ],
)
def test_mistakes_are_one_line_naming_the_key(tmp_path: Path, section: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_write(tmp_path, section + "\n"))
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert "config.yaml" in message


def test_secrets_come_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "key").write_text("s3cret\nignored\n", encoding="utf-8")
    os.chmod(tmp_path / "key", 0o600)  # noqa: PTH101
    monkeypatch.setenv("GG_TEST_KEY", "from-env")
    assert read_secret(tmp_path, "key", None, "x") == "s3cret"
    assert read_secret(tmp_path, str(tmp_path / "key"), None, "x") == "s3cret"
    assert read_secret(tmp_path, None, "GG_TEST_KEY", "x") == "from-env"
    monkeypatch.delenv("GG_TEST_KEY")
    with pytest.raises(SecretError, match="GG_TEST_KEY is not set"):
        read_secret(tmp_path, None, "GG_TEST_KEY", "webhook chat")
    with pytest.raises(SecretError, match="cannot read"):
        read_secret(tmp_path, "missing", None, "smtp password")


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    return tmp_path
