"""`govguard remediate --wait` with real ansible-runner runs, on SQLite and PostgreSQL: the
preview and the apply run executed in the foreground by the worker's own code, the live log in
plain lines (stdout is not a terminal), the job's end and the exit status.

The host is a computer of the organisation file reached with ``transport: local``; the
playbook (written by the test) touches only a file of the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from controller.cli import main
from controller.settings import load_settings
from controller.store import db
from controller.store import remediation as store
from controller.store.models import Asset, AuditEntry, RemediationJob
from controller.store.units import ensure_unit

pytestmark = pytest.mark.integration

#: Ansible finds the local Python itself; this machine's pyenv shims on PATH would offer
#: interpreters that are not installed (as in tests/integration/test_remediation_worker.py).
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture
def world(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A playbook writing ``tmp_path/out/flag.txt``, a local host pc-01; the flag's path."""
    monkeypatch.setenv("PATH", SYSTEM_PATH)
    monkeypatch.setenv("SUDO_USER", "thanh")
    flag = tmp_path / "out" / "flag.txt"
    flag.parent.mkdir()
    books = tmp_path / "books"
    books.mkdir()
    (books / "write_flag.yml").write_text(
        "---\n"
        "- name: Write the flag\n"
        "  hosts: all:!classified\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Write the flag file\n"
        "      ansible.builtin.copy:\n"
        f"        dest: {flag}\n"
        '        content: "fixed\\n"\n'
        '        mode: "0644"\n',
        encoding="utf-8",
    )
    with (data_dir / "config.yaml").open("a", encoding="utf-8") as config:
        config.write(f"remediation:\n  playbooks_dir: {books}\n  become: false\n")
    engine = db.make_engine(load_settings(data_dir).database_url)
    try:
        with db.session_factory(engine)() as s, s.begin():
            ensure_unit(s, "xa-thanh-mai", "Xã Thanh Mai", kind="commune")
            s.add(
                Asset(
                    id="pc-01",
                    kind="desktop",
                    unit_id="xa-thanh-mai",
                    connection={"transport": "local"},
                )
            )
    finally:
        engine.dispose()
    return flag


def test_wait_runs_the_preview_then_the_run_and_reports_the_end(
    data_dir: Path, world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "remediate",
            "--data-dir",
            str(data_dir),
            "--playbook",
            "write_flag.yml",
            "--hosts",
            "pc-01",
            "--approve",
            "--yes",
            "--wait",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0] == "job 1: write_flag.yml on 1 hosts: previewing"
    # The log as it came: the preview, then the run, then the end, in that order.
    assert "job 1: previewing" in lines and "job 1: fixed" in lines
    assert lines.index("job 1: previewing") < lines.index("job 1: fixed")
    assert any("TASK [Write the flag file]" in line for line in lines)
    assert "\x1b[K" not in out  # plain lines: stdout is not a terminal
    assert lines[-1] == "  pc-01: changed, verification -"
    assert world.read_text(encoding="utf-8") == "fixed\n"
    engine = db.make_engine(load_settings(data_dir).database_url)
    try:
        with db.session_factory(engine)() as s:
            (job,) = s.scalars(select(RemediationJob)).all()
            assert job.status == "fixed"
            modes = [(r.mode, r.state) for r in store.runs_of(s, job.id)]
            assert modes == [("check", "succeeded"), ("apply", "succeeded")]
            # The preview showed what the run would write, and wrote nothing itself.
            diffs = store.preview_diffs(s, job.id)
            assert diffs and "fixed" in (diffs[0].diff or "")
            actions = list(
                s.scalars(
                    select(AuditEntry.action)
                    .where(AuditEntry.action.like("remediation.%"))
                    .order_by(AuditEntry.id)
                )
            )
    finally:
        engine.dispose()
    assert actions == [
        "remediation.requested",
        "remediation.approved",
        "remediation.run.started",
        "remediation.run.finished",
        "remediation.run.started",
        "remediation.run.finished",
        "remediation.verified",
    ]
