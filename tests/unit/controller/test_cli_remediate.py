"""`govguard remediate` and `govguard jobs ...` on SQLite and PostgreSQL, through ``main()``:
what each prints, the actor ``cli:<login>`` in the audit log, one error line for anything
refused (and the refusal audited all the same)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.cli import main
from controller.findings import FindingsWriter, PolicyCache
from controller.remediation import workflow
from controller.settings import load_settings
from controller.store import db
from controller.store import remediation as store
from controller.store.models import AuditEntry, Finding, RemediationEvent, RemediationJob
from tests.unit.controller.remediation.workflow_world import PLAYBOOKS, add_host, firewall


@pytest.fixture(autouse=True)
def _login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_USER", "thanh")


@pytest.fixture
def seeded(data_dir: Path, tmp_path: Path) -> Iterator[Session]:
    """pc-01 fails the shipped ATTT-07 (firewall off) and reported a minute ago; pc-mat is a
    classified computer; the playbooks folder is the test's."""
    books = tmp_path / "books"
    books.mkdir()
    for name in PLAYBOOKS:
        (books / name).write_text("- hosts: all\n  tasks: []\n", encoding="utf-8")
    with (data_dir / "config.yaml").open("a", encoding="utf-8") as config:
        config.write(f"remediation:\n  playbooks_dir: {books}\n")
    settings = load_settings(data_dir)
    engine = db.make_engine(settings.database_url)
    moment = datetime.now(UTC)
    try:
        with db.session_factory(engine)() as s:
            with s.begin():
                add_host(s, "pc-01", agent_id="a1", seen=moment)
                add_host(s, "pc-mat", agent_id="m1", classification="classified", seen=moment)
                FindingsWriter(PolicyCache(data_dir))(s, [firewall("a1", 1, False)], moment)
            yield s
    finally:
        engine.dispose()


def _cli(data_dir: Path, *argv: str) -> int:
    if argv and argv[0] in ("list", "show", "approve", "reject", "cancel"):
        return main(["jobs", argv[0], "--data-dir", str(data_dir), *argv[1:]])
    return main(["remediate", "--data-dir", str(data_dir), *argv])


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _jobs(s: Session) -> list[RemediationJob]:
    s.rollback()  # see what the commands committed since
    return list(s.scalars(select(RemediationJob).order_by(RemediationJob.id)))


def test_remediate_a_rule_prints_the_job_and_what_comes_next(
    data_dir: Path, seeded: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(data_dir, "ATTT-07") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:2] == [
        "job 1: enable_firewall.yml for ATTT-07 on 1 hosts: previewing",
        "  pc-01: preview queued",
    ]
    assert "`govguard jobs approve 1`" in out
    (job,) = _jobs(seeded)
    assert (job.requested_by, job.origin, job.decided_at) == ("cli:thanh", "cli", None)
    entry = seeded.scalar(select(AuditEntry).where(AuditEntry.action == "remediation.requested"))
    assert entry is not None and (entry.actor, entry.source) == ("cli:thanh", "cli")


@pytest.mark.parametrize("form", ["{id}", "#{id}"])
def test_remediate_a_finding_by_number(
    data_dir: Path, seeded: Session, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    finding = seeded.scalar(select(Finding).where(Finding.rule_id == "ATTT-07"))
    assert finding is not None
    assert _cli(data_dir, form.format(id=finding.id), "--approve", "--yes") == 0
    (job,) = _jobs(seeded)
    assert (job.finding_id, job.rule_id, job.decided_by) == (finding.id, "ATTT-07", "cli:thanh")
    assert "the run starts by itself" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ("--playbook", "enable_firewall.yml", "--hosts", "pc-mat"),
            "host pc-mat is classified: only isolate_classified_host.yml may target it",
            id="classified",
        ),
        pytest.param(
            ("--playbook", "rm_rf.yml", "--hosts", "pc-01"),
            "unknown playbook 'rm_rf.yml'",
            id="unknown playbook",
        ),
        pytest.param(("ATTT-07", "--check", "--approve"), "cannot go with --approve", id="check"),
        pytest.param(("ATTT-07", "--approve"), "add --yes when not at a terminal", id="no yes"),
        pytest.param((), "name a rule (ATTT-07), a finding (#12)", id="nothing"),
        pytest.param(("#999",), "no finding #999", id="no finding"),
        pytest.param(("a b",), "neither a rule id", id="bad rule"),
    ],
)
def test_a_refusal_is_one_line_and_exit_1(
    data_dir: Path,
    seeded: Session,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    message: str,
) -> None:
    assert _cli(data_dir, *argv) == 1
    assert message in _one_error_line(capsys.readouterr().err)
    assert _jobs(seeded) == []


def test_a_refused_request_is_still_audited(
    data_dir: Path, seeded: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(data_dir, "--playbook", "enable_firewall.yml", "--hosts", "pc-mat") == 1
    seeded.rollback()
    entry = seeded.scalar(select(AuditEntry).where(AuditEntry.action == "remediation.refused"))
    assert entry is not None and entry.actor == "cli:thanh"
    assert "classified" in entry.details["reason"]


def _preview_done(data_dir: Path, s: Session, job_id: int) -> None:
    """What the worker does when the preview succeeded: an event with a diff, the run's end."""
    s.rollback()
    settings = load_settings(data_dir)
    moment = datetime.now(UTC)
    with s.begin():
        (run,) = store.runs_of(s, job_id)
        s.add(
            RemediationEvent(
                run_id=run.id,
                seq=1,
                at=moment,
                event="runner_on_ok",
                host="pc-01",
                task="Enable the firewall",
                changed=True,
                stdout="changed: [pc-01]",
                diff="--- before\n+++ after\n-ufw: inactive\n+ufw: active",
            )
        )
        run.state, run.finished_at, run.stats = "succeeded", moment, {"pc-01": {"changed": 1}}
        s.flush()
        workflow.run_finished(s, settings, run, moment)


def test_jobs_list_show_approve_cancel(
    data_dir: Path, seeded: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(data_dir, "ATTT-07") == 0
    capsys.readouterr()
    assert _cli(data_dir, "approve", "1") == 1
    assert _one_error_line(capsys.readouterr().err) == (
        "govguard: error: job 1 is still previewing: decide when its preview has finished"
    )
    _preview_done(data_dir, seeded, 1)
    assert _cli(data_dir, "list") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "ID",
        "STATUS",
        "PLAYBOOK",
        "RULE",
        "HOSTS",
        "REQUESTED",
        "BY",
        "AT",
        "ERROR",
    ]
    assert table[1].split()[:5] == ["1", "awaiting_approval", "enable_firewall.yml", "ATTT-07", "1"]
    assert _cli(data_dir, "show", "#1") == 0
    shown = capsys.readouterr().out
    assert "job 1: enable_firewall.yml for ATTT-07: awaiting_approval" in shown
    assert "+ufw: active" in shown  # the preview's diff
    assert "changed: [pc-01]" in shown  # the log
    assert _cli(data_dir, "approve", "1") == 0
    assert capsys.readouterr().out == "job 1: queued\n"
    assert _cli(data_dir, "list", "--json", "--status", "queued", "--host", "a1") == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["decided_by"], listed["hosts"]) == (1, "cli:thanh", 1)
    assert _cli(data_dir, "list", "--rule", "ATTT-01") == 0
    assert capsys.readouterr().out == "no remediation jobs\n"
    assert _cli(data_dir, "cancel", "1") == 0
    assert capsys.readouterr().out == "job 1: cancelled\n"
    assert _cli(data_dir, "cancel", "1") == 1
    assert _one_error_line(capsys.readouterr().err).endswith("job 1 already ended (cancelled)")
    # --follow on an ended job prints its log and ends at once, exit 1: not fixed.
    assert _cli(data_dir, "show", "1", "--follow") == 1
    assert "job 1: cancelled" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(("show", "999"), "no remediation job 999", id="unknown"),
        pytest.param(("reject", "abc"), "a job id is a number, not 'abc'", id="not a number"),
        pytest.param(("approve", "-5"), "a job id is a number", id="negative"),
    ],
)
def test_jobs_errors_are_one_line(
    data_dir: Path,
    seeded: Session,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    message: str,
) -> None:
    assert _cli(data_dir, *argv) == 1
    assert message in _one_error_line(capsys.readouterr().err)


def test_the_progress_line_counts_tasks_and_host_results() -> None:
    """On a terminal each event's text goes above one status line that is redrawn in place."""
    import io
    from datetime import UTC, datetime

    from controller.commands.remediate import Progress

    def event(name: str, **fields: object) -> RemediationEvent:
        return RemediationEvent(run_id=1, seq=1, at=datetime.now(UTC), event=name, **fields)

    screen = io.StringIO()
    progress = Progress(screen, tty=True)
    progress.add(event("playbook_on_task_start", task="Enable the firewall", stdout="TASK [x]"))
    progress.add(event("runner_on_ok", host="pc-01", changed=True, stdout="changed: [pc-01]"))
    progress.add(event("runner_on_ok", host="pc-02", changed=False, stdout="ok: [pc-02]"))
    progress.add(event("runner_on_unreachable", host="pc-03", failed=True, stdout="fatal"))
    status = progress.status()
    assert status.startswith("[task 1: Enable the firewall] ok 2, changed 1, failed 1 · ")
    # Every text line is written after clearing the status line, which is then redrawn.
    assert screen.getvalue().count("\r\x1b[K") == 4
    assert (
        screen.getvalue()
        .rsplit("\n", 1)[1]
        .startswith("[task 1: Enable the firewall] ok 2, changed 1, failed 1 · ")
    )
    plain = io.StringIO()
    quiet = Progress(plain, tty=False)
    quiet.add(event("runner_on_ok", host="pc-01", changed=True, stdout="changed: [pc-01]"))
    assert plain.getvalue() == "changed: [pc-01]\n"
