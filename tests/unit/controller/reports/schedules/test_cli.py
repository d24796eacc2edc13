"""`govguard report schedule ...` and `govguard report archive ...` on a data directory made by
`govguard init`, with a real mail server on loopback."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from controller.cli import main
from controller.settings import load_settings
from controller.store import db
from controller.store.models import AuditEntry, ReportArchive
from tests.unit.controller.notify.conftest import notify_config
from tests.unit.controller.notify.test_cli import configure
from tests.unit.controller.reports.schedules.support import (
    FAILING_REPORT,
    UNITS_REPORT,
    Mailbox,
    payload,
    registered,
)


@pytest.fixture
def home(data_dir: Path, mailbox: Mailbox) -> Iterator[Path]:
    """The data directory, its mail server configured, the test definitions registered."""
    configure(
        data_dir,
        notify_config(data_dir, smtp_port=mailbox.port, ca_file=mailbox.ca_file, routes=[]),
    )
    with registered():
        yield data_dir


def run(capsys: pytest.CaptureFixture[str], home: Path, *words: str) -> tuple[int, str, str]:
    """``govguard WORDS --data-dir HOME``: exit status, stdout, stderr."""
    code = main([*words, "--data-dir", str(home)])
    out, err = capsys.readouterr()
    return code, out, err


def actions(data_dir: Path) -> list[str]:
    engine = db.make_engine(load_settings(data_dir).database_url)
    try:
        with db.session_factory(engine)() as s:
            return list(
                s.scalars(
                    select(AuditEntry.action)
                    .where(AuditEntry.action.like("report%"))
                    .order_by(AuditEntry.id)
                )
            )
    finally:
        engine.dispose()


#: Arguments of `report schedule add` and the start of the error each must give.
BAD_INPUT = [
    (("khong-co", "--cadence", "monthly"), "unknown report 'khong-co'; reports: "),
    ((UNITS_REPORT, "--cadence", "yearly"), "unknown cadence 'yearly'; cadences: daily, "),
    ((UNITS_REPORT, "--cadence", "daily", "--format", "docx"), "unknown format 'docx'"),
    ((UNITS_REPORT, "--cadence", "daily", "--lang", "fr"), "unknown language 'fr'"),
    (
        (UNITS_REPORT, "--cadence", "daily", "--unit", "xa-khong-co"),
        "unknown unit 'xa-khong-co' (see `govguard units list`)",
    ),
    (
        (UNITS_REPORT, "--cadence", "daily", "--to", "thư ký@phudo"),
        "recipient: not a plain e-mail address: 'thư ký@phudo'",
    ),
]


def test_add_refuses_bad_input_in_one_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # One data directory for every case: `govguard init` is the slow part of this test.
    for args, message in BAD_INPUT:
        code, _, err = run(
            capsys, home, "report", "schedule", "add", *args, "--to", "it@phudo.gov.vn"
        )

        assert code == 1, args
        assert err.startswith(f"govguard: error: {message}"), err
        assert err.count("\n") == 1
    assert actions(home) == []


def test_schedule_lifecycle_is_audited(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        home,
        "report",
        "schedule",
        "add",
        UNITS_REPORT,
        "--unit",
        "root",
        "--cadence",
        "quarterly",
        "--format",
        "csv",
        "--to",
        "IT@phudo.gov.vn",
    )
    assert code == 0, err
    assert out.startswith("added report schedule 1: test-units quarterly as csv (vi) to 1 ")

    assert run(capsys, home, "report", "schedule", "disable", "1")[:2] == (
        0,
        "report schedule 1 disabled\n",
    )
    code, out, _ = run(capsys, home, "report", "schedule", "list")
    assert code == 0
    [_, line] = out.splitlines()
    assert line.split()[:8] == [
        "1",
        UNITS_REPORT,
        "root",
        "quarterly",
        "csv",
        "vi",
        "it@phudo.gov.vn",
        "no",
    ]
    assert run(capsys, home, "report", "schedule", "enable", "1")[0] == 0
    assert run(capsys, home, "report", "schedule", "remove", "1")[0] == 0
    code, _, err = run(capsys, home, "report", "schedule", "remove", "1")
    assert (code, err) == (
        1,
        "govguard: error: no report schedule 1 (see `govguard report schedule list`)\n",
    )
    assert actions(home) == [
        "report.schedule.created",
        "report.schedule.disabled",
        "report.schedule.enabled",
        "report.schedule.removed",
    ]


def test_run_due_mails_and_the_archive_serves_only_unchanged_files(
    home: Path, mailbox: Mailbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(
        capsys,
        home,
        "report",
        "schedule",
        "add",
        UNITS_REPORT,
        "--cadence",
        "daily",
        "--format",
        "csv",
        "--to",
        "it@phudo.gov.vn",
    )
    run(
        capsys,
        home,
        "report",
        "schedule",
        "add",
        FAILING_REPORT,
        "--cadence",
        "daily",
        "--to",
        "it@phudo.gov.vn",
    )

    code, out, _ = run(capsys, home, "report", "schedule", "run-due", "--deliver")

    lines = out.splitlines()
    assert code == 1  # one schedule failed
    assert lines[0].startswith("schedule 1 ") and "archived as 1, 1 message(s) queued" in lines[0]
    assert lines[1].endswith(": failed: tỷ lệ chia cho 0 khi tính báo cáo")
    assert lines[2] == "sent 1, to retry 0, failed 0"
    [mail] = mailbox.handler.received
    [attachment] = list(mail.message.iter_attachments())
    content = payload(attachment)

    code, out, _ = run(capsys, home, "report", "archive", "list")
    assert code == 0
    [_, line] = out.splitlines()
    assert line.split()[:3] == ["1", UNITS_REPORT, "root"]
    assert hashlib.sha256(content).hexdigest()[:16] in line

    out_dir = tmp_path / "copies"
    out_dir.mkdir()
    code, out, err = run(capsys, home, "report", "archive", "get", "1", "--out", str(out_dir))
    assert code == 0, err
    [copy] = out_dir.iterdir()
    assert copy.read_bytes() == content

    engine = db.make_engine(load_settings(home).database_url)
    with db.session_factory(engine)() as s:
        row = s.get(ReportArchive, 1)
        assert row is not None
        stored = home / "reports" / row.path
        # An old report, for the purge below.
        s.execute(update(ReportArchive).values(generated_at=datetime(2024, 1, 1, tzinfo=UTC)))
        s.commit()
    engine.dispose()
    stored.write_bytes("sửa tay".encode())
    code, _, err = run(
        capsys, home, "report", "archive", "get", "1", "--out", str(tmp_path / "x.csv")
    )
    assert code == 1
    assert "changed since it was archived" in err and err.endswith("not served\n")
    assert not (tmp_path / "x.csv").exists()

    code, out, _ = run(capsys, home, "report", "archive", "purge", "--older-than", "3650d")
    assert (code, out.split(" (")[0]) == (0, "removed 0 archived reports")
    # The daily purge of the packaging timer removes it with the raw reports.
    code, out, _ = run(capsys, home, "reports", "purge")
    assert code == 0
    assert out.splitlines()[-1].startswith("removed 1 archived compliance reports generated before")
    assert not stored.exists()
    assert run(capsys, home, "report", "archive", "list")[1] == "no archived reports\n"
    assert actions(home)[-4:] == [
        "report.schedule.failed",
        "report.archive.read",
        "report.archive.purged",
        "reports.purged",
    ]
