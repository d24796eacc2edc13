"""`govguard notify test|run-once` on a data directory made by `govguard init`."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from controller.cli import main
from controller.notify import Notice, enqueue
from controller.notify.config import NotifyConfig
from controller.settings import load_settings
from controller.store import db
from tests.unit.controller.notify.conftest import (
    COMMUNE,
    T0,
    SmtpServerInfo,
    WebhookServerInfo,
    free_port,
    make_units,
    notify_config,
)


def configure(data_dir: Path, notify: NotifyConfig) -> None:
    """Set the notify section of config.yaml (JSON is YAML), replacing an earlier one."""
    section = msgspec.json.encode(msgspec.to_builtins(notify)).decode()
    path = data_dir / "config.yaml"
    text = path.read_text(encoding="utf-8").partition("\nnotify: ")[0]
    path.write_text(f"{text}\nnotify: {section}\n", encoding="utf-8")


def test_notify_test_mails_now(
    data_dir: Path, smtp_server: SmtpServerInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(data_dir, notify_config(data_dir, smtp_port=smtp_server.port,
                                      ca_file=smtp_server.ca_file))  # fmt: skip

    code = main(["notify", "test", "--data-dir", str(data_dir), "--to", "it@phudo.gov.vn"])

    assert code == 0, capsys.readouterr().err
    assert "delivered to it@phudo.gov.vn" in capsys.readouterr().out
    [mail] = smtp_server.handler.received
    assert mail.message["Subject"] == "[govguard] [thông tin] Thư thử nghiệm của govguard"


def test_notify_test_reports_an_unreachable_server_in_one_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(data_dir, notify_config(data_dir, smtp_port=free_port()))

    code = main(["notify", "test", "--data-dir", str(data_dir), "--to", "it@phudo.gov.vn"])

    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("govguard: error: test message to it@phudo.gov.vn not delivered: ")
    assert "127.0.0.1:" in err
    assert err.count("\n") == 1


def test_notify_test_reports_an_untrusted_certificate(
    data_dir: Path, smtp_server: SmtpServerInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    # No ca_file: the system's CAs do not know the test CA.
    configure(data_dir, notify_config(data_dir, smtp_port=smtp_server.port))

    code = main(["notify", "test", "--data-dir", str(data_dir), "--to", "it@phudo.gov.vn"])

    assert code == 1
    assert "certificate not trusted" in capsys.readouterr().err
    assert smtp_server.handler.received == []


def test_notify_test_webhook(
    data_dir: Path, webhook_server: WebhookServerInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(data_dir, notify_config(data_dir, webhook_url=webhook_server.url))

    assert main(["notify", "test", "--data-dir", str(data_dir), "--webhook", "chat"]) == 0
    assert len(webhook_server.received) == 1
    assert main(["notify", "test", "--data-dir", str(data_dir), "--webhook", "nope"]) == 1
    assert "no webhook named 'nope' (chat)" in capsys.readouterr().err


def test_notify_test_https_webhook_with_a_private_ca(
    data_dir: Path, https_webhook_server: WebhookServerInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    hook_ca = data_dir.parent / "hook-ca.pem"
    notify = notify_config(data_dir, webhook_url=https_webhook_server.url)
    configure(data_dir, notify)
    # Without the receiver's CA the certificate is refused...
    assert main(["notify", "test", "--data-dir", str(data_dir), "--webhook", "chat"]) == 1
    assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err
    assert https_webhook_server.received == []
    # ...with it, the call goes through.
    hook = msgspec.structs.replace(notify.webhooks[0], ca_file=str(hook_ca))
    configure(data_dir, msgspec.structs.replace(notify, webhooks=[hook]))
    assert main(["notify", "test", "--data-dir", str(data_dir), "--webhook", "chat"]) == 0
    assert len(https_webhook_server.received) == 1


def test_run_once_delivers_what_is_due(
    data_dir: Path, webhook_server: WebhookServerInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(data_dir, notify_config(data_dir, webhook_url=webhook_server.url))
    settings = load_settings(data_dir)
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_factory(engine)() as s:
            make_units(s)
            text = {"vi": "Cảnh báo", "en": "Alert"}
            enqueue(s, Notice(key="finding:7:opened", unit_id=COMMUNE, severity="critical",
                              kind="finding.opened", subject=text, body=text, occurred_at=T0),
                    settings.notify)  # fmt: skip
            s.commit()
    finally:
        engine.dispose()

    assert main(["notify", "run-once", "--data-dir", str(data_dir)]) == 0
    assert capsys.readouterr().out == "sent 1, to retry 0, failed 0\n"
    assert main(["notify", "run-once", "--data-dir", str(data_dir)]) == 0
    assert capsys.readouterr().out == "sent 0, to retry 0, failed 0\n"
    assert len(webhook_server.received) == 1
    assert main(["notify", "status", "--data-dir", str(data_dir)]) == 0
    assert capsys.readouterr().out == "queued 0, sending 0, sent 1, failed 0\n"


def test_run_once_and_status_show_permanent_failures(
    data_dir: Path, webhook_server: WebhookServerInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    webhook_server.status = 410
    configure(data_dir, notify_config(data_dir, webhook_url=webhook_server.url))
    settings = load_settings(data_dir)
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_factory(engine)() as s:
            make_units(s)
            text = {"vi": "Cảnh báo", "en": "Alert"}
            enqueue(s, Notice(key="finding:8:opened", unit_id=COMMUNE, severity="critical",
                              kind="finding.opened", subject=text, body=text, occurred_at=T0),
                    settings.notify)  # fmt: skip
            s.commit()
    finally:
        engine.dispose()

    assert main(["notify", "run-once", "--data-dir", str(data_dir)]) == 1
    assert capsys.readouterr().out == "sent 0, to retry 0, failed 1\n"
    assert main(["notify", "status", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "queued 0, sending 0, sent 0, failed 1"
    assert out[3].split()[:3] == ["finding:8:opened", "chat", "1"]
    assert out[3].endswith("webhook answered HTTP 410")
