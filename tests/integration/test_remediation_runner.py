"""`controller.remediation.runner.execute` with real ansible-runner and ansible-core.

The playbooks (tests/fixtures/playbooks) run on connection-local hosts and touch only files of
the test; the unreachable host is an SSH host on a loopback port nobody listens on.
"""

from __future__ import annotations

import secrets
import stat
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from controller.remediation.model import RemediationError, RunEvent, RunSpec
from controller.remediation.run_events import render_diff
from controller.remediation.runner import execute
from tests.support.ansible_runs import (
    FIXTURES,
    closed_port,
    inventory,
    local_host,
    processes_of,
    unreachable_host,
)

pytestmark = pytest.mark.integration


def _spec(tmp_path: Path, playbook: str, mode: str = "apply", **changes: Any) -> RunSpec:
    spec = RunSpec(
        run_id=7,
        playbook=FIXTURES / playbook,
        mode=mode,  # type: ignore[arg-type]
        inventory=inventory({"pc-01": local_host()}),
        hosts=("pc-01",),
        extra_vars={"target_file": str(tmp_path / "target.txt"), "content": "new\n"},
        private_dir=tmp_path / "runs" / "7",
        timeout_s=600,
    )
    return replace(spec, **changes)


def _run(spec: RunSpec, should_cancel: Any = lambda: False) -> tuple[Any, list[RunEvent]]:
    events: list[RunEvent] = []
    outcome = execute(spec, events.append, should_cancel, poll_s=0.5)
    return outcome, events


def test_check_mode_shows_the_diff_and_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "target.txt"
    target.write_text("old\n", encoding="utf-8")
    spec = _spec(tmp_path, "write_file.yml", "check")
    seen: dict[str, int] = {}

    def on_event(event: RunEvent) -> None:
        # While the run goes: its directory is ours only, its secrets files too.
        seen["dir"] = stat.S_IMODE(spec.private_dir.stat().st_mode)
        seen["extravars"] = stat.S_IMODE((spec.private_dir / "env/extravars").stat().st_mode)
        seen["inventory"] = stat.S_IMODE((spec.private_dir / "inventory/hosts.json").stat().st_mode)
        events.append(event)

    events: list[RunEvent] = []
    outcome = execute(spec, on_event, lambda: False)

    assert (outcome.state, outcome.status_text, outcome.rc, outcome.error) == (
        "succeeded",
        "successful",
        0,
        None,
    )
    assert outcome.stats["pc-01"].changed == 1 and outcome.stats["pc-01"].failed == 0
    assert target.read_text(encoding="utf-8") == "old\n"  # check mode changed nothing
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] == 1
    names = [e.event for e in events]
    assert names[0] == "playbook_on_start" and names[-1] == "playbook_on_stats"
    # The included task file came along with the playbook (the project is the whole folder).
    tasks = [e.task for e in events if e.event == "playbook_on_task_start"]
    assert tasks == ["Write the file", "Put the content in place"]
    diffs = [e for e in events if e.diff]
    assert len(diffs) == 1 and diffs[0].host == "pc-01"
    assert diffs[0].diff == (f"--- before: {target}\n+++ after: {target}\n@@ -1 +1 @@\n-old\n+new")
    assert [e.host for e in events if e.changed] == ["pc-01"]
    assert not any("\x1b[" in (e.stdout or "") for e in events)
    assert seen == {"dir": 0o700, "extravars": 0o600, "inventory": 0o600}
    assert not spec.private_dir.exists()


def test_apply_changes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "target.txt"
    target.write_text("old\n", encoding="utf-8")
    outcome, events = _run(_spec(tmp_path, "write_file.yml"))
    assert outcome.state == "succeeded"
    assert target.read_text(encoding="utf-8") == "new\n"
    assert any(e.event == "runner_on_ok" and e.changed for e in events)
    # Again: nothing to change any more.
    again, _ = _run(_spec(tmp_path, "write_file.yml"))
    assert again.state == "succeeded" and again.stats["pc-01"].changed == 0


def test_a_failed_task_fails_the_run(tmp_path: Path) -> None:
    outcome, events = _run(_spec(tmp_path, "fail_task.yml"))
    assert (outcome.state, outcome.status_text, outcome.rc) == ("failed", "failed", 2)
    assert outcome.error == "failed: pc-01"
    assert asdict(outcome.stats["pc-01"]) == {
        "ok": 1,
        "changed": 0,
        "failed": 1,
        "unreachable": 0,
        "skipped": 0,
    }
    failed = [e for e in events if e.failed]
    assert [(e.event, e.host, e.task) for e in failed] == [("runner_on_failed", "pc-01", "Break")]
    assert "this task fails on purpose" in (failed[0].stdout or "")
    assert "Never reached" not in {e.task for e in events}


def test_an_unreachable_host_fails_the_run_and_the_others_go_on(tmp_path: Path) -> None:
    (tmp_path / "target.txt").write_text("old\n", encoding="utf-8")
    with closed_port() as port:
        spec = _spec(
            tmp_path,
            "write_file.yml",
            inventory=inventory({"pc-01": local_host(), "pc-02": unreachable_host(port)}),
            hosts=("pc-01", "pc-02"),
        )
        outcome, events = _run(spec)
    assert (outcome.state, outcome.status_text, outcome.rc) == ("failed", "failed", 4)
    assert outcome.error == "unreachable: pc-02"
    assert outcome.stats["pc-02"].unreachable == 1
    assert outcome.stats["pc-01"].changed == 1 and outcome.stats["pc-01"].unreachable == 0
    unreachable = [e for e in events if e.event == "runner_on_unreachable"]
    assert [(e.host, e.failed) for e in unreachable] == [("pc-02", True)]
    assert "Connection refused" in (unreachable[0].stdout or "")


def test_the_timeout_stops_the_playbook_and_everything_it_started(tmp_path: Path) -> None:
    # Long enough for ansible to reach the sleep on a busy machine (it takes about 3 s here);
    # the sleep itself would last 600 s.
    spec = _spec(
        tmp_path,
        "sleep.yml",
        timeout_s=15,
        extra_vars={"started_file": str(tmp_path / "started"), "sleep_s": 600},
    )
    seen: list[str] = []

    def should_cancel() -> bool:  # never cancels: it only watches what runs
        seen.extend(p for p in processes_of(spec.private_dir) if p.startswith("sleep "))
        return False

    outcome, events = _run(spec, should_cancel)
    assert (outcome.state, outcome.status_text) == ("failed", "timeout")
    assert outcome.error == "timed out after 15 s"
    assert seen  # the module's sleep was running when the time was up ...
    assert "Sleep for a long time" in {e.task for e in events}
    assert processes_of(spec.private_dir) == []  # ... and nothing of the run is left


def test_cancel_stops_the_playbook_and_everything_it_started(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        "sleep.yml",
        extra_vars={"started_file": str(tmp_path / "started"), "sleep_s": 600},
    )
    running: list[list[str]] = []

    def should_cancel() -> bool:
        # Only once the module's `sleep` runs: the cancel must reach ansible's worker, which
        # sits in a session of its own.
        sleeping = [p for p in processes_of(spec.private_dir) if p.startswith("sleep ")]
        if sleeping:
            running.append(processes_of(spec.private_dir))
        return bool(sleeping)

    outcome, _ = _run(spec, should_cancel)
    assert (outcome.state, outcome.status_text) == ("cancelled", "canceled")
    assert running and any("ansible-playbook" in p for p in running[0])
    assert processes_of(spec.private_dir) == []


def test_the_become_password_never_reaches_an_event_or_a_kept_file(tmp_path: Path) -> None:
    password = "pw-" + secrets.token_hex(8)
    spec = _spec(
        tmp_path, "echo_secret.yml", passwords={"become_password": password}, keep_dir=True
    )
    outcome, events = _run(spec)
    assert outcome.state == "succeeded"
    # Ansible had it (the playbook wrote its length) ...
    assert (tmp_path / "target.txt").read_text(encoding="utf-8").strip() == str(len(password))
    # ... and no stored event, nor any file of the kept directory, holds it.
    assert events and not any(password in repr(e) for e in events)
    kept = [p for p in spec.private_dir.rglob("*") if p.is_file()]
    assert kept and not [p for p in kept if password.encode() in p.read_bytes()]


def test_the_workers_environment_and_config_do_not_reach_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = tmp_path / "evil.cfg"
    evil.write_text("[defaults]\nforks = 77\n", encoding="utf-8")
    (tmp_path / "ansible.cfg").write_text("[defaults]\nforks = 78\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANSIBLE_CONFIG", str(evil))
    monkeypatch.setenv("GOVGUARD_CANARY", "leaked")
    outcome, _ = _run(_spec(tmp_path, "env_probe.yml"))
    assert outcome.state == "succeeded"
    assert (tmp_path / "target.txt").read_text(encoding="utf-8") == "canary= forks=5\n"


def test_a_host_the_plays_pattern_excludes_is_not_a_success(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path, "write_file.yml", inventory=inventory({"pc-01": local_host()}, ("pc-01",))
    )
    outcome, _ = _run(spec)
    assert outcome.state == "failed"
    assert outcome.error == "the playbook did not run on pc-01"
    assert not (tmp_path / "target.txt").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"hosts": ("pc-01", "x;rm -rf /")}, "is not an inventory host name", id="host"
        ),
        pytest.param({"playbook": FIXTURES / "missing.yml"}, "no playbook at", id="playbook"),
        pytest.param({"private_dir": Path("runs/7")}, "must be absolute", id="relative dir"),
        pytest.param({"passwords": {"root": "x"}}, "unknown password 'root'", id="password"),
    ],
)
def test_a_spec_that_cannot_run_is_refused_before_anything_starts(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    spec = replace(_spec(tmp_path, "write_file.yml"), **changes)
    with pytest.raises(RemediationError, match=message):
        execute(spec, lambda _event: None, lambda: False)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("diff", "text"),
    [
        pytest.param(
            {"before": "a\n", "after": "b\n", "before_header": "f", "after_header": "f"},
            "--- before: f\n+++ after: f\n@@ -1 +1 @@\n-a\n+b",
            id="text",
        ),
        pytest.param({"prepared": "  +added line\n"}, "  +added line", id="prepared"),
        pytest.param(
            [{"before": {"state": "absent"}, "after": {"state": "present"}}],
            '--- before:\n+++ after:\n@@ -1,3 +1,3 @@\n {\n-  "state": "absent"\n'
            '+  "state": "present"\n }',
            id="data as JSON",
        ),
        pytest.param({"before": "same", "after": "same"}, None, id="no change"),
        pytest.param({"dst_binary": 1, "after_header": "/bin/x"}, "binary file: /bin/x", id="bin"),
    ],
)
def test_diffs_are_rendered_as_unified_text(diff: Any, text: str | None) -> None:
    assert render_diff(diff) == text
